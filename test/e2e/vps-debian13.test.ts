// A fresh Debian 13 VPS with systemd as PID 1, as a provider hands it over (root key login,
// password logins on), taken through hoist's whole life for real: bootstrap (and again:
// unchanged), release v1, release v2 under a client loop with no failed request, then a reboot
// (`docker restart` of the host: a clean shutdown, a boot with the same disk and address). After
// the reboot, without running hoist, the app answers through Caddy again (Docker and Caddy came
// back as systemd services, the app's container by its restart policy) and cron runs the app's
// jobs; a release then is a no-op. The git host, DNS and the OpenAPI-checked fake GitHub are the
// release tests' (see release-bed.ts); the host is not a ready image: hoist installs everything.
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { underLoad } from '../harness/client-loops.ts';
import { DnsServer } from '../harness/dns-server.ts';
import { FakeGitHub } from '../harness/fake-github.ts';
import { startGitServer, type GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { Testbed, type TestHost } from '../harness/testbed.ts';

const test = suite('a Debian 13 VPS with systemd: bootstrap, releases, a reboot');
const tb = new Testbed();
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'app.hoist.test';
let git: GitServer;
let dns: DnsServer;
let fake: FakeGitHub;
let host: TestHost;

const appFiles = (version: string) => ({
  'Dockerfile': `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n`,
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': `${version}\n`,
  // Every minute: a line in the deploy user's home (Debian 13's /tmp is a tmpfs, gone at a reboot).
  'deploy/crontab': `* * * * * cd ~/apps/app/current && cat index.html >> ~/cron-ticks\n`,
});

// A bare host's bootstrap runs apt for Docker, compose, Caddy and git (minutes on a busy machine).
tb.hoistTimeoutMs = 15 * 60_000;

test.before(async () => {
  [git] = await Promise.all([startGitServer(['app']), tb.start({ count: 1, init: 'systemd', os: 'debian13' })]);
  host = tb.hosts[0]!;
  dns = await DnsServer.start({ records: { [DOMAIN]: ['127.0.0.1'] } });
  fake = await new FakeGitHub({ token: TOKEN, repos: ['acme/app'], onGrant: (k) => git.grant(k.key), onRevoke: (k) => git.revoke(k.key) }).start();
  await git.commit('app', appFiles('v1'), 'v1');
  tb.writeEnv({
    SSH_USER: 'root',
    APP_NAME: 'app',
    APP_DOMAIN: DOMAIN,
    DNS_RESOLVERS: dns.address,
    DNS_WAIT: '5',
    APP_REPO: git.repoUrl('app'),
    FORGE_KNOWN_HOSTS: tb.file('forge_known_hosts', `${git.knownHostsLine}\n`),
    GITHUB_API_URL: fake.url,
    CADDY_TLS: 'off',
    // The test app's base image is made on the host from busybox (no registry can be pulled from).
    EXTRA_PACKAGES: 'busybox-static',
    APP_CRONTAB: 'deploy/crontab',
    HEALTH_TIMEOUT: '30',
    SSH_COMMAND_TIMEOUT: '600',
  });
  tb.writeInventory();
});
test.after(async () => {
  await fake?.stop();
  await dns?.stop();
  await git?.stop();
  await tb.stop();
});

const run = (pipeline: string) => tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN } });
const statuses = (report: RunReport) => report.hosts[0]!.tasks.map((t) => [t.task, t.status]);
const throughCaddy = async () => (await host.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`)).stdout.trim();

test('the host is a fresh Debian 13 with systemd as PID 1, as rented', async () => {
  const r = await host.sh('. /etc/os-release; echo "$ID $VERSION_ID"; cat /proc/1/comm; systemctl is-system-running; command -v docker || echo no-docker; command -v caddy || echo no-caddy');
  assert.is(r.stdout, 'debian 13\nsystemd\nrunning\nno-docker\nno-caddy\n', r.stderr);
});

test('bootstrap installs and checks everything hoist runs, enables the services; the second run changes nothing', async () => {
  const first = await run('bootstrap');
  assert.is(first.code, 0, first.out);
  assert.equal(statuses(first.report), [
    ['ssh-bootstrap', 'changed'],
    ['dns-verify', 'unchanged'],
    ['deploy-key', 'changed'],
  ]);
  // What hoist runs is there: the docker CLI (Debian 13's docker-cli) with its daemon, compose v2.
  const tools = await host.sh('docker version --format "{{.Server.Version}}" >/dev/null && docker compose version --short && git --version >/dev/null && caddy version >/dev/null && command -v crontab >/dev/null; echo "exit $?"');
  assert.match(tools.stdout, /^v?2\.\d+\.\d+\S*\nexit 0\n$/, `${tools.stdout}${tools.stderr}`);
  const units = await host.sh('systemctl is-enabled docker caddy cron ssh; systemctl is-active docker caddy cron ssh');
  assert.is(units.stdout, 'enabled\nenabled\nenabled\nenabled\nactive\nactive\nactive\nactive\n', units.stderr);
  // The hardening is in force on the systemd host (reloaded through systemctl).
  const sshd = await host.sh("sshd -T | grep -E '^(permitrootlogin|passwordauthentication) '");
  assert.is(sshd.stdout, 'permitrootlogin no\npasswordauthentication no\n');

  const second = await run('bootstrap');
  assert.is(second.code, 0, second.out);
  assert.equal(statuses(second.report), [
    ['ssh-bootstrap', 'unchanged'],
    ['dns-verify', 'unchanged'],
    ['deploy-key', 'unchanged'],
  ]);
  for (const text of [first.out, second.out]) assert.not.ok(text.includes(TOKEN), 'the token appears in no output');
  await loadAppBase(host.container);
});

test('v1 goes live through Caddy; v2 replaces it under a client loop with no failed request; again: nothing changes', async () => {
  const v1 = await run('release');
  assert.is(v1.code, 0, v1.out);
  assert.is(await throughCaddy(), 'v1');

  await git.commit('app', appFiles('v2'), 'v2');
  let v2!: Awaited<ReturnType<typeof run>>;
  const counts = await underLoad(host, { app: DOMAIN }, async () => {
    v2 = await run('release');
  });
  assert.is(v2.code, 0, v2.out);
  console.log(`    client loop during the release: ${JSON.stringify(counts.app)}`);
  const answers = Object.entries(counts.app);
  assert.ok(answers.reduce((n, [, c]) => n + c, 0) > 20, `the loop ran: ${JSON.stringify(counts.app)}`);
  assert.ok(answers.every(([a]) => a === 'v1 200' || a === 'v2 200'), `every answer v1 or v2 with 200, none failed: ${JSON.stringify(counts.app)}`);
  assert.ok((counts.app['v2 200'] ?? 0) > 0);
  assert.is(await throughCaddy(), 'v2');

  const again = await run('release');
  assert.is(again.code, 0, again.out);
  assert.ok(statuses(again.report).every(([, s]) => s === 'unchanged'), JSON.stringify(statuses(again.report)));
});

test('a reboot: Docker, Caddy and cron come back as services, the app answers, cron runs; a release then changes nothing', async () => {
  const containers = (await host.sh('docker ps -q | sort')).stdout;
  assert.ok(containers.trim().length > 0, 'the app runs before the reboot');
  const bootBefore = (await host.sh('cat /proc/sys/kernel/random/boot_id; systemctl show -p ActiveEnterTimestampMonotonic --value docker')).stdout;
  await tb.reboot(host);
  // The reboot happened: systemd (and Docker under it) started again.
  const bootAfter = (await host.sh('cat /proc/sys/kernel/random/boot_id; systemctl show -p ActiveEnterTimestampMonotonic --value docker')).stdout;
  assert.is.not(bootAfter, bootBefore, 'docker.service started anew');
  const rebooted = Math.floor(Date.now() / 1000);

  // No hoist run from here until the release below: only what the host does by itself.
  const units = await host.sh('systemctl is-active docker caddy cron ssh');
  assert.is(units.stdout, 'active\nactive\nactive\nactive\n', units.stderr);
  // The app's container comes back with dockerd (its restart policy); bounded wait for it to answer.
  let answer = '';
  for (let i = 0; i < 60 && answer !== 'v2'; i++) {
    answer = await throughCaddy();
    if (answer !== 'v2') await new Promise((r) => setTimeout(r, 1000));
  }
  assert.is(answer, 'v2', 'the app answers through Caddy after the reboot');
  assert.is((await host.sh('docker ps -q | sort')).stdout, containers, 'the same containers run again');

  // cron runs the release's job again: a line written after the reboot (it runs every minute).
  const ticksAfter = async () => (await host.sh(`find /home/deploy/cron-ticks -newermt @${rebooted} 2>/dev/null`)).stdout.trim();
  let ticked = '';
  for (let i = 0; i < 90 && !ticked; i++) {
    ticked = await ticksAfter();
    if (!ticked) await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(ticked, 'cron ran the app job after the reboot');

  const after = await run('release');
  assert.is(after.code, 0, after.out);
  assert.ok(statuses(after.report).every(([, s]) => s === 'unchanged'), `a release after the reboot: ${JSON.stringify(statuses(after.report))}`);
  const boot = await run('bootstrap');
  assert.is(boot.code, 0, boot.out);
  assert.ok(statuses(boot.report).every(([, s]) => s === 'unchanged'), `bootstrap after the reboot: ${JSON.stringify(statuses(boot.report))}`);
});

test.run();
