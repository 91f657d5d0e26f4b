// Where a host's new processes come from: strace attached (from this machine) to the host's sshd
// listener, following every child, records each clone/fork (new process or thread) and each
// execve (the program run) of the logins' process trees while one command runs here. Only the
// sshd tree is traced; what the host's dockerd, containerd and the app make meanwhile is the
// rest of the PID counter's difference (host-pids.ts). Not timed: strace slows what it traces.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestHost } from '../../test/harness/testbed.ts';
import { docker } from '../../test/harness/docker.ts';

export interface ExecTrace {
  /** New processes (fork, vfork, clone without CLONE_THREAD) in the sshd tree. */
  processes: number;
  /** New threads (clone with CLONE_THREAD) in the sshd tree. */
  threads: number;
  /** Programs run (execve that succeeded), by program, most first. */
  execs: { program: string; count: number }[];
  /** Processes that never exec'd (subshells, sshd's own privilege-separated children): forks - execs. */
  forksWithoutExec: number;
}

/** The sshd listener of a host, as a PID here (its init's child named sshd with no sshd parent). */
async function sshdOf(host: TestHost): Promise<number> {
  const init = Number(await docker('inspect', '-f', '{{.State.Pid}}', host.container));
  // Every process here whose comm is sshd and whose parent is not an sshd: the listener.
  const r = spawnSync('ps', ['-e', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8' });
  const rows = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)).map(([pid, ppid, comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm }));
  const byPid = new Map(rows.map((x) => [x.pid, x]));
  const inHost = (pid: number) => {
    for (let p = byPid.get(pid), k = 0; p && k < 50; p = byPid.get(p.ppid), k++) if (p.pid === init) return true;
    return false;
  };
  const listener = rows.find((x) => x.comm === 'sshd' && byPid.get(x.ppid)?.comm !== 'sshd' && inHost(x.pid));
  if (!listener) throw new Error(`no sshd listener found in ${host.container}`);
  return listener.pid;
}

/** Runs `fn` with host's sshd traced; what its logins created meanwhile. */
export async function traceExecs(host: TestHost, dir: string, fn: () => Promise<unknown>, keep = false): Promise<ExecTrace & { file?: string }> {
  const sshd = await sshdOf(host);
  const out = join(dir, `strace-${host.name}-${Date.now()}.txt`);
  const st = spawn('strace', ['-f', '-qq', '-s', '100000', '-e', 'trace=execve,clone,clone3,fork,vfork', '-e', 'signal=none', '-o', out, '-p', String(sshd)], { stdio: 'ignore' });
  // strace attaches before it writes anything; give it a moment (bounded) to be attached.
  for (let k = 0; k < 50; k++) {
    const status = readFileSync(`/proc/${sshd}/status`, 'utf8');
    if (/TracerPid:\s+[1-9]/.test(status)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    await fn();
  } finally {
    st.kill('SIGINT');
    await new Promise((r) => st.once('exit', r));
  }
  const text = readFileSync(out, 'utf8');
  if (!keep) rmSync(out, { force: true });
  return { ...parseTrace(text), ...(keep ? { file: out } : {}) };
}

/**
 * Counts strace -f output lines: `PID clone(...CLONE_THREAD...) = CHILD`, `PID execve("/bin/x", [...]) = 0`.
 * A call another process interrupted is split in two lines: `PID clone(... <unfinished ...>` and
 * later `PID <... clone resumed>...) = CHILD`; the first is kept until its result comes.
 */
export function parseTrace(text: string): ExecTrace {
  let processes = 0;
  let threads = 0;
  const execs = new Map<string, number>();
  let execCount = 0;
  const pending = new Map<string, { call: string; args: string }>();
  const done = (call: string, args: string, result: number) => {
    if (result < 0) return;
    if (call === 'execve') {
      // The program as named: its argv[0]'s base name, e.g. "sh", "docker", "timeout".
      const argv0 = /\[("(?:[^"\\]|\\.)*")/.exec(args)?.[1];
      const name = argv0 ? (JSON.parse(argv0) as string).split('/').pop()! : '?';
      execs.set(name, (execs.get(name) ?? 0) + 1);
      execCount++;
    } else if (result > 0) {
      if (/CLONE_THREAD/.test(args)) threads++;
      else processes++;
    }
  };
  for (const line of text.split('\n')) {
    const whole = /^(\d+)\s+(clone3?|fork|vfork|execve)\((.*)\)\s+=\s+(-?\d+)/.exec(line);
    if (whole) {
      done(whole[2]!, whole[3]!, Number(whole[4]));
      continue;
    }
    const cut = /^(\d+)\s+(clone3?|fork|vfork|execve)\((.*)<unfinished \.\.\.>$/.exec(line);
    if (cut) {
      pending.set(cut[1]!, { call: cut[2]!, args: cut[3]! });
      continue;
    }
    const resumed = /^(\d+)\s+<\.\.\. (clone3?|fork|vfork|execve) resumed>(.*)\)\s+=\s+(-?\d+)/.exec(line);
    if (resumed) {
      const first = pending.get(resumed[1]!);
      pending.delete(resumed[1]!);
      if (first && first.call === resumed[2]) done(first.call, first.args + resumed[3]!, Number(resumed[4]));
    }
  }
  return {
    processes,
    threads,
    execs: [...execs].map(([program, count]) => ({ program, count })).sort((a, b) => b.count - a.count || a.program.localeCompare(b.program)),
    forksWithoutExec: Math.max(0, processes - execCount),
  };
}
