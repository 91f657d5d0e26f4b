// Issue #6, the bootstrap's faults on real hosts (ready images: Docker, Caddy and git installed,
// no deploy user, sshd not hardened; apt pointed at a local repository whose one package takes
// a few seconds to configure, so no mirror is needed): the SSH connection cut in the middle of
// ssh-bootstrap's apt-get install (rolled back), dpkg's lock held by another process during the
// bootstrap (waited out), the DNS server going away while dns-verify waits, and deploy-key's
// SFTP upload and GitHub API call losing their connection (retried; a rollback still deletes a
// key whose POST answer was lost). Each fault is followed by a clean run that converges and a
// third run that changes nothing.
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DnsServer } from '../harness/dns-server.ts';
import { FakeGitHub } from '../harness/fake-github.ts';
import { holdDpkgLock, localAptRepo, watchFor, type ProcessMatch } from '../harness/faults.ts';
import { startGitServer, type GitServer } from '../harness/git-host.ts';
import { readyImage } from '../harness/images.ts';
import { assertNothingChanged } from '../harness/run-twice.ts';
import { REPO_ROOT, Testbed, type PipelineRun as Run, type TestHost } from '../harness/testbed.ts';

const test = suite('faults during a bootstrap');
const tb = new Testbed();
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'app.hoist.test';
const DEPLOY_KEY_THEN_FAIL = join(REPO_ROOT, 'test/fixtures/pipelines/deploy-key-then-fail.ts');
let git: GitServer;
let dns: DnsServer;
let fake: FakeGitHub;
let web1: TestHost;
let web2: TestHost;
const notes: string[] = [];

test.before(async () => {
  const image = await readyImage();
  [git] = await Promise.all([startGitServer(['app', 'other', 'third', 'fourth']), tb.start({ count: 2, dockerInside: true, image })]);
  [web1, web2] = tb.hosts as [TestHost, TestHost];
  await Promise.all(tb.hosts.map((h) => localAptRepo(h, 3)));
  dns = await DnsServer.start({ records: { [DOMAIN]: ['127.0.0.1'] } });
  fake = await new FakeGitHub({
    token: TOKEN,
    repos: ['acme/app', 'acme/other', 'acme/third', 'acme/fourth'],
    onGrant: (k) => git.grant(k.key),
    onRevoke: (k) => git.revoke(k.key),
  }).start();
  env();
});

test.after(async () => {
  if (notes.length) console.log(`\n    ${notes.join('\n    ')}`);
  await fake?.stop();
  await dns?.stop();
  await git?.stop();
  await tb.stop();
});

function env(vars: Record<string, string> = {}, app = 'app'): void {
  tb.writeEnv({
    SSH_USER: 'root',
    APP_NAME: app,
    APP_DOMAIN: DOMAIN,
    DNS_RESOLVERS: dns.address,
    DNS_WAIT: '5',
    APP_REPO: git.repoUrl(app),
    FORGE_KNOWN_HOSTS: tb.file('forge_known_hosts', `${git.knownHostsLine}\n`),
    GITHUB_API_URL: fake.url,
    EXTRA_PACKAGES: 'hoist-test-slow',
    SSH_COMMAND_TIMEOUT: '600',
    ...vars,
  });
}

async function run(host: TestHost, pipeline = 'bootstrap'): Promise<Run> {
  tb.writeInventory([host]);
  return tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN } });
}

const statuses = (r: Run) => r.report.hosts[0]!.tasks.map((t) => t.status);
const taskOf = (r: Run, name: string) => r.report.hosts[0]!.tasks.find((t) => t.task === name)!;

async function assertUnchanged(host: TestHost, label: string, pipeline = 'bootstrap'): Promise<void> {
  const again = await run(host, pipeline);
  assert.is(again.code, 0, again.out);
  assert.ok(statuses(again).every((s) => s === 'unchanged'), `${label}: ${JSON.stringify(statuses(again))}`);
  assertNothingChanged(again.report, label);
}

