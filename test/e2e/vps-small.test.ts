// A small VPS staying healthy (issue #19 item 4), on a Debian 13 host with systemd as PID 1 and a
// memory bound of 1.5 GiB (a container limit: its cgroup's memory.max; /proc/meminfo still shows
// the machine's memory):
// - bootstrap merges Docker's log rotation into a daemon.json the user already had (their key
//   kept), dockerd restarts once for it, containers created after it get the options; a second
//   bootstrap changes nothing and does not restart dockerd; a changed size while another run
//   holds a deploy lock is written but dockerd is not restarted, until the lock is gone;
// - the swap decision by memory: /swapfile (2 GiB, mode 600, in fstab) on this host with less
//   than 2 GiB; whether the kernel turns it on in a test container is reported, not assumed;
// - AUTO_UPGRADES=security: unattended-upgrades installed, security origins only, no reboot;
// - a release whose compose file publishes a port on every address is refused with the fix, and
//   accepted once the service is marked x-hoist: {public: true};
// - a build step that allocates beyond BUILD_MEMORY is reported as out of memory with the fix.
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { DnsServer } from '../harness/dns-server.ts';
import { FakeGitHub } from '../harness/fake-github.ts';
import { startGitServer, type GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { assertNothingChanged, runTwice } from '../harness/run-twice.ts';
import { Testbed, type TestHost } from '../harness/testbed.ts';

const test = suite('a small VPS: log rotation, swap, security updates, published ports, out of memory');
const tb = new Testbed();
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'small.hoist.test';
let git: GitServer;
let dns: DnsServer;
let fake: FakeGitHub;
let host: TestHost;

const DOCKERFILE = `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n`;
const appFiles = (version: string, compose = 'services:\n  web:\n    build: .\n', dockerfile = DOCKERFILE) => ({ Dockerfile: dockerfile, 'compose.yaml': compose, 'index.html': `${version}\n` });
// A second service publishing a port on every address (the short syntax a tutorial gives).
const PUBLISHED = (marker: string) => `services:\n  web:\n    build: .\n  side:\n    image: hoist-test-base\n    command: ["httpd", "-f", "-p", "8081", "-h", "/"]\n    ports: ["8081:8081"]\n${marker}`;

tb.hoistTimeoutMs = 15 * 60_000;

const baseEnv = {
  SSH_USER: 'root',
  APP_NAME: 'app',
  APP_DOMAIN: DOMAIN,
  DNS_WAIT: '5',
  CADDY_TLS: 'off',
  EXTRA_PACKAGES: 'busybox-static',
  AUTO_UPGRADES: 'security',
  HEALTH_TIMEOUT: '30',
  SSH_COMMAND_TIMEOUT: '600',
};

test.before(async () => {
  [git] = await Promise.all([startGitServer(['app']), tb.start({ count: 1, init: 'systemd', os: 'debian13', memory: '1536m' })]);
  host = tb.hosts[0]!;
  dns = await DnsServer.start({ records: { [DOMAIN]: ['127.0.0.1'] } });
  fake = await new FakeGitHub({ token: TOKEN, repos: ['acme/app'], onGrant: (k) => git.grant(k.key), onRevoke: (k) => git.revoke(k.key) }).start();
  await git.commit('app', appFiles('v1'), 'v1');
  writeEnv();
  tb.writeInventory();
});
test.after(async () => {
  await fake?.stop();
  await dns?.stop();
  await git?.stop();
  await tb.stop();
});

function writeEnv(extra: Record<string, string> = {}): void {
  tb.writeEnv({ ...baseEnv, DNS_RESOLVERS: dns.address, APP_REPO: git.repoUrl('app'), FORGE_KNOWN_HOSTS: tb.file('forge_known_hosts', `${git.knownHostsLine}\n`), GITHUB_API_URL: fake.url, ...extra });
}

const run = (pipeline: string) => tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN } });
const statuses = (report: RunReport) => report.hosts[0]!.tasks.map((t) => [t.task, t.status]);
const warnings = (report: RunReport) => report.hosts[0]!.warnings;
const dockerdPid = async () => (await host.sh('systemctl show -p MainPID --value docker')).stdout.trim();
const logConfigOf = async (container: string) => (await host.sh(`docker inspect --format '{{json .HostConfig.LogConfig}}' ${container}`)).stdout.trim();

