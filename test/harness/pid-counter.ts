// How many processes (and threads) a test host created while something ran: its PID counter.
// Every test host is a container, its own PID namespace, where Linux hands out PIDs in order;
// a process started in that namespace (`nsenter -p`, this machine's /bin/sh printing `$$`) is
// handed the next one, so two readings differ by what the host created in between plus the
// second reading itself (taken off). Issue #20: counts, unlike times, do not depend on load.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { docker } from './docker.ts';

const run = promisify(execFile);

async function lastPid(pid: number): Promise<number> {
  const { stdout } = await run('nsenter', ['-t', String(pid), '-p', '--', '/bin/sh', '-c', 'echo $$'], { timeout: 10_000 });
  const n = Number(stdout.trim());
  if (!Number.isInteger(n) || n <= 0) throw new Error(`nsenter gave no PID: ${stdout}`);
  return n;
}

/** Runs `fn`; how many PIDs the host container handed out meanwhile (the reading's own taken off). */
export async function processesCreated<T>(container: string, fn: () => Promise<T>): Promise<{ result: T; created: number }> {
  const pid = Number(await docker('inspect', '-f', '{{.State.Pid}}', container));
  const before = await lastPid(pid);
  const result = await fn();
  const after = await lastPid(pid);
  // PIDs wrap at pid_max (32768 or more): a test host makes far fewer than that meanwhile.
  const max = Number((await run('cat', ['/proc/sys/kernel/pid_max'])).stdout.trim()) || 32768;
  return { result, created: (((after - before) % max) + max) % max - 1 };
}
