// Real hosts for end-to-end tests: containers made from a debootstrapped Debian image, each with
// its own host keys and sshd published on a loopback port. A test gets a folder with a client
// key, a known_hosts file pinning every host, and helpers to write .env / inventory and run
// the real CLI. `stop()` removes the hosts.
import { createHash, randomBytes } from 'node:crypto';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RunReport } from '../../lib/report/run-report.ts';
import { buildAlone } from './build-lock.ts';
import { docker, dockerSh, remember, removeContainers, testLabels, type ShResult } from './docker.ts';
import { runTwice } from './run-twice.ts';
import { forgetShellServers } from './shell-server.ts';
import { timedTasks } from './times.ts';
import { freeLoopbackPort, SYSTEMD_FLAGS, systemdVpsImage, waitForBoot, type SystemdOs } from './systemd-vps.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '../..');
const BUILD_SCRIPT = join(HERE, 'build-vps-image.sh');

let imagePromise: Promise<string> | null = null;

/** The VPS image, built once and cached by the hash of the script that builds it. */
export function vpsImage(): Promise<string> {
  imagePromise ??= (async () => {
    const hash = createHash('sha256').update(readFileSync(BUILD_SCRIPT)).digest('hex').slice(0, 12);
    const tag = `hoist-test-vps:${hash}`;
    // The script does nothing when the image is there (another process may have just built it).
    await buildAlone(tag, () => promisify(execFile)('bash', [BUILD_SCRIPT, tag], { timeout: 15 * 60_000 }));
    return tag;
  })();
  return imagePromise;
}

export interface TestHost {
  name: string;
  container: string;
  port: number;
  /** known_hosts line for this host's ed25519 key. */
  knownHostsLine: string;
  sh(script: string, user?: string, stdin?: string): Promise<ShResult>;
}

export interface StartOptions {
  count: number;
  /** Create DEPLOY_USER `deploy` with the client key and passwordless sudo, as bootstrap would. */
  deployUser?: boolean;
  /** Let the host run its own dockerd (the capabilities TESTBED.md lists; --privileged fails here). */
  dockerInside?: boolean;
  /** Another image than the fresh VPS (one made FROM it). */
  image?: string;
  /**
   * `systemd`: a fresh VPS with systemd as PID 1 (systemd-vps.ts) of `os` (default debian12),
   * Docker-inside capable; `reboot()` restarts it. Without: sshd as PID 1, Debian 12.
   */
  init?: 'systemd';
  os?: SystemdOs;
  /**
   * A memory bound for the host container (`docker run --memory`, e.g. '1536m'): a small VPS. Its
   * /proc/meminfo still shows the machine's memory; the bound is its cgroup's memory.max.
   */
  memory?: string;
}

const DOCKER_INSIDE_FLAGS = [
  '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE',
  '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
  '--cgroupns', 'host', '-v', '/sys/fs/cgroup:/sys/fs/cgroup', '--tmpfs', '/run',
  // overlay2 needs /var/lib/docker off the container's own overlay filesystem
  '-v', '/var/lib/docker',
];

export interface CliResult extends ShResult {
  durationMs: number;
}

export class Testbed {
  readonly dir = mkdtempSync(join(tmpdir(), 'hoist-e2e-'));
  readonly keyPath = join(this.dir, 'id_ed25519');
  readonly knownHostsPath = join(this.dir, 'known_hosts');
  readonly envPath = join(this.dir, '.env');
  readonly inventoryPath = join(this.dir, 'inventory.yml');
  hosts: TestHost[] = [];
  /** How long one CLI run may take before it is killed (a bootstrap of a bare host runs apt). */
  hoistTimeoutMs = 5 * 60_000;

