// Runs one command as a child process and measures what the benchmark compares: wall clock
// from spawn to exit (the whole process, so interpreter and module loading count, as they do for a
// user), and optionally its peak resident memory. Every run is bounded by a timeout.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface Measured {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Peak resident set size in MiB, when asked for; null if it could not be read. */
  peakMiB: number | null;
}

/**
 * How peak memory is read. GNU time reports the child's ru_maxrss from wait4(2): exact, taken
 * by the kernel at exit. Without it we poll /proc/PID/status VmHWM (the kernel's own high-water
 * mark, so a poll between two peaks misses nothing; only growth in the last poll interval
 * before exit can be missed).
 */
export type MemoryMethod = 'gnu-time' | 'vmhwm-poll';
const GNU_TIME = '/usr/bin/time';
export const memoryMethod: MemoryMethod = existsSync(GNU_TIME) ? 'gnu-time' : 'vmhwm-poll';
export const memoryMethodText =
  memoryMethod === 'gnu-time'
    ? 'GNU time `%M` (ru_maxrss of the hoist process, from wait4 at exit)'
    : '/proc/PID/status VmHWM polled every 10 ms while the hoist process runs';

const POLL_MS = 10;
// Marks the line GNU time appends to stderr, so it can be told apart from the child's own output.
const TIME_MARK = '@@bench-maxrss-kib=';

export function measure(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; memory?: boolean },
): Promise<Measured> {
  const wrap = opts.memory && memoryMethod === 'gnu-time';
  const [file, argv] = wrap ? [GNU_TIME, ['-f', `${TIME_MARK}%M`, cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let hwmKiB = 0;
    const poll =
      opts.memory && !wrap && child.pid
        ? setInterval(() => {
            try {
              const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
              if (m) hwmKiB = Math.max(hwmKiB, Number(m[1]));
            } catch {
              // the process is gone between two polls
            }
          }, POLL_MS)
        : null;
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      reject(e);
    });
    child.on('close', (code, signal) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      let peakMiB: number | null = null;
      if (wrap) {
        const at = stderr.lastIndexOf(TIME_MARK);
        if (at >= 0) {
          peakMiB = Number(stderr.slice(at + TIME_MARK.length).trim()) / 1024;
          stderr = stderr.slice(0, at);
        }
      } else if (opts.memory && hwmKiB > 0) peakMiB = hwmKiB / 1024;
      if (signal) stderr += `\n[killed by ${signal}${signal === 'SIGKILL' ? ` after the ${opts.timeoutMs / 1000}s limit` : ''}]`;
      resolve({ code: code ?? -1, stdout, stderr, wallMs, peakMiB });
    });
  });
}
