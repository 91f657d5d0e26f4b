// The benchmark's fleet: N test hosts made live by hoist itself, as a user would (a real
// bootstrap, then a real release), so that every timed run afterwards is a no-op. This part is
// not timed. Everything started here is removed by `stop()`, which is safe to call at any point,
// also when setup failed half way.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunReport } from '../../lib/report/run-report.ts';
import { DnsServer } from '../../test/harness/dns-server.ts';
import { FakeGitHub } from '../../test/harness/fake-github.ts';
import { startGitServer, type GitServer } from '../../test/harness/git-host.ts';
import { loadAppBase } from '../../test/harness/images.ts';
import { REPO_ROOT, Testbed, type TestHost } from '../../test/harness/testbed.ts';
import { benchImage } from './image.ts';
import { measure } from './measure.ts';

export const APP = 'app';
export const DOMAIN = 'app.hoist.test';
export const DEPLOY_USER = 'deploy';
/** The hoist that is set up with and timed: this checkout's, or another one's (--hoist-root). */
export let HOIST_ROOT = REPO_ROOT;
export let HOIST_BIN = join(REPO_ROOT, 'bin/hoist.mjs');

export function useHoistAt(root: string): void {
  HOIST_ROOT = root;
  HOIST_BIN = join(root, 'bin/hoist.mjs');
}
/** Bootstrap or release of the whole fleet (30 hosts, a Docker build each, on 2 cores). */
const SETUP_TIMEOUT_MS = 40 * 60_000;
/** Hosts started at once, and tries per batch (a busy machine can be slow to start sshd). */
const START_BATCH = 3;
const START_TRIES = 3;

/** The app of the e2e release test: busybox httpd, a compose file, a crontab in the repo. */
const APP_FILES = {
  Dockerfile: 'FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n',
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': 'bench\n',
  'deploy/crontab': '# jobs of the app\n*/10 * * * * cd ~/apps/app/current && cat index.html >/dev/null\n',
};

/** What the live state of every host is after setup: the facts the Ansible playbook checks. */
export interface LiveState {
  sha: string;
  /** Name of the release directory `current` points at (same on every host: one run's stamp). */
  release: string;
  /** Bytes of /etc/caddy/sites/hoist-app.caddy, as hoist wrote it. */
  caddySite: string;
  /** hoist's marked block in the deploy user's crontab. */
  cronBlock: string;
  appEnvPath: string;
}

export class Fleet {
  readonly tb = new Testbed();
  private git: GitServer | undefined;
  private dns: DnsServer | undefined;
  private github: FakeGitHub | undefined;
  private readonly token = `ghp_bench${randomBytes(12).toString('hex')}`;
  private envVars: Record<string, string> = {};
  live!: LiveState;
  /** Testbeds of the hosts started after the first batch (see startHosts). */
  private readonly batches: Testbed[] = [];

  get hosts(): TestHost[] {
    return this.tb.hosts;
  }

  /**
   * Starts `count` hosts, bootstraps and releases on them with hoist (at most `concurrency`
   * hosts at a time: 30 Docker builds at once would only thrash 2 cores), then checks that a
   * release now changes nothing.
   */
  async setUp(count: number, concurrency: number, log: (line: string) => void): Promise<void> {
    log(`image: building or reusing the bench image (ready VPS + python3)`);
    const image = await benchImage();
    log(`hosts: starting ${count} containers (sshd on loopback ports, Docker inside) and a git server`);
    [this.git] = await Promise.all([startGitServer([APP]), this.startHosts(count, image, log)]);
    const git = this.git;
    this.dns = await DnsServer.start({ records: { [DOMAIN]: ['127.0.0.1'] } });
    this.github = await new FakeGitHub({ token: this.token, repos: [`acme/${APP}`], onGrant: (k) => git.grant(k.key), onRevoke: (k) => git.revoke(k.key) }).start();
    const sha = await git.commit(APP, APP_FILES, 'bench app');
    const appEnvPath = this.tb.file('app.env', `GREETING=bench\n`);
    this.envVars = {
      SSH_USER: 'root',
      APP_NAME: APP,
      APP_DOMAIN: DOMAIN,
      DNS_RESOLVERS: this.dns.address,
      DNS_WAIT: '30',
      APP_REPO: git.repoUrl(APP),
      FORGE_KNOWN_HOSTS: this.tb.file('forge_known_hosts', `${git.knownHostsLine}\n`),
      GITHUB_API_URL: this.github.url,
      APP_ENV_FILE: appEnvPath,
      CADDY_TLS: 'off',
      APP_CRONTAB: 'deploy/crontab',
      HEALTH_TIMEOUT: '120',
      SSH_COMMAND_TIMEOUT: '900',
      SSH_CONNECT_TIMEOUT: '30',
    };
    this.tb.writeEnv(this.envVars);
    this.tb.writeInventory();

    await this.hoistOrThrow('bootstrap', concurrency, log);
    log(`hosts: loading the app's base image into each host's dockerd`);
    await inBatches(this.hosts, concurrency, (h) => loadAppBase(h.container));
    await this.hoistOrThrow('release', concurrency, log);

    // From now on the release is pinned to the live commit's full sha, for hoist as for Ansible
    // and the floor: no tool spends a round trip resolving a branch (see BENCHMARKS.md).
    this.tb.writeEnv({ ...this.envVars, GIT_REF: sha });
    this.live = { sha, appEnvPath, ...(await readLive(this.hosts[0]!)) };
    for (const h of this.hosts.slice(1)) {
      const other = await readLive(h);
      if (other.release !== this.live.release || other.caddySite !== this.live.caddySite || other.cronBlock !== this.live.cronBlock) {
        throw new Error(`${h.name} is not live like ${this.hosts[0]!.name}: ${JSON.stringify(other)}`);
      }
    }
  }

