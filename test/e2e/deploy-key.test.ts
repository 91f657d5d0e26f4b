// deploy-key for real: the CLI against a Debian VPS (with git), a git server reached over the
// docker bridge and the OpenAPI-checked fake GitHub. Registration through the API (changed, then
// unchanged with no second POST), the bounded wait without a token (timing out, or going on once
// the key is added by hand), a refused token, a host without git — and the GitHub token found in
// no output, report, file on the VPS or process command line there.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { dockerSh } from '../harness/docker.ts';
import { FakeGitHub } from '../harness/fake-github.ts';
import { gitImage, startGitServer, type GitServer } from '../harness/git-host.ts';
import { startSamplerLine } from '../harness/process-sampler.ts';
import { assertNothingChanged } from '../harness/run-twice.ts';
import { REPO_ROOT, Testbed, type CliResult, type TestHost } from '../harness/testbed.ts';

const test = suite('deploy-key, end to end');
const tb = new Testbed();
const FIXTURE = join(REPO_ROOT, 'test/fixtures/pipelines/deploy-key-only.ts');
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const WRONG_TOKEN = `ghp_CANARYWRONG${randomBytes(12).toString('hex')}`;
const SAMPLES = '/root/hoist-ps-samples.log';

let git: GitServer;
let vps: TestHost;
let fake: FakeGitHub;
let forgeKnownHosts = '';
/** Every stdout, stderr and JSON report of every run, for the secret checks at the end. */
const outputs: string[] = [];
const timings: string[] = [];

test.before(async () => {
  const image = await gitImage();
  [git] = await Promise.all([startGitServer(['app', 'manual', 'wrong']), tb.start({ count: 1, deployUser: true, image })]);
  vps = tb.hosts[0]!;
  fake = await new FakeGitHub({
    token: TOKEN,
    repos: ['acme/app', 'acme/manual', 'acme/wrong'],
    onGrant: (key) => git.grant(key.key),
    onRevoke: (key) => git.revoke(key.key),
  }).start();
  forgeKnownHosts = tb.file('forge_known_hosts', `${git.knownHostsLine}\n`);
  tb.writeInventory([vps]);
  // Samples every process command line on the VPS every 50 ms while the tests run (bounded: 15 minutes).
  await dockerSh(vps.container, startSamplerLine({ out: SAMPLES, stop: '/run/hoist-stop-sampler', tick: '/run/hoist-sampler.tick', pause: 0.05, samples: 20 * 60 * 15 }));
});

test.after(async () => {
  await fake?.stop();
  await git?.stop();
  await tb.stop();
});

function env(app: string, vars: Record<string, string> = {}): void {
  tb.writeEnv({ APP_NAME: app, APP_REPO: git.repoUrl(app), FORGE_KNOWN_HOSTS: forgeKnownHosts, GITHUB_API_URL: fake.url, ...vars });
}

async function hoist(label: string, extra: string[] = []): Promise<{ r: CliResult; report: RunReport }> {
  // GITHUB_TOKEN='' keeps a token in this process's environment from reaching the run.
  const { r, report, json } = await tb.hoistWithReport(['run', FIXTURE, '--env-file', tb.envPath, '--inventory', tb.inventoryPath, ...extra], { GITHUB_TOKEN: '' });
  outputs.push(r.stdout, r.stderr, json);
  timings.push(`${label} ${r.durationMs} ms`);
  return { r, report };
}

/**
 * SSH logins to the forge so far, from its sshd log (sshd -e logs to the container's stderr): one
 * "Accepted publickey" line per login that worked, one "… authenticating user git … [preauth]"
 * line per login refused (the key not, or not yet, added). Each is one `git ls-remote` of the VPS.
 */
async function forgeLogins(): Promise<{ accepted: number; refused: number }> {
  const { stdout, stderr } = await promisify(execFile)('docker', ['logs', git.container], { maxBuffer: 64 * 1024 * 1024 });
  const lines = (stdout + stderr).split(/\r?\n/);
  return {
    accepted: lines.filter((l) => l.includes('Accepted publickey for git ')).length,
    refused: lines.filter((l) => / authenticating user git .*\[preauth\]$/.test(l) && /^(Disconnected from|Connection closed by) /.test(l)).length,
  };
}

const task = (report: RunReport) => report.hosts[0]!.tasks[0]!;
const lsRemoteAsDeploy = (app: string) => vps.sh(`cd && timeout 30 git ls-remote ${git.repoUrl(app)}`, 'deploy');
const publicKeyOf = async (app: string) => (await vps.sh(`cat /home/deploy/.ssh/hoist_${app}_deploy.pub`)).stdout.trim().split(/\s+/).slice(0, 2).join(' ');

