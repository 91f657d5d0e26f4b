process.env.HOIST_RETRY_MIN_MS = '1';

import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunEvent } from '../../lib/engine/events.ts';
import { newLockInfo } from '../../lib/engine/host-lock.ts';
import { HostRun } from '../../lib/engine/host-run.ts';
import { Interrupt } from '../../lib/engine/interrupt.ts';
import { definePipeline } from '../../lib/engine/pipeline.ts';
import { withRetry } from '../../lib/engine/retry.ts';
import { defineTask, type RemoteProbe, type Task, type TaskInput } from '../../lib/engine/task.ts';
import {
  AuthError,
  CommandTimeoutError,
  ConfigError,
  ConnectError,
  ConnectionLostError,
  HostKeyError,
  InterruptedError,
  LockHeldError,
  RemoteCommandError,
  VerifyError,
} from '../../lib/errors.ts';
import { runChecked, type ExecResult } from '../../lib/exec/executor.ts';
import { RecordingExecutor, type Responder } from '../../lib/exec/recording-executor.ts';
import { testHost } from '../harness/settings.ts';
import { ACQUIRE, freeDeployLock, isLockCommand, RELEASE } from '../harness/lock-responder.ts';

/** Command lines the tasks sent (the deploy lock's own are tested elsewhere). */
const taskLines = (exec: RecordingExecutor) => exec.lines.filter((l) => !isLockCommand(l));
import { singleExecutorPool } from '../../lib/exec/executor-pool.ts';
import { sh } from '../../lib/shell-quote.ts';

// HostRun is driven exactly as the listr runner drives it (connect, then runTask(i) in order,
// stopping at the first throw) against a simulated host: a map of named values that fake tasks
// read with `cat state-NAME` and write with `set state-NAME VALUE`.

// ---------------------------------------------------------------------------------------------
// fixtures

type State = Record<string, string>;

const ok = (stdout = ''): ExecResult => ({ stdout, stderr: '', code: 0 });

/** Answers the fake tasks' probe and apply/rollback commands from `state`, changing it. */
function simulatedHost(state: State): Responder {
  return (line) => {
    let m = /^cat state-(\S+)$/.exec(line);
    if (m) return ok(state[m[1]!] ?? 'none');
    m = /^set state-(\S+) (\S+)$/.exec(line);
    if (m) {
      state[m[1]!] = m[2]!;
      return ok();
    }
    if (line === 'true') return ok();
    return undefined;
  };
}

/** The first `times` commands equal to `line` get `answer` (an Error is thrown); then passes. */
function failTimes(line: string, times: number, answer: () => ExecResult | Error): Responder {
  let left = times;
  return (l) => {
    if (l !== line || left <= 0) return undefined;
    left--;
    return answer();
  };
}

const failing = (code = 1, stderr = 'boom'): ExecResult => ({ stdout: '', stderr, code });

interface FakeOptions {
  /** Apply runs `true` instead of setting the value: it succeeds but changes nothing. */
  noopApply?: boolean;
  retrySafe?: boolean;
  noRollback?: boolean;
}

/** A task that wants state-NAME to be `want`; rollback puts back what probe saw. */
function fakeTask(name: string, want: string, o: FakeOptions = {}): Task<string, string> {
  return defineTask<string, string>({
    name,
    want: () => want,
    probe: () => ({ command: sh`cat state-${name}`, parse: (r) => r.stdout }),
    plan: (wanted, fact) =>
      wanted === fact
        ? { changes: false, reason: `${name} is already ${wanted}` }
        : { changes: true, steps: [{ describe: `set ${name} from ${fact} to ${wanted}` }] },
    apply: async (exec, _steps, ctx) => {
      await runChecked(exec, o.noopApply ? sh`true` : sh`set state-${name} ${ctx.wanted}`, `apply ${name}`);
    },
    ...(o.noRollback
      ? {}
      : {
          rollback: async (exec, ctx) => {
            await runChecked(exec, sh`set state-${name} ${ctx.before}`, `rollback ${name}`);
          },
        }),
    ...(o.retrySafe !== undefined ? { retrySafe: o.retrySafe } : {}),
  });
}

function input(retries = 2): TaskInput {
  return { host: testHost({ retries }), loginUser: 'deploy' };
}

interface Setup {
  tasks: Task<string, string>[];
  state?: State;
  /** Checked before the simulated host, to inject faults. */
  faults?: Responder[];
  dryRun?: boolean;
  retries?: number;
  connectFailures?: Error[];
  interrupt?: Interrupt;
}


async function setup(s: Setup) {
  const state = s.state ?? {};
  const inp = input(s.retries ?? 2);
  const pipeline = definePipeline({ name: 'test', description: 'unit test', login: 'deploy', tasks: s.tasks });
  const wanted = await Promise.all(s.tasks.map((t) => t.want(inp)));
  const exec = new RecordingExecutor([...(s.faults ?? []), freeDeployLock, simulatedHost(state)], { connectFailures: s.connectFailures ?? [] });
  const events: RunEvent[] = [];
  const opts = { dryRun: s.dryRun ?? false, retries: s.retries ?? 2, runId: 'unit', interrupt: s.interrupt ?? new Interrupt() };
  const run = new HostRun(inp, pipeline, wanted, singleExecutorPool(exec), opts, (e) => events.push(e));
  return { state, exec, events, run, pipeline };
}

