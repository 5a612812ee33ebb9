'use strict';
// Copied into each test Haraka dir by test/helpers/haraka.ts. config/test_mx.ini:
//   [main] host=127.0.0.1 port=NNNN (bind=127.0.0.2 optional)
//   [<domain>] same keys, overrides [main] for that domain
const constants = require('haraka-constants');

exports.register = function () {
  this.load_test_mx_ini();
};

exports.load_test_mx_ini = function () {
  this.cfg = this.config.get('test_mx.ini', () => this.load_test_mx_ini());
};

exports.hook_get_mx = function (next, hmail, domain) {
  const section = { ...(this.cfg.main || {}), ...(this.cfg[domain] || {}) };
  const port = parseInt(section.port, 10);
  if (!port) {
    this.logerror('test_mx: no port in config/test_mx.ini');
    return next(constants.denysoft, 'test_mx.ini has no port');
  }
  const mx = { exchange: section.host || '127.0.0.1', port, priority: 10 };
  if (section.bind) mx.bind = section.bind;
  this.loginfo('test_mx: ' + domain + ' -> ' + mx.exchange + ':' + port);
  next(constants.ok, mx);
};
