// Unit tests drive HostRun against a RecordingExecutor: this answers the deploy lock's commands
// (lib/engine/host-lock.ts) as a free lock, so task tests need not script them. The lock itself
// is tested end to end against real hosts.
import type { ExecResult } from '../../lib/exec/executor.ts';
import type { Responder } from '../../lib/exec/recording-executor.ts';

/** How the lock's commands start: taking it (acquireCommand) and freeing it (releaseCommand). */
export const ACQUIRE = 'cd && { [ -d .hoist ] || mkdir -m 700 .hoist';
export const RELEASE = 'cd && lk=; [ ! -L .hoist/lock ]';

const ok = (stdout: string): ExecResult => ({ stdout, stderr: '', code: 0 });

export const freeDeployLock: Responder = (line) => {
  if (line.startsWith(ACQUIRE) || line.startsWith('cd && if [ -L .hoist/lock ]')) return ok('lock ours\ncurrent \n');
  if (line.startsWith(RELEASE)) return ok('current \n');
  return undefined;
};

/** True for the lock's own command lines, to leave them out of a task's recorded calls. */
export const isLockCommand = (line: string | undefined): boolean => !!line && (line.startsWith(ACQUIRE) || line.startsWith(RELEASE) || line.startsWith('cd && if [ -L .hoist/lock ]'));
