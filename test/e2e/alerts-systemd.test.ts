// The watchdog on a VPS with systemd (issue #21): bootstrap installs it as a systemd timer (not a
// cron file), the timer fires it by itself, as the deploy user, and it posts by itself: with
// ALERT_DISK_FREE above the free space (rather than filling a disk), exactly one "disk low"
// message reaches the webhook receiver in this process, and none more while the state holds
// (over three minutes of the timer's own runs). The cron path and the rest are alerts.test.ts's.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { FakeGitHub } from '../harness/fake-github.ts';
import { startGitServer, type GitServer } from '../harness/git-host.ts';
import { Testbed, type TestHost } from '../harness/testbed.ts';
import { WebhookReceiver } from '../harness/webhook-receiver.ts';

const test = suite('alerts: the watchdog as a systemd timer');
const tb = new Testbed();
const hook = new WebhookReceiver();
const W = '/home/deploy/.hoist/watchdog';
let host: TestHost;
let git: GitServer;
let fake: FakeGitHub;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A bare host's bootstrap runs apt for Docker, compose, Caddy and git (minutes on a busy machine).
tb.hoistTimeoutMs = 15 * 60_000;

test.before(async () => {
  // bootstrap's deploy-key needs a repository and a forge: the release tests' git server and fake GitHub.
  [git] = await Promise.all([startGitServer(['app']), tb.start({ count: 1, init: 'systemd', os: 'debian12' }), hook.start()]);
  host = tb.hosts[0]!;
  fake = await new FakeGitHub({ token: TOKEN, repos: ['acme/app'], onGrant: (k) => git.grant(k.key), onRevoke: (k) => git.revoke(k.key) }).start();
  tb.writeEnv({ SSH_USER: 'root', APP_NAME: 'app', CADDY_TLS: 'off', APP_REPO: git.repoUrl('app'), FORGE_KNOWN_HOSTS: tb.file('forge_known_hosts', `${git.knownHostsLine}\n`), GITHUB_API_URL: fake.url, SSH_COMMAND_TIMEOUT: '600', NOTIFY_URL: hook.url, NOTIFY_FORMAT: 'slack', ALERT_DISK_FREE: '100T' });
  tb.writeInventory();
});
test.after(async () => {
  await fake?.stop();
  await git?.stop();
  await hook.stop();
  await tb.stop();
});

test('bootstrap installs and starts the timer, no cron file; again: unchanged', async () => {
  const first = await tb.runPipelineTwice('bootstrap', { env: { GITHUB_TOKEN: TOKEN } });
  assert.is(first.code, 0, first.out);
  const units = await host.sh('systemctl is-enabled hoist-watchdog-deploy.timer; systemctl is-active hoist-watchdog-deploy.timer; systemctl show -p User --value hoist-watchdog-deploy.service; test -e /etc/cron.d/hoist-watchdog-deploy && echo cron-file || echo no-cron-file');
  assert.is(units.stdout, 'enabled\nactive\ndeploy\nno-cron-file\n', units.stderr);
  // Slack's shape: one text field. Two runs, two messages.
  const runs = hook.received.filter((m) => typeof m.json?.text === 'string' && String(m.json.text).startsWith('hoist bootstrap ok'));
  assert.is(runs.length, 2, JSON.stringify(hook.received.map((m) => m.json)));
  assert.equal(Object.keys(runs[0]!.json!), ['text']);
  for (const r of [first.out]) assert.not.ok(r.includes(hook.token));
});

test('the timer fires the watchdog by itself, as deploy, and it posts "disk low" once (bounded: 180 s); nothing more over three minutes of its runs', async () => {
  const disk = () => hook.received.filter((m) => / free disk is LOW since /.test(String(m.json?.text ?? '')));
  for (let i = 0; i < 90 && disk().length === 0; i++) await sleep(2000);
  assert.is(disk().length, 1, JSON.stringify(hook.received.map((m) => m.json)));
  assert.match(String(disk()[0]!.json!.text), /^web1: free disk is LOW since \S+: [\d.]+ (GiB|MiB) free, below ALERT_DISK_FREE \(102400\.0 GiB\)\nlook: hoist status --hosts web1$/);
  // Started by the timer (the test has not started it yet), as deploy.
  const ran = await host.sh(`stat -c %U ${W}/state; systemctl show -p ExecMainStartTimestampMonotonic --value hoist-watchdog-deploy.service`);
  assert.match(ran.stdout, /^deploy\n[1-9]\d*\n$/, `${ran.stdout}${ran.stderr}`);
  // Three minutes of the timer's own runs (each seen by its last-run stamp; bounded: 240 s), then
  // a few started through systemd as the timer does: no repeat while the disk stays low.
  const lastRun = async () => (await host.sh(`cat ${W}/last-run`)).stdout.trim();
  const seen = new Set([await lastRun()]);
  const watchFrom = Date.now();
  while ((seen.size < 4 || Date.now() - watchFrom < 180_000) && Date.now() - watchFrom < 240_000) {
    await sleep(5000);
    seen.add(await lastRun());
  }
  assert.ok(seen.size >= 4, `the timer ran the watchdog ${seen.size - 1} time(s) in ${Math.round((Date.now() - watchFrom) / 1000)} s`);
  for (let i = 0; i < 2; i++) {
    const r = await host.sh('systemctl start hoist-watchdog-deploy.service');
    assert.is(r.code, 0, r.stderr);
  }
  assert.is(disk().length, 1, 'no repeat while the disk stays low');
  assert.is(hook.received.length, 3, `over ${Math.round((Date.now() - watchFrom) / 1000)} s nothing else came: ${JSON.stringify(hook.received.map((m) => m.json))}`);
  assert.is((await host.sh(`cat ${W}/log 2>/dev/null`)).stdout.replace(/^.*docker did not answer.*\n/gm, ''), '', 'nothing else went wrong');
});

test.run();
