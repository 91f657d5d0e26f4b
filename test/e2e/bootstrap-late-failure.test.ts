// Issue #14.2: which failures undo what in a bootstrap. A machine setup that completed and was
// verified (a new deploy login proven) stands when a later task fails for its own reasons: the
// deploy key not added before DEPLOY_KEY_WAIT ran out, a DNS record not there before DNS_WAIT.
// Root and password logins stay closed, the rerun changes nothing on the machine, and once the
// key or the record is there only deploy-key has anything left to do. When ssh-bootstrap itself fails, its
// rollback goes through even with a process running as the user it created.
// Real hosts: ready images (Docker, Caddy, git; no deploy user, sshd not hardened), apt pointed
// at a local repository, the bed's DNS server, a git server over SSH and the fake GitHub.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DnsServer } from '../harness/dns-server.ts';
import { FakeGitHub } from '../harness/fake-github.ts';
import { localAptRepo } from '../harness/faults.ts';
import { startGitServer, type GitServer } from '../harness/git-host.ts';
import { readyImage } from '../harness/images.ts';
import { tryLogin } from '../harness/ssh-login.ts';
import { Testbed, type PipelineRun, type TestHost } from '../harness/testbed.ts';
import { loginAccess } from '../harness/host-access.ts';

const test = suite('a bootstrap that fails late keeps the verified machine setup');
const tb = new Testbed();
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'app.hoist.test';
let git: GitServer;
let dns: DnsServer;
let fake: FakeGitHub;
let web1: TestHost;
let web2: TestHost;

test.before(async () => {
  const image = await readyImage();
  [git] = await Promise.all([startGitServer(['app', 'other']), tb.start({ count: 2, dockerInside: true, image })]);
  [web1, web2] = tb.hosts as [TestHost, TestHost];
  await Promise.all(tb.hosts.map((h) => localAptRepo(h, 1)));
  dns = await DnsServer.start({ records: { [DOMAIN]: ['127.0.0.1'] } });
  fake = await new FakeGitHub({ token: TOKEN, repos: ['acme/app', 'acme/other'], onGrant: (k) => git.grant(k.key), onRevoke: (k) => git.revoke(k.key) }).start();
});

test.after(async () => {
  await fake?.stop();
  await dns?.stop();
  await git?.stop();
  await tb.stop();
});

function env(app: string, vars: Record<string, string> = {}): void {
  tb.writeEnv({
    SSH_USER: 'root',
    APP_NAME: app,
    APP_DOMAIN: DOMAIN,
    DNS_RESOLVERS: dns.address,
    DNS_WAIT: '3',
    APP_REPO: git.repoUrl(app),
    FORGE_KNOWN_HOSTS: tb.file('forge_known_hosts', `${git.knownHostsLine}\n`),
    GITHUB_API_URL: fake.url,
    SSH_COMMAND_TIMEOUT: '600',
    ...vars,
  });
}

/** Bootstrap on one host; a token only when given (GITHUB_TOKEN='' keeps this process's out). */
async function bootstrap(host: TestHost, token = ''): Promise<PipelineRun> {
  tb.writeInventory([host]);
  return tb.runPipeline('bootstrap', { env: { GITHUB_TOKEN: token } });
}

const statuses = (r: PipelineRun) => r.report.hosts[0]!.tasks.map((t) => t.status);
const taskOf = (r: PipelineRun, name: string) => r.report.hosts[0]!.tasks.find((t) => t.task === name)!;


/** Real logins from outside: root refused, deploy in with its key and passwordless sudo. */
async function assertHardenedAndReachable(host: TestHost, label: string): Promise<void> {
  const key = readFileSync(tb.keyPath);
  const root = await tryLogin({ port: host.port, user: 'root', privateKey: key, command: 'true' });
  assert.not.ok(root.ok, `${label}: root login is refused`);
  const deploy = await tryLogin({ port: host.port, user: 'deploy', privateKey: key, command: 'sudo -n true && id -un' });
  assert.ok(deploy.ok, `${label}: deploy logs in and sudo works: ${deploy.error ?? deploy.output}`);
  const sshd = (await host.sh("/usr/sbin/sshd -T | grep -Ei '^(passwordauthentication|permitrootlogin) '")).stdout;
  assert.match(sshd, /^passwordauthentication no$/m, label);
  assert.match(sshd, /^permitrootlogin no$/m, label);
}

function assertKept(r: PipelineRun, label: string): void {
  for (const t of r.report.hosts[0]!.tasks) assert.is(t.rollbackError, undefined, `${label}: no rollback failed (${t.task})`);
  assert.not.match(r.out, /ROLLBACK FAILED/, label);
}

