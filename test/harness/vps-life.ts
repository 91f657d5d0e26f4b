// A fresh VPS with systemd as PID 1, as a provider hands it over (root key login, password logins
// on), taken through hoist's whole life for real, with two apps on it: bootstrap (each pipeline
// run twice: the second run changes nothing), release v1 of both, v2 of one under a client loop
// against both with no failed request, then a reboot (`docker restart` of the host: a clean
// shutdown, a boot with the same disk and address). The second app has a stateful service
// (`x-hoist: {stateful: true}`) with a volume and a health check the test controls (it passes at
// once, unless /store/hold is in its volume: then only once /tmp/ready is in the container, which
// every start removes; a release waits for it to be healthy), and each app a cron job writing
// a marker. After the reboot, without running hoist: Docker, Caddy, cron and sshd are active
// systemd services, both apps answer through Caddy, the stateful service is the same container
// with its data, both cron jobs ran again; `hoist status` says "starting" (exit 3) while the
// stateful service's health check has not passed, and `hoist status --wait` waits for it (exit 0,
// both apps, the service and its volume listed); a release and a bootstrap then change nothing.
// Used by vps-debian13.test.ts (compose v2) and vps-debian12.test.ts (compose v1). The git host,
// DNS and the OpenAPI-checked fake GitHub are the release tests' (see release-bed.ts); the host is
// not a ready image: hoist installs everything.
import { randomBytes } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import type { HostStatus } from '../../lib/status/host-status.ts';
import { underLoad } from './client-loops.ts';
import { DnsServer } from './dns-server.ts';
import { FakeGitHub } from './fake-github.ts';
import { startGitServer, type GitServer } from './git-host.ts';
import { loadAppBase } from './images.ts';
import type { SystemdOs } from './systemd-vps.ts';
import { Testbed, type PipelineRun, type TestHost } from './testbed.ts';

export interface VpsLifeOptions {
  os: SystemdOs;
  /** What `/etc/os-release` says: "debian 13". */
  release: string;
  /** The compose hoist finds after bootstrap: v2 (the plugin) or v1 (docker-compose). */
  compose: 'v1' | 'v2';
}

const APPS = ['app', 'shop'] as const;
type App = (typeof APPS)[number];
const domain = (a: App) => `${a}.hoist.test`;

/** The shop's compose file: web, and a stateful db with its volume and a health check the test can hold back after a start. */
const SHOP_COMPOSE = `services:
  web:
    build: .
  db:
    image: hoist-test-base
    x-hoist: {stateful: true}
    command: ["sh", "-c", "mkdir -p /store; echo started >> /store/boots; busybox rm -f /tmp/ready; exec httpd -f -p 8080 -h /store"]
    healthcheck:
      test: ["CMD-SHELL", "test -f /tmp/ready || test ! -f /store/hold"]
      interval: 2s
      retries: 3
      start_period: 30m
    volumes:
      - store:/store
volumes:
  store: {}
`;

const appFiles = (a: App, version: string) => ({
  'Dockerfile': `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n`,
  'compose.yaml': a === 'shop' ? SHOP_COMPOSE : 'services:\n  web:\n    build: .\n',
  'index.html': `${a} ${version}\n`,
  // Every minute: a line in the deploy user's home (Debian 13's /tmp is a tmpfs, gone at a reboot).
  'deploy/crontab': `* * * * * cd ~/apps/${a}/current && cat index.html >> ~/cron-${a}\n`,
});

