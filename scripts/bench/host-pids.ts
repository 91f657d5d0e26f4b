// How many processes a run makes each host create: the host's PID counter, read right before a
// timed run starts and right after it exits. Counts do not depend on how busy the shared cores
// are, as times and CPU do (issue #20: "timed ratios do not carry over; counts do").
//
// The counter: Linux hands out PIDs in a PID namespace in order (the next free number after the
// last one given), and every test host is its own PID namespace (a container). Every process and
// thread made in the host (sshd's session processes, shells, `timeout`, the docker CLI and its
// threads, dockerd's and containerd's new threads, the app's processes in nested containers,
// which have a PID in the host's namespace too) takes the next number. The reading is a process
// started in the host's PID namespace (`nsenter -p`, our own /bin/sh, no other namespace) that
// prints its own PID there: the last number given. So the difference of two readings is what
// the host created in between, plus the second reading itself (1, subtracted). PIDs wrap at
// pid_max; a host has a few dozen live processes, so the numbers in between are free and a
// difference mod pid_max is exact as long as the host makes fewer than pid_max meanwhile.
//
// Threads count like processes (they take a PID each): a Go program such as the docker CLI starts
// several. That is what the kernel counts, and it is what the host pays (each is a clone()).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestHost } from '../../test/harness/testbed.ts';
import { docker } from '../../test/harness/docker.ts';

const PID_MAX = (() => {
  try {
    return Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim()) || 32768;
  } catch {
    return 32768;
  }
})();

/** What one reading itself adds to the counter: the reading process (nsenter's child, which execs sh). */
export const READING_COST = 1;

export class HostPids {
  private constructor(private readonly pids: number[]) {}

  /** The host containers' init PIDs here; an error says why the counters cannot be read. */
  static async find(hosts: TestHost[]): Promise<HostPids | { error: string }> {
    const pids: number[] = [];
    for (const host of hosts) {
      const pid = Number(await docker('inspect', '-f', '{{.State.Pid}}', host.container));
      if (!(pid > 0)) return { error: `no PID for ${host.name} (container ${host.container})` };
      pids.push(pid);
    }
    const probe = new HostPids(pids).read(1)[0];
    if (probe === null) return { error: 'nsenter -p into a host failed (needs root and util-linux nsenter)' };
    return new HostPids(pids);
  }

  /** The last PID handed out in each of the first `count` hosts (the reading's own); null: unreadable. */
  read(count = this.pids.length): (number | null)[] {
    return this.pids.slice(0, count).map((pid) => {
      const r = spawnSync('nsenter', ['-t', String(pid), '-p', '--', '/bin/sh', '-c', 'echo $$'], { encoding: 'utf8', timeout: 10_000 });
      const n = Number(r.stdout.trim());
      return r.status === 0 && Number.isInteger(n) && n > 0 ? n : null;
    });
  }

  first(count: number): HostPidReader {
    return { count, read: () => this.read(count) };
  }
}

export interface HostPidReader {
  count: number;
  read(): (number | null)[];
}

/** PIDs the host created between two readings, not counting the second reading itself. */
export function created(before: number | null | undefined, after: number | null | undefined): number | null {
  if (before == null || after == null) return null;
  return (((after - before) % PID_MAX) + PID_MAX) % PID_MAX - READING_COST;
}

/**
 * What idle hosts create (cron, the app's health checks, dockerd's housekeeping): PIDs per second
 * per host over `ms` with nothing run, and how many two back-to-back readings show (the measuring's
 * own cost beyond READING_COST; expected 0). The timed runs' counts include that background.
 */
export async function idlePids(reader: HostPidReader, ms: number): Promise<{ perS: number[]; backToBack: number[] } | null> {
  const a = reader.read();
  const b = reader.read();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, ms));
  const c = reader.read();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const backToBack = a.map((x, i) => created(x, b[i]));
  const over = b.map((x, i) => created(x, c[i]));
  if (backToBack.some((v) => v === null) || over.some((v) => v === null)) return null;
  return { perS: over.map((v) => v! / seconds), backToBack: backToBack as number[] };
}
