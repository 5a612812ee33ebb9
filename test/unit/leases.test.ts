/**
 * Lease identity and renewal (lib/core/lease.ts, lib/engine/lease-keeper.ts,
 * leaseIdentity in lib/haraka/glue.ts) on a memory store with a fake clock:
 * who owns a lease, what a restarted node releases, what renewal keeps.
 */
import t from 'tap';
import { buildConfig } from '../../lib/config/load';
import { ConfigError, formatIssue } from '../../lib/config/errors';
import { leaseOwner, nodePrefix } from '../../lib/core/lease';
import { LeaseKeeper, newBootId } from '../../lib/engine/lease-keeper';
import { BOOT_ENV, leaseIdentity } from '../../lib/haraka/glue';
import { MemoryStore } from '../../lib/store/memory';

const T0 = 1_800_000_000_000;
const LANE = { source: 's2', provider: 'p' };
const LIMITS = { concurrency: 2 };

t.test('a lease id names its node (URI-encoded) and boot; prefixes never overlap', async (t) => {
  t.equal(leaseOwner('haraka.test:/srv/h1', 'B1'), 'haraka.test%3A%2Fsrv%2Fh1/B1/');
  t.notOk(leaseOwner('a/b', 'x').startsWith(nodePrefix('a')), 'node "a" never matches the leases of node "a/b"');
  t.throws(() => leaseOwner('n', 'bad/boot'), /boot id/);
  t.throws(() => nodePrefix(''), /must not be empty/);
  t.match(newBootId(), /^[A-Za-z0-9_-]{16}$/);
  t.not(newBootId(), newBootId(), 'a new boot id each time');
});

t.test("identity: a configured node name wins; else me:dir; workers share the master's boot", async (t) => {
  t.equal(leaseIdentity('edge-1', 'mx.example', '/srv/h', {}, false).node, 'edge-1');
  t.equal(leaseIdentity('', 'mx.example', '/srv/h', {}, false).node, 'mx.example:/srv/h');
  const env = { [BOOT_ENV]: 'MasterBoot_1' };
  t.equal(
    leaseIdentity('', 'm', '/d', env, true).boot,
    'MasterBoot_1',
    "a worker (a restarted one too) takes its node's boot",
  );
  t.not(leaseIdentity('', 'm', '/d', env, false).boot, 'MasterBoot_1', 'a single process makes its own boot');
  t.not(
    leaseIdentity('', 'm', '/d', { [BOOT_ENV]: 'x/y' }, true).boot,
    'x/y',
    'a malformed inherited boot is replaced',
  );
});

t.test('the keeper renews live leases, lets ended ones go and stops at the lease limit', async (t) => {
  let now = T0;
  const store = new MemoryStore(() => now);
  const keeper = new LeaseKeeper(store, { node: 'n1', boot: 'b1' });
  const a = keeper.newId();
  const b = keeper.newId();
  t.ok(a.startsWith('n1/b1/') && a !== b, 'ids carry the owner and are unique');
  for (const id of [a, b]) await store.acquire(LANE, LIMITS, { mode: 'now', leaseId: id, leaseMs: 3000 });
  keeper.keep(a, LANE, T0 + 10_000);
  keeper.keep(b, LANE, T0 + 10_000);
  keeper.forget(b);
  now = T0 + 2000;
  t.equal(await keeper.renew(now, 3000), 1, 'only the live delivery is renewed');
  now = T0 + 4000;
  await keeper.renew(now, 3000);
  now = T0 + 5500;
  const held = await store.acquire(LANE, LIMITS, { mode: 'now', leaseId: 'other', leaseMs: 3000 });
  t.equal(held.value.kind, 'granted', 'the forgotten lease expired and freed its slot');
  const full = await store.acquire(LANE, LIMITS, { mode: 'now', leaseId: 'third', leaseMs: 3000 });
  t.match(
    full.value,
    { kind: 'wait', reason: 'concurrency' },
    'the renewed lease still holds its slot past its first expiry',
  );
  for (let at = 6000; at <= 12_000; at += 2000) {
    now = T0 + at;
    await keeper.renew(now, 3000);
  }
  t.equal(keeper.size, 0, 'renewal stops once the delivery began `lease` ago');
  const lanes = await store.lanes();
  const expiry = lanes.value[0]?.state.leases.find((l) => l.id === a)?.expiresAt;
  t.equal(expiry, T0 + 8000 + 3000, 'last renewed before the limit, then left to expire');
});

t.test("a restarted node releases its earlier boots' leases only", async (t) => {
  const store = new MemoryStore(() => T0);
  const before = new LeaseKeeper(store, { node: 'n1', boot: 'old' });
  const sibling = new LeaseKeeper(store, { node: 'n1', boot: 'new' });
  const other = new LeaseKeeper(store, { node: 'n2', boot: 'old' });
  for (const k of [before, before, sibling, other])
    await store.acquire(LANE, { concurrency: 9 }, { mode: 'now', leaseId: k.newId(), leaseMs: 60_000 });
  const after = new LeaseKeeper(store, { node: 'n1', boot: 'new' });
  t.equal(await after.releaseEarlierBoots(), 2, 'both leases of the old boot');
  const ids = (await store.lanes()).value[0]?.state.leases.map((l) => l.id.split('/').slice(0, 2).join('/')).sort();
  t.same(ids, ['n1/new', 'n2/old'], "the live boot's (a sibling worker's) and the other node's leases stay");
});

t.test('config: lease_ttl defaults to 60s and may not exceed lease', async (t) => {
  const yaml = { sources: { a: { address: '127.0.0.2' } } };
  const c = buildConfig({}, yaml);
  t.equal(c.settings.leaseTtlMs, 60_000);
  t.equal(c.settings.node, '');
  t.equal(buildConfig({ main: { node: 'edge-1', lease_ttl: '20s' } }, yaml).settings.node, 'edge-1');
  try {
    buildConfig({ main: { lease: '30s', lease_ttl: '2m' } }, yaml);
    t.fail('accepted lease_ttl > lease');
  } catch (err) {
    t.ok(err instanceof ConfigError);
    t.match(
      (err as ConfigError).issues.map(formatIssue).join('\n'),
      /\[main\]\.lease_ttl.*no longer than \[main\]\.lease/,
    );
  }
});
