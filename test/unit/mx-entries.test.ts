/**
 * The MX list paceline gives Haraka's get_mx: a static_mx route or an
 * overflow relay at a local address carries no `from_dns`, so that Haraka (local_mx_ok=false, its
 * default) does not skip it as a local MX; everything else keeps it.
 */
import type { NetworkInterfaceInfo } from 'node:os';
import t from 'tap';
import { isLocalAddress, mxEntries } from '../../lib/haraka/glue';
import { MxResolver, type MxHost } from '../../lib/engine/mx';
import type { Decision } from '../../lib/engine/engine';
import { fakeDns } from '../helpers/fakes';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const harakaNetUtils = require('haraka-net-utils') as { is_local_ip(ip: string): boolean };

const ADDRESSES: Array<[string, boolean]> = [
  ['127.0.0.1', true],
  ['127.9.8.7', true],
  ['0.0.0.0', true],
  ['169.254.10.1', true],
  ['::1', true],
  ['::', true],
  ['fe80::1', true],
  ['fd00::25', true],
  ['192.0.2.50', false],
  ['10.1.2.3', false],
  ['198.51.100.7', false],
  ['2001:db8::25', false],
];

t.test('isLocalAddress: the ranges Haraka calls local, and nothing else', async (t) => {
  for (const [address, local] of ADDRESSES)
    t.equal(isLocalAddress(address, {}), local, `${address}: ${local ? 'local' : 'not local'}`);
  t.equal(isLocalAddress('not-an-address', {}), false, 'a name is not an address');
  const bound: NetworkInterfaceInfo = {
    address: '203.0.113.9',
    netmask: '255.255.255.0',
    family: 'IPv4',
    mac: '00:00:00:00:00:00',
    internal: false,
    cidr: '203.0.113.9/24',
  };
  t.equal(isLocalAddress('203.0.113.9', { eth0: [bound] }), true, 'an address bound on an interface is local');
  t.equal(isLocalAddress('203.0.113.10', { eth0: [bound] }), false, 'its neighbour is not');
});

t.test("isLocalAddress agrees with the installed Haraka's own is_local_ip (this host's interfaces)", async (t) => {
  for (const [address] of ADDRESSES) t.equal(isLocalAddress(address), harakaNetUtils.is_local_ip(address), address);
});

const source = {
  name: 's2',
  address: '127.0.0.2',
  family: 4 as const,
  helo: 's2.example.test',
  limits: new Map(),
  poolLimits: new Map(),
};
const host = (address: string, configured: boolean): MxHost => ({
  host: 'mx.example.test',
  priority: 0,
  port: 2525,
  v4: [address],
  v6: [],
  ...(configured ? { configured: true as const } : {}),
});
const send = (hosts: MxHost[]): Extract<Decision, { action: 'send' }> => ({
  action: 'send',
  source,
  provider: 'p',
  hosts,
  reason: 'free_slot',
  why: 'test',
});

t.test('mxEntries: from_dns except on a static_mx route to a local address', async (t) => {
  const [local] = mxEntries(send([host('127.0.0.1', true)]));
  t.same(
    local,
    { exchange: '127.0.0.1', priority: 0, port: 2525, bind: '127.0.0.2', bind_helo: 's2.example.test' },
    'static, local: no from_dns',
  );
  t.match(
    mxEntries(send([host('192.0.2.50', true)])),
    [{ exchange: '192.0.2.50', from_dns: 'mx.example.test' }],
    'static, not local: from_dns (TLS server name)',
  );
  t.match(
    mxEntries(send([host('127.0.0.1', false)])),
    [{ exchange: '127.0.0.1', from_dns: 'mx.example.test' }],
    "from DNS, local: from_dns, Haraka's loop guard applies",
  );
});

t.test(
  'mxEntries: an overflow relay at a local address has no from_dns; one given by name or remote keeps it',
  async (t) => {
    const relay = (address: string): Extract<Decision, { action: 'send' }> => ({
      action: 'send',
      source: { name: `relay:${address}`, limits: new Map(), poolLimits: new Map() },
      provider: 'p',
      relay: true,
      reason: 'relay',
      why: 'test',
      hosts: [{ host: address, priority: 0, port: 10025, v4: [], v6: [] }],
    });
    t.same(
      mxEntries(relay('127.0.0.1')),
      [{ exchange: '127.0.0.1', priority: 0, port: 10025 }],
      'local address: no from_dns',
    );
    t.same(
      mxEntries(relay('192.0.2.25')),
      [{ exchange: '192.0.2.25', from_dns: '192.0.2.25', priority: 0, port: 10025 }],
      'remote address: from_dns',
    );
    t.same(
      mxEntries(relay('relay.example.net')),
      [{ exchange: 'relay.example.net', from_dns: 'relay.example.net', priority: 0, port: 10025 }],
      'a name: from_dns',
    );
  },
);

t.test('MxResolver marks static_mx answers as configured, DNS answers not', async (t) => {
  const staticMx = new Map([
    ['partner.test', [{ host: 'relay.partner.test', address: '127.0.0.1', port: 2525, priority: 0 }]],
  ]);
  const dns = fakeDns({ 'dns.test': ['mx.dns.test'] }, { 'mx.dns.test': ['127.0.0.1'] });
  const mx = new MxResolver({ cacheMaxMs: 60_000, negativeMs: 5_000, staticMx }, dns);
  t.match(await mx.resolve('partner.test'), { ok: true, hosts: [{ host: 'relay.partner.test', configured: true }] });
  const viaDns = await mx.resolve('dns.test');
  t.ok(
    viaDns.ok && viaDns.hosts.every((h) => h.configured === undefined),
    'a host from an MX record is not configured',
  );
});
