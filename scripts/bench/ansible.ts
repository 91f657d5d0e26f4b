// One timed run of the equivalent Ansible playbook (noop-release.yml) with Debian's
// ansible-core: pipelining on, forks = N, facts off, the test key and known_hosts, the Python
// on the hosts named (no interpreter discovery round trip). Every choice favours Ansible, so a
// ratio against it is conservative. Its SSH connection multiplexing (ControlPersist, Ansible's
// default) is kept, but every run gets a fresh control folder and its masters are closed
// afterwards: no run reuses another run's connections.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestHost } from '../../test/harness/testbed.ts';
import { APP, DEPLOY_USER, type LiveState } from './fleet.ts';
import type { HostCpuReader } from './host-cpu.ts';
import { measure, runCpu, type RunCpu } from './measure.ts';

const PLAYBOOK = join(dirname(fileURLToPath(import.meta.url)), 'noop-release.yml');

export interface AnsibleSample {
  wallMs: number;
  /** CPU here and on each host (absent in runs saved before it was measured). */
  cpu?: RunCpu;
}

export interface AnsibleSetup {
  dir: string;
  cfg: string;
  vars: string;
}

/** ansible.cfg and the extra-vars file, written once for the whole benchmark. */
export function prepareAnsible(o: { dir: string; keyPath: string; knownHostsPath: string; live: LiveState; bluePort: number; greenPort: number }): AnsibleSetup {
  const dir = join(o.dir, 'ansible');
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, 'ansible.cfg');
  writeFileSync(
    cfg,
    `[defaults]
host_key_checking = True
interpreter_python = /usr/bin/python3
gathering = explicit
retry_files_enabled = False
local_tmp = ${join(dir, 'local-tmp')}
private_key_file = ${o.keyPath}
remote_user = ${DEPLOY_USER}

[ssh_connection]
pipelining = True
ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${o.knownHostsPath} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes
`,
  );
  const vars = join(dir, 'vars.json');
  writeFileSync(
    vars,
    JSON.stringify({
      app_root: `/home/${DEPLOY_USER}/apps/${APP}`,
      release: o.live.release,
      sha: o.live.sha,
      caddy_site: o.live.caddySite,
      cron_block: o.live.cronBlock,
      app_env_src: o.live.appEnvPath,
      blue_port: o.bluePort,
      green_port: o.greenPort,
    }),
  );
  return { dir, cfg, vars };
}

export async function ansibleRun(a: AnsibleSetup, o: { hosts: TestHost[]; tag: string; hostCpu?: HostCpuReader }): Promise<AnsibleSample> {
  const inventory = join(a.dir, `inventory-${o.hosts.length}.ini`);
  writeFileSync(inventory, `[bench]\n${o.hosts.map((h) => `${h.name} ansible_host=127.0.0.1 ansible_port=${h.port}`).join('\n')}\n`);
  const controlDir = join(a.dir, `cp-${o.tag}`);
  mkdirSync(controlDir, { recursive: true });
  const env = { ...process.env, ANSIBLE_CONFIG: a.cfg, ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0' };
  try {
    const r = await measure('ansible-playbook', ['-i', inventory, '--forks', String(o.hosts.length), '-e', `@${a.vars}`, PLAYBOOK], {
      cwd: a.dir,
      env,
      timeoutMs: 20 * 60_000,
      hosts: o.hostCpu,
    });
    const recap = parseRecap(r.stdout);
    const bad = o.hosts.filter((h) => {
      const c = recap.get(h.name);
      return !c || c.changed !== 0 || c.failed !== 0 || c.unreachable !== 0;
    });
    if (r.code !== 0 || bad.length) {
      throw new Error(`the Ansible run was not a clean no-op (exit ${r.code}; hosts changed, failed or missing: ${bad.map((h) => h.name).join(', ')}):\n${(r.stdout + r.stderr).slice(-4000)}`);
    }
    return { wallMs: r.wallMs, cpu: runCpu(r) };
  } finally {
    await closeMasters(controlDir);
  }
}

/** `PLAY RECAP` lines: host : ok=N changed=N unreachable=N failed=N ... */
function parseRecap(stdout: string): Map<string, { changed: number; failed: number; unreachable: number }> {
  const out = new Map<string, { changed: number; failed: number; unreachable: number }>();
  const recap = stdout.slice(stdout.lastIndexOf('PLAY RECAP'));
  for (const m of recap.matchAll(/^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)) {
    out.set(m[1]!, { changed: Number(m[3]), unreachable: Number(m[4]), failed: Number(m[5]) });
  }
  return out;
}

/** Ends the ssh ControlPersist masters a run left (they would otherwise idle for 60 s). */
async function closeMasters(controlDir: string): Promise<void> {
  let sockets: string[] = [];
  try {
    sockets = readdirSync(controlDir);
  } catch {
    return;
  }
  await Promise.all(
    sockets.map((s) =>
      promisify(execFile)('ssh', ['-o', `ControlPath=${join(controlDir, s)}`, '-O', 'exit', 'bench-master'], { timeout: 10_000 }).catch(() => undefined),
    ),
  );
}