/** As the listr runner: connect, then tasks in order until the first throws. */
async function runAll(s: Setup) {
  const ctx = await setup(s);
  let thrown: unknown;
  await ctx.run.start(() => {});
  for (let i = 0; i < ctx.pipeline.tasks.length; i++) {
    try {
      await ctx.run.runTask(i);
    } catch (e) {
      thrown = e;
      break;
    }
  }
  return { ...ctx, thrown, results: ctx.run.results };
}

const statuses = (results: { status: string }[]) => results.map((r) => r.status);
const ofType = <T extends RunEvent['type']>(events: RunEvent[], type: T) =>
  events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type);
const lostConnection = () => new ConnectionLostError('lost the connection to recording: reset');
/** uvu 0.5 has no assert.rejects: awaits `fn`, fails if it resolves, returns what it threw. */
async function rejects(fn: () => Promise<unknown>, expected: RegExp | ((e: unknown) => boolean)): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    if (expected instanceof RegExp) assert.match((e as Error).message, expected);
    else assert.ok(expected(e), `unexpected error: ${String(e)}`);
    return e;
  }
  assert.unreachable('expected a rejection');
}
const DPKG_STDERR = 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (apt-get)';

// ---------------------------------------------------------------------------------------------
// RecordingExecutor itself

test('RecordingExecutor records calls, answers from the first matching responder, throws on no match', async () => {
  const exec = new RecordingExecutor([(l) => (l === 'a' ? ok('first') : undefined), (l) => (l === 'a' ? ok('second') : undefined), (l) => (l === 'x' ? new AuthError('nope') : undefined)]);
  assert.is(exec.label, 'recording');
  assert.is((await exec.exec(sh`a`, { sudo: true, stdin: 'secret' })).stdout, 'first');
  await exec.upload('/etc/f', Buffer.from('body'), { mode: 0o600, sudo: true });
  await rejects(() => exec.exec(sh`x`), (e: unknown) => e instanceof AuthError);
  await rejects(() => exec.exec(sh`rm -rf ${'/tmp/a b'}`), /unexpected command: rm -rf '\/tmp\/a b'/);
  assert.equal(exec.calls, [
    { kind: 'exec', line: 'a', sudo: true, stdin: 'secret' },
    { kind: 'upload', path: '/etc/f', content: 'body', mode: 0o600, sudo: true },
    { kind: 'exec', line: 'x', sudo: false },
    { kind: 'exec', line: "rm -rf '/tmp/a b'", sudo: false },
  ]);
});

test('RecordingExecutor connect fails with the scripted errors in order, then succeeds', async () => {
  const e1 = new ConnectError('one', true);
  const e2 = new AuthError('two');
  const exec = new RecordingExecutor([], { connectFailures: [e1, e2] });
  await rejects(() => exec.connect(), (e: unknown) => e === e1);
  await rejects(() => exec.connect(), (e: unknown) => e === e2);
  await exec.connect();
  assert.is(exec.connectCount, 3);
});

// ---------------------------------------------------------------------------------------------
// plan outcomes

test('empty plan: unchanged with the reason, nothing applied', async () => {
  const r = await runAll({ tasks: [fakeTask('a', 'v1')], state: { a: 'v1' } });
  assert.is(r.thrown, undefined);
  assert.is(r.results[0]!.status, 'unchanged');
  assert.is(r.results[0]!.reason, 'a is already v1');
  assert.equal(r.results[0]!.steps, []);
  assert.is(r.results[0]!.attempts, 1);
  assert.equal(taskLines(r.exec), ['cat state-a']);
  assert.is(r.run.failed, false);
  const planned = ofType(r.events, 'task-planned')[0]!;
  assert.is(planned.reason, 'a is already v1');
  assert.equal(planned.steps, []);
});

test('changed: apply, then verify probes again; steps recorded; events in order', async () => {
  const r = await runAll({ tasks: [fakeTask('a', 'v2')], state: { a: 'v1' } });
  assert.is(r.thrown, undefined);
  assert.equal(taskLines(r.exec), ['cat state-a', 'set state-a v2', 'cat state-a']);
  assert.is(r.results[0]!.status, 'changed');
  assert.equal(r.results[0]!.steps, ['set a from v1 to v2']);
  assert.is(r.results[0]!.attempts, 1);
  assert.is(r.state.a, 'v2');
  assert.equal(r.events.map((e) => e.type), ['task-start', 'task-planned', 'task-end']);
  assert.equal(ofType(r.events, 'task-planned')[0]!.steps, ['set a from v1 to v2']);
  assert.is(r.run.failed, false);
  assert.is(r.run.error, undefined);
  assert.ok(r.run.endedAt >= r.run.startedAt && r.run.startedAt > 0);
});

test('dry run: a later task that cannot be probed before earlier changes is skipped with the reason, not failed', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2')],
    state: { a: 'v1', b: 'v1' },
    faults: [(l) => (l === 'cat state-b' ? new RemoteCommandError('probing b', 127, 'git: not found') : undefined)],
    dryRun: true,
  });
  assert.is(r.thrown, undefined);
  assert.equal(statuses(r.results), ['changed', 'skipped']);
  assert.match(r.results[1]!.reason ?? '', /planned after the changes above are made.*git: not found/);
  assert.is(r.run.failed, false);
});

