import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newLockInfo } from '../../lib/engine/host-lock.ts';
import { holderGoneHere, processAlive, processStartMs } from '../../lib/engine/lock-takeover.ts';

test('a lock of this machine whose process is gone can be taken over; any other cannot', () => {
  const holder = { ...newLockInfo('run0', 'release', 'abc'), pid: 4242 };
  assert.ok(holderGoneHere(holder, () => false));
  assert.not.ok(holderGoneHere(holder, () => true), 'its process still runs');
  assert.not.ok(holderGoneHere({ ...holder, who: 'alice@laptop' }, () => false), 'another machine: never judged from here');
  assert.not.ok(holderGoneHere({ ...holder, pid: undefined }, () => false), 'a record without a pid (older hoist, or hand-made)');
  assert.not.ok(holderGoneHere({ ...holder, pid: process.pid }, () => false), 'this very process');
});

test('process liveness: a running process is alive; an ended one, or a pid reused after the lock, is not', async () => {
  // /proc's boot time is in whole seconds and its start time in 10 ms ticks: a start time read
  // from it is within a second and a tick of the truth. Compared to the clock before the spawn
  // and after the read, not to a limit.
  const before = Date.now();
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const pid = child.pid!;
    await new Promise((r) => setTimeout(r, 100));
    const started = processStartMs(pid);
    const after = Date.now();
    assert.ok(started !== null && started >= before - 1010 && started <= after + 1010, `start time read from /proc: ${started}, spawned between ${before} and ${after}`);
    assert.ok(processAlive(pid, new Date(Date.now() + 60_000).toISOString()), 'took its lock after it started');
    assert.not.ok(processAlive(pid, '2020-01-01T00:00:00.000Z'), 'started after the lock was taken: a reused pid');
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((r) => child.on('close', r));
  assert.not.ok(processAlive(child.pid!, new Date().toISOString()), 'ended');
});

test.run();
