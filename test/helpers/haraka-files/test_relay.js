'use strict';
// Copied into each test Haraka dir by test/helpers/haraka.ts: every test client may relay.
exports.hook_connect_init = function (next, connection) {
  connection.relaying = true;
  next();
};