test('dry run: changed with steps, nothing applied, nothing rolled back even when a later task fails', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2'), fakeTask('c', 'v2')],
    state: { a: 'v1', b: 'v2', c: 'v1' },
    faults: [(l) => (l === 'cat state-c' ? new HostKeyError('HOST KEY CHANGED') : undefined)],
    dryRun: true,
  });
  assert.ok(r.thrown instanceof HostKeyError);
  assert.equal(statuses(r.results), ['changed', 'unchanged', 'failed']);
  assert.equal(r.results[0]!.steps, ['set a from v1 to v2']);
  assert.equal(taskLines(r.exec), ['cat state-a', 'cat state-b', 'cat state-c']);
  assert.equal(ofType(r.events, 'rollback'), []);
  assert.equal(r.state, { a: 'v1', b: 'v2', c: 'v1' });
});

test('dry run of a whole pipeline: every changing task reports its steps, only probes run', async () => {
  const r = await runAll({ tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2')], state: { a: 'v1', b: 'v1' }, dryRun: true });
  assert.is(r.thrown, undefined);
  assert.equal(statuses(r.results), ['changed', 'changed']);
  assert.ok(taskLines(r.exec).every((l) => l.startsWith('cat ')));
  assert.is(r.run.failed, false);
});

// ---------------------------------------------------------------------------------------------
// failure and rollback

test('task 3 of 3 fails: 1 and 2 rolled back in reverse order, the failing one rolled back too', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2'), fakeTask('c', 'v2')],
    state: { a: 'v1', b: 'v1', c: 'v1' },
    faults: [failTimes('set state-c v2', 1, () => failing(1, 'disk full'))],
  });
  assert.ok(r.thrown instanceof RemoteCommandError);
  assert.equal(statuses(r.results), ['rolled-back', 'rolled-back', 'failed']);
  assert.match(r.results[2]!.error ?? '', /apply c .*failed \(exit 1\): disk full/);
  assert.is(r.results[2]!.attempts, 1);
  // Rollbacks after the failing apply, newest first: c (may have partly applied), b, a.
  const failedAt = taskLines(r.exec).indexOf('set state-c v2');
  assert.equal(taskLines(r.exec).slice(failedAt + 1), ['set state-c v1', 'set state-b v1', 'set state-a v1']);
  assert.equal(r.state, { a: 'v1', b: 'v1', c: 'v1' });
  assert.equal(
    ofType(r.events, 'rollback').map((e) => [e.task, e.ok]),
    [['c', true], ['b', true], ['a', true]],
  );
  assert.is(r.run.failed, true);
  assert.match(r.run.error ?? '', /^c: /);
  assert.ok(r.results[0]!.rollbackError === undefined && r.results[2]!.rollbackError === undefined);
  // The failing task's end is reported after its host was unwound.
  assert.equal(r.events.at(-1)!.type, 'task-end');
});

test('unchanged tasks are not rolled back and stay unchanged', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v1'), fakeTask('c', 'v2')],
    state: { a: 'v1', b: 'v1', c: 'v1' },
    faults: [failTimes('set state-c v2', 1, () => failing())],
  });
  assert.equal(statuses(r.results), ['rolled-back', 'unchanged', 'failed']);
  assert.ok(!taskLines(r.exec).some((l) => l.startsWith('set state-b')));
  assert.equal(ofType(r.events, 'rollback').map((e) => e.task), ['c', 'a']);
  assert.equal(r.state, { a: 'v1', b: 'v1', c: 'v1' });
});

test('a task that fails in probe has nothing to undo; earlier tasks are still rolled back', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2')],
    state: { a: 'v1', b: 'v1' },
    faults: [(l) => (l === 'cat state-b' ? new AuthError('permission denied') : undefined)],
  });
  assert.equal(statuses(r.results), ['rolled-back', 'failed']);
  assert.equal(ofType(r.events, 'rollback').map((e) => e.task), ['a']);
  assert.is(r.results[1]!.error, 'permission denied');
  assert.is(r.run.error, 'b: permission denied');
});

test('tasks after the failing one stay skipped', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2')],
    state: { a: 'v1', b: 'v1' },
    faults: [failTimes('set state-a v2', 1, () => failing())],
  });
  assert.equal(statuses(r.results), ['failed', 'skipped']);
  assert.is(r.results[1]!.attempts, 0);
  assert.ok(!taskLines(r.exec).some((l) => l.includes('state-b')));
});

test('verify failure: apply that changes nothing fails with what still differs, and is rolled back', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2', { noopApply: true })],
    state: { a: 'v1', b: 'v1' },
  });
  assert.ok(r.thrown instanceof VerifyError);
  assert.equal(statuses(r.results), ['rolled-back', 'failed']);
  assert.is(r.results[1]!.error, 'after applying, the host still differs: set b from v1 to v2');
  assert.is(r.results[1]!.attempts, 1, 'a VerifyError is not retried');
  assert.equal(taskLines(r.exec), ['cat state-a', 'set state-a v2', 'cat state-a', 'cat state-b', 'true', 'cat state-b', 'set state-b v1', 'set state-a v1']);
  assert.equal(r.state, { a: 'v1', b: 'v1' });
});

