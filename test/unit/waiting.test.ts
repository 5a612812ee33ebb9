import t from 'tap';
import { sumWaiting, WaitingMessages } from '../../lib/core/waiting';

t.test('messages told to wait, by lane, the oldest kept; a later answer ends the wait', async (t) => {
  const w = new WaitingMessages();
  w.delayed('m1', 'google', 's1', 5000);
  w.delayed('m2', 'google', 's1', 3000);
  w.delayed('m3', 'google', null, 4000);
  w.delayed('m4', 'yahoo', 's2', 9000);
  w.delayed('m1', 'google', 's1', 5000); // delayed again: still one message
  w.gone('m4');
  t.same(w.lanes(), [
    { source: null, provider: 'google', count: 1, oldestQueuedAt: 4000 },
    { source: 's1', provider: 'google', count: 2, oldestQueuedAt: 3000 },
  ]);
  w.delayed('m2', 'google', null, 3000); // re-decided while its lane is paused: no slot booked now
  t.same(w.lanes(), [
    { source: null, provider: 'google', count: 2, oldestQueuedAt: 3000 },
    { source: 's1', provider: 'google', count: 1, oldestQueuedAt: 5000 },
  ]);
});

t.test("the processes' lists are summed", async (t) => {
  const a = [{ source: 's1', provider: 'google', count: 2, oldestQueuedAt: 3000 }];
  const b = [
    { source: 's1', provider: 'google', count: 1, oldestQueuedAt: 1000 },
    { source: null, provider: 'yahoo', count: 4, oldestQueuedAt: 7000 },
  ];
  t.same(sumWaiting([a, b]), [
    { source: 's1', provider: 'google', count: 3, oldestQueuedAt: 1000 },
    { source: null, provider: 'yahoo', count: 4, oldestQueuedAt: 7000 },
  ]);
});
