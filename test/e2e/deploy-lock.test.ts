// The per-host deploy lock, the audit log and Ctrl-C, with the real CLI against real sshd hosts:
// a second run on a locked host fails fast naming the holder; the lock is freed after success,
// failure, SIGINT and SIGTERM; a stale lock shows its age and `hoist unlock` frees it; every run
// appends one audit line on the host and leaves a report under .hoist/runs/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { assertNothingChanged, runTwice } from '../harness/run-twice.ts';
import { REPO_ROOT, Testbed, type CliResult, type TestHost } from '../harness/testbed.ts';

const test = suite('deploy lock, audit log and interrupts, end to end');
const tb = new Testbed();
const SLOW = join(REPO_ROOT, 'test/fixtures/pipelines/slow-step.ts');
const FAILING = join(REPO_ROOT, 'test/fixtures/pipelines/cron-then-fail.ts');
const USER_CRONTAB = '# my own jobs\n17 3 * * * /usr/local/bin/backup\n';
const ME = `${userInfo().username}@${hostname()}`;
let host: TestHost;

test.before(async () => {
  await tb.start({ count: 1, deployUser: true });
  host = tb.hosts[0]!;
  tb.writeEnv({ APP_NAME: 'app', CRON_FILE: tb.file('jobs.crontab', '@daily echo hi\n') });
  tb.writeInventory();
});
test.after(async () => {
  await tb.stop();
});

const args = (pipeline: string) => ['run', pipeline, '--env-file', tb.envPath, '--inventory', tb.inventoryPath];
const asDeploy = async (cmd: string) => (await host.sh(cmd, 'deploy')).stdout;
const lockExists = async () => (await asDeploy('test -L ~/.hoist/lock && echo yes || echo no')).trim() === 'yes';
const auditLines = async () => (await asDeploy('cat ~/.hoist/audit.log 2>/dev/null')).split('\n').filter(Boolean);
const lastAudit = async () => JSON.parse((await auditLines()).at(-1)!) as Record<string, unknown>;
const crontab = () => asDeploy('crontab -l 2>/dev/null');

async function reset(): Promise<void> {
  const r = await host.sh(`rm -f ~/.slow-step ~/.hoist/lock && printf '%s' '${USER_CRONTAB}' | crontab -`, 'deploy');
  assert.is(r.code, 0, r.stderr);
}

async function runWithReport(pipeline: string): Promise<{ r: CliResult; report: RunReport }> {
  return tb.hoistWithReport(args(pipeline));
}

