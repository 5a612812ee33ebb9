import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { main } from '../../lib/cli/main';

function dir(yaml: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-plan-'));
  fs.mkdirSync(path.join(d, 'config'));
  fs.writeFileSync(path.join(d, 'config', 'paceline.yaml'), yaml);
  return d;
}

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

const d = dir(
  'sources:\n  new1: { address: 192.0.2.5, warmup: { schedule: fast, start: 2026-01-01 } }\n  old: { address: 192.0.2.6 }\n',
);

t.test('plan prints the ramp per provider with dates', async (t) => {
  const r = await run(['plan', 'new1', '--config', d]);
  t.equal(r.code, 0);
  t.match(r.out[0], /warm-up of new1: schedule fast \(calendar\)/);
  t.match(r.out[2], /^\s+1\s+2026-01-01\s+200\s+100$/);
  t.match(r.out[21], /^\s+20\s+2026-01-20\s+1000000\s+500000$/);
});

t.test('--json with --provider', async (t) => {
  const r = await run(['plan', 'new1', '--config', d, '--provider', 'microsoft365', '--json']);
  const plan = JSON.parse(r.out[0] as string);
  t.equal(plan.days.length, 20);
  t.same(plan.days[0], { day: 1, date: '2026-01-01', caps: { microsoft365: 100 }, today: false });
});

t.test('errors say what is wrong', async (t) => {
  t.match(await run(['plan', 'old', '--config', d]), { code: 1, err: [/has no warm-up schedule: it is warm/] });
  t.match(await run(['plan', 'nope', '--config', d]), { code: 1, err: [/no source "nope"/] });
  t.match(await run(['plan', '--config', d]), { code: 2, err: [/a SOURCE name is required/] });
});
