// --lock-wait (issue #13): a held deploy lock is waited for, polled with backoff, bounded by the
// wait, each look told to the listener; the lock taken once free with a warning saying how long;
// given up at the deadline with the holder named; Ctrl-C ends the wait.
process.env.HOIST_RETRY_MIN_MS = '1';
process.env.HOIST_LOCK_POLL_MIN_MS = '20';

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCli } from '../../lib/cli/args.ts';
import { lockPollDelayMs } from '../../lib/engine/host-lock.ts';
import { HostRun } from '../../lib/engine/host-run.ts';
import { Interrupt } from '../../lib/engine/interrupt.ts';
import { definePipeline } from '../../lib/engine/pipeline.ts';
import { defineTask } from '../../lib/engine/task.ts';
import { InterruptedError, LockHeldError, UsageError } from '../../lib/errors.ts';
import { singleExecutorPool } from '../../lib/exec/executor-pool.ts';
import { RecordingExecutor, type Responder } from '../../lib/exec/recording-executor.ts';
import { sh } from '../../lib/shell-quote.ts';
import { testHost } from '../harness/settings.ts';
import { ACQUIRE, RELEASE } from '../harness/lock-responder.ts';

const holder = JSON.stringify({ who: 'ci@runner', run: 'r-other', pipeline: 'release', revision: 'abc', since: new Date().toISOString() });
const ok = (stdout: string) => ({ stdout, stderr: '', code: 0 });

/** The lock is held for the first `heldFor` attempts to take it, then free. */
function lockHeld(heldFor: number): { responder: Responder; attempts: () => number } {
  let n = 0;
  return {
    attempts: () => n,
    responder: (line) => {
      if (!line.startsWith(ACQUIRE)) return line.startsWith(RELEASE) ? ok('current \n') : ok('');
      n++;
      return n <= heldFor ? ok(`lock held ${holder}\ncurrent r1\n`) : ok('lock ours\ncurrent r1\n');
    },
  };
}

function hostRun(responder: Responder, lockWaitMs: number, interrupt = new Interrupt()) {
  const task = defineTask<string, string>({ name: 'a', want: () => 'x', probe: () => ({ command: sh`true`, parse: () => 'x' }), plan: () => ({ changes: false, reason: 'same' }), apply: async () => {} });
  const pipeline = definePipeline({ name: 'release', description: 'unit', login: 'deploy', tasks: [task] });
  const input = { host: testHost({ retries: 0 }), loginUser: 'deploy' };
  return new HostRun(input, pipeline, ['x'], singleExecutorPool(new RecordingExecutor([responder])), { dryRun: false, retries: 0, runId: 'unit', interrupt, lockWaitMs }, () => {});
}

test('the poll delay grows by half from the minimum, caps at 15 s and never passes the deadline', () => {
  assert.equal([1, 2, 3, 4].map((a) => lockPollDelayMs(a, 60_000, 1000)), [1000, 1500, 2250, 3375]);
  assert.is(lockPollDelayMs(30, 60_000, 1000), 15_000);
  assert.is(lockPollDelayMs(5, 700, 1000), 700);
  assert.is(lockPollDelayMs(1, -5, 1000), 0);
});

test('a lock held for three looks is waited for, then taken; each look is told; the wait is a warning', async () => {
  const lock = lockHeld(3);
  const run = hostRun(lock.responder, 10_000);
  const told: string[] = [];
  await run.start(() => {}, (m) => told.push(m));
  assert.is(run.state, 'running');
  assert.is(lock.attempts(), 4);
  assert.is(told.length, 3, told.join('\n'));
  assert.match(told[0]!, /^waiting for the deploy lock held by ci@runner \(release of abc, run r-other\).*: 0s of 10s, next look in 0s$/);
  assert.match(run.warnings.join('\n'), /^waited \d+s for the deploy lock held by ci@runner/);
});

test('a lock that stays held: bounded looks, then LockHeldError naming the holder and the wait', async () => {
  const lock = lockHeld(1000);
  const run = hostRun(lock.responder, 300);
  const told: string[] = [];
  let e: unknown;
  try {
    await run.start(() => {}, (m) => told.push(m));
  } catch (err) {
    e = err;
  }
  assert.ok(e instanceof LockHeldError, String(e));
  assert.match((e as Error).message, /held by ci@runner .*\(waited 0s, --lock-wait\)\. Fix: wait for that run to end/);
  // 20 ms growing by half inside 300 ms: a handful of looks, not a busy loop.
  assert.ok(lock.attempts() >= 3 && lock.attempts() <= 10, `${lock.attempts()} looks`);
  assert.match(told.at(-1)!, /^gave up waiting for the deploy lock after/);
  assert.is(run.state, 'failed');
});

test('without --lock-wait a held lock fails at once (one look)', async () => {
  const lock = lockHeld(1000);
  const run = hostRun(lock.responder, 0);
  let e: unknown;
  await run.start(() => {}).catch((err) => (e = err));
  assert.ok(e instanceof LockHeldError);
  assert.is(lock.attempts(), 1);
});

test('Ctrl-C during the wait ends it: InterruptedError, no further look', async () => {
  const lock = lockHeld(1000);
  const interrupt = new Interrupt();
  const run = hostRun(lock.responder, 60_000, interrupt);
  setTimeout(() => interrupt.trigger('SIGINT'), 100);
  let e: unknown;
  await run.start(() => {}).catch((err) => (e = err));
  assert.ok(e instanceof InterruptedError, String(e));
  const looks = lock.attempts();
  // Counted, not timed: the pauses are 20, 30, 45, 67 ms…, so by Ctrl-C at 100 ms at most 4 looks
  // can have happened (timers only fire late, never early); the 60 s wait going on to its end
  // would have looked about 20 times.
  assert.ok(looks >= 1 && looks <= 4, `${looks} looks, then the interrupt ended the wait`);
  await new Promise((r) => setTimeout(r, 100));
  assert.is(lock.attempts(), looks, 'no look after the interrupt');
});

test('--lock-wait is parsed as seconds (0 to 86400); a bad value is a usage error', () => {
  const a = parseCli(['run', 'release', '--lock-wait', '600']);
  assert.is(a.command === 'run' && a.lockWait, 600);
  for (const bad of ['-1', '1.5', 'ten', '86401']) {
    let e: unknown;
    try {
      parseCli(['run', 'release', '--lock-wait', bad]);
    } catch (err) {
      e = err;
    }
    assert.ok(e instanceof UsageError && /--lock-wait/.test((e as Error).message), bad);
  }
});

test.run();
