// SSH_JUMP: a host reachable only through a bastion. The bastion is a test host on loopback; the
// target is a container on an --internal network this file makes, which only the bastion joins
// besides it: its sshd is not published, and its only route is to the bastion (Docker gives the
// machine running the tests an address on every bridge, so without that the target would be
// reachable directly and the test would pass with SSH_JUMP ignored). The bastion's sshd logs at
// DEBUG1, so its log shows the login and the forwarding request of each run.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestNetwork, docker, dockerSh, remember, removeContainers, removeNetwork, testLabels } from '../harness/docker.ts';
import { assertNothingChanged } from '../harness/run-twice.ts';
import { sshBannerOn as bannerOn, Testbed, vpsImage, type TestHost } from '../harness/testbed.ts';

const test = suite('proxy jump');
const tb = new Testbed();
const RUN = randomBytes(3).toString('hex');
const NET = `hoist-test-${RUN}-jump`;
const TARGET = `hoist-test-${RUN}-target`;
let bastion: TestHost;
let targetIp = '';
let bastionIp = '';
let cronFile = '';

const sh = (container: string, script: string, user = 'root') => dockerSh(container, script, user);

async function must(container: string, script: string): Promise<string> {
  const r = await sh(container, script);
  if (r.code !== 0) throw new Error(`${container}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The lines of a host's sshd log: sshd -e logs to the container's stderr, which docker keeps. */
async function sshdLog(container: string): Promise<string[]> {
  const { stdout, stderr } = await promisify(execFile)('docker', ['logs', container], { maxBuffer: 64 * 1024 * 1024 });
  return `${stdout}${stderr}`.split(/\r?\n/).filter(Boolean); // sshd -e ends its lines with CRLF
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}


const ipOn = (container: string) => docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`, container);

test.before(async () => {
  await createTestNetwork(NET);
  await tb.start({ count: 1, deployUser: true });
  bastion = tb.hosts[0]!;
  await docker('network', 'connect', NET, bastion.container);
  bastionIp = await ipOn(bastion.container);
  // The bastion logs each forwarding request (sshd logs them at DEBUG1); sshd re-executes on HUP.
  await must(bastion.container, "echo 'LogLevel DEBUG1' >/etc/ssh/sshd_config.d/50-test-debug.conf && kill -HUP 1");

  // The target: on the internal network only, no published port, NET_ADMIN to drop its routes.
  remember(TARGET);
  const publicKey = readFileSync(`${tb.keyPath}.pub`, 'utf8').trim();
  await docker('run', '-d', '--name', TARGET, '--hostname', 'web2', ...testLabels(), '--network', NET, '--cap-add', 'NET_ADMIN', '-e', `HOIST_TEST_ROOT_KEY=${publicKey}`, await vpsImage());
  targetIp = await ipOn(TARGET);
  await waitFor('the target\'s sshd', async () => (await sshdLog(TARGET)).some((l) => l.startsWith('Server listening on 0.0.0.0 port 22')));
  // Its one route: to the bastion. Packets to anything else (this machine's address on the
  // bridge, the default gateway) have no way out, so a direct connection gets no answer.
  await must(TARGET, `ip route flush dev eth0 && ip route add ${bastionIp}/32 dev eth0`);
  await must(
    TARGET,
    'useradd -m -s /bin/bash deploy && install -d -m 700 -o deploy -g deploy /home/deploy/.ssh && ' +
      'cp /root/.ssh/authorized_keys /home/deploy/.ssh/ && chown deploy:deploy /home/deploy/.ssh/authorized_keys && ' +
      "echo 'deploy ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/deploy && chmod 440 /etc/sudoers.d/deploy",
  );
  const pub = (await must(TARGET, 'cat /etc/ssh/ssh_host_ed25519_key.pub')).trim().split(/\s+/);
  // The target is known under the address the bastion reaches it at, on port 22.
  appendFileSync(tb.knownHostsPath, `${targetIp} ${pub[0]} ${pub[1]}\n`);
  await waitFor('the bastion\'s sshd after its reload', () => bannerOn(bastion.port));
  cronFile = tb.file('jobs.crontab', '@hourly echo via-bastion\n');
});

test.after(async () => {
  await removeContainers([TARGET]);
  await tb.stop();
  await removeNetwork(NET);
});

const env = (extra: Record<string, string> = {}) => tb.writeEnv({ APP_NAME: 'jump', CRON_FILE: cronFile, ...extra });
const jumpInventory = () => tb.writeInventory([bastion], () => ({ host: targetIp, port: 22, vars: { SSH_JUMP: `deploy@127.0.0.1:${bastion.port}` } }));
const run = () => tb.hoistWithReport(['run', 'cron', '--env-file', tb.envPath, '--inventory', tb.inventoryPath]);
const forwards = (log: string[]) => log.filter((l) => l.includes(`server_request_direct_tcpip: originator`) && l.includes(`target ${targetIp} port 22`));
/** "Accepted publickey" lines, from `from` if given. */
const logins = (log: string[], from?: string) => log.filter((l) => l.startsWith('Accepted publickey for deploy from ') && (!from || l.includes(` from ${from} port `)));

test('without SSH_JUMP the target cannot be reached from here', async () => {
  env({ SSH_CONNECT_TIMEOUT: '3', RETRIES: '0' });
  tb.writeInventory([bastion], () => ({ host: targetIp, port: 22 }));
  // Twice: refused the same way both times (it fails by design).
  for (const round of [1, 2]) {
    const { r, report } = await run();
    assert.is(r.code, 1, `round ${round}: ${r.stderr}`);
    assert.is(report.hosts[0]!.status, 'failed');
    assert.match(report.hosts[0]!.error ?? '', new RegExp(`${targetIp.replace(/\./g, '\\.')}:22`));
    assert.is((await sh(TARGET, 'crontab -l 2>/dev/null', 'deploy')).stdout, '');
    assert.equal(logins(await sshdLog(TARGET)), [], 'the target accepted a login');
  }
});

test('runs through the bastion (its log shows the login and the forwarding), and a second run changes nothing', async () => {
  env();
  jumpInventory();
  for (const expected of ['changed', 'unchanged']) {
    const bastionBefore = await sshdLog(bastion.container);
    const targetBefore = await sshdLog(TARGET);
    const { r, report } = await run();
    assert.is(r.code, 0, r.stderr);
    assert.is(report.hosts[0]!.tasks[0]!.status, expected);
    if (expected === 'unchanged') assertNothingChanged(report, 'cron through the bastion, run again');
    const bastionLog = (await sshdLog(bastion.container)).slice(bastionBefore.length);
    const targetLog = (await sshdLog(TARGET)).slice(targetBefore.length);
    assert.ok(logins(bastionLog).length >= 1, `no login on the bastion:\n${bastionLog.join('\n')}`);
    assert.ok(forwards(bastionLog).length >= 1, `no forwarding to ${targetIp}:22 on the bastion:\n${bastionLog.join('\n')}`);
    // Every login on the target came from the bastion, as many as the bastion forwarded.
    const onTarget = targetLog.filter((l) => l.startsWith('Accepted publickey for deploy from '));
    assert.ok(onTarget.length >= 1, targetLog.join('\n'));
    assert.equal(logins(targetLog, bastionIp), onTarget, `a login on the target not from the bastion (${bastionIp}):\n${onTarget.join('\n')}`);
    assert.is(forwards(bastionLog).length, onTarget.length, 'one forwarding per login on the target');
  }
  assert.match((await sh(TARGET, 'crontab -l', 'deploy')).stdout, /echo via-bastion/);
  assert.is((await bastion.sh('crontab -l 2>/dev/null', 'deploy')).stdout, '', 'nothing was installed on the bastion');
});

test('the target\'s host key is checked even behind the bastion', async () => {
  const other = tb.file('known_hosts_jump_only', `${bastion.knownHostsLine}\n`);
  env({ KNOWN_HOSTS: other });
  jumpInventory();
  // Twice: refused the same way both times (it fails by design).
  for (const round of [1, 2]) {
    const { r, report } = await run();
    assert.is(r.code, 1, `round ${round}`);
    assert.match(report.hosts[0]!.error ?? '', new RegExp(`${targetIp.replace(/\./g, '\\.')} is not in`));
  }
});

test.run();