test('the host: a memory bound under 2 GiB in its cgroup, no swap, a daemon.json of the user with one key', async () => {
  // The user's own daemon setting, there before Docker is installed (as a provider image may have).
  const w = await host.sh(`mkdir -p /etc/docker && printf '%s\\n' '{ "max-concurrent-downloads": 2 }' > /etc/docker/daemon.json`);
  assert.is(w.code, 0, w.stderr);
  // This machine mounts cgroup v1 (memory.limit_in_bytes; v2 has memory.max). systemd moved PID 1
  // into init.scope below the container's cgroup, which holds the bound: the parent's file.
  const r = await host.sh('p=$(dirname "$(sed -n "s/^[0-9]*:memory://p" /proc/1/cgroup)"); cat /sys/fs/cgroup/memory$p/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup$(dirname "$(sed -n "s/^0:://p" /proc/1/cgroup)")/memory.max; tail -n +2 /proc/swaps | wc -l');
  assert.is(r.stdout, `${1536 * 1024 ** 2}\n0\n`, 'a 1.5 GiB bound, no swap on the machine');
});

test('bootstrap: log rotation merged (the user key kept), /swapfile by memory, security updates only; again: nothing changes, dockerd not restarted', async () => {
  // The dry run shows the merge as a diff of daemon.json (and the fstab line, the apt files), twice the same.
  const dry = await tb.runPipeline('bootstrap', { args: ['--dry-run'], env: { GITHUB_TOKEN: TOKEN } });
  const dryAgain = await tb.runPipeline('bootstrap', { args: ['--dry-run'], env: { GITHUB_TOKEN: TOKEN } });
  assert.is(dry.code, 0, dry.out);
  const diffs = (dry.report.hosts[0]!.tasks.find((t) => t.task === 'ssh-bootstrap')?.files ?? []).map((f) => `${f.path}\n${f.diff}`).join('\n');
  for (const text of ['/etc/docker/daemon.json', '"max-size": "10m"', '"max-concurrent-downloads": 2', '/etc/fstab', '+/swapfile none swap sw 0 0', '/etc/apt/apt.conf.d/52hoist-unattended-upgrades']) assert.ok(diffs.includes(text), `the dry run's diff shows ${text}: ${diffs}`);
  assert.equal(dryAgain.report.hosts[0]!.tasks.map((t) => t.status), dry.report.hosts[0]!.tasks.map((t) => t.status));
  assert.is((await host.sh('test -e /swapfile || echo none; cat /etc/docker/daemon.json')).stdout, 'none\n{ "max-concurrent-downloads": 2 }\n', 'the dry run changed nothing');

  const first = await run('bootstrap');
  assert.is(first.code, 0, first.out);
  const pid = await dockerdPid();
  assertNothingChanged((await run('bootstrap')).report, 'bootstrap, run again');
  assert.is(await dockerdPid(), pid, 'the second bootstrap did not restart dockerd');
  assert.equal(statuses(first.report), [
    ['ssh-bootstrap', 'changed'],
    ['dns-verify', 'unchanged'],
    ['deploy-key', 'changed'],
  ]);
  const daemon = JSON.parse((await host.sh('cat /etc/docker/daemon.json')).stdout) as Record<string, unknown>;
  assert.equal(daemon, { 'max-concurrent-downloads': 2, 'log-opts': { 'max-size': '10m', 'max-file': '3' } });
  // dockerd runs with it: a container created now gets the options (docker info shows only the driver).
  assert.is((await host.sh("docker info --format '{{.LoggingDriver}}'")).stdout.trim(), 'json-file');
  await loadAppBase(host.container);
  const made = await host.sh('docker create --name log-probe hoist-test-base true');
  assert.is(made.code, 0, made.stderr);
  assert.equal(JSON.parse(await logConfigOf('log-probe')), { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '10m' } });
  await host.sh('docker rm log-probe');

  // Swap: decided by the cgroup's bound (1.5 GiB < 2 GiB) and no swap on the machine.
  const swap = await host.sh("stat -c '%s %a' /swapfile; grep -E '^/swapfile ' /etc/fstab; grep -c '^/swapfile ' /proc/swaps || true");
  const [size, fstab, active] = swap.stdout.trim().split('\n');
  assert.is(size, `${2 * 1024 ** 3} 600`);
  assert.is(fstab, '/swapfile none swap sw 0 0');
  const refused = warnings(first.report).find((w) => w.includes('refused to turn it on'));
  console.log(`    swapon in the test host: ${active === '1' ? 'on' : `refused (${refused})`}`);
  assert.ok(active === '1' || refused, `either the swapfile is on or the run warned why not: ${JSON.stringify(warnings(first.report))}`);

  // Security updates: the package, daily, security origins only, never a reboot.
  const apt = await host.sh("dpkg-query -W -f='${db:Status-Status}\\n' unattended-upgrades; apt-config dump | grep -E '^(APT::Periodic::Unattended-Upgrade|Unattended-Upgrade::Automatic-Reboot|Unattended-Upgrade::Origins-Pattern::|Unattended-Upgrade::Allowed-Origins::)'");
  assert.is(
    apt.stdout,
    [
      'installed',
      'APT::Periodic::Unattended-Upgrade "1";',
      'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";',
      'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename},label=Debian-Security";',
      'Unattended-Upgrade::Origins-Pattern:: "origin=Ubuntu,archive=${distro_codename}-security";',
      'Unattended-Upgrade::Automatic-Reboot "false";',
      '',
    ].join('\n'),
    apt.stderr,
  );
});

