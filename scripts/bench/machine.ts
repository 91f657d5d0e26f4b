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

export async function machineInfo(host: TestHost): Promise<MachineInfo> {
  const commit = await out('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']);
  const dirty = (await out('git', ['--no-optional-locks', '-C', REPO_ROOT, 'status', '--porcelain', '--untracked-files=no'])) ? ' + uncommitted changes' : '';
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
      hoist: `${pkgVersion(REPO_ROOT)} (commit ${commit}${dirty}), run compiled from dist/ (npm run build)`,
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