test('ssh-bootstrap itself fails after creating the user, with a process running as that user: rolled back in full; twice', async () => {
  env('app', { EXTRA_PACKAGES: 'hoist-no-such-package' });
  // A process with the uid useradd will give the deploy user (the first free one from 1000): the
  // user this run creates is "currently used by process N" when its rollback removes it.
  const uid = (await web1.sh("awk -F: 'BEGIN{u=1000} $3==u{u++} END{print u}' /etc/passwd")).stdout.trim();
  const sleeper = await web1.sh(`setpriv --reuid=${uid} --regid=${uid} --clear-groups sleep 600 >/dev/null 2>&1 & echo $!`);
  assert.is(sleeper.code, 0, sleeper.stderr);
  const before = await loginAccess(web1);
  for (const run of [1, 2]) {
    const r = await bootstrap(web1);
    assert.is(r.code, 1, r.out);
    assert.equal(statuses(r), ['failed', 'skipped', 'skipped'], `run ${run}`);
    assert.match(taskOf(r, 'ssh-bootstrap').error ?? '', /hoist-no-such-package/, `run ${run}`);
    assert.is(taskOf(r, 'ssh-bootstrap').rollbackError, undefined, `run ${run}: the rollback finished: ${taskOf(r, 'ssh-bootstrap').rollbackError}`);
    assert.is(await loginAccess(web1), before, `run ${run}: users, sudoers and sshd exactly as before`);
    const root = await tryLogin({ port: web1.port, user: 'root', privateKey: readFileSync(tb.keyPath), command: 'true' });
    assert.ok(root.ok, `run ${run}: root still logs in as before: ${root.error}`);
  }
});

test('deploy-key times out (nobody added the key): the hardening stays, the rerun changes nothing on the machine; once added, deploy-key passes and nothing else is redone', async () => {
  env('app', { DEPLOY_KEY_WAIT: '3', EXTRA_PACKAGES: 'hoist-test-slow' });
  const first = await bootstrap(web1);
  assert.is(first.code, 1, first.out);
  assert.equal(statuses(first), ['changed', 'unchanged', 'failed']);
  assert.match(taskOf(first, 'deploy-key').error ?? '', /nobody added the deploy key .* \(DEPLOY_KEY_WAIT\)/);
  assertKept(first, 'first run');
  assert.ok(taskOf(first, 'ssh-bootstrap').kept, 'the report says ssh-bootstrap is kept');
  await assertHardenedAndReachable(web1, 'after the first run');
  const machine = await loginAccess(web1);

  const second = await bootstrap(web1);
  assert.is(second.code, 1, second.out);
  assert.equal(statuses(second), ['unchanged', 'unchanged', 'failed'], 'the rerun does not redo the machine');
  assertKept(second, 'second run');
  assert.is(await loginAccess(web1), machine, 'the second run left the machine as the first did');
  await assertHardenedAndReachable(web1, 'after the second run');

  // The person adds the key on the forge's page at last.
  const pub = (await web1.sh('cat /home/deploy/.ssh/hoist_app_deploy.pub')).stdout.trim().split(/\s+/).slice(0, 2).join(' ');
  await git.grant(pub);
  const third = await bootstrap(web1);
  assert.is(third.code, 0, third.out);
  // The key files were written by the first run (a failed deploy-key keeps them: they grant
  // nothing alone); what changed is on the forge, so deploy-key now passes with nothing to write.
  assert.equal(statuses(third), ['unchanged', 'unchanged', 'unchanged'], 'the machine is not touched again');
  assert.match(taskOf(third, 'deploy-key').reason ?? '', /deploy key for .* in place and git ls-remote works/);
  assert.is(await loginAccess(web1), machine);
  const fourth = await bootstrap(web1);
  assert.is(fourth.code, 0, fourth.out);
  assert.equal(statuses(fourth), ['unchanged', 'unchanged', 'unchanged']);
  const lsRemote = await web1.sh(`cd && timeout 30 git ls-remote ${git.repoUrl('app')}`, 'deploy');
  assert.is(lsRemote.code, 0, lsRemote.stderr);
});

test('dns-verify times out (the record points elsewhere): the hardening stays, the rerun changes nothing on the machine; once set, only deploy-key changes', async () => {
  env('other', { EXTRA_PACKAGES: 'hoist-test-slow' });
  await dns.setRecords({ [DOMAIN]: ['192.0.2.10'] });
  try {
    const first = await bootstrap(web2, TOKEN);
    assert.is(first.code, 1, first.out);
    assert.equal(statuses(first), ['changed', 'failed', 'skipped']);
    assertKept(first, 'first run');
    assert.ok(taskOf(first, 'ssh-bootstrap').kept, 'the report says ssh-bootstrap is kept');
    assert.match(first.out, /ssh-bootstrap is done and kept/, 'the summary says so');
    await assertHardenedAndReachable(web2, 'after the first run');
    const machine = await loginAccess(web2);

    const second = await bootstrap(web2, TOKEN);
    assert.is(second.code, 1, second.out);
    assert.equal(statuses(second), ['unchanged', 'failed', 'skipped']);
    assertKept(second, 'second run');
    assert.is(await loginAccess(web2), machine);
    assert.is(fake.calls('repos/create-deploy-key').length, 0, 'nothing was asked of GitHub while DNS was wrong');
  } finally {
    await dns.setRecords({ [DOMAIN]: ['127.0.0.1'] });
  }
  const third = await bootstrap(web2, TOKEN);
  assert.is(third.code, 0, third.out);
  assert.equal(statuses(third), ['unchanged', 'unchanged', 'changed'], 'only deploy-key changes');
  const fourth = await bootstrap(web2, TOKEN);
  assert.is(fourth.code, 0, fourth.out);
  assert.equal(statuses(fourth), ['unchanged', 'unchanged', 'unchanged']);
  await assertHardenedAndReachable(web2, 'at the end');
});

test.run();