test('a new log size while another run holds a deploy lock: daemon.json written, dockerd not restarted, until the lock is gone', async () => {
  const pid = await dockerdPid();
  // Another deploy user's lock, as a release of theirs holds it mid-way.
  const lock = await host.sh(`useradd -m other && install -d -o other -m 700 /home/other/.hoist && ln -s '{"run":"r-other","who":"other@elsewhere","pid":1,"pipeline":"release","since":"2026-01-01T00:00:00Z"}' /home/other/.hoist/lock`);
  assert.is(lock.code, 0, lock.stderr);
  writeEnv({ DOCKER_LOG_MAX_SIZE: '20m' });
  const held = await run('bootstrap');
  assert.is(held.code, 0, held.out);
  assert.equal(statuses(held.report)[0], ['ssh-bootstrap', 'changed']);
  assert.ok(warnings(held.report).some((w) => w.includes('dockerd was not restarted') && w.includes('/home/other/.hoist/lock')), JSON.stringify(warnings(held.report)));
  assert.is(await dockerdPid(), pid, 'dockerd kept running');
  assert.match((await host.sh('cat /etc/docker/daemon.json')).stdout, /"max-size": "20m"/);
  // Still held: nothing to do (the restart waits), said in the reason.
  const waiting = await run('bootstrap');
  assert.ok(statuses(waiting.report).every(([, s]) => s === 'unchanged'), JSON.stringify(statuses(waiting.report)));
  assert.is(await dockerdPid(), pid);

  await host.sh('rm /home/other/.hoist/lock');
  const freed = await runTwice('bootstrap after the lock is gone', () => run('bootstrap'));
  // Said with what the host holds: a lock left elsewhere (another home's .hoist) also postpones the restart.
  const locksLeft = (await host.sh('for h in /root /home/*; do [ -L "$h/.hoist/lock" ] && echo "$h/.hoist/lock -> $(readlink "$h/.hoist/lock")"; done; ls -la /etc/docker')).stdout;
  assert.equal(statuses(freed.report)[0], ['ssh-bootstrap', 'changed'], `${locksLeft}\n${JSON.stringify(freed.report.hosts[0]!.tasks[0])}`);
  assert.is.not(await dockerdPid(), pid, 'dockerd restarted once the lock was gone');
  const made = await host.sh('docker create --name log-probe2 hoist-test-base true');
  assert.is(made.code, 0, made.stderr);
  assert.equal(JSON.parse(await logConfigOf('log-probe2')), { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '20m' } });
  await host.sh('docker rm log-probe2');
});