export function vpsLife(o: VpsLifeOptions): void {
  const test = suite(`a ${o.release} VPS with systemd, two apps: bootstrap, releases, a reboot`);
  const tb = new Testbed();
  const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
  let git: GitServer;
  let dns: DnsServer;
  let fake: FakeGitHub;
  let host: TestHost;
  const envFiles = {} as Record<App, string>;
  const outputs: string[] = [];

  // A bare host's bootstrap runs apt for Docker, compose, Caddy and git (minutes on a busy machine).
  tb.hoistTimeoutMs = 15 * 60_000;

  test.before(async () => {
    [git] = await Promise.all([startGitServer([...APPS]), tb.start({ count: 1, init: 'systemd', os: o.os })]);
    host = tb.hosts[0]!;
    dns = await DnsServer.start({ records: Object.fromEntries(APPS.map((a) => [domain(a), ['127.0.0.1']])) });
    fake = await new FakeGitHub({ token: TOKEN, repos: APPS.map((a) => `acme/${a}`), onGrant: (k) => git.grant(k.key), onRevoke: (k) => git.revoke(k.key) }).start();
    for (const a of APPS) {
      await git.commit(a, appFiles(a, 'v1'), 'v1');
      tb.writeEnv({
        SSH_USER: 'root',
        APP_NAME: a,
        APP_DOMAIN: domain(a),
        DNS_RESOLVERS: dns.address,
        DNS_WAIT: '5',
        APP_REPO: git.repoUrl(a),
        FORGE_KNOWN_HOSTS: tb.file('forge_known_hosts', `${git.knownHostsLine}\n`),
        GITHUB_API_URL: fake.url,
        CADDY_TLS: 'off',
        // The test app's base image is made on the host from busybox (no registry can be pulled from).
        EXTRA_PACKAGES: 'busybox-static',
        APP_CRONTAB: 'deploy/crontab',
        HEALTH_TIMEOUT: '30',
        SSH_COMMAND_TIMEOUT: '600',
      });
      envFiles[a] = join(tb.dir, `${a}.env`);
      copyFileSync(tb.envPath, envFiles[a]);
    }
    tb.writeInventory();
  });
  test.after(async () => {
    await fake?.stop();
    await dns?.stop();
    await git?.stop();
    await tb.stop();
  });

  const keep = (r: PipelineRun) => (outputs.push(r.out), r);
  const run = async (a: App, pipeline: string) => keep(await tb.runPipeline(pipeline, { envFile: envFiles[a], env: { GITHUB_TOKEN: TOKEN } }));
  const runTwice = async (a: App, pipeline: string) => keep(await tb.runPipelineTwice(pipeline, { envFile: envFiles[a], env: { GITHUB_TOKEN: TOKEN } }));
  const statuses = (report: RunReport) => report.hosts[0]!.tasks.map((t) => [t.task, t.status]);
  const throughCaddy = async (a: App) => (await host.sh(`curl -s --max-time 5 --resolve ${domain(a)}:80:127.0.0.1 http://${domain(a)}/`)).stdout.trim();
  /** `hoist status --json -` with the settings of `app` (it lists every app on the host). */
  const status = async (args: string[] = []) => {
    const r = await tb.hoist(['status', '--env-file', envFiles.app, '--inventory', tb.inventoryPath, '--json', '-', ...args]);
    let host: HostStatus;
    try {
      host = (JSON.parse(r.stdout) as { hosts: HostStatus[] }).hosts[0]!;
    } catch {
      throw new Error(`status: no JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
    }
    return { code: r.code, host, stderr: r.stderr };
  };
  const appOf = (h: HostStatus, a: App) => h.apps!.find((x) => x.name === a)!;
  const dbContainer = async () => (await host.sh("docker ps -aq --no-trunc --filter label=com.docker.compose.project=shop-state --filter label=com.docker.compose.service=db")).stdout.trim();
  const dbHealth = async (id: string) => (await host.sh(`docker inspect -f '{{.State.Health.Status}}' ${id}`)).stdout.trim();
  const until = async (what: string, check: () => Promise<boolean>, seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.unreachable(`${what}: not within ${seconds} s`);
  };

  test(`the host is a fresh ${o.release} with systemd as PID 1, as rented`, async () => {
    const r = await host.sh('. /etc/os-release; echo "$ID $VERSION_ID"; cat /proc/1/comm; systemctl is-system-running; command -v docker || echo no-docker; command -v caddy || echo no-caddy');
    assert.is(r.stdout, `${o.release}\nsystemd\nrunning\nno-docker\nno-caddy\n`, r.stderr);
  });

  test(`bootstrap installs and checks everything hoist runs (compose ${o.compose}), enables the services; the second app's bootstrap adds its deploy key; each run again changes nothing`, async () => {
    const first = await runTwice('app', 'bootstrap');
    assert.is(first.code, 0, first.out);
    assert.equal(statuses(first.report), [
      ['ssh-bootstrap', 'changed'],
      ['dns-verify', 'unchanged'],
      ['deploy-key', 'changed'],
    ]);
    // What hoist runs is there: the docker CLI with its daemon, the compose this system has.
    const compose = o.compose === 'v2' ? 'docker compose version --short' : 'docker-compose version --short';
    const tools = await host.sh(`docker version --format "{{.Server.Version}}" >/dev/null && ${compose} && git --version >/dev/null && caddy version >/dev/null && command -v crontab >/dev/null; echo "exit $?"`);
    assert.match(tools.stdout, o.compose === 'v2' ? /^v?2\.\d+\.\d+\S*\nexit 0\n$/ : /^1\.\d+\.\d+\S*\nexit 0\n$/, `${tools.stdout}${tools.stderr}`);
    const units = await host.sh('systemctl is-enabled docker caddy cron ssh; systemctl is-active docker caddy cron ssh');
    assert.is(units.stdout, 'enabled\nenabled\nenabled\nenabled\nactive\nactive\nactive\nactive\n', units.stderr);
    // The hardening is in force on the systemd host (reloaded through systemctl).
    const sshd = await host.sh("sshd -T | grep -E '^(permitrootlogin|passwordauthentication) '");
    assert.is(sshd.stdout, 'permitrootlogin no\npasswordauthentication no\n');

    const shop = await runTwice('shop', 'bootstrap');
    assert.is(shop.code, 0, shop.out);
    assert.equal(statuses(shop.report), [
      ['ssh-bootstrap', 'unchanged'],
      ['dns-verify', 'unchanged'],
      ['deploy-key', 'changed'],
    ]);
    await loadAppBase(host.container);
  });

  test('v1 of both apps goes live through Caddy; v2 of app replaces v1 under a client loop against both with no failed request; each release again changes nothing', async () => {
    for (const a of APPS) {
      const v1 = await runTwice(a, 'release');
      assert.is(v1.code, 0, v1.out);
      assert.is(await throughCaddy(a), `${a} v1`);
    }
    const db = await dbContainer();
    assert.match(db, /^[0-9a-f]{64}$/, 'one db container, in shop-state');
    assert.is(await dbHealth(db), 'healthy', 'the release waited for it');

    await git.commit('app', appFiles('app', 'v2'), 'v2');
    let v2!: PipelineRun;
    const counts = await underLoad(host, { app: domain('app'), shop: domain('shop') }, async () => {
      v2 = await runTwice('app', 'release');
    });
    assert.is(v2.code, 0, v2.out);
    console.log(`    client loops during the release: ${JSON.stringify(counts)}`);
    const answers = Object.entries(counts.app);
    assert.ok(answers.reduce((n, [, c]) => n + c, 0) > 20, `the loop ran: ${JSON.stringify(counts.app)}`);
    assert.ok(answers.every(([a]) => a === 'app v1 200' || a === 'app v2 200'), `every answer v1 or v2 with 200, none failed: ${JSON.stringify(counts.app)}`);
    assert.ok((counts.app['app v2 200'] ?? 0) > 0);
    assert.equal(Object.keys(counts.shop), ['shop v1 200'], `the other app answered every time: ${JSON.stringify(counts.shop)}`);
    assert.is(await throughCaddy('app'), 'app v2');
    assert.is(await dbContainer(), db, 'the other app\'s stateful service untouched');

    const s = await status();
    assert.is(s.code, 0, JSON.stringify(s.host));
    assert.is(s.host.state, 'healthy');
  });

  test('a reboot: Docker, Caddy, cron and sshd come back as services, both apps answer, the stateful service with its data, the cron jobs run; status is "starting" until its health check passes, --wait waits for it; a release and a bootstrap then change nothing', async () => {
    const containers = (await host.sh('docker ps -q | sort')).stdout;
    assert.is(containers.trim().split('\n').length, 3, `app's web, shop's web and db run before the reboot: ${containers}`);
    const db = await dbContainer();
    const boots = (await host.sh(`docker exec ${db} cat /store/boots`)).stdout;
    // From its next start on, its health check waits for /tmp/ready (the test makes it below).
    assert.is((await host.sh(`docker exec ${db} busybox touch /store/hold`)).code, 0);
    const bootBefore = (await host.sh('cat /proc/sys/kernel/random/boot_id; systemctl show -p ActiveEnterTimestampMonotonic --value docker')).stdout;
    await tb.reboot(host);
    // The reboot happened: systemd (and Docker under it) started again.
    const bootAfter = (await host.sh('cat /proc/sys/kernel/random/boot_id; systemctl show -p ActiveEnterTimestampMonotonic --value docker')).stdout;
    assert.is.not(bootAfter, bootBefore, 'docker.service started anew');
    const rebooted = Math.floor(Date.now() / 1000);

    // No hoist run from here until the status below: only what the host does by itself.
    const units = await host.sh('systemctl is-active docker caddy cron ssh');
    assert.is(units.stdout, 'active\nactive\nactive\nactive\n', units.stderr);
    // The containers come back with dockerd (their restart policies); bounded wait for both sites.
    await until('both apps answer through Caddy after the reboot', async () => (await throughCaddy('app')) === 'app v2' && (await throughCaddy('shop')) === 'shop v1', 90);
    assert.is((await host.sh('docker ps -q | sort')).stdout, containers, 'the same containers run again');
    assert.is(await dbContainer(), db, 'the same db container');
    assert.is((await host.sh(`docker exec ${db} cat /store/boots`)).stdout, `${boots}started\n`, 'its volume kept what it had, one more start');

    // Its health check has not passed since the start: status says so, exit 3, not a bare failure.
    assert.is(await dbHealth(db), 'starting');
    const early = await status();
    assert.is(early.code, 3, `${JSON.stringify(early.host)}\n${early.stderr}`);
    assert.is(early.host.state, 'starting');
    assert.equal(appOf(early.host, 'shop').health.state, 'starting');
    assert.equal(appOf(early.host, 'shop').stateful.map((x) => [x.service, x.state, x.health]), [['db', 'running', 'starting']]);
    assert.ok(appOf(early.host, 'app').health.ok, JSON.stringify(appOf(early.host, 'app').health));

    // --wait: started while the db is starting; its check passes only after status said it waits.
    let said = '';
    const waiting = tb.hoist(['status', '--env-file', envFiles.app, '--inventory', tb.inventoryPath, '--json', '-', '--wait', '300'], {}, (child) => child.stderr!.on('data', (d) => (said += d)));
    await until('status --wait says what it waits for', async () => said.includes('status: not healthy yet: '), 120);
    assert.match(said, /^status: not healthy yet: \S+ starting; looking again in 2 s \(at most \d+ s more\)$/m);
    assert.is((await host.sh(`docker exec ${db} busybox touch /tmp/ready`)).code, 0);
    const waited = await waiting;
    assert.is(waited.code, 0, `${waited.stdout}${waited.stderr}`);
    const after = (JSON.parse(waited.stdout) as { hosts: HostStatus[] }).hosts[0]!;
    assert.is(after.state, 'healthy');
    assert.ok(APPS.every((a) => appOf(after, a).health.ok), JSON.stringify(after.apps));
    const shop = appOf(after, 'shop');
    assert.equal(shop.stateful.map((x) => [x.service, x.state, x.health]), [['db', 'running', 'healthy']]);
    assert.equal(shop.volumes.map((v) => [v.name, v.key, v.kept]), [['hoist.shop.store', 'store', false]]);
    assert.ok((shop.volumes[0]!.bytes ?? 0) > 0, `its size as Docker counts it: ${JSON.stringify(shop.volumes)}`);

    // cron runs both apps' jobs again: a line written after the reboot (they run every minute).
    for (const a of APPS) {
      await until(`cron ran ${a}'s job after the reboot`, async () => (await host.sh(`find /home/deploy/cron-${a} -newermt @${rebooted} 2>/dev/null`)).stdout.trim() !== '', 90);
    }

    for (const a of APPS) {
      const after = await run(a, 'release');
      assert.is(after.code, 0, after.out);
      assert.ok(statuses(after.report).every(([, s]) => s === 'unchanged'), `${a}: a release after the reboot: ${JSON.stringify(statuses(after.report))}`);
    }
    const boot = await run('app', 'bootstrap');
    assert.is(boot.code, 0, boot.out);
    assert.ok(statuses(boot.report).every(([, s]) => s === 'unchanged'), `bootstrap after the reboot: ${JSON.stringify(statuses(boot.report))}`);
    assert.is(await dbContainer(), db, 'the releases left the db container as it was');
    for (const text of outputs) assert.not.ok(text.includes(TOKEN), 'the token appears in no output');
  });

  test.run();
}