  /**
   * Starts the hosts, all alike, or given a list of groups, each group's hosts as that group says
   * (a mixed fleet): numbered web1..webN across the groups in their order, one key for all.
   */
  async start(opts: StartOptions | StartOptions[]): Promise<this> {
    const groups = Array.isArray(opts) ? opts : [opts];
    for (const g of groups) if (g.os && g.init !== 'systemd') throw new Error(`os ${g.os}: only the systemd hosts come in other systems (add init: 'systemd')`);
    const images = await Promise.all(groups.map((g) => g.image ?? (g.init === 'systemd' ? systemdVpsImage(g.os ?? 'debian12') : vpsImage())));
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hoist-test', '-f', this.keyPath]);
    const publicKey = readFileSync(`${this.keyPath}.pub`, 'utf8').trim();
    const run = randomBytes(3).toString('hex');
    const each = groups.flatMap((g, gi) => Array.from({ length: g.count }, () => ({ g, image: images[gi]! })));
    this.hosts = await Promise.all(
      each.map(({ g, image }, i) => this.startHost(image, `web${i + 1}`, `hoist-test-${run}-web${i + 1}`, publicKey, g)),
    );
    writeFileSync(this.knownHostsPath, this.hosts.map((h) => h.knownHostsLine).join('\n') + '\n');
    return this;
  }