  private async hoistOrThrow(pipeline: string, concurrency: number, log: (line: string) => void): Promise<void> {
    log(`hoist run ${pipeline} on ${this.hosts.length} host(s), --concurrency ${concurrency} (not timed)`);
    const json = join(this.tb.dir, `setup-${pipeline}.json`);
    // Not Testbed.hoist: its 5-minute limit is for one test host, a 30-host setup can take longer.
    const r = await measure(
      process.execPath,
      [HOIST_BIN, 'run', pipeline, '--env-file', this.tb.envPath, '--inventory', this.tb.inventoryPath, '--concurrency', String(concurrency), '--json', json],
      { cwd: this.tb.dir, env: { ...process.env, GITHUB_TOKEN: this.token }, timeoutMs: SETUP_TIMEOUT_MS },
    );
    if (r.code !== 0) {
      let failed = '';
      try {
        const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
        failed = report.hosts.filter((h) => h.status !== 'ok').map((h) => `${h.name}: ${h.error}`).join('\n');
      } catch {
        // no report: the output below says why
      }
      throw new Error(`hoist run ${pipeline} failed (exit ${r.code}):\n${failed}\n${(r.stdout + r.stderr).slice(-3000)}`);
    }
    log(`  done in ${(r.wallMs / 1000).toFixed(0)} s`);
  }

  /**
   * Starts the hosts a few at a time: Testbed starts all of its hosts at once and gives each 20 s
   * to show its sshd banner, which 30 containers starting together on 2 busy cores miss. Hosts of
   * later batches (their own Testbed) get the first batch's client key and join its known_hosts,
   * so one key, one known_hosts and one inventory cover the fleet.
   */
  private async startHosts(count: number, image: string, log: (line: string) => void): Promise<void> {
    await this.tb.start({ count: Math.min(count, START_BATCH), dockerInside: true, image });
    const publicKey = readFileSync(`${this.tb.keyPath}.pub`, 'utf8');
    while (this.tb.hosts.length < count) {
      log(`  ${this.tb.hosts.length} of ${count} hosts up`);
      const batch = await this.startBatch(Math.min(START_BATCH, count - this.tb.hosts.length), image, log);
      for (const h of batch.hosts) {
        const r = await h.sh('cat >>/root/.ssh/authorized_keys', 'root', publicKey);
        if (r.code !== 0) throw new Error(`adding the fleet's key to ${h.container}: ${r.stderr}`);
        this.tb.hosts.push({ ...h, name: `web${this.tb.hosts.length + 1}` });
      }
    }
    writeFileSync(this.tb.knownHostsPath, `${this.tb.hosts.map((h) => h.knownHostsLine).join('\n')}\n`);
  }

  /** One more Testbed of `n` hosts; a batch whose sshd was too slow is removed and started again. */
  private async startBatch(n: number, image: string, log: (line: string) => void): Promise<Testbed> {
    for (let attempt = 1; ; attempt++) {
      const batch = new Testbed();
      this.batches.push(batch);
      try {
        return await batch.start({ count: n, dockerInside: true, image });
      } catch (e) {
        await batch.stop();
        if (attempt >= START_TRIES) throw e;
        log(`  a batch of ${n} host(s) did not come up (${(e as Error).message}); starting it again`);
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.github?.stop(), this.dns?.stop(), this.git?.stop(), this.tb.stop(), ...this.batches.map((b) => b.stop())]);
  }
}

async function readLive(h: TestHost): Promise<Omit<LiveState, 'sha' | 'appEnvPath'>> {
  const must = async (script: string, user = 'root') => {
    const r = await h.sh(script, user);
    if (r.code !== 0) throw new Error(`${h.name}: ${script}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const release = (await must(`readlink /home/${DEPLOY_USER}/apps/${APP}/current`)).trim().split('/').pop()!;
  const caddySite = await must(`cat /etc/caddy/sites/hoist-${APP}.caddy`);
  const crontab = await must('crontab -l', DEPLOY_USER);
  const block = new RegExp(`# BEGIN hoist:${APP}[^\\n]*\\n[\\s\\S]*?# END hoist:${APP}[^\\n]*`).exec(crontab);
  if (!block) throw new Error(`${h.name}: no hoist:${APP} block in the crontab:\n${crontab}`);
  return { release, caddySite, cronBlock: block[0] };
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function inBatches<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