test('a rollback that throws: status kept, rollbackError set, ok:false event, unwinding continues', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2'), fakeTask('c', 'v2')],
    state: { a: 'v1', b: 'v1', c: 'v1' },
    faults: [
      failTimes('set state-c v2', 1, () => failing(1, 'apply broke')),
      failTimes('set state-b v1', 1, () => failing(2, 'rollback broke')),
    ],
  });
  assert.equal(statuses(r.results), ['rolled-back', 'changed', 'failed']);
  assert.match(r.results[1]!.rollbackError ?? '', /rollback b .*exit 2.*rollback broke/);
  assert.is(r.results[0]!.rollbackError, undefined);
  const rollbacks = ofType(r.events, 'rollback');
  assert.equal(rollbacks.map((e) => [e.task, e.ok]), [['c', true], ['b', false], ['a', true]]);
  assert.is(rollbacks[1]!.error, r.results[1]!.rollbackError);
  assert.equal(r.state, { a: 'v1', b: 'v2', c: 'v1' });
  // The non-transient rollback failure was tried once only.
  assert.is(taskLines(r.exec).filter((l) => l === 'set state-b v1').length, 1);
});

test("the failing task's own rollback failing keeps it failed with both errors", async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2')],
    state: { a: 'v1' },
    faults: [failTimes('set state-a v2', 1, () => failing(1, 'apply broke')), failTimes('set state-a v1', 1, () => failing(1, 'undo broke'))],
  });
  assert.is(r.results[0]!.status, 'failed');
  assert.match(r.results[0]!.error ?? '', /apply broke/);
  assert.match(r.results[0]!.rollbackError ?? '', /undo broke/);
});

test('a rollback that fails transiently is retried', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2')],
    state: { a: 'v1', b: 'v1' },
    faults: [failTimes('set state-b v2', 1, () => failing()), failTimes('set state-a v1', 1, lostConnection)],
  });
  assert.equal(statuses(r.results), ['rolled-back', 'failed']);
  assert.is(r.results[0]!.rollbackError, undefined);
  assert.is(taskLines(r.exec).filter((l) => l === 'set state-a v1').length, 2);
  assert.equal(r.state, { a: 'v1', b: 'v1' });
});

test('a changed task without rollback stays changed when the host is unwound', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2', { noRollback: true }), fakeTask('b', 'v2')],
    state: { a: 'v1', b: 'v1' },
    faults: [failTimes('set state-b v2', 1, () => failing())],
  });
  assert.equal(statuses(r.results), ['changed', 'failed']);
  assert.equal(ofType(r.events, 'rollback').map((e) => e.task), ['b']);
});

// ---------------------------------------------------------------------------------------------
// retries

test('a transient error in probe is retried: 2 attempts, a task-retry event with attempt 2', async () => {
  const r = await runAll({ tasks: [fakeTask('a', 'v2')], state: { a: 'v1' }, faults: [failTimes('cat state-a', 1, lostConnection)], retries: 2 });
  assert.is(r.thrown, undefined);
  assert.is(r.results[0]!.status, 'changed');
  assert.is(r.results[0]!.attempts, 2);
  const retries = ofType(r.events, 'task-retry');
  assert.is(retries.length, 1);
  assert.is(retries[0]!.attempt, 2);
  assert.is(retries[0]!.of, 3);
  assert.is(retries[0]!.task, 'a');
  assert.match(retries[0]!.error, /lost the connection/);
  assert.equal(taskLines(r.exec), ['cat state-a', 'cat state-a', 'set state-a v2', 'cat state-a']);
});

test('a transient error in apply of a retrySafe task is retried', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2', { retrySafe: true })],
    state: { a: 'v1' },
    faults: [failTimes('set state-a v2', 1, lostConnection)],
  });
  assert.is(r.thrown, undefined);
  assert.is(r.results[0]!.status, 'changed');
  assert.is(r.results[0]!.attempts, 2);
  assert.equal(ofType(r.events, 'task-retry').map((e) => e.attempt), [2]);
  assert.equal(ofType(r.events, 'rollback'), []);
  assert.equal(taskLines(r.exec), ['cat state-a', 'set state-a v2', 'set state-a v2', 'cat state-a']);
});

test('a transient error in apply of a task that is not retrySafe is not retried: the host is rolled back', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2', { retrySafe: false })],
    state: { a: 'v1', b: 'v1' },
    faults: [failTimes('set state-b v2', 1, lostConnection)],
  });
  assert.ok(r.thrown instanceof ConnectionLostError);
  assert.equal(statuses(r.results), ['rolled-back', 'failed']);
  assert.is(r.results[1]!.attempts, 1);
  assert.equal(ofType(r.events, 'task-retry'), []);
  assert.is(taskLines(r.exec).filter((l) => l === 'set state-b v2').length, 1);
  assert.equal(ofType(r.events, 'rollback').map((e) => e.task), ['b', 'a']);
  assert.equal(r.state, { a: 'v1', b: 'v1' });
});

test('a transient error in verify is retried', async () => {
  let probes = 0;
  const r = await runAll({
    tasks: [fakeTask('a', 'v2')],
    state: { a: 'v1' },
    // The first probe passes, the second (verify's) loses the connection once.
    faults: [(l) => (l === 'cat state-a' && ++probes === 2 ? lostConnection() : undefined)],
  });
  assert.is(r.results[0]!.status, 'changed');
  assert.is(r.results[0]!.attempts, 2);
  assert.equal(taskLines(r.exec), ['cat state-a', 'set state-a v2', 'cat state-a', 'cat state-a']);
});