/** What ssh-bootstrap owns or changes on a host (packages aside: they stay, by design). */
async function bootstrapSnapshot(host: TestHost): Promise<string> {
  const r = await host.sh(`{
getent passwd deploy | sed 's/^/passwd /'; getent shadow deploy | cut -d: -f1 | sed 's/^/shadow /'
getent group deploy docker | sed 's/^/group /'; grep -h '^deploy:' /etc/subuid /etc/subgid | sed 's/^/subid /'
ls -1A /home | sed 's/^/home /'
for f in /etc/sudoers.d/* /etc/ssh/sshd_config.d/*; do [ -e "$f" ] && echo "file $f $(stat -c '%a %U' "$f") $(sha256sum <"$f" | cut -c1-16)"; done
/usr/sbin/sshd -T | grep -Ei '^(passwordauthentication|permitrootlogin|kbdinteractiveauthentication) ' | sed 's/^/sshd /'
for p in dockerd caddy; do pidof $p >/dev/null && echo "running $p" || echo "stopped $p"; done
ls -1A /tmp | sed 's/^/tmp /'
}`);
  assert.is(r.code, 0, r.stderr);
  return r.stdout;
}

test('ssh-bootstrap: cut during apt-get install, rolled back to exactly the host it was; the next run converges', async () => {
  env();
  const before = await bootstrapSnapshot(web1);
  const w = await watchFor(web1, { pattern: 'hoist-test-slow\\.postinst configure', timeoutMs: 180_000, pollMs: 50 });
  const r = await run(web1);
  await w.stop();
  const match = await w.fired;
  assert.ok(match, `the fault never fired (exit ${r.code})\n${r.out}`);
  assert.is(r.code, 1, r.out);
  assert.equal(statuses(r), ['failed', 'skipped', 'skipped'], JSON.stringify(statuses(r)));
  assert.is(taskOf(r, 'ssh-bootstrap').attempts, 1, 'not retrySafe: not retried');
  assert.match(r.report.hosts[0]!.error ?? '', /lost the connection/);
  assert.is(taskOf(r, 'ssh-bootstrap').rollbackError, undefined, 'the rollback went through');
  // The orphaned install may still be configuring: wait for it, then compare.
  const settled = await web1.sh('i=0; while pidof apt-get dpkg >/dev/null && [ $i -lt 100 ]; do i=$((i+1)); sleep 0.2; done; pidof apt-get dpkg >/dev/null && echo busy || echo idle');
  assert.is(settled.stdout.trim(), 'idle', 'apt and dpkg are done');
  assert.fixture(await bootstrapSnapshot(web1), before);
  const pkg = (await web1.sh("dpkg-query -W -f='${db:Status-Status}' hoist-test-slow 2>/dev/null || echo absent")).stdout;
  notes.push(`ssh-bootstrap cut in apt (${match!.args}): exit ${r.code}, ${JSON.stringify(statuses(r))}; the package was left ${pkg}`);

  const second = await run(web1);
  assert.is(second.code, 0, second.out);
  assert.equal(statuses(second), ['changed', 'unchanged', 'changed']);
  assert.is((await web1.sh("dpkg-query -W -f='${db:Status-Status}' hoist-test-slow")).stdout, 'installed');
  await assertUnchanged(web1, 'after the apt cut, third run');
});

test('dpkg lock held by another process during the bootstrap: apt waits it out, then succeeds', async () => {
  env();
  const lock = await holdDpkgLock(web2, 300);
  let released = 0;
  let r: Run;
  let apt: ProcessMatch | null;
  let waited = '';
  try {
    const seen = await watchFor(web2, { pattern: '^apt-get .* install ', timeoutMs: 180_000, cut: false, pollMs: 50 });
    const running = run(web2);
    apt = await seen.fired;
    assert.ok(apt, 'apt-get install ran');
    // 5 s on, apt-get is still there and the package not installed: it is waiting for the lock.
    await new Promise((res) => setTimeout(res, 5000));
    waited = (await web2.sh("pidof apt-get >/dev/null && echo apt-running; dpkg-query -W -f='${db:Status-Status}' hoist-test-slow 2>/dev/null || echo absent")).stdout.trim();
    released = await lock.release();
    r = await running;
  } finally {
    await lock.release();
  }
  assert.match(waited, /^apt-running\n(absent|not-installed)$/, 'apt-get waited for the lock');
  assert.is(r.code, 0, r.out);
  assert.equal(statuses(r), ['changed', 'unchanged', 'changed']);
  const installedAt = (await web2.sh("grep ' status installed hoist-test-slow' /var/log/dpkg.log | tail -1 | cut -d' ' -f1,2")).stdout.trim();
  assert.ok(Date.parse(`${installedAt.replace(' ', 'T')}Z`) >= Math.floor(released / 1000) * 1000 - 1000, `installed (${installedAt}) after the lock was released (${new Date(released).toISOString()})`);
  notes.push(`dpkg lock held until apt-get install had waited 5 s: exit ${r.code}, ${JSON.stringify(statuses(r))}; installed ${installedAt} (lock released ${new Date(released).toISOString()})`);
  const second = await run(web2);
  assert.is(second.code, 0, second.out);
  assert.equal(statuses(second), ['unchanged', 'unchanged', 'unchanged']);
  await assertUnchanged(web2, 'after the dpkg lock, third run');
});

