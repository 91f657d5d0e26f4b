// The kernel's CPU counters the benchmark reads: a cgroup's total CPU time, in nanoseconds of
// user + system time of every process that ever ran in it (exited ones too). cgroup v1: the
// cpuacct controller's `cpuacct.usage`; cgroup v2: `usage_usec` in `cpu.stat`. Where a process's
// cgroup is comes from /proc/PID/cgroup, and where that cgroup's folder is from /proc/self/mountinfo
// (the cpuacct hierarchy may be mounted alone or as `cpu,cpuacct`, and a container may see only a
// subtree), so no path is guessed. Plain file reads: cheap enough to take around a timed run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Hierarchy {
  kind: 'v1' | 'v2';
  /** Where it is mounted here, and which cgroup the mount shows at that folder. */
  mount: string;
  root: string;
}

export const hierarchyText = (h: Hierarchy) => (h.kind === 'v1' ? 'cgroup v1, cpuacct.usage (ns)' : 'cgroup v2, usage_usec of cpu.stat (µs)');

let found: Hierarchy | null | undefined;

/** The hierarchy to read CPU time from: v1's cpuacct when mounted (a hybrid machine puts containers there), else v2. */
export function cpuHierarchy(): Hierarchy | null {
  if (found !== undefined) return found;
  let v1: Hierarchy | null = null;
  let v2: Hierarchy | null = null;
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      // id parent major:minor root mountpoint options [optional fields] - fstype source superoptions
      const [left, right] = line.split(' - ');
      if (!left || !right) continue;
      const f = left.split(' ');
      const [fstype, , superOptions = ''] = right.split(' ');
      const root = unescape(f[3] ?? '/');
      const mount = unescape(f[4] ?? '');
      if (fstype === 'cgroup' && superOptions.split(',').includes('cpuacct')) v1 ??= { kind: 'v1', mount, root };
      if (fstype === 'cgroup2') v2 ??= { kind: 'v2', mount, root };
    }
  } catch {
    // not Linux
  }
  found = v1 ?? v2;
  return found;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The cgroup of `pid` in hierarchy `h` (a path like /docker/ID), or null (gone, or not in it). */
export function cgroupOf(pid: number | 'self', h: Hierarchy): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const controllers = line.slice(a + 1, b);
    const path = line.slice(b + 1);
    if (h.kind === 'v1' ? controllers.split(',').includes('cpuacct') : line.slice(0, a) === '0' && controllers === '') return path;
  }
  return null;
}

/** The folder of cgroup `path` under the mount, or null when the mount does not show it. */
export function folderOf(h: Hierarchy, path: string): string | null {
  if (h.root === '/') return join(h.mount, path);
  if (path === h.root) return h.mount;
  if (path.startsWith(`${h.root}/`)) return join(h.mount, path.slice(h.root.length));
  return null;
}

/** Total CPU time of the cgroup whose folder is `dir`, ns; null if it cannot be read (removed). */
export function usageNs(h: Hierarchy, dir: string): number | null {
  try {
    if (h.kind === 'v1') {
      const n = Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8').trim());
      return Number.isFinite(n) ? n : null;
    }
    const m = /^usage_usec (\d+)$/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'));
    return m ? Number(m[1]) * 1000 : null;
  } catch {
    return null;
  }
}

/** `inside` is `outer` or one of its descendants (so `outer`'s counter already includes it). */
export const isWithin = (inside: string, outer: string) => inside === outer || inside.startsWith(outer === '/' ? '/' : `${outer}/`);

export interface Proc {
  pid: number;
  ppid: number;
  cgroup: string | null;
}

/** Every process on the machine (as this process sees them): parent and cgroup in `h`. */
export function processTable(h: Hierarchy): Map<number, Proc> {
  const table = new Map<number, Proc>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      table.set(pid, { pid, ppid, cgroup: cgroupOf(pid, h) });
    } catch {
      // exited while we looked
    }
  }
  return table;
}

let made = 0;
/** Whether a process may move itself into a cgroup we made (tried once: delegation rules can forbid it). */
let movable: boolean | undefined;

/**
 * A fresh cgroup for one measured child (and everything it starts, also what it leaves running
 * in the background, like Ansible's ssh ControlPersist masters), made under this process's own.
 * The child is spawned through `sh`, which moves itself in (`argv`) before exec'ing the command,
 * so nothing it forks starts outside. On v1 only the cpuacct hierarchy is touched: the child is
 * accounted separately but scheduled exactly as before.
 */
export class ChildCgroup {
  private constructor(
    private readonly h: Hierarchy,
    private readonly dir: string,
    private readonly parentProcs: string,
  ) {}

  static create(): ChildCgroup | null {
    const h = cpuHierarchy();
    const own = h && cgroupOf('self', h);
    const parent = h && own !== null && own !== undefined ? folderOf(h, own) : null;
    if (!h || !parent) return null;
    const dir = join(parent, `hoist-bench-${process.pid}-${++made}`);
    try {
      mkdirSync(dir);
    } catch {
      return null;
    }
    const group = new ChildCgroup(h, dir, join(parent, 'cgroup.procs'));
    if (movable === undefined) {
      const [file, argv] = group.argv('/bin/true', []);
      movable = spawnSync(file, argv, { stdio: 'ignore' }).status === 0;
    }
    if (!movable) {
      group.release();
      return null;
    }
    return group;
  }

  /** `cmd args` started inside this cgroup; exit 97 if sh could not move itself in. */
  argv(cmd: string, args: string[]): [string, string[]] {
    return ['/bin/sh', ['-c', 'echo $$ > "$0" || exit 97; exec "$@"', join(this.dir, 'cgroup.procs'), cmd, ...args]];
  }

  usageNs(): number | null {
    return usageNs(this.h, this.dir);
  }

  /** Moves what still runs in it (e.g. ssh masters) back to our own cgroup and removes it. */
  release(): void {
    try {
      for (const pid of readFileSync(join(this.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          writeFileSync(this.parentProcs, pid);
        } catch {
          // exited meanwhile
        }
      }
      rmdirSync(this.dir);
    } catch {
      // left behind (a process of it was still starting): an idle cgroup folder harms no one
    }
  }
}
