// What BENCHMARKS.md says about where it was measured: the machine, the versions of every
// tool compared, and how busy the machine was (other work on the same cores moves absolute
// numbers; ratios measured side by side in one run much less).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, type TestHost } from '../../test/harness/testbed.ts';

export interface MachineInfo {
  cpu: string;
  cores: number;
  ramGiB: number;
  kernel: string;
  debian: string;
  versions: Record<string, string>;
}

const out = async (cmd: string, args: string[]): Promise<string> => {
  try {
    const r = await promisify(execFile)(cmd, args, { timeout: 30_000 });
    return `${r.stdout}${r.stderr}`.trim();
  } catch (e) {
    return `unknown (${(e as Error).message.split('\n')[0]})`;
  }
};

const pkgVersion = (dir: string): string => {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
};

/** Where the hoist that is timed comes from: compiled dist/ (as users run it) or the TypeScript sources through tsx. */
export type HoistFrom = 'dist' | 'sources';

export const hoistFromText = (from: HoistFrom) =>
  from === 'dist' ? 'run compiled from dist/ (npm run build)' : 'run from the TypeScript sources through tsx (HOIST_FROM_SOURCE=1), not compiled: slower start-up than users get';

export async function machineInfo(host: TestHost, from: HoistFrom, hoistRoot: string): Promise<MachineInfo> {
  const commit = await out('git', ['-C', hoistRoot, 'rev-parse', '--short', 'HEAD']);
  const dirty = (await out('git', ['--no-optional-locks', '-C', hoistRoot, 'status', '--porcelain', '--untracked-files=no'])) ? ' + uncommitted changes' : '';
  const where = hoistRoot === REPO_ROOT ? '' : ` at ${hoistRoot}, not this checkout`;
  const sshd = (await host.sh("dpkg-query -W -f '${Version}' openssh-server")).stdout.trim();
  const python = (await host.sh('python3 --version')).stdout.trim();
  const debianVersion = (() => {
    try {
      return readFileSync('/etc/debian_version', 'utf8').trim();
    } catch {
      return 'not Debian';
    }
  })();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    ramGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    debian: debianVersion,
    versions: {
      node: process.version,
      hoist: `${pkgVersion(hoistRoot)} (commit ${commit}${dirty}${where}), ${hoistFromText(from)}`,
      ssh2: pkgVersion(join(REPO_ROOT, 'node_modules/ssh2')),
      tsx: pkgVersion(join(REPO_ROOT, 'node_modules/tsx')),
      'ansible-core': (await out('ansible-playbook', ['--version'])).split('\n')[0]!.replace(/^ansible-playbook \[core (.*)\]$/, '$1'),
      'OpenSSH client (Ansible, this machine)': (await out('ssh', ['-V'])).split(',')[0]!,
      'OpenSSH server (in the hosts)': `openssh-server ${sshd}`,
      'Python (in the hosts, for Ansible)': python,
      Docker: (await out('docker', ['version', '--format', '{{.Server.Version}}'])),
    },
  };
}

/** Load average and how many containers other than ours run: how shared the machine was. */
export async function busyness(ours: number): Promise<string> {
  const all = Number((await out('sh', ['-c', 'docker ps -q | wc -l'])) || 0);
  const [one, five] = loadavg();
  return `load average ${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min); ${Math.max(0, all - ours)} other container(s) running`;
}

/** The machine's CPU time from /proc/stat (all cores, in clock ticks): busy (not idle, not iowait), steal, all. */
export interface CpuTimes {
  at: number;
  busy: number;
  steal: number;
  total: number;
}

export function cpuTimes(): CpuTimes | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    return { at: Date.now(), busy: user + nice + system + irq + softirq, steal, total };
  } catch {
    return null;
  }
}

/** How busy the machine's cores were between two readings. */
export interface MachineLoad {
  seconds: number;
  /** Busy share of all cores' time, %; the same in core-seconds; steal (time the hypervisor gave others), %. */
  busyPct: number;
  busyCoreSeconds: number;
  stealPct: number;
}

export function loadBetween(a: CpuTimes | null, b: CpuTimes | null): MachineLoad | null {
  if (!a || !b || b.total <= a.total) return null;
  const total = b.total - a.total;
  const seconds = (b.at - a.at) / 1000;
  const cores = cpus().length;
  return {
    seconds,
    busyPct: (100 * (b.busy - a.busy)) / total,
    busyCoreSeconds: (seconds * cores * (b.busy - a.busy)) / total,
    stealPct: (100 * (b.steal - a.steal)) / total,
  };
}