test('dns-verify: the DNS server stops answering while dns-verify waits, then answers right: the wait goes on and succeeds', async () => {
  env({ DNS_WAIT: '40' });
  await dns.setRecords({ [DOMAIN]: ['192.0.2.10'] });
  const asked = dns.queriesFor(DOMAIN);
  const running = run(web2);
  // The probe asks A and AAAA once; two more questions mean the apply's wait is polling.
  await dns.waitForQueries(DOMAIN, asked + 4, 60_000);
  dns.pause();
  await new Promise((r) => setTimeout(r, 6000));
  dns.resume();
  await dns.setRecords({ [DOMAIN]: ['127.0.0.1'] });
  const r = await running;
  assert.is(r.code, 0, r.out);
  assert.equal(statuses(r), ['unchanged', 'changed', 'unchanged']);
  assert.ok(taskOf(r, 'dns-verify').durationMs > 6000, `dns-verify waited through the outage: ${taskOf(r, 'dns-verify').durationMs} ms`);
  notes.push(`dns-verify, DNS server silent for 6 s mid-wait: exit ${r.code}, dns-verify changed after ${taskOf(r, 'dns-verify').durationMs} ms`);
  const second = await run(web2);
  assert.is(second.code, 0, second.out);
  assert.equal(statuses(second), ['unchanged', 'unchanged', 'unchanged']);
  await assertUnchanged(web2, 'after the DNS outage, third run');
});

test('dns-verify: the DNS server stays away for all of DNS_WAIT: the run fails naming the records; back, it passes', async () => {
  env({ DNS_WAIT: '6' });
  await dns.setRecords({ [DOMAIN]: ['192.0.2.10'] });
  const asked = dns.queriesFor(DOMAIN);
  const running = run(web2);
  await dns.waitForQueries(DOMAIN, asked + 2, 60_000);
  dns.pause();
  let r: Run;
  try {
    r = await running;
  } finally {
    dns.resume();
  }
  assert.is(r.code, 1, r.out);
  assert.equal(statuses(r), ['unchanged', 'failed', 'skipped']);
  assert.match(taskOf(r, 'dns-verify').error ?? '', /is not right after 6s/);
  notes.push(`dns-verify, DNS server gone for all of DNS_WAIT: exit ${r.code}: ${(taskOf(r, 'dns-verify').error ?? '').split('\n')[0]}`);
  await dns.setRecords({ [DOMAIN]: ['127.0.0.1'] });
  env();
  const second = await run(web2);
  assert.is(second.code, 0, second.out);
  assert.equal(statuses(second), ['unchanged', 'unchanged', 'unchanged']);
  await assertUnchanged(web2, 'after the long DNS outage, third run');
});