test('with a token: changed, git ls-remote works as deploy, key 600; second run unchanged, no second POST', async () => {
  env('app', { GITHUB_TOKEN: TOKEN });
  assert.is((await lsRemoteAsDeploy('app')).code === 0, false, 'no access before');

  const dry = await hoist('dry run (token)', ['--dry-run']);
  assert.is(dry.r.code, 0, dry.r.stdout + dry.r.stderr);
  assert.ok(dry.report.dryRun && task(dry.report).status === 'changed');
  assert.match(dry.r.stdout, /\+Host hoist-app-repo/, 'the dry run shows the ssh config it would write');
  assert.is((await vps.sh('ls -A /home/deploy/.ssh')).stdout.trim(), 'authorized_keys', 'the dry run changed nothing');
  assert.is(fake.requests.length, 0, 'the dry run asked GitHub nothing');

  const first = await hoist('first run (token)');
  assert.is(first.r.code, 0, first.r.stdout + first.r.stderr);
  assert.is(task(first.report).status, 'changed');

  const ls = await lsRemoteAsDeploy('app');
  assert.is(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /\trefs\/heads\/main\n/);
  assert.is((await vps.sh('stat -c "%a %U" /home/deploy/.ssh/hoist_app_deploy')).stdout.trim(), '600 deploy');
  const pub = (await vps.sh('cat /home/deploy/.ssh/hoist_app_deploy.pub')).stdout.trim();
  assert.match(pub, /^ssh-ed25519 \S+ hoist deploy key for app on web1$/);

  const config = (await vps.sh('cat /home/deploy/.ssh/config')).stdout;
  assert.match(config, /# BEGIN hoist:app[^\n]*\nHost hoist-app-repo\n {2}HostName [\d.]+\n[\s\S]*StrictHostKeyChecking yes\n[\s\S]*# END hoist:app\n/);
  assert.not.match(config, /StrictHostKeyChecking\s+(no|accept-new)/i);
  assert.ok((await vps.sh('cat /home/deploy/.ssh/known_hosts')).stdout.includes(git.knownHostsLine));

  // The private key stayed on the host: nothing of it in any output or report.
  const privateKey = (await vps.sh('cat /home/deploy/.ssh/hoist_app_deploy')).stdout;
  const body = privateKey.split('\n').filter((l) => l && !l.startsWith('-----'));
  assert.ok(body.length > 2);
  for (const out of outputs) {
    assert.not.ok(out.includes('PRIVATE KEY'));
    for (const line of body) assert.not.ok(out.includes(line), 'a line of the private key appeared in the output');
  }

  const posts = fake.calls('repos/create-deploy-key');
  assert.is(posts.length, 1);
  assert.equal(posts[0]!.body, { title: 'hoist web1', key: pub, read_only: true });
  assert.ok((await git.authorizedKeys()).includes(pub.split(' ')[1]!), 'the forge granted the registered key');

  const seen = fake.requests.length;
  const second = await hoist('second run (token)');
  assert.is(second.r.code, 0);
  assertNothingChanged(second.report, 'deploy-key with a token, run again');
  assert.is(task(second.report).reason, 'deploy key for acme/app in place and git ls-remote works');
  assert.ok(fake.requests.slice(seen).every((r) => r.method === 'GET'), 'the second run only reads, if it asks at all');
  assert.is(fake.calls('repos/create-deploy-key').length, 1, 'no second POST');
});

test('without a token: prints the key and the page, gives up after DEPLOY_KEY_WAIT with exit 1', async () => {
  env('manual', { DEPLOY_KEY_WAIT: '3' });
  const seen = fake.requests.length;
  const loginsBefore = await forgeLogins();
  // Run once: a run that fails by design (nobody adds the key); the next test runs the same app
  // again, the key added by hand, and that run converges and is then unchanged.
  const { r, report } = await hoist('no token, nobody adds the key (DEPLOY_KEY_WAIT=3)');
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.ok(r.durationMs >= 3000, `it waited out DEPLOY_KEY_WAIT: ${r.durationMs} ms`);
  // Bounded, counted on the forge, not timed: every look was refused, and there were at most the
  // probe's, the one before the wait and one a second for 3 s; waiting on would look on and on.
  const logins = await forgeLogins();
  const looks = logins.refused - loginsBefore.refused;
  assert.is(logins.accepted, loginsBefore.accepted, 'no login to the forge worked');
  console.log(`    forge logins while it waited 3 s for nobody: ${looks} refused`);
  assert.ok(looks >= 2 && looks <= 5, `git ls-remote tried ${looks} times`);
  const pub = await publicKeyOf('manual');
  const page = `${fake.url}/acme/manual/settings/keys/new`;
  const printed = r.stdout + r.stderr;
  assert.ok(printed.includes(pub), `the key is printed:\n${printed}`);
  assert.ok(printed.includes(page), `the page is printed:\n${printed}`);
  assert.is(task(report).status, 'failed');
  assert.match(task(report).error ?? '', /nobody added the deploy key to acme\/manual within 3s \(DEPLOY_KEY_WAIT\)/);
  assert.is(fake.requests.length, seen, 'no API call without a token');
  assert.is((await lsRemoteAsDeploy('manual')).code === 0, false);
});

test('without a token: the run goes on as soon as someone adds the key by hand', async () => {
  env('manual', { DEPLOY_KEY_WAIT: '120' });
  const pub = await publicKeyOf('manual');
  // Someone adds the key on the forge's settings page while hoist waits for it: once two of its
  // looks were refused (the probe's and the one before the wait; or that one and the wait's
  // first poll). Ordered by the forge's log, not by a clock: on a busy machine the probe alone
  // can take longer than a fixed delay, and the key would be there before hoist ever asked.
  const loginsBefore = await forgeLogins();
  let ended = false;
  const running = hoist('no token, key added by hand while it waits').finally(() => (ended = true));
  let refusedAtGrant = 0;
  for (let i = 0; i < 1200 && !ended; i++) {
    refusedAtGrant = (await forgeLogins()).refused - loginsBefore.refused;
    if (refusedAtGrant >= 2) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(refusedAtGrant >= 2, `hoist looked ${refusedAtGrant} times, then ended`);
  await git.grant(pub);
  const { r, report } = await running;
  const logins = await forgeLogins();
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(task(report).status, 'changed');
  assert.ok(r.stdout.includes(`add this public key as a deploy key of acme/manual at ${fake.url}/acme/manual/settings/keys/new`), r.stdout);
  assert.ok(r.stdout.includes('the deploy key works: git ls-remote succeeded'), r.stdout);
  // Went on at once, counted on the forge, not timed: after the key was added at most one more
  // look was refused (one already on its way), then 3 worked: the wait's look, the check of the
  // step after it (prove) and verify's probe. Waiting out the 120 s would have looked about 24
  // times; looking on after it worked, more than 3 would have worked.
  const refused = logins.refused - loginsBefore.refused;
  const accepted = logins.accepted - loginsBefore.accepted;
  console.log(`    forge logins: ${refusedAtGrant} refused when the key was added, ${refused} refused and ${accepted} accepted in all`);
  assert.ok(refused >= refusedAtGrant && refused <= refusedAtGrant + 1, `${refused} looks refused, ${refusedAtGrant} of them before the key was added`);
  assert.ok(accepted >= 1 && accepted <= 3, `${accepted} looks worked`);
  assert.is((await lsRemoteAsDeploy('manual')).code, 0);
  const again = await hoist('no token, second run');
  assertNothingChanged(again.report, 'deploy-key without a token, run again');
});

test('a wrong token: fails naming GITHUB_TOKEN, without showing it', async () => {
  env('wrong', { GITHUB_TOKEN: WRONG_TOKEN });
  // A run that fails by design, twice: refused the same way both times (nothing to converge to).
  for (const round of [1, 2]) {
    const { r, report } = await hoist(`wrong token (401), round ${round}`);
    assert.is(r.code, 1);
    const error = task(report).error ?? '';
    assert.match(error, /GitHub refused GITHUB_TOKEN while listing the deploy keys of acme\/wrong \(401 Bad credentials\)/);
    assert.match(r.stdout + r.stderr, /GITHUB_TOKEN/);
    assert.not.ok((r.stdout + r.stderr + JSON.stringify(report)).includes(WRONG_TOKEN));
    assert.is(fake.calls('repos/create-deploy-key').length, 1, 'still only the first run\'s POST');
  }
});

test('a host without git: fails clearly, pointing at bootstrap', async () => {
  env('app', { GITHUB_TOKEN: TOKEN });
  await vps.sh('mv /usr/bin/git /usr/bin/git.off');
  try {
    // A run that fails by design, twice: refused the same way both times.
    for (const round of [1, 2]) {
      const { r, report } = await hoist(`host without git, round ${round}`);
      assert.is(r.code, 1);
      assert.match(task(report).error ?? '', /git is not installed: run the bootstrap pipeline/);
    }
  } finally {
    await vps.sh('mv /usr/bin/git.off /usr/bin/git');
  }
});

test('the token never left hoist: not in outputs, reports, VPS files or command lines; requests valid', async () => {
  await dockerSh(vps.container, 'touch /run/hoist-stop-sampler; sleep 0.2');
  for (const out of outputs) {
    assert.not.ok(out.includes(TOKEN), 'the token appeared in an output or report');
    assert.not.ok(out.includes(WRONG_TOKEN), 'the wrong token appeared in an output or report');
  }
  // The patterns go on stdin: as arguments they would be on the VPS's command lines themselves.
  const grep = await dockerSh(vps.container, 'grep -rlF -f - /home/deploy /tmp /etc', 'root', `${TOKEN}\n${WRONG_TOKEN}\nghp_CANARY\n`);
  assert.is(grep.code, 1, `found in: ${grep.stdout} ${grep.stderr}`);

  const samples = (await dockerSh(vps.container, `cat ${SAMPLES}`)).stdout;
  const count = samples.split('--- sample').length - 1;
  assert.ok(count > 100, `sampled ${count} times`);
  assert.ok(/git ls-remote/.test(samples) && /sshd: deploy/.test(samples), 'the sampler saw hoist at work');
  assert.not.ok(samples.includes('ghp_CANARY'), 'a token was on a command line on the VPS');
  console.log(`    ps sampled ${count} times on the VPS; timings: ${timings.join('; ')}`);

  assert.equal(fake.violations, [], 'every request hoist made was valid per GitHub\'s OpenAPI description');
  assert.not.ok(JSON.stringify(fake.requests).includes('ghp_CANARY'));
});

test.run();
