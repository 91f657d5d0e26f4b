// ssh-bootstrap on fresh Debian VPSes reached as root with the provider's key: afterwards only
// key logins, no root, the deploy user has sudo and docker, Caddy and cron run; a second run
// changes nothing and runs no apt. A bad sshd option or a config that would lock the deploy
// user out is reverted and the host stays reachable exactly as before.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { readyImage } from '../harness/images.ts';
import { tryLogin } from '../harness/ssh-login.ts';
import { REPO_ROOT, Testbed, type TestHost } from '../harness/testbed.ts';

const test = suite('ssh-bootstrap on fresh VPSes');
// The fresh VPS the first test makes ready (apt included); the two hosts of the sshd-option test
// start from the ready image (packages already there): that test is about sshd, and apt on two
// more bare hosts only cost minutes.
const tb = new Testbed();
const tbReady = new Testbed();
const FIXTURE = join(REPO_ROOT, 'test/fixtures/pipelines/ssh-bootstrap-only.ts');
let key: Buffer;
let readyKey: Buffer;

test.before(async () => {
  await Promise.all([tb.start({ count: 1, dockerInside: true }), readyImage().then((image) => tbReady.start({ count: 2, dockerInside: true, image }))]);
  key = readFileSync(tb.keyPath);
  readyKey = readFileSync(tbReady.keyPath);
  // A user with a password, as some images ship: password logins must end with bootstrap.
  for (const h of [...tb.hosts, ...tbReady.hosts]) await h.sh("useradd -m alice && echo 'alice:correct-horse' | chpasswd");
});
test.after(async () => {
  await Promise.all([tb.stop(), tbReady.stop()]);
});

async function bootstrap(hosts: TestHost[], vars: (h: TestHost) => Record<string, string> = () => ({}), bed = tb) {
  bed.writeEnv({ SSH_USER: 'root', DEPLOY_USER: 'deploy', EXTRA_PACKAGES: 'less', SSH_COMMAND_TIMEOUT: '600' });
  bed.writeInventory(hosts, (h) => ({ vars: vars(h) }));
  const r = await bed.hoist(['run', FIXTURE, '--env-file', bed.envPath, '--inventory', bed.inventoryPath, '--json', '-']);
  let report: RunReport;
  try {
    report = JSON.parse(r.stdout) as RunReport;
  } catch {
    throw new Error(`no report (exit ${r.code}): ${r.stderr}`);
  }
  return { code: r.code, stderr: r.stderr, report };
}

const sighups = (h: TestHost) => Number(execFileSync('sh', ['-c', `docker logs ${h.container} 2>&1 | grep -c 'Received SIGHUP' || true`], { encoding: 'utf8' }).trim());

test('a fresh VPS is made ready, and a second run changes nothing and runs no apt', async () => {
  const host = tb.hosts[0]!;
  const rootBefore = await tryLogin({ port: host.port, user: 'root', privateKey: key });
  assert.ok(rootBefore.ok, `root logs in before: ${rootBefore.error}`);
  assert.ok((await tryLogin({ port: host.port, user: 'alice', password: 'correct-horse' })).ok, 'password login works before');

  const first = await bootstrap([host]);
  assert.is(first.code, 0, first.stderr);
  const task = first.report.hosts[0]!.tasks[0]!;
  assert.is(task.status, 'changed');
  assert.ok(task.steps.some((s) => s.startsWith('apt-get install')), task.steps.join('\n'));

  const root = await tryLogin({ port: host.port, user: 'root', privateKey: key });
  assert.not.ok(root.ok, 'root login is refused');
  assert.not.ok((await tryLogin({ port: host.port, user: 'alice', password: 'correct-horse' })).ok, 'password login is refused');
  const asDeploy = (command: string) => tryLogin({ port: host.port, user: 'deploy', privateKey: key, command });
  assert.ok((await asDeploy('sudo -n true')).ok, 'deploy has sudo');
  const docker = await asDeploy("docker info --format '{{.ServerVersion}}'");
  assert.ok(docker.ok, `docker works for deploy: ${docker.output}`);
  assert.ok((await asDeploy('docker-compose version || docker compose version')).ok, 'compose is there');
  assert.ok((await asDeploy('git --version && less --version')).ok, 'git and EXTRA_PACKAGES installed');
  const caddy = await asDeploy('pidof caddy && curl -fsS localhost:2019/config/');
  assert.ok(caddy.ok, `caddy runs and answers on its admin API: ${caddy.output}`);
  assert.ok((await asDeploy('pidof cron')).ok, 'cron runs');
  const effective = await host.sh('sshd -T | grep -Ei "^(passwordauthentication|permitrootlogin|kbdinteractiveauthentication) "');
  assert.match(effective.stdout, /passwordauthentication no/);
  assert.match(effective.stdout, /permitrootlogin no/);
  assert.match(effective.stdout, /kbdinteractiveauthentication no/);
  assert.is((await host.sh('stat -c "%a %U" /etc/sudoers.d/hoist-deploy /home/deploy/.ssh/authorized_keys')).stdout, '440 root\n600 deploy\n');

  await host.sh('touch /tmp/before-second-run');
  const aptHistory = (await host.sh('cat /var/log/apt/history.log')).stdout;
  const hups = sighups(host);
  const second = await bootstrap([host]);
  assert.is(second.code, 0, second.stderr);
  assert.is(second.report.hosts[0]!.tasks[0]!.status, 'unchanged', JSON.stringify(second.report.hosts[0]!.tasks[0]));
  assert.is((await host.sh('cat /var/log/apt/history.log')).stdout, aptHistory, 'no apt-get install ran');
  assert.is((await host.sh('find /var/lib/apt/lists -newer /tmp/before-second-run | wc -l')).stdout.trim(), '0', 'no apt-get update ran');
  assert.is(sighups(host), hups, 'sshd was not reloaded');
});

test('a bad sshd option is refused by sshd -t; a config that locks the deploy user out is reverted; both hosts stay reachable as before', async () => {
  const [bad, lockout] = tbReady.hosts as [TestHost, TestHost];
  const options: Record<string, string> = { [bad.name]: 'Bogus yes', [lockout.name]: 'AllowUsers nobody' };
  for (let run = 1; run <= 2; run++) {
    const hups = { bad: sighups(bad), lockout: sighups(lockout) };
    const { code, report } = await bootstrap([bad, lockout], (h) => ({ SSHD_OPTIONS: options[h.name]! }), tbReady);
    assert.is(code, 1);
    const [badHost, lockoutHost] = report.hosts;
    assert.match(badHost!.error ?? '', /sshd -t rejected/, JSON.stringify(report.hosts));
    assert.match(lockoutHost!.error ?? '', /new login as deploy failed/, JSON.stringify(report.hosts));
    assert.is(sighups(bad), hups.bad, 'nothing reloaded when sshd -t fails');
    assert.is(sighups(lockout), hups.lockout + 2, 'reloaded once to try, once to put back');
    for (const h of [bad, lockout]) {
      assert.ok((await tryLogin({ port: h.port, user: 'root', privateKey: readyKey, command: 'true' })).ok, `run ${run}: root still logs in on ${h.name}`);
      assert.is((await h.sh('test -e /etc/ssh/sshd_config.d/00-hoist.conf; echo $?')).stdout.trim(), '1', 'no hardening drop-in left');
      assert.is((await h.sh('test -e /etc/sudoers.d/hoist-deploy; echo $?')).stdout.trim(), '1', 'sudoers change rolled back');
    }
  }
});

test.run();
