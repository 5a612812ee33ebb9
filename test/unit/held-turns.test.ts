import t from 'tap';
import { HeldTurns } from '../../lib/haraka/held-turns';

t.test('a delivery that ends on a lane wakes the message held for the soonest turn there, once', async (t) => {
  const held = new HeldTurns();
  const ran: string[] = [];
  held.hold('s|p', 3000, 60_000, () => ran.push('third'));
  held.hold('s|p', 1000, 60_000, () => ran.push('first'));
  held.hold('s|p', 2000, 60_000, () => ran.push('second'));
  held.hold('s|q', 500, 60_000, () => ran.push('other lane'));
  t.equal(held.size, 4);
  t.equal(held.wake('s|p'), true);
  t.same(ran, ['first'], 'the soonest turn of that lane, at once');
  t.equal(held.wake('s|p'), true);
  t.same(ran, ['first', 'second'], 'then the next');
  t.equal(held.wake('t|p'), false, 'nothing held on a lane: nothing woken');
  t.equal(held.size, 2);
  t.equal(held.wake('s|p'), true);
  t.equal(held.wake('s|p'), false, 'each message is woken once');
  t.equal(held.wake('s|q'), true);
  t.same(ran, ['first', 'second', 'third', 'other lane']);
  t.equal(held.size, 0);
});

t.test('a held message not woken goes at the end of its hold, once', async (t) => {
  const held = new HeldTurns();
  let runs = 0;
  await new Promise<void>((resolve) => held.hold('s|p', 0, 10, () => (runs++, resolve())));
  t.equal(runs, 1);
  t.equal(held.size, 0, 'no longer held');
  t.equal(held.wake('s|p'), false, 'so a later delivery end does not run it again');
  t.equal(runs, 1);
});