test('non-transient errors are not retried: AuthError, RemoteCommandError without a dpkg lock', async () => {
  const auth = await runAll({ tasks: [fakeTask('a', 'v2')], state: { a: 'v1' }, faults: [failTimes('cat state-a', 1, () => new AuthError('key rejected'))] });
  assert.ok(auth.thrown instanceof AuthError);
  assert.is(auth.results[0]!.status, 'failed');
  assert.is(auth.results[0]!.attempts, 1);
  assert.equal(ofType(auth.events, 'task-retry'), []);

  const remote = await runAll({
    tasks: [fakeTask('a', 'v2', { retrySafe: true })],
    state: { a: 'v1' },
    faults: [failTimes('set state-a v2', 1, () => failing(100, 'E: Unable to locate package nope'))],
  });
  assert.ok(remote.thrown instanceof RemoteCommandError);
  assert.is(remote.results[0]!.status, 'failed');
  assert.is(remote.results[0]!.attempts, 1);
  assert.equal(ofType(remote.events, 'task-retry'), []);
});

test('a RemoteCommandError holding the dpkg lock is retried', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2', { retrySafe: true })],
    state: { a: 'v1' },
    faults: [failTimes('set state-a v2', 1, () => failing(100, DPKG_STDERR))],
  });
  assert.is(r.thrown, undefined);
  assert.is(r.results[0]!.status, 'changed');
  assert.is(r.results[0]!.attempts, 2);
  assert.match(ofType(r.events, 'task-retry')[0]!.error, /Could not get lock/);
});

test('a probe answer that fails to parse for a passing reason is asked again, not read from the cache', async () => {
  const strict = defineTask<string, string>({
    ...fakeTask('a', 'v2'),
    probe: () => ({
      command: sh`cat state-a`,
      parse: (r) => {
        if (r.code !== 0) throw new RemoteCommandError('reading a', r.code, r.stderr);
        return r.stdout;
      },
    }),
  });
  const r = await runAll({ tasks: [strict], state: { a: 'v1' }, faults: [failTimes('cat state-a', 1, () => failing(100, DPKG_STDERR))] });
  assert.is(r.thrown, undefined);
  assert.is(r.results[0]!.status, 'changed');
  assert.is(r.results[0]!.attempts, 2);
  assert.is(taskLines(r.exec).filter((l) => l === 'cat state-a').length, 3, 'probe, probe again, verify');
});

test('retries exhausted: failed after retries+1 attempts, then rolled back', async () => {
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2')],
    state: { a: 'v1', b: 'v1' },
    faults: [failTimes('cat state-b', 99, lostConnection)],
    retries: 3,
  });
  assert.ok(r.thrown instanceof ConnectionLostError);
  assert.equal(statuses(r.results), ['rolled-back', 'failed']);
  assert.is(r.results[1]!.attempts, 4);
  assert.equal(ofType(r.events, 'task-retry').map((e) => `${e.attempt}/${e.of}`), ['2/4', '3/4', '4/4']);
  assert.is(taskLines(r.exec).filter((l) => l === 'cat state-b').length, 4);
});

test('retries: 0 means one attempt', async () => {
  const r = await runAll({ tasks: [fakeTask('a', 'v2')], state: { a: 'v1' }, faults: [failTimes('cat state-a', 1, lostConnection)], retries: 0 });
  assert.ok(r.thrown instanceof ConnectionLostError);
  assert.is(r.results[0]!.attempts, 1);
  assert.equal(ofType(r.events, 'task-retry'), []);
});

// ---------------------------------------------------------------------------------------------
// connect

test('connect retries a transient ConnectError and then succeeds', async () => {
  const { run, exec } = await setup({
    tasks: [fakeTask('a', 'v1')],
    connectFailures: [new ConnectError('timed out', true), new ConnectError('refused', true)],
    retries: 3,
  });
  const seen: string[] = [];
  await run.start((attempt, of, error) => seen.push(`${attempt}/${of} ${error.message}`));
  assert.is(exec.connectCount, 3);
  assert.equal(seen, ['2/4 timed out', '3/4 refused']);
  assert.is(run.failed, false);
});

test('connect fails at once on AuthError and records the error', async () => {
  const { run, exec } = await setup({ tasks: [fakeTask('a', 'v1')], connectFailures: [new AuthError('key rejected by h1')], retries: 3 });
  const seen: number[] = [];
  await rejects(() => run.start((a) => seen.push(a)), (e: unknown) => e instanceof AuthError);
  assert.is(exec.connectCount, 1);
  assert.equal(seen, []);
  assert.is(run.failed, true);
  assert.is(run.error, 'key rejected by h1');
  assert.ok(run.endedAt > 0);
});

test('connect fails on a ConnectError not worth retrying, and after retries are used up', async () => {
  const once = await setup({ tasks: [fakeTask('a', 'v1')], connectFailures: [new ConnectError('no such host', false)] });
  await rejects(() => once.run.start(() => {}), /no such host/);
  assert.is(once.exec.connectCount, 1);

  const down = await setup({ tasks: [fakeTask('a', 'v1')], connectFailures: [1, 2, 3, 4].map((n) => new ConnectError(`timeout ${n}`, true)), retries: 2 });
  await rejects(() => down.run.start(() => {}), /timeout 3/);
  assert.is(down.exec.connectCount, 3);
  assert.is(down.run.error, 'timeout 3');
});

