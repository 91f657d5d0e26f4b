// The e2e suite's "run it again, nothing changed" check (test/harness/run-twice.ts) must catch
// every way a second run can be other than a no-op: a task changed or failed, a host not ok, a
// non-zero exit, a report with no host or no task.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HostReport, RunReport } from '../../lib/report/run-report.ts';
import { assertNothingChanged, notUnchanged, runTwice } from '../harness/run-twice.ts';

const host = (name: string, statuses: string[], status: HostReport['status'] = 'ok'): HostReport => ({
  name, address: '127.0.0.1:22', status, batch: 1, release: { before: null, after: null }, startedAt: null, endedAt: null,
  durationMs: 0, error: status === 'ok' ? null : 'boom', note: null, warnings: [], commands: 2,
  tasks: statuses.map((s, i) => ({ task: `t${i}`, status: s, steps: [], attempts: 1, durationMs: 0 }) as HostReport['tasks'][number]),
});
const report = (hosts: HostReport[], exitCode = 0): RunReport => ({
  hoist: 1, run: 'r', pipeline: 'p', dryRun: false, startedAt: '', durationMs: 0, exitCode, interrupted: null,
  rollout: { concurrency: 1, batch: null, canary: null, maxFail: null, fleetRollback: false, batches: 1 }, hosts,
});

test('a report where every task of every host is unchanged passes', () => {
  assert.equal(notUnchanged(report([host('web1', ['unchanged', 'unchanged']), host('web2', ['unchanged'])])), []);
});

test('each way of not being a no-op is named', () => {
  assert.equal(notUnchanged(report([host('web1', ['unchanged', 'changed']), host('web2', ['unchanged'])])), ['web1/t1: changed']);
  assert.equal(notUnchanged(report([host('web1', ['failed', 'skipped'], 'failed')], 1)), ['exit 1', 'web1: failed (boom)', 'web1/t0: failed', 'web1/t1: skipped']);
  assert.equal(notUnchanged(report([host('web1', ['unchanged'], 'rolled-back')])), ['web1: rolled-back (boom)']);
  assert.equal(notUnchanged(report([host('web1', [])])), ['web1: no tasks']);
  assert.equal(notUnchanged(report([])), ['no hosts']);
});

test('assertNothingChanged throws with the label and what changed', () => {
  assert.throws(() => assertNothingChanged(report([host('web1', ['changed'])]), 'release v2'), /release v2: the second run was not a no-op: web1\/t0: changed/);
  assertNothingChanged(report([host('web1', ['unchanged'])]), 'fine');
});

test('runTwice runs twice, returns the first, and fails when the second changed something', async () => {
  const runs = [report([host('web1', ['changed'])]), report([host('web1', ['unchanged'])])];
  let n = 0;
  const first = await runTwice('p', async () => ({ report: runs[n++]! }));
  assert.is(n, 2);
  assert.is(first.report, runs[0]);
  n = 0;
  const bad = [report([host('web1', ['changed'])]), report([host('web1', ['changed'])])];
  let e: unknown;
  await runTwice('p', async () => ({ report: bad[n++]! })).catch((x) => (e = x));
  assert.match(String(e), /p, run again: the second run was not a no-op: web1\/t0: changed/);
});

test.run();