/** Polls (bounded) until `check` is true; fails the test with `what` otherwise. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('a second run on a locked host fails fast naming the holder; the lock goes when the first run ends', async () => {
  await reset();
  const auditBefore = await auditLines();
  let child: ChildProcess | undefined;
  const first = tb.hoist(args(SLOW), {}, (c) => (child = c));
  await waitFor('the first run to take the lock', lockExists);
  const holder = JSON.parse(await asDeploy('readlink ~/.hoist/lock')) as Record<string, unknown>;
  assert.equal([holder.who, holder.pipeline], [ME, 'slow-step']);

  // Run once while the lock is held: it is the point of the test, the run that meets the lock of
  // one still going (the stale-lock test below is refused twice). The first run is then run
  // again and must change nothing.
  // The first run is paused (SIGSTOP) while it holds the lock, so the second meets the lock
  // however long it takes to start on a busy machine (ordered, not timed: its step lasts 3 s),
  // and goes on once the second has given up.
  child!.kill('SIGSTOP');
  let second: Awaited<ReturnType<typeof runWithReport>>;
  try {
    second = await runWithReport('cron');
  } finally {
    child!.kill('SIGCONT');
  }
  assert.is(second.r.code, 1, second.r.stderr);
  assert.is(second.report.hosts[0]!.status, 'failed');
  assert.match(second.report.hosts[0]!.error!, new RegExp(`deploy lock held by ${ME.replace(/\./g, '\\.')} \\(slow-step, run ${holder.run}\\) since .*s ago\\. Fix: .*hoist unlock --hosts ${host.name}`));
  assert.ok(second.report.hosts[0]!.tasks.every((t) => t.status === 'skipped'), 'no task of the second run started');
  assert.ok(child!.exitCode === null, 'the first run is still going when the second has given up');
  // Fast by count, not by clock: one command to the host (the look at the lock, refused), no
  // wait, no retry, and all of it while the first run still holds the lock.
  assert.is(second.report.hosts[0]!.commands, 1, 'one round trip: the refused lock');

  const r = await first;
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(await lockExists(), 'the lock is gone after a successful run');
  const audit = await auditLines();
  assert.equal(audit.slice(0, auditBefore.length), auditBefore, 'earlier audit lines are kept as they were');
  assert.is(audit.length, auditBefore.length + 1, 'one line for the run that held the lock, none for the refused one');
  const line = JSON.parse(audit.at(-1)!) as Record<string, unknown>;
  assert.equal([line.who, line.pipeline, line.result, line.changed], [ME, 'slow-step', 'ok', ['cron-install', 'slow-step']]);

  // Run again: nothing to change, and the lock is taken and freed again.
  const again = await runWithReport(SLOW);
  assert.is(again.r.code, 0, again.r.stderr);
  assert.ok(again.report.hosts[0]!.tasks.every((t) => t.status === 'unchanged'));
  assertNothingChanged(again.report, 'slow-step, run again');
  assert.not.ok(await lockExists());
  assert.equal((await lastAudit()).changed, []);
});

test('after a failed run the lock is gone and the audit log says failed (twice)', async () => {
  await reset();
  for (let round = 1; round <= 2; round++) {
    const { r, report } = await runWithReport(FAILING);
    assert.is(r.code, 1, r.stderr);
    assert.is(report.hosts[0]!.status, 'failed');
    assert.not.ok(await lockExists(), `round ${round}: lock freed after the failure`);
    const line = await lastAudit();
    assert.equal([line.result, line.pipeline], ['failed', 'cron-then-fail']);
    assert.match(String(line.error), /always-fails/);
    assert.is(await crontab(), USER_CRONTAB, 'the crontab is back as it was');
  }
});

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test(`${signal} while a step runs: it finishes, nothing new starts, the host is rolled back, the lock freed, exit ${code}; a re-run succeeds`, async () => {
    await reset();
    let child: ChildProcess | undefined;
    // Run once: this run is interrupted on purpose; the rerun converges and a third is unchanged.
    const run = tb.hoist([...args(SLOW), '--json', join(tb.dir, `interrupted-${signal}.json`)], {}, (c) => (child = c));
    await waitFor('the first step to start', async () => (await asDeploy('cat ~/.slow-step 2>/dev/null')).includes('started'));
    child!.kill(signal);
    const r = await run;
    assert.is(r.code, code, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${signal}: stopping`));
    const report = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(tb.dir, `interrupted-${signal}.json`), 'utf8'))) as RunReport;
    assert.is(report.interrupted, signal);
    const tasks = Object.fromEntries(report.hosts[0]!.tasks.map((t) => [t.task, t]));
    assert.is(tasks['slow-step']!.status, 'failed');
    assert.match(tasks['slow-step']!.error!, new RegExp(`interrupted by ${signal}`));
    assert.is(tasks['cron-install']!.status, 'rolled-back');
    assert.is(await asDeploy('cat ~/.slow-step 2>/dev/null'), '', 'the half-done step was undone (its second command never ran)');
    assert.is(await crontab(), USER_CRONTAB, 'cron-install was undone');
    assert.not.ok(await lockExists(), 'the lock was freed');
    assert.is((await lastAudit()).result, 'interrupted');

    const rerun = await runWithReport(SLOW);
    assert.is(rerun.r.code, 0, rerun.r.stderr);
    assert.equal(rerun.report.hosts[0]!.tasks.map((t) => t.status), ['changed', 'changed']);
    const third = await runWithReport(SLOW);
    assert.equal(third.report.hosts[0]!.tasks.map((t) => t.status), ['unchanged', 'unchanged']);
    assertNothingChanged(third.report, `slow-step after ${signal}, run a third time`);
  });
}

test('a stale lock is reported with its age; hoist unlock frees it, says whose it was and logs it', async () => {
  await reset();
  const since = new Date(Date.now() - 3 * 3600_000).toISOString();
  const stale = JSON.stringify({ who: 'ci@runner-7', run: 'r-old', pipeline: 'release', revision: 'abc1234', since });
  const made = await host.sh(`mkdir -p ~/.hoist && ln -s '${stale}' ~/.hoist/lock`, 'deploy');
  assert.is(made.code, 0, made.stderr);
  for (let round = 1; round <= 2; round++) {
    const { r, report } = await runWithReport('cron');
    assert.is(r.code, 1);
    assert.match(report.hosts[0]!.error!, /held by ci@runner-7 \(release of abc1234, run r-old\) since .*, 3h ago; it may be stale/);
    assert.ok(await lockExists(), 'a refused run leaves the other lock alone');
  }
  const unlock = await tb.hoist(['unlock', '--env-file', tb.envPath, '--inventory', tb.inventoryPath]);
  assert.is(unlock.code, 0, unlock.stderr);
  assert.match(unlock.stdout, new RegExp(`${host.name}: freed the lock held by ci@runner-7 \\(release of abc1234`));
  assert.not.ok(await lockExists());
  assert.equal([(await lastAudit()).result, (await lastAudit()).who], ['unlocked', ME]);
  const again = await tb.hoist(['unlock', '--env-file', tb.envPath, '--inventory', tb.inventoryPath]);
  assert.match(again.stdout, new RegExp(`${host.name}: was not locked`));

  const { r, report } = await runTwice('cron after unlock', () => runWithReport('cron'));
  assert.is(r.code, 0, r.stderr);
  assert.is(report.hosts[0]!.status, 'ok');
});

test('a run killed outright here leaves its lock; the next run on this machine takes it over and finishes', async () => {
  await reset();
  let child: ChildProcess | undefined;
  // Run once: this run is killed on purpose; the next one takes over and converges, then again
  // it changes nothing.
  const first = tb.hoist(args(SLOW), {}, (c) => (child = c));
  await waitFor('the slow step to start', async () => (await asDeploy('cat ~/.slow-step 2>/dev/null')).includes('started'));
  const holder = JSON.parse(await asDeploy('readlink ~/.hoist/lock')) as Record<string, unknown>;
  assert.equal([holder.who, holder.pid], [ME, child!.pid]);
  // No signal handler runs on SIGKILL: no rollback, no unlock (as when the laptop dies).
  child!.kill('SIGKILL');
  await first;
  assert.ok(await lockExists(), 'a killed run cannot free its lock');

  // The lock's process is gone from this machine, so it cannot be deploying: taken over, with a
  // warning naming the dead run. (A lock from another machine is only freed by hoist unlock, above.)
  const { r, report } = await runWithReport(SLOW);
  assert.is(r.code, 0, r.stderr);
  assert.match(report.hosts[0]!.warnings.join('\n'), new RegExp(`took over the deploy lock of run ${holder.run} \\(slow-step, since .*\\): its process ${holder.pid} on this machine is gone`));
  assert.equal(report.hosts[0]!.tasks.map((t) => t.status), ['unchanged', 'changed'], 'the slow step is finished, the crontab was done');
  assert.not.ok(await lockExists(), 'the lock is freed after the run that took it over');
  assert.equal([(await lastAudit()).run, (await lastAudit()).result], [report.run, 'ok']);

  const again = await runWithReport(SLOW);
  assert.is(again.r.code, 0, again.r.stderr);
  assert.ok(again.report.hosts[0]!.tasks.every((t) => t.status === 'unchanged'));
  assertNothingChanged(again.report, 'slow-step after the takeover, run again');
  assert.equal(again.report.hosts[0]!.warnings, []);
});

test('every run leaves its report under .hoist/runs/, private to the user', () => {
  const dir = join(tb.dir, '.hoist', 'runs');
  assert.ok(existsSync(dir));
  assert.is(statSync(dir).mode & 0o777, 0o700);
  const files = readdirSync(dir);
  assert.ok(files.length >= 8, `${files.length} reports`);
  for (const f of files) assert.is(statSync(join(dir, f)).mode & 0o777, 0o600, f);
  assert.ok(files.some((f) => f.endsWith('-slow-step.json')) && files.some((f) => f.endsWith('-cron.json')));
});

test.run();