test('a pipeline of local tasks only never connects', async () => {
  const local = { ...fakeTask('a', 'v1'), local: true };
  const { run, exec } = await setup({ tasks: [local], connectFailures: [new AuthError('must not be tried')] });
  await run.start(() => {});
  assert.is(exec.connectCount, 0);
  assert.is(run.firstLogin, null);
});

// ---------------------------------------------------------------------------------------------
// withRetry

function counter<T>(outcomes: Array<T | Error>): { fn: () => Promise<T>; calls: () => number } {
  let n = 0;
  return {
    fn: async () => {
      const o = outcomes[Math.min(n++, outcomes.length - 1)];
      if (o instanceof Error) throw o;
      return o as T;
    },
    calls: () => n,
  };
}

test('withRetry returns the first success without calling onRetry', async () => {
  const c = counter(['ok']);
  const seen: number[] = [];
  assert.is(await withRetry(c.fn, { retries: 3, minTimeoutMs: 1, onRetry: (a) => seen.push(a) }), 'ok');
  assert.is(c.calls(), 1);
  assert.equal(seen, []);
});

test('withRetry retries transient errors with attempt numbers from 2', async () => {
  const c = counter<string>([lostConnection(), new RemoteCommandError('apt-get', 100, DPKG_STDERR), new ConnectError('slow', true), 'done']);
  const seen: string[] = [];
  assert.is(await withRetry(c.fn, { retries: 5, minTimeoutMs: 1, onRetry: (a, of, e) => seen.push(`${a}/${of} ${e.constructor.name}`) }), 'done');
  assert.is(c.calls(), 4);
  assert.equal(seen, ['2/6 ConnectionLostError', '3/6 RemoteCommandError', '4/6 ConnectError']);
});

test('withRetry does not retry errors that will not pass by themselves', async () => {
  const permanent: Error[] = [
    new AuthError('denied'),
    new HostKeyError('changed key'),
    new ConfigError('HOST', 'x', 'is bad', 'fix it'),
    new ConnectError('unknown host', false),
    new RemoteCommandError('apt-get', 100, 'E: Unable to locate package'),
    new CommandTimeoutError('took too long'),
    new VerifyError('still differs'),
    new Error('plain'),
  ];
  for (const err of permanent) {
    const c = counter<string>([err, 'never']);
    const seen: number[] = [];
    await rejects(() => withRetry(c.fn, { retries: 3, minTimeoutMs: 1, onRetry: (a) => seen.push(a) }), (e: unknown) => e === err);
    assert.is(c.calls(), 1, err.constructor.name);
    assert.equal(seen, [], err.constructor.name);
  }
});

test('withRetry gives up after retries+1 attempts with the last error', async () => {
  const errors = [1, 2, 3, 4, 5].map((n) => new ConnectionLostError(`lost ${n}`));
  const c = counter<string>(errors);
  const seen: number[] = [];
  await rejects(() => withRetry(c.fn, { retries: 2, minTimeoutMs: 1, onRetry: (a) => seen.push(a) }), (e: unknown) => e === errors[2]);
  assert.is(c.calls(), 3);
  assert.equal(seen, [2, 3]);
});

test('withRetry stops at the first non-transient error after transient ones', async () => {
  const auth = new AuthError('denied');
  const c = counter<string>([lostConnection(), auth, 'never']);
  await rejects(() => withRetry(c.fn, { retries: 5, minTimeoutMs: 1 }), (e: unknown) => e === auth);
  assert.is(c.calls(), 2);
});