test('a compose file publishing a port on every address is refused with the fix; marked public it is released', async () => {
  const v1 = await runTwice('release v1', () => run('release'));
  assert.is(v1.code, 0, v1.out);
  const live = (await host.sh('readlink /home/deploy/apps/app/current')).stdout;

  await git.commit('app', appFiles('v2', PUBLISHED('')), 'v2 publishes 8081 on every address');
  for (const attempt of [1, 2]) {
    const refused = await run('release');
    assert.is(refused.code, 1, `attempt ${attempt}: ${refused.out}`);
    assert.match(refused.out, /service side publishes 8081:8081 on every address of the host/);
    assert.match(refused.out, /Fix: publish it on loopback only \("127\.0\.0\.1:8081:8081"\)/);
    assert.match(refused.out, /x-hoist: \{public: true, stateful: true\}/);
    assert.is((await host.sh('readlink /home/deploy/apps/app/current')).stdout, live, 'the live release stays');
    assert.is((await host.sh("docker ps -q --filter publish=8081 | wc -l")).stdout.trim(), '0', 'nothing published 8081');
  }

  // Marked public but still one of the blue/green pair: its fixed port could be held by one slot
  // only, so the next release would fail on it. Refused the same way, before anything starts.
  await git.commit('app', appFiles('v2b', PUBLISHED('    x-hoist: {public: true}\n')), 'v2b says 8081 is public, in each slot');
  for (const attempt of [1, 2]) {
    const refused = await run('release');
    assert.is(refused.code, 1, `attempt ${attempt}: ${refused.out}`);
    assert.match(refused.out, /service side publishes the fixed host port 8081: a release starts the new blue\/green slot while the old one still runs/);
    assert.match(refused.out, /Fix: mark it to run once per app, outside the pair, with .x-hoist: \{stateful: true\}. under services\.side/);
    assert.is((await host.sh('readlink /home/deploy/apps/app/current')).stdout, live, 'the live release stays');
    assert.is((await host.sh("docker ps -q --filter publish=8081 | wc -l")).stdout.trim(), '0', 'nothing published 8081');
  }

  await git.commit('app', appFiles('v3', PUBLISHED('    x-hoist: {public: true, stateful: true}\n')), 'v3 says 8081 is public, run once');
  const v3 = await runTwice('release v3', () => run('release'));
  assert.is(v3.code, 0, v3.out);
  assert.ok(warnings(v3.report).some((w) => w.includes('service side publishes 8081:8081 on every address of the host (x-hoist: {public: true})')), JSON.stringify(warnings(v3.report)));
  // The app's container was created after the rotation: it has the options.
  const web = (await host.sh("docker ps -q --filter label=com.docker.compose.service=web | head -1")).stdout.trim();
  assert.equal(JSON.parse(await logConfigOf(web)), { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '20m' } });
});

test('a build step beyond BUILD_MEMORY: "out of memory" with the fix, not a bare exit 137; the live release keeps serving', async () => {
  writeEnv({ DOCKER_LOG_MAX_SIZE: '20m', BUILD_MEMORY: '32M' });
  // busybox dd reads 256 MiB from /dev/zero into one buffer: 256 MiB resident, past a 32 MiB bound.
  await git.commit('app', appFiles('v4', PUBLISHED('    x-hoist: {public: true, stateful: true}\n'), `FROM hoist-test-base\nRUN ["/bin/busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"]\n${DOCKERFILE.split('\n').slice(1).join('\n')}`), 'v4 needs 256 MiB to build');
  const live = (await host.sh('readlink /home/deploy/apps/app/current')).stdout;
  for (const attempt of [1, 2]) {
    const oom = await run('release');
    assert.is(oom.code, 1, `attempt ${attempt}: ${oom.out}`);
    assert.match(oom.out, /ran out of memory: the kernel killed a build step \(BUILD_MEMORY bounds each build step to 32\.0 MiB\)/);
    assert.match(oom.out, /Fix: give the host swap \(SWAP_SIZE=2G/);
    assert.match(oom.out, /or a larger BUILD_MEMORY \(now 32\.0 MiB\)/);
    assert.is((await host.sh('readlink /home/deploy/apps/app/current')).stdout, live, 'the live release stays');
  }
  const answer = await host.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`);
  assert.is(answer.stdout.trim(), 'v3');
});

test.run();
