import t, { type Test } from 'tap';
import { HiddenLimiter, type IpLimits, type LimiterSpec } from '../../sim/limiter';

const T0 = 1_000_000;
const A = '127.0.0.2';
const B = '127.0.0.3';
const base: IpLimits = { sessions: 2, windowMs: 10_000, perWindow: 3, penalty: null };
function limiter(over: Partial<IpLimits> = {}, blackouts: LimiterSpec['blackouts'] = []): HiddenLimiter {
  const limits = { ...base, ...over };
  return new HiddenLimiter(
    {
      provider: 'p',
      limits: { [A]: limits, [B]: limits },
      unknown: { ...limits, perWindow: 1 },
      blackouts,
      reply: { code: 451, text: '4.7.500 busy from [{ip}]' },
    },
    T0,
  );
}

/** A step: [op, address, ms after T0, session id, refused?] */
type Step = ['connect' | 'close' | 'mail', string, number, string, boolean];
function run(t: Test, l: HiddenLimiter, steps: Step[]): void {
  for (const [op, address, at, id, refused] of steps) {
    const now = T0 + at;
    const got =
      op === 'connect'
        ? l.connect(address, now, id)
        : op === 'mail'
          ? l.mail(address, now)
          : (l.close(address, now, id), null);
    t.equal(got !== null, refused, `${op} ${address} @${at} ${id}`);
  }
}

t.test(
  'sessions: refused at the limit, a close frees one, closing a refused or unknown id changes nothing',
  async (t) => {
    const l = limiter();
    run(t, l, [
      ['connect', A, 0, 'a1', false],
      ['connect', A, 0, 'a2', false],
      ['connect', A, 0, 'a3', true],
      ['connect', B, 0, 'b1', false],
      ['close', A, 1, 'a3', false],
      ['close', A, 1, 'zz', false],
      ['connect', A, 2, 'a4', true],
      ['close', A, 3, 'a1', false],
      ['close', A, 3, 'a1', false],
      ['connect', A, 4, 'a5', false],
      ['connect', A, 4, 'a2', true],
    ]);
    t.equal(l.openSessions(A), 2);
    t.same(l.counters().get(A), {
      connects: 6,
      connectRefusals: 3,
      mails: 0,
      mailRefusals: 0,
      accepted: 0,
      penalties: 0,
    });
  },
);

t.test('sliding window: perWindow accepted in any (now − W, now]', async (t) => {
  const l = limiter();
  run(t, l, [
    ['mail', A, 0, '', false],
    ['mail', A, 1000, '', false],
    ['mail', A, 2000, '', false],
    ['mail', A, 2500, '', true],
    ['mail', B, 2500, '', false],
    ['mail', A, 9999, '', true],
    ['mail', A, 10_000, '', false],
    ['mail', A, 10_500, '', true],
    ['mail', A, 11_000, '', false],
    ['mail', A, 12_000, '', false],
    ['mail', A, 12_001, '', true],
  ]);
  t.same(l.counters().get(A), {
    connects: 0,
    connectRefusals: 0,
    mails: 10,
    mailRefusals: 4,
    accepted: 6,
    penalties: 0,
  });
});

t.test('reply text names the client address; an unknown address gets the unknown limits', async (t) => {
  const l = limiter();
  t.equal(l.mail('127.0.0.1', T0), null);
  t.same(l.mail('127.0.0.1', T0), { code: 451, message: '4.7.500 busy from [127.0.0.1]' });
});

t.test('blackouts: a rule bug refuses one IP, an outage every IP, start inclusive, end exclusive', async (t) => {
  const l = limiter({ perWindow: 100 }, [
    { startMs: 1000, endMs: 2000, address: A },
    { startMs: 5000, endMs: 6000 },
  ]);
  run(t, l, [
    ['mail', A, 999, '', false],
    ['mail', A, 1000, '', true],
    ['mail', B, 1500, '', false],
    ['mail', A, 1999, '', true],
    ['mail', A, 2000, '', false],
    ['mail', A, 5000, '', true],
    ['mail', B, 5999, '', true],
    ['mail', B, 6000, '', false],
  ]);
});

t.test('penalty: strikes within 60 s start it, refusals extend it up to 2 × duration', async (t) => {
  const durationMs = 100_000;
  const l = limiter({ perWindow: 1, windowMs: 1_000_000, penalty: { strikes: 3, durationMs } });
  run(t, l, [
    ['mail', A, 0, '', false],
    ['mail', A, 1, '', true],
    ['mail', A, 70_000, '', true],
    ['mail', A, 80_000, '', true],
  ]);
  t.notOk(l.penalised(A, T0 + 80_000), 'strike at 1 ms fell out of the 60 s window');
  run(t, l, [['mail', A, 90_000, '', true]]);
  t.ok(l.penalised(A, T0 + 90_000), 'third strike within 60 s');
  t.equal(l.counters().get(A)?.penalties, 1);
  t.ok(l.penalised(A, T0 + 189_999));
  t.notOk(l.penalised(A, T0 + 190_000), 'lasts durationMs');
  run(t, l, [['mail', A, 100_000, '', true]]);
  t.ok(l.penalised(A, T0 + 190_999), 'a refusal during the penalty extends it by 1 %');
  t.notOk(l.penalised(A, T0 + 191_000));
  for (let i = 0; i < 500; i++) l.mail(A, T0 + 100_001 + i);
  t.ok(l.penalised(A, T0 + 289_999));
  t.notOk(l.penalised(A, T0 + 290_000), 'capped at 2 × duration after its start');
  t.equal(l.counters().get(A)?.penalties, 1, 'refusals during a penalty do not start another');
});

t.test('a connect refusal is a strike too', async (t) => {
  const l = limiter({ sessions: 1, penalty: { strikes: 2, durationMs: 60_000 } });
  run(t, l, [
    ['connect', A, 0, 'a', false],
    ['connect', A, 1, 'b', true],
    ['connect', A, 2, 'c', true],
    ['mail', A, 3, '', true],
  ]);
  t.ok(l.penalised(A, T0 + 3));
});

t.test('deterministic: the same calls give the same answers', async (t) => {
  const calls = (l: HiddenLimiter) =>
    Array.from({ length: 200 }, (_, i) =>
      JSON.stringify(i % 3 === 0 ? l.connect(A, T0 + i * 97, `c${i % 7}`) : l.mail(A, T0 + i * 131)),
    );
  t.same(
    calls(limiter({ penalty: { strikes: 5, durationMs: 5000 } })),
    calls(limiter({ penalty: { strikes: 5, durationMs: 5000 } })),
  );
});
