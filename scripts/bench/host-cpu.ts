// What a run costs the hosts: each host container's CPU counter (its cgroup, see cgroup.ts) read
// right before a timed run starts and right after it exits; the difference is the CPU every
// process of that host spent meanwhile (sshd, shells, sudo, docker, dockerd, the app...).
//
// The hosts run their own dockerd, and the app's containers it starts are NOT inside the host
// container's cgroup on the test bed: the hosts run with `--cgroupns host` and the machine's
// /sys/fs/cgroup mounted, so the inner dockerd makes /docker/<inner id> beside /docker/<host id>,
// not below it. Those cgroups are found from the process tree (a process whose cgroup is outside
// every host's but whose parent chain reaches a process in host H's cgroup, like the app under
// H's containerd-shim, belongs to H) and their counters are added to H's. A nested cgroup that
// is below the host's (hierarchical, as with a private cgroup namespace) is already in the host's
// counter and is only counted, not added.
import type { TestHost } from '../../test/harness/testbed.ts';
import { docker } from '../../test/harness/docker.ts';
import type { HostPidReader } from './host-pids.ts';
import { cgroupOf, cpuHierarchy, folderOf, hierarchyText, isWithin, processTable, usageNs, type Hierarchy } from './cgroup.ts';

export interface HostCgroups {
  name: string;
  /** The host container's own cgroup, then the nested ones outside it, whose counters are added. */
  paths: string[];
  /** Nested cgroups (the app's containers) outside the host's cgroup: added. */
  nestedOutside: number;
  /** Nested cgroups below the host's cgroup: already in its counter. */
  nestedInside: number;
}

export class HostCpu {
  private constructor(
    private readonly h: Hierarchy,
    readonly hosts: HostCgroups[],
    private readonly dirs: string[][],
  ) {}

  get method(): string {
    return hierarchyText(this.h);
  }

  /** Finds every host's cgroups; an error says why the hosts' CPU cannot be measured here. */
  static async find(hosts: TestHost[]): Promise<HostCpu | { error: string }> {
    const h = cpuHierarchy();
    if (!h) return { error: 'no cgroup hierarchy with CPU accounting is mounted here' };
    const own: string[] = [];
    for (const host of hosts) {
      const pid = Number(await docker('inspect', '-f', '{{.State.Pid}}', host.container));
      const path = pid > 0 ? cgroupOf(pid, h) : null;
      if (path === null) return { error: `no cgroup for ${host.name} (container ${host.container}, pid ${pid})` };
      own.push(path);
    }
    if (new Set(own).size !== own.length) return { error: 'two hosts share a cgroup' };
    let found: ReturnType<typeof HostCpu.nested>;
    try {
      found = HostCpu.nested(h, own);
    } catch (e) {
      return { error: (e as Error).message };
    }
    const dirs: string[][] = [];
    const groups: HostCgroups[] = [];
    for (const [i, host] of hosts.entries()) {
      const outside = [...found.outside[i]!].sort();
      const paths = [own[i]!, ...outside];
      const folders = paths.map((p) => folderOf(h, p));
      if (folders.some((f) => f === null || usageNs(h, f) === null)) return { error: `cannot read the CPU counter of ${host.name}'s cgroups (${paths.join(', ')})` };
      dirs.push(folders as string[]);
      groups.push({ name: host.name, paths, nestedOutside: outside.length, nestedInside: found.inside[i]!.size });
    }
    return new HostCpu(h, groups, dirs);
  }

  /** Per host (in `own`'s order): the cgroups of its descendants outside, and below, its own. */
  private static nested(h: Hierarchy, own: string[]): { outside: Set<string>[]; inside: Set<string>[] } {
    const table = processTable(h);
    const outside = own.map(() => new Set<string>());
    const inside = own.map(() => new Set<string>());
    const hostOf = (cg: string | null) => (cg === null ? -1 : own.findIndex((o) => isWithin(cg, o)));
    const taken = new Map<string, number>();
    for (const p of table.values()) {
      if (p.cgroup === null) continue;
      const direct = hostOf(p.cgroup);
      if (direct >= 0) {
        if (p.cgroup !== own[direct]) inside[direct]!.add(p.cgroup);
        continue;
      }
      // Never a cgroup that holds a host's (the machine's root, /docker): its counter is far more than one host's.
      if (own.some((o) => isWithin(o, p.cgroup!))) continue;
      // Up the parent chain to the first process in a host's cgroup, if any.
      const seen = new Set<number>();
      for (let q = table.get(p.ppid); q && !seen.has(q.pid); q = table.get(q.ppid)) {
        seen.add(q.pid);
        const i = hostOf(q.cgroup);
        if (i < 0) continue;
        const before = taken.get(p.cgroup);
        if (before !== undefined && before !== i) throw new Error(`cgroup ${p.cgroup} has processes of two hosts`);
        taken.set(p.cgroup, i);
        outside[i]!.add(p.cgroup);
        break;
      }
    }
    return { outside, inside };
  }

  /** CPU counter of each of the first `count` hosts, ns: all its cgroups added up, and the nested ones alone; null: unreadable. */
  read(count = this.dirs.length): (HostReading | null)[] {
    return this.dirs.slice(0, count).map((folders) => {
      let total = 0;
      let nested = 0;
      for (const [k, f] of folders.entries()) {
        const ns = usageNs(this.h, f);
        if (ns === null) return null;
        total += ns;
        if (k > 0) nested += ns;
      }
      return { total, nested };
    });
  }

  /** The cgroups of the first `count` hosts as a reader for `count` hosts. */
  first(count: number): HostCpuReader {
    return { count, read: () => this.read(count) };
  }

  /** Same cgroups as `other` (the app's containers were not replaced in between)? */
  sameAs(other: HostCpu): boolean {
    return JSON.stringify(this.hosts.map((g) => g.paths)) === JSON.stringify(other.hosts.map((g) => g.paths));
  }
}

/** One host's counter, ns: everything (its own cgroup and the nested ones outside it), and the nested ones alone. */
export interface HostReading {
  total: number;
  nested: number;
}

/** What measure() reads around a run: the counters of the run's hosts. */
export interface HostCpuReader {
  count: number;
  read(): (HostReading | null)[];
  /** The same hosts' PID counters (host-pids.ts), read around the run too when given. */
  pids?: HostPidReader;
}

/** How much an idle host uses: counters over `ms` with nothing run, ms of CPU per second per host (median over hosts). */
export async function idleRate(reader: HostCpuReader, ms: number): Promise<number[] | null> {
  const before = reader.read();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, ms));
  const after = reader.read();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (before.some((b) => b === null) || after.some((a) => a === null)) return null;
  return after.map((a, i) => (a!.total - before[i]!.total) / 1e6 / seconds);
}