test('deploy-key: cut during the SFTP upload of ~/.ssh/config, retried; no temporary file left', async () => {
  env({}, 'other');
  // The run's first upload on the deploy connection is deploy-key's ~/.ssh/config: sftp-server
  // starts for it. The upload of a small file takes a few ms, less than the watcher's poll, so
  // a slow host (1 s before the real sftp-server answers) gives it a window: the cut lands while
  // the upload waits for its SFTP session. Only the test host is changed, and put back after.
  const SFTP = '/usr/lib/openssh/sftp-server';
  const shim = await web2.sh(`mv ${SFTP} ${SFTP}.real && printf '#!/bin/sh\\nsleep 1\\nexec ${SFTP}.real "$@"\\n' >${SFTP} && chmod 755 ${SFTP}`);
  assert.is(shim.code, 0, shim.stderr);
  let r: Run;
  try {
    const w = await watchFor(web2, { pattern: `^/bin/sh ${SFTP}$`, timeoutMs: 120_000, pollMs: 50 });
    r = await run(web2);
    await w.stop();
    assert.ok(await w.fired, `the fault never fired (exit ${r.code})\n${r.out}`);
  } finally {
    await web2.sh(`mv -f ${SFTP}.real ${SFTP}`);
  }
  assert.is(r.code, 0, r.out);
  const key = taskOf(r, 'deploy-key');
  assert.is(key.status, 'changed');
  assert.ok(key.attempts > 1, `retried: ${JSON.stringify(key)}`);
  const left = (await web2.sh('ls -1A /home/deploy/.ssh /tmp | grep hoist- || true')).stdout.trim();
  assert.is(left, '', 'no temporary upload file left behind');
  assert.is(fake.keys.get('acme/other')!.length, 1, 'one deploy key registered');
  notes.push(`deploy-key cut during the SFTP upload: exit ${r.code}, attempts ${key.attempts}`);
  const second = await run(web2);
  assert.is(second.code, 0, second.out);
  assert.equal(statuses(second), ['unchanged', 'unchanged', 'unchanged']);
  await assertUnchanged(web2, 'after the SFTP cut, third run');
});

test('deploy-key: the answer to the GitHub POST is lost, retried; the key is registered once', async () => {
  env({}, 'third');
  fake.dropNext.push({ operationId: 'repos/create-deploy-key', when: 'after' });
  const posts = fake.calls('repos/create-deploy-key').length;
  const r = await run(web2);
  assert.is(r.code, 0, r.out);
  const key = taskOf(r, 'deploy-key');
  assert.is(key.status, 'changed');
  assert.ok(key.attempts > 1, `retried: ${JSON.stringify(key)}`);
  assert.equal(fake.calls('repos/create-deploy-key').slice(posts).map((c) => c.status), [0], 'one POST, its answer lost');
  assert.is(fake.keys.get('acme/third')!.length, 1, 'registered once');
  notes.push(`deploy-key, POST answer lost: exit ${r.code}, attempts ${key.attempts}, keys at the fake: ${fake.keys.get('acme/third')!.length}`);
  const second = await run(web2);
  assert.is(second.code, 0, second.out);
  assert.equal(statuses(second), ['unchanged', 'unchanged', 'unchanged']);
  await assertUnchanged(web2, 'after the lost POST answer, third run');
});

test('deploy-key: the POST answer is lost and a later task fails: the rollback deletes the key this run added', async () => {
  env({}, 'fourth');
  fake.dropNext.push({ operationId: 'repos/create-deploy-key', when: 'after' });
  const r = await run(web2, DEPLOY_KEY_THEN_FAIL);
  assert.is(r.code, 1, r.out);
  assert.equal(statuses(r), ['rolled-back', 'failed']);
  assert.ok(taskOf(r, 'deploy-key').attempts > 1);
  assert.equal(fake.keys.get('acme/fourth'), [], 'the key registered by the lost POST was deleted again');
  const ls = await web2.sh(`git ls-remote ${git.repoUrl('fourth')}`, 'deploy');
  assert.is.not(ls.code, 0, 'the forge no longer accepts the key');
  notes.push(`deploy-key, POST answer lost then a later failure: exit ${r.code}, keys left at the fake: ${fake.keys.get('acme/fourth')!.length}`);
  const second = await run(web2);
  assert.is(second.code, 0, second.out);
  assert.equal(statuses(second), ['unchanged', 'unchanged', 'changed']);
  await assertUnchanged(web2, 'after the rolled-back registration, third run');
  assert.equal(fake.violations, [], 'every API request matched GitHub\'s OpenAPI description');
});

test.run();
