// A user's own pipeline, with a custom task beside a built-in one, runs exactly like ours:
// from a path and by name from the project's pipelines/ folder, with dry run, report, second
// run unchanged, and rollback of the custom task when a later one fails.
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { assertNothingChanged } from '../harness/run-twice.ts';
import { REPO_ROOT, Testbed } from '../harness/testbed.ts';

const test = suite('user pipeline');
const tb = new Testbed();

test.before(async () => {
  await tb.start({ count: 1, deployUser: true });
  // The project folder a user would have: hoist installed in node_modules, own pipelines/.
  mkdirSync(join(tb.dir, 'node_modules'));
  symlinkSync(REPO_ROOT, join(tb.dir, 'node_modules', 'hoist'));
  mkdirSync(join(tb.dir, "pipelines"));
  writeFileSync(join(tb.dir, "package.json"), JSON.stringify({ type: "module", dependencies: { hoist: "*" } }));
  cpSync(join(REPO_ROOT, 'examples/nightly.ts'), join(tb.dir, 'pipelines/nightly.ts'));
  tb.writeEnv({ APP_NAME: 'nightly', CRON_FILE: tb.file('jobs.crontab', '0 2 * * * ~/current/bin/retrain\n') });
  tb.writeInventory();
});
test.after(() => tb.stop());

async function run(args: string[]): Promise<{ code: number; out: string; report: RunReport }> {
  const r = await tb.hoist([...args, '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', '-']);
  return { code: r.code, out: r.stderr, report: JSON.parse(r.stdout) as RunReport };
}

const statusOf = (report: RunReport) => report.hosts[0]!.tasks.map((t) => t.status);
const dataDir = () => tb.hosts[0]!.sh('stat -c %a /home/deploy/data 2>/dev/null || echo missing');

test('by path: dry run plans both tasks and changes nothing', async () => {
  const r = await run(['run', join(REPO_ROOT, 'examples/nightly.ts'), '--dry-run']);
  assert.is(r.code, 0, r.out);
  assert.equal(statusOf(r.report), ['changed', 'changed']);
  assert.equal(r.report.hosts[0]!.tasks[0]!.steps, ['create ~/data']);
  assert.is((await dataDir()).stdout.trim(), 'missing');
});

test('by name from the project\'s pipelines/: changed, then unchanged', async () => {
  const first = await run(['run', 'nightly']);
  assert.is(first.code, 0, first.out);
  assert.is(first.report.pipeline, 'nightly');
  assert.equal(statusOf(first.report), ['changed', 'changed']);
  assert.is((await dataDir()).stdout.trim(), '750');
  const second = await run(['run', 'nightly']);
  assert.equal(statusOf(second.report), ['unchanged', 'unchanged']);
  assertNothingChanged(second.report, 'nightly, run again');
  assert.match(second.report.hosts[0]!.tasks[0]!.reason ?? '', /exists with mode 750/);
  // And a dry run now has nothing to do.
  const dry = await run(['run', 'nightly', '--dry-run']);
  assert.ok(dry.report.dryRun);
  assertNothingChanged(dry.report, 'nightly, a dry run after it');
});

test('the custom task is rolled back when a later task fails', async () => {
  await tb.hosts[0]!.sh('rmdir /home/deploy/data');
  tb.writeEnv({ APP_NAME: 'nightly', CRON_FILE: tb.file('jobs.crontab', '0 2 * * * ~/current/bin/retrain\n') });
  // Make cron-install fail on apply: the deploy user may no longer use crontab.
  await tb.hosts[0]!.sh('crontab -r -u deploy; echo root > /etc/cron.allow');
  try {
    // Twice: a run that fails by design fails the same way again, rolled back again.
    for (const round of [1, 2]) {
      const r = await run(['run', 'nightly']);
      assert.is(r.code, 1, `round ${round}: ${r.out}`);
      assert.equal(statusOf(r.report), ['rolled-back', 'failed']);
      assert.is((await dataDir()).stdout.trim(), 'missing', 'the data folder it created is gone again');
    }
  } finally {
    await tb.hosts[0]!.sh('rm -f /etc/cron.allow');
  }
});

test('a JavaScript pipeline importing hoist runs the same way (changed, then unchanged)', async () => {
  // examples/nightly.ts has no TypeScript-only syntax: as .mjs it is what a JS user writes.
  // Compiled hoist must still give it the package (whose entry is TypeScript) and one copy of it.
  const js = join(tb.dir, 'pipelines/nightly-js.mjs');
  writeFileSync(js, readFileSync(join(REPO_ROOT, 'examples/nightly.ts'), 'utf8').replace("name: 'nightly'", "name: 'nightly-js'"));
  const first = await run(['run', js]);
  assert.is(first.code, 0, first.out);
  assert.is(first.report.pipeline, 'nightly-js');
  // The test above left no data folder (rolled back) and no crontab (removed to make it fail).
  assert.equal(statusOf(first.report), ['changed', 'changed']);
  assert.is((await dataDir()).stdout.trim(), '750');
  const second = await run(['run', js]);
  assert.is(second.code, 0, second.out);
  assert.equal(statusOf(second.report), ['unchanged', 'unchanged']);
  assertNothingChanged(second.report, 'nightly-js, run again');
});

test('the README shows examples/nightly.ts as it is', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const code = readFileSync(join(REPO_ROOT, 'examples/nightly.ts'), 'utf8').split('\n').filter((l) => !l.startsWith('//')).join('\n').trim();
  assert.ok(readme.includes(code), 'README code block differs from examples/nightly.ts');
});

test.run();
