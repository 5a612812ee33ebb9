import t from 'tap';
import { parseArgs } from '../../bench/e2e';

t.test('e2e benchmark options', async (t) => {
  const table: Array<[string[], object]> = [
    [['--e2e'], { seeds: [1], minutes: 10, messages: 1000, only: ['paceline', 'no-pacing', 'static'], json: false }],
    [['--seed', '7', '--minutes', '2', '--json'], { seeds: [7], minutes: 2, json: true }],
    [
      ['--seeds', '1,2,3', '--messages', '60', '--only', 'static,paceline'],
      { seeds: [1, 2, 3], messages: 60, only: ['static', 'paceline'] },
    ],
  ];
  for (const [argv, want] of table) t.match(parseArgs(argv), want, argv.join(' '));
  const bad: Array<[string[], RegExp]> = [
    [['--only', 'fast'], /unknown strategy fast/],
    [['--minutes', 'x'], /--minutes: expected a number/],
    [['--seeds', '1,b'], /--seeds: expected a number/],
    [['--turbo'], /unknown option --turbo/],
  ];
  for (const [argv, want] of bad) t.throws(() => parseArgs(argv), want, argv.join(' '));
});
