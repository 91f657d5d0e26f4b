// Unit tests drive HostRun against a RecordingExecutor: this answers the deploy lock's commands
// (lib/engine/host-lock.ts) as a free lock, so task tests need not script them. The lock itself
// is tested end to end against real hosts.
import type { ExecResult } from '../../lib/exec/executor.ts';
import type { Responder } from '../../lib/exec/recording-executor.ts';

const ok = (stdout: string): ExecResult => ({ stdout, stderr: '', code: 0 });

export const freeDeployLock: Responder = (line) => {
  if (line.startsWith('cd && install -d -m 700 .hoist') || line.startsWith('cd && if [ -L .hoist/lock ]')) return ok('lock ours\ncurrent \n');
  if (line.startsWith('cd && { [ "$(readlink .hoist/lock')) return ok('current \n');
  return undefined;
};

/** True for the lock's own command lines, to leave them out of a task's recorded calls. */
export const isLockCommand = (line: string | undefined): boolean => !!line && /^cd && (install -d -m 700 \.hoist|if \[ -L \.hoist\/lock \]|\{ \[ "\$\(readlink \.hoist\/lock)/.test(line);