  private async startHost(image: string, name: string, container: string, publicKey: string, opts: StartOptions): Promise<TestHost> {
    remember(container);
    const systemd = opts.init === 'systemd';
    const extra = systemd ? [...DOCKER_INSIDE_FLAGS, ...SYSTEMD_FLAGS] : opts.dockerInside ? DOCKER_INSIDE_FLAGS : [];
    const publish = systemd ? `127.0.0.1:${await freeLoopbackPort()}:22` : '127.0.0.1::22';
    const memory = opts.memory ? ['--memory', opts.memory] : [];
    await docker('run', '-d', '--name', container, '--hostname', name, ...testLabels(), ...extra, ...memory, '-e', `HOIST_TEST_ROOT_KEY=${publicKey}`, '-p', publish, image);
    const port = Number((await docker('port', container, '22/tcp')).split('\n')[0]!.split(':').pop());
    await waitForSshBanner(port, systemd ? 120_000 : 20_000);
    const sh = (script: string, user = 'root', stdin?: string) => dockerSh(container, script, user, stdin);
    // A systemd host makes tcp_migrate_req writable itself, at every boot (its image's unit).
    if (systemd) await waitForBoot(container);
    else if (opts.dockerInside) {
      // A VPS's root can set its network sysctls (its kernel is its own); a container's /proc/sys is
      // read-only. The one hoist sets (caddy-reload: net.ipv4.tcp_migrate_req, per network
      // namespace, so this container's alone) is made writable, as on a VPS. A kernel without it
      // (before 5.14) is left as it is: caddy-reload.test.ts then says so.
      const f = '/proc/sys/net/ipv4/tcp_migrate_req';
      const r = await sh(`[ ! -e ${f} ] || { mount --bind ${f} ${f} && mount -o remount,bind,rw ${f}; }`);
      if (r.code !== 0) throw new Error(`making ${f} writable in ${container}: ${r.stderr}`);
    }
    if (opts.deployUser) {
      const r = await sh(
        'useradd -m -s /bin/bash deploy && install -d -m 700 -o deploy -g deploy /home/deploy/.ssh && ' +
          'cp /root/.ssh/authorized_keys /home/deploy/.ssh/ && chown deploy:deploy /home/deploy/.ssh/authorized_keys && ' +
          "echo 'deploy ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/deploy && chmod 440 /etc/sudoers.d/deploy",
      );
      if (r.code !== 0) throw new Error(`creating deploy user on ${container}: ${r.stderr}`);
    }
    const pub = (await sh('cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout.trim().split(/\s+/);
    return { name, container, port, knownHostsLine: `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}`, sh };
  }

  /** Writes .env with the test bed's key and known_hosts, plus `vars`. */
  writeEnv(vars: Record<string, string> = {}): string {
    const all = { SSH_KEY: this.keyPath, KNOWN_HOSTS: this.knownHostsPath, SSH_CONNECT_TIMEOUT: '10', RETRIES: '2', ...vars };
    writeFileSync(this.envPath, Object.entries(all).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n') + '\n');
    return this.envPath;
  }

  /** Writes an inventory listing `hosts` (default all) on their loopback ports. */
  writeInventory(hosts = this.hosts, extra: (h: TestHost) => Record<string, unknown> = () => ({})): string {
    const doc = { hosts: Object.fromEntries(hosts.map((h) => [h.name, { host: '127.0.0.1', port: h.port, ...extra(h) }])) };
    writeFileSync(this.inventoryPath, JSON.stringify(doc, null, 2));
    return this.inventoryPath;
  }

  file(name: string, content: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, content);
    return p;
  }

  /** Runs the real CLI: the `hoist` bin itself, through its #! line. `onSpawn` gets its process (a test may kill it). */
  hoist(args: string[], env: Record<string, string> = {}, onSpawn?: (child: ChildProcess) => void): Promise<CliResult> {
    const started = Date.now();
    return new Promise((resolvePromise, reject) => {
      const child = spawn(join(REPO_ROOT, 'bin/hoist.mjs'), args, {
        cwd: this.dir,
        env: { ...process.env, HOIST_RETRY_MIN_MS: '200', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      onSpawn?.(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), this.hoistTimeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolvePromise({ code: code ?? -1, stdout, stderr, durationMs: Date.now() - started });
      });
    });
  }

  /** Runs the real CLI with `--json FILE` added and returns its parsed report too. */
  async hoistWithReport(args: string[], env: Record<string, string> = {}): Promise<{ r: CliResult; report: RunReport; json: string }> {
    const jsonPath = join(this.dir, `report-${Date.now()}-${randomBytes(3).toString('hex')}.json`);
    const r = await this.hoist([...args, '--json', jsonPath], env);
    let json: string;
    try {
      json = readFileSync(jsonPath, 'utf8');
    } catch {
      throw new Error(`no JSON report (exit ${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    }
    return { r, report: JSON.parse(json) as RunReport, json };
  }

  /**
   * `hoist run PIPELINE` with the test bed's .env and inventory and `--json -`, as the e2e files
   * run their pipelines: the exit code, all output, and the parsed report (an error if none).
   */
  async runPipeline(pipeline: string, opts: { args?: string[]; env?: Record<string, string>; onSpawn?: (child: ChildProcess) => void; envFile?: string } = {}): Promise<PipelineRun> {
    const r = await this.hoist(['run', pipeline, '--env-file', opts.envFile ?? this.envPath, '--inventory', this.inventoryPath, '--json', '-', ...(opts.args ?? [])], opts.env, opts.onSpawn);
    let report: RunReport;
    try {
      report = JSON.parse(r.stdout) as RunReport;
    } catch {
      throw new Error(`${pipeline}: no report (exit ${r.code}): ${r.stderr}`);
    }
    timedTasks(pipeline, r.durationMs, report);
    return { code: r.code, out: `${r.stdout}\n${r.stderr}`, report, ms: r.durationMs };
  }

  /**
   * Reboots a systemd host: `docker restart` (a clean shutdown, then a boot with the same disk and
   * address), then waits for sshd and for the boot to finish. Nothing of hoist runs here: what
   * answers afterwards came back by itself.
   */
  async reboot(host: TestHost): Promise<void> {
    forgetShellServers(host.container);
    await docker('restart', '-t', '60', host.container);
    await waitForSshBanner(host.port, 120_000);
    await waitForBoot(host.container);
  }

  /** runPipeline, then the same run again, which must change nothing (./run-twice.ts). Returns the first run. */
  runPipelineTwice(pipeline: string, opts: Parameters<Testbed['runPipeline']>[1] = {}): Promise<PipelineRun> {
    return runTwice(`${pipeline} ${(opts.args ?? []).join(' ')}`.trim(), () => this.runPipeline(pipeline, opts));
  }

  async stop(): Promise<void> {
    await removeContainers(this.hosts.map((h) => h.container));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface PipelineRun {
  code: number;
  /** stdout and stderr, for assertion messages. */
  out: string;
  report: RunReport;
  ms: number;
}

/** Does an SSH server answer with its banner on this loopback port (within a second)? */
export function sshBannerOn(port: number): Promise<boolean> {
  return new Promise<boolean>((res) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1000);
    s.once('data', (d) => {
      s.destroy();
      res(d.toString().startsWith('SSH-2.0'));
    });
    s.once('error', () => res(false));
    // docker-proxy accepts and then closes while sshd is not listening yet
    s.once('close', () => res(false));
    s.once('timeout', () => {
      s.destroy();
      res(false);
    });
  });
}

/** Waits (bounded) until sshd answers with its banner on the port. */
async function waitForSshBanner(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await sshBannerOn(port);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`sshd on 127.0.0.1:${port} did not answer within ${timeoutMs / 1000}s`);
}
