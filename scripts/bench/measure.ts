// Runs one command as a child process and measures what the benchmark compares: wall clock
// from spawn to exit (the whole process, so interpreter and module loading count, as they do for a
// user), the CPU it used here, optionally its peak resident memory, and, given the hosts' counters,
// the CPU each host spent while it ran. Every run is bounded by a timeout.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ChildCgroup } from './cgroup.ts';
import type { HostCpuReader } from './host-cpu.ts';
import { created } from './host-pids.ts';

/** CPU used on this machine by the measured command, ms. */
export interface LocalCpu {
  /**
   * From the command's own cgroup (cgroup.ts, ChildCgroup): user + system time of it and of every
   * process it started, also ones it did not wait for (Ansible's ssh ControlPersist masters),
   * exact to the nanosecond; includes the wrapper (sh, GNU time: ~1 ms). null: no cgroup could be made.
   */
  cgroupMs: number | null;
  /**
   * user + system time from wait4 (GNU time `%U` + `%S`): the command and the children it
   * waited for, in 10 ms steps. null without GNU time.
   */
  rusageMs: number | null;
}

export interface Measured {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Peak resident set size in MiB, when asked for; null if it could not be read. */
  peakMiB: number | null;
  cpu: LocalCpu;
  /** Per host of `hosts`, in order: its CPU counter's difference over the run, ms (null: unreadable). */
  hostCpuMs: (number | null)[] | null;
  /** The part of hostCpuMs spent in the host's nested containers (the app's). */
  hostNestedMs: (number | null)[] | null;
  /** Per host: PIDs it handed out over the run, the readings' own cost taken off (host-pids.ts); null: not counted. */
  hostPids: (number | null)[] | null;
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
const TIME_MARK = '@@bench-rusage=';

/** How the local CPU was read in this run, for the report. */
export function localCpuMethod(): 'cgroup' | 'rusage' | 'none' {
  const probe = ChildCgroup.create();
  probe?.release();
  return probe ? 'cgroup' : memoryMethod === 'gnu-time' ? 'rusage' : 'none';
}

export function measure(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; memory?: boolean; hosts?: HostCpuReader },
): Promise<Measured> {
  // GNU time always (its rusage is the CPU fallback and a cross-check), inside a fresh cgroup when one can be made.
  const wrap = memoryMethod === 'gnu-time';
  const [timed, timedArgs] = wrap ? [GNU_TIME, ['-f', `${TIME_MARK}%M %U %S`, cmd, ...args]] : [cmd, args];
  const group = ChildCgroup.create();
  const [file, argv] = group ? group.argv(timed, timedArgs) : [timed, timedArgs];
  return new Promise((resolve, reject) => {
    const hostsBefore = opts.hosts?.read() ?? null;
    const pidsBefore = opts.hosts?.pids?.read() ?? null;
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
      group?.release();
      reject(e);
    });
    child.on('close', (code, signal) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const pidsAfter = opts.hosts?.pids?.read() ?? null;
      const hostsAfter = opts.hosts?.read() ?? null;
      const groupNs = group?.usageNs() ?? null;
      group?.release();
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      let peakMiB: number | null = null;
      let rusageMs: number | null = null;
      if (wrap) {
        const at = stderr.lastIndexOf(TIME_MARK);
        if (at >= 0) {
          const [maxrss, user, sys] = stderr.slice(at + TIME_MARK.length).trim().split(/\s+/).map(Number);
          if (opts.memory) peakMiB = maxrss! / 1024;
          rusageMs = Number.isFinite(user) && Number.isFinite(sys) ? (user! + sys!) * 1000 : null;
          stderr = stderr.slice(0, at);
        }
      } else if (opts.memory && hwmKiB > 0) peakMiB = hwmKiB / 1024;
      if (code === 97 && group) stderr += '\n[bench: could not move the command into its cgroup]';
      if (signal) stderr += `\n[killed by ${signal}${signal === 'SIGKILL' ? ` after the ${opts.timeoutMs / 1000}s limit` : ''}]`;
      const delta = (k: 'total' | 'nested') =>
        hostsBefore && hostsAfter ? hostsAfter.map((a, i) => (a === null || hostsBefore[i] == null ? null : (a[k] - hostsBefore[i]![k]) / 1e6)) : null;
      resolve({ code: code ?? -1, stdout, stderr, wallMs, peakMiB, cpu: { cgroupMs: groupNs === null ? null : groupNs / 1e6, rusageMs }, hostCpuMs: delta('total'), hostNestedMs: delta('nested'), hostPids: pidsBefore && pidsAfter ? pidsAfter.map((a, i) => created(pidsBefore[i], a)) : null });
    });
  });
}

/** The CPU a timed run cost, as saved with its sample (absent in runs saved before it was measured). */
export interface RunCpu {
  local: LocalCpu;
  /** Per host of the run: its CPU counter's difference over the run, ms; null: not measured. */
  hostMs: (number | null)[] | null;
  /** Of hostMs, what the host's nested containers (the app's) used. */
  nestedMs?: (number | null)[] | null;
  /** Per host of the run: processes (and threads) it created over the run (absent: not counted). */
  hostPids?: (number | null)[] | null;
}

export const runCpu = (m: Measured): RunCpu => ({ local: m.cpu, hostMs: m.hostCpuMs, nestedMs: m.hostNestedMs, ...(m.hostPids ? { hostPids: m.hostPids } : {}) });