test('withRetry reads HOIST_RETRY_MIN_MS when no minTimeoutMs is given', async () => {
  const c = counter<string>([lostConnection(), lostConnection(), 'ok']);
  // The backoffs p-retry asks for, not how long the call took (a busy machine stretches that).
  const backoffs: number[] = [];
  const realSetTimeout = globalThis.setTimeout;
  globalThis.setTimeout = ((fn: () => void, ms?: number, ...rest: unknown[]) => {
    if (new Error().stack?.includes('p-retry')) backoffs.push(Number(ms));
    return realSetTimeout(fn, ms, ...rest);
  }) as typeof setTimeout;
  try {
    assert.is(await withRetry(c.fn, { retries: 2 }), 'ok');
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  // HOIST_RETRY_MIN_MS=1 (set at the top), factor 2, jitter ×1–2: 1–2 ms, then 2–4 ms. The 500 ms
  // default would ask for 500 ms and more.
  assert.is(backoffs.length, 2, backoffs.join(', '));
  assert.ok(backoffs[0]! >= 1 && backoffs[0]! <= 2 && backoffs[1]! >= 2 && backoffs[1]! <= 4, backoffs.join(', '));
});

// ---------------------------------------------------------------------------------------------
// deploy lock, interrupt, fleet rollback

test('a lock held by another run fails the host at start, before any task probes', async () => {
  const holder = JSON.stringify({ who: 'alice@laptop', run: 'r1', pipeline: 'release', revision: 'abc123', since: new Date(Date.now() - 3 * 3600_000).toISOString() });
  const held: Responder = (line) => (line.startsWith(ACQUIRE) ? ok(`lock held ${holder}\ncurrent 20260101-abc\n`) : undefined);
  const { run, exec } = await setup({ tasks: [fakeTask('a', 'v2')], state: { a: 'v1' }, faults: [held] });
  await rejects(() => run.start(() => {}), (e: unknown) => e instanceof LockHeldError && /alice@laptop \(release of abc123, run r1\).*3h ago; it may be stale.*hoist unlock --hosts/.test((e as Error).message));
  assert.is(run.state, 'failed');
  assert.equal(taskLines(exec), []);
  assert.is(run.release.before, '20260101-abc');
});

/** Answers the lock's command with the carried probes run against the simulated host, framed as the host's shell frames them. */
function carryingLock(state: State): Responder {
  const host = simulatedHost(state);
  return (line, opts) => {
    if (!line.startsWith(ACQUIRE) && !line.startsWith('cd && if [ -L .hoist/lock ]')) return undefined;
    let out = 'lock ours\ncurrent \n';
    for (const m of line.matchAll(/echo (hoist-carried-[0-9a-f]+\.\d+); \{ e=\$\(exec 4>&1; trap 'r=\$\?; printf \. >&4; exit \$r' EXIT; \{ ([\s\S]*?)\n\} 2>&1 1>&3 3>&-\);/g)) {
      const probe = host(m[2]!, opts) as ExecResult;
      out += `${m[1]}\n${probe.stdout}\n${m[1]} ${probe.code}\n${probe.stderr}\n${m[1]}.end\n`;
    }
    return ok(out);
  };
}

test('every task\'s probe rides in the lock\'s round trip; a task after a change probes again', async () => {
  for (const dryRun of [false, true]) {
    // Nothing changes before b: b plans from the carried answer, and only its apply and verify
    // reach the host on their own.
    const state = { a: 'v2', b: 'v1' };
    const r = await runAll({ tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2')], state, faults: [carryingLock(state)], dryRun });
    assert.equal(statuses(r.results), ['unchanged', 'changed']);
    assert.equal(taskLines(r.exec), dryRun ? [] : ['set state-b v2', 'cat state-b'], dryRun ? 'dry run' : 'run');
    assert.is(r.exec.lines.filter(isLockCommand).length, 1, 'one lock command');
    assert.is((r.exec.lines.find(isLockCommand)!.match(/echo hoist-carried-[0-9a-f]+\.\d+; /g) ?? []).length, 2, 'both probes carried');
  }
  // a applies a change: b's carried answer is from before it, so b asks the host again.
  const state = { a: 'v1', b: 'v1' };
  const r = await runAll({ tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2')], state, faults: [carryingLock(state)] });
  assert.equal(statuses(r.results), ['changed', 'changed']);
  assert.equal(taskLines(r.exec), ['set state-a v2', 'cat state-a', 'cat state-b', 'set state-b v2', 'cat state-b']);
});

test('a probe under sudo, or as another account, does not ride along', async () => {
  const state = { a: 'v2', b: 'v2', c: 'v2' };
  const sudoProbe = defineTask<string, string>({ ...fakeTask('b', 'v2'), probe: (w) => ({ ...(fakeTask('b', 'v2').probe(w, undefined as never) as RemoteProbe<string>), sudo: true }) });
  const admin = defineTask<string, string>({ ...fakeTask('c', 'v2'), login: 'admin' });
  const r = await runAll({ tasks: [fakeTask('a', 'v2'), sudoProbe, admin], state, faults: [carryingLock(state)] });
  assert.equal(statuses(r.results), ['unchanged', 'unchanged', 'unchanged']);
  assert.equal(taskLines(r.exec), ['cat state-b', 'cat state-c']);
});

test('a lock left by a dead run of this machine is taken over with a warning; a live one stops the host', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  const live = { ...newLockInfo('r-live', 'release', 'abc'), pid: child.pid! };
  const ended = spawn('true', { stdio: 'ignore' });
  await new Promise((r) => ended.on('close', r));
  const dead = { ...newLockInfo('r-dead', 'release', 'abc'), pid: ended.pid! };
  try {
    for (const holder of [dead, live]) {
      const raw = JSON.stringify(holder);
      const sent: string[] = [];
      const lock: Responder = (line) => {
        if (!line.startsWith(ACQUIRE)) return undefined;
        sent.push(line);
        return line.includes(`mkdir .hoist/takeover`) && line.includes(`!= '${raw}' ]`) ? ok('lock ours\ncurrent r1\n') : ok(`lock held ${raw}\ncurrent r1\n`);
      };
      const { run } = await setup({ tasks: [fakeTask('a', 'v2')], state: { a: 'v1' }, faults: [lock] });
      if (holder === dead) {
        await run.start(() => {});
        assert.is(run.state, 'running');
        assert.is(sent.length, 2, 'read the lock, then took it over');
        assert.match(run.warnings.join('\n'), new RegExp(`took over the deploy lock of run r-dead .*process ${dead.pid} on this machine is gone`));
      } else {
        await rejects(() => run.start(() => {}), (e: unknown) => e instanceof LockHeldError && /r-live/.test((e as Error).message));
        assert.is(sent.length, 1, 'no takeover of a live run');
      }
    }
  } finally {
    child.kill('SIGKILL');
  }
});

test('finish frees the lock and appends one audit line naming the run and its result', async () => {
  const r = await runAll({ tasks: [fakeTask('a', 'v2')], state: { a: 'v1' } });
  await r.run.finish();
  const last = r.exec.lines.at(-1)!;
  assert.ok(last.startsWith(RELEASE), last);
  const audit = /printf '%s\\n' '(\{.*\})' >> \.hoist\/audit\.log/.exec(last);
  assert.ok(audit, last);
  const entry = JSON.parse(audit![1]!) as Record<string, unknown>;
  assert.equal([entry.run, entry.pipeline, entry.result, entry.changed], ['unit', 'test', 'ok', ['a']]);
});

test('an interrupt stops the task before its next command and rolls the host back', async () => {
  const interrupt = new Interrupt();
  // Trips the interrupt while task a's apply is in its first command, as Ctrl-C would.
  const trip: Responder = (line) => {
    if (line === 'set state-a v2') interrupt.trigger('SIGINT');
    return undefined;
  };
  const twoSteps = defineTask<string, string>({
    ...fakeTask('a', 'v2'),
    apply: async (exec) => {
      await runChecked(exec, sh`set state-a v2`, 'first');
      await runChecked(exec, sh`set state-a v3`, 'second');
    },
  });
  const r = await runAll({ tasks: [twoSteps, fakeTask('b', 'v2')], state: { a: 'v1', b: 'v1' }, faults: [trip], interrupt });
  assert.instance(r.thrown, InterruptedError);
  assert.ok(!taskLines(r.exec).includes('set state-a v3'), 'no new command after the interrupt');
  assert.equal(r.state, { a: 'v1', b: 'v1' });
  assert.is(r.results[0]!.status, 'failed');
  assert.match(r.results[0]!.error!, /interrupted by SIGINT/);
  assert.is(r.results[1]!.status, 'skipped');
});

test('a task kept once verified (machine setup) is not undone by a later failure, nor by a fleet rollback', async () => {
  const kept = () => defineTask<string, string>({ ...fakeTask('setup', 'v2'), keptOnceVerified: true });
  const r = await runAll({
    tasks: [fakeTask('a', 'v2'), kept(), fakeTask('c', 'v2')],
    state: { a: 'v1', setup: 'v1', c: 'v1' },
    faults: [failTimes('set state-c v2', 1, () => failing(1, 'nobody added the key'))],
  });
  assert.equal(statuses(r.results), ['rolled-back', 'changed', 'failed']);
  assert.equal([r.results[0]!.kept, r.results[1]!.kept, r.results[2]!.kept], [undefined, true, undefined]);
  assert.equal(r.state, { a: 'v1', setup: 'v2', c: 'v1' }, 'the earlier ordinary task is undone, the kept one stays');
  assert.equal(ofType(r.events, 'rollback').map((e) => e.task), ['c', 'a']);

  const finished = await runAll({ tasks: [kept(), fakeTask('b', 'v2')], state: { setup: 'v1', b: 'v1' } });
  await finished.run.rollBackFinished('others failed');
  assert.equal(finished.state, { setup: 'v2', b: 'v1' }, 'a fleet rollback leaves it too');
});

test('a task kept once verified is still rolled back when it fails itself (apply or verify)', async () => {
  const kept = defineTask<string, string>({ ...fakeTask('setup', 'v2'), keptOnceVerified: true });
  const r = await runAll({ tasks: [kept], state: { setup: 'v1' }, faults: [failTimes('cat state-setup', 1, () => ok('v1')), failTimes('cat state-setup', 1, () => ok('v9'))] });
  // Probe sees v1, apply sets v2, verify reads v9: still differs, so it failed and is undone.
  assert.equal(statuses(r.results), ['failed']);
  assert.is(r.results[0]!.kept, undefined);
  assert.equal(r.state, { setup: 'v1' });
});

test('rollBackFinished undoes a host that finished, newest task first', async () => {
  const r = await runAll({ tasks: [fakeTask('a', 'v2'), fakeTask('b', 'v2')], state: { a: 'v1', b: 'v1' } });
  assert.is(r.run.state, 'ok');
  const before = taskLines(r.exec).length;
  await r.run.rollBackFinished('others failed');
  assert.equal(taskLines(r.exec).slice(before), ['set state-b v1', 'set state-a v1']);
  assert.equal([r.run.state, r.run.note, r.state], ['rolled-back', 'others failed', { a: 'v1', b: 'v1' }]);
});

test('two tasks with the same probe cost one round trip until something changes', async () => {
  const sameProbe = (name: string, want: string) => defineTask<string, string>({ ...fakeTask(name, want), probe: () => ({ command: sh`cat state-a`, parse: (r) => r.stdout }) });
  const quiet = await runAll({ tasks: [sameProbe('a', 'v1'), sameProbe('b', 'v1')], state: { a: 'v1' } });
  assert.equal(taskLines(quiet.exec), ['cat state-a'], 'the second task reused the first probe');
  assert.equal(quiet.results.map((r) => r.status), ['unchanged', 'unchanged']);

  // After a change the cache is dropped: b sees a's new value (and verify looked again).
  const busy = await runAll({ tasks: [sameProbe('a', 'v2'), sameProbe('b', 'v2')], state: { a: 'v1' } });
  assert.equal(taskLines(busy.exec), ['cat state-a', 'set state-a v2', 'cat state-a']);
  assert.equal(busy.results.map((r) => r.status), ['changed', 'unchanged']);
});

test.run();
