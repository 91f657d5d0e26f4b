// A deploy lock left by a hoist run that died on THIS machine (killed, crashed, the laptop shut
// mid-run) is taken over by the next run instead of stopping it: the holder's record names the
// machine (`who` is user@hostname) and the process, and a process that no longer exists cannot
// be deploying. A lock from any other machine is never judged from here (its run may be alive):
// `hoist unlock` stays the way to free it. When in doubt, the holder counts as alive.
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import type { LockInfo } from './host-lock.ts';

export function thisMachine(): string {
  return `${userInfo().username}@${hostname()}`;
}

export type ProcessAlive = (pid: number, lockSince: string) => boolean;

/** True when `holder` was taken by a process of this machine that is gone. */
export function holderGoneHere(holder: LockInfo, alive: ProcessAlive = processAlive): boolean {
  return holder.who === thisMachine() && typeof holder.pid === 'number' && holder.pid !== process.pid && !alive(holder.pid, holder.since);
}

/**
 * Whether the process that took a lock at `lockSince` is still running as `pid`. A pid is reused
 * after its process ends (after a reboot, soon): where the start time is readable (Linux), a
 * process that started after the lock was taken is another one, and the holder is gone.
 */
export function processAlive(pid: number, lockSince: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: the pid exists, as another user's process; it is not ours, but stay on the safe side.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const started = processStartMs(pid);
  const since = Date.parse(lockSince);
  return started === null || !Number.isFinite(since) || started <= since;
}

/** When `pid` started (ms since epoch) from /proc, or null where that cannot be read. */
export function processStartMs(pid: number): number | null {
  try {
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3,
    // starttime field 22, in clock ticks since boot (100 a second on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    if (!btime || !Number.isFinite(ticks)) return null;
    return Number(btime[1]) * 1000 + ticks * 10;
  } catch {
    return null;
  }
}
