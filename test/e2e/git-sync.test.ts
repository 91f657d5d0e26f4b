// git-sync for real: the CLI runs [deploy-key, git-sync] against a Debian VPS, a git server and
// the fake GitHub: a release per commit (changed, then unchanged), the .env byte for byte (600)
// and nowhere else, KEEP_RELEASES, an annotated tag, a full sha and an unknown GIT_REF.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { dockerSh } from '../harness/docker.ts';
import { FakeGitHub } from '../harness/fake-github.ts';
import { gitImage, startGitServer, type GitServer } from '../harness/git-host.ts';
import { startSamplerLine } from '../harness/process-sampler.ts';
import { assertNothingChanged } from '../harness/run-twice.ts';
import { REPO_ROOT, Testbed, type CliResult, type TestHost } from '../harness/testbed.ts';

const test = suite('git-sync, end to end');
const tb = new Testbed();
const FIXTURE = join(REPO_ROOT, 'test/fixtures/pipelines/git-sync-only.ts');
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const CANARY = `CANARYenv${randomBytes(6).toString('hex')}`;
// Quotes, #, $, unicode and a newline inside quotes; every value carries the canary.
const APP_ENV = [
  '# app settings',
  `DATABASE_URL="postgres://app:${CANARY}p'w@db:5432/app?sslmode=require#frag"`,
  `SINGLE='${CANARY} $HOME \`id\` $(whoami)'`,
  `HASHED=${CANARY}#not-a-comment`,
  `UNICODE=héllo ✓ 漢字 ${CANARY}`,
  `MULTI="first line ${CANARY}`,
  'second line with \\"escaped\\" quotes"',
  '',
].join('\n');
const SAMPLES = '/root/hoist-ps-samples.log';
const APP = '/home/deploy/apps/app';

let git: GitServer;
let vps: TestHost;
let fake: FakeGitHub;
let forgeKnownHosts = '';
let envFile = '';
const outputs: string[] = [];
const timings: string[] = [];
/** Commit shas pushed to the server, in order. */
const commits: string[] = [];

test.before(async () => {
  const image = await gitImage();
  [git] = await Promise.all([startGitServer(['app']), tb.start({ count: 1, deployUser: true, image })]);
  vps = tb.hosts[0]!;
  fake = await new FakeGitHub({ token: TOKEN, repos: ['acme/app'], onGrant: (key) => git.grant(key.key), onRevoke: (key) => git.revoke(key.key) }).start();
  forgeKnownHosts = tb.file('forge_known_hosts', `${git.knownHostsLine}\n`);
  envFile = tb.file('app.env', APP_ENV);
  tb.writeInventory([vps]);
  commits.push((await onServer('git --git-dir=/home/git/acme/app.git rev-parse main')).trim());
  await dockerSh(vps.container, startSamplerLine({ out: SAMPLES, stop: '/run/hoist-stop-sampler', tick: '/run/hoist-sampler.tick', pause: 0.05, samples: 20 * 60 * 15 }));
});

test.after(async () => {
  await fake?.stop();
  await git?.stop();
  await tb.stop();
});

async function onServer(script: string): Promise<string> {
  const r = await dockerSh(git.container, script, 'git');
  if (r.code !== 0) throw new Error(`on the git server: ${r.stderr}`);
  return r.stdout;
}

/** Pushes a commit that writes VERSION to main on the git server; returns its sha. */
async function pushCommit(version: string): Promise<string> {
  const sha = (
    await onServer(`set -e; set -- ${version}; w=$(mktemp -d); git clone -q /home/git/acme/app.git "$w/c"; cd "$w/c"
echo "$1" >VERSION; git add VERSION; git -c user.name=test -c user.email=test@example.invalid commit -q -m "version $1"
git push -q origin main; git rev-parse HEAD; rm -rf "$w"`)
  ).trim();
  commits.push(sha);
  return sha;
}

function env(vars: Record<string, string> = {}): void {
  tb.writeEnv({ APP_NAME: 'app', APP_REPO: git.repoUrl('app'), FORGE_KNOWN_HOSTS: forgeKnownHosts, GITHUB_API_URL: fake.url, GITHUB_TOKEN: TOKEN, APP_ENV_FILE: envFile, ...vars });
}

async function hoist(label: string): Promise<{ r: CliResult; report: RunReport }> {
  const { r, report, json } = await tb.hoistWithReport(['run', FIXTURE, '--env-file', tb.envPath, '--inventory', tb.inventoryPath], { GITHUB_TOKEN: '' });
  outputs.push(r.stdout, r.stderr, json);
  timings.push(`${label} ${r.durationMs} ms`);
  return { r, report };
}

const sync = (report: RunReport) => report.hosts[0]!.tasks.find((t) => t.task === 'git-sync')!;
const onVps = async (script: string) => (await vps.sh(script)).stdout;
const releases = async () => (await onVps(`ls ${APP}/releases`)).split('\n').filter(Boolean);
const releaseOf = async (sha: string) => (await releases()).find((n) => n.endsWith(`-${sha.slice(0, 12)}`));

async function expectRelease(sha: string, version: string | null): Promise<string> {
  const name = await releaseOf(sha);
  assert.ok(name, `a release for ${sha} among ${await releases()}`);
  assert.match(name!, /^\d{14}-[0-9a-f]{12}$/);
  const dir = `${APP}/releases/${name}`;
  assert.is(await onVps(`cat ${dir}/REVISION`), `${sha}\n`);
  assert.is(await onVps(`cat ${dir}/README`), 'hello from the test forge\n');
  assert.is(await onVps(`cat ${dir}/VERSION 2>/dev/null || echo none`), `${version ?? 'none'}\n`);
  assert.is(await onVps(`readlink ${dir}/.env`), '../../shared/.env\n');
  assert.is(await onVps(`test -e ${dir}/.git && echo git || echo no-git`), 'no-git\n');
  assert.is(await onVps(`stat -c %U ${dir}`), 'deploy\n');
  return name!;
}

async function runTwice(label: string, expectSteps?: RegExp): Promise<RunReport> {
  const first = await hoist(label);
  assert.is(first.r.code, 0, first.r.stdout + first.r.stderr);
  assert.is(sync(first.report).status, 'changed', JSON.stringify(sync(first.report)));
  if (expectSteps) assert.match(sync(first.report).steps.join('\n'), expectSteps);
  const second = await hoist(`${label}, again`);
  assert.is(second.r.code, 0, second.r.stdout + second.r.stderr);
  assert.equal(second.report.hosts[0]!.tasks.map((t) => t.status), ['unchanged', 'unchanged'], JSON.stringify(second.report.hosts[0]!.tasks));
  assertNothingChanged(second.report, `${label}, again`);
  return first.report;
}

test('first run: the commit as a release, .env 600 byte for byte, pending set; second run unchanged', async () => {
  env();
  const report = await runTwice('first release (main)', /clone .* into ~\/apps\/app\/repo\.git/);
  assert.is(report.hosts[0]!.tasks[0]!.status, 'changed', 'deploy-key ran first');
  const name = await expectRelease(commits[0]!, null);
  assert.is(await onVps(`cat ${APP}/pending-release`), `${name}\n`);
  assert.is(await onVps(`stat -c '%a %U' ${APP}/shared/.env ${APP}/shared`), '600 deploy\n700 deploy\n');
  assert.is(Buffer.from(await onVps(`base64 -w0 ${APP}/shared/.env`), 'base64').toString('utf8'), APP_ENV, 'exactly the local bytes');
  assert.is(await onVps(`cat ${APP}/releases/${name}/.env | sha256sum`), await onVps(`sha256sum <${APP}/shared/.env`));
  assert.is(await onVps(`git --git-dir=${APP}/repo.git rev-parse --is-bare-repository`), 'true\n');
  assert.is(await onVps(`test -e ${APP}/current && echo yes || echo no`), 'no\n', 'current is docker-up\'s to switch');
  const files = sync(report).files ?? [];
  assert.equal(files, [{ path: '~/apps/app/shared/.env', secret: true, diff: null }]);
});

test('a new commit: a second release dir, fetched incrementally; then unchanged', async () => {
  env();
  const sha = await pushCommit('v2');
  await runTwice('new commit', /fetch .* into ~\/apps\/app\/repo\.git/);
  const name = await expectRelease(sha, 'v2');
  assert.is((await releases()).length, 2);
  assert.is(await onVps(`cat ${APP}/pending-release`), `${name}\n`);
});

test('a changed .env: the dry run says so without showing it; the run writes only the .env', async () => {
  const before = APP_ENV;
  envFile = tb.file('app.env', `${APP_ENV}ADDED="${CANARY} new"\n`);
  env();
  const dry = await tb.hoist(['run', FIXTURE, '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--dry-run'], { GITHUB_TOKEN: '' });
  outputs.push(dry.stdout, dry.stderr);
  assert.is(dry.code, 0, dry.stdout + dry.stderr);
  assert.match(dry.stdout, /write ~\/apps\/app\/shared\/\.env from APP_ENV_FILE \(content differs; mode 600\)/);
  assert.match(dry.stdout, /~\/apps\/app\/shared\/\.env: contents change \(secret, not shown\)/);
  assert.is(Buffer.from(await onVps(`base64 -w0 ${APP}/shared/.env`), 'base64').toString('utf8'), before, 'the dry run wrote nothing');
  const report = await runTwice('changed .env');
  assert.equal(sync(report).steps.length, 1);
  assert.is(Buffer.from(await onVps(`base64 -w0 ${APP}/shared/.env`), 'base64').toString('utf8'), readFileSync(envFile, 'utf8'));
  assert.is(await onVps(`stat -c '%a %U' ${APP}/shared/.env ${APP}/shared/.env.prev`), '600 deploy\n600 deploy\n', 'the backup for rollback is as private');
});

test('KEEP_RELEASES=2 after 3 commits leaves 2 (the oldest removed)', async () => {
  env({ KEEP_RELEASES: '2' });
  const sha = await pushCommit('v3');
  await runTwice('third commit, KEEP_RELEASES=2', /remove 1 old release\(s\), keeping 2/);
  const rels = await releases();
  assert.is(rels.length, 2, rels.join(' '));
  assert.is(await releaseOf(commits[0]!), undefined, 'the first release is gone');
  await expectRelease(commits[1]!, 'v2');
  await expectRelease(sha, 'v3');
});

test('GIT_REF=an annotated tag: the commit it points at, not the tag object', async () => {
  await onServer(`git --git-dir=/home/git/acme/app.git -c user.name=test -c user.email=test@example.invalid tag -a v1.0.0 -m 'release 1' ${commits[0]!}`);
  const tagObject = (await onServer('git --git-dir=/home/git/acme/app.git rev-parse v1.0.0')).trim();
  assert.is.not(tagObject, commits[0]);
  env({ KEEP_RELEASES: '2', GIT_REF: 'v1.0.0' });
  await runTwice('GIT_REF=v1.0.0 (annotated tag)');
  await expectRelease(commits[0]!, null);
  assert.is(await releaseOf(tagObject), undefined);
  assert.is((await releases()).length, 2);
});

test('GIT_REF=a full sha: checked out as it is', async () => {
  env({ KEEP_RELEASES: '2', GIT_REF: commits[1]! });
  assert.is(await releaseOf(commits[1]!), undefined, 'its release was pruned: a real checkout follows');
  await runTwice('GIT_REF=<full sha>');
  await expectRelease(commits[1]!, 'v2');
});

test('an unknown GIT_REF: exit 1 naming GIT_REF, nothing changed on the host', async () => {
  env({ GIT_REF: 'no-such-branch' });
  const before = await onVps(`ls -la --time-style=full-iso ${APP} ${APP}/releases; cat ${APP}/pending-release`);
  // Twice: refused the same way both times, the host untouched.
  for (const round of [1, 2]) {
    const { r, report } = await hoist(`unknown GIT_REF, round ${round}`);
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.is(sync(report).status, 'failed');
    assert.match(sync(report).error ?? '', /GIT_REF="no-such-branch" is not a branch or tag of git@[\d.]+:acme\/app\.git/);
    assert.match(r.stdout + r.stderr, /GIT_REF="no-such-branch"/);
    assert.is(await onVps(`ls -la --time-style=full-iso ${APP} ${APP}/releases; cat ${APP}/pending-release`), before);
  }
});

test('with a prepare like the release pipeline\'s: GIT_REF resolved once (resolveRef on the first host), then git-sync', async () => {
  // A pipeline file of this test only: [git-sync] plus a prepare that hands it input.shared.release.
  const prepared = tb.file(
    'git-sync-prepared.mts',
    `import { definePipeline } from '${REPO_ROOT}/lib/engine/pipeline.ts';
import { resolveRef } from '${REPO_ROOT}/lib/release/resolve-ref.ts';
import { gitSync } from '${REPO_ROOT}/tasks/git-sync.ts';
export default definePipeline({
  name: 'git-sync-prepared', description: 'test', login: 'deploy', tasks: [gitSync],
  async prepare({ hosts, executor }) {
    const { repo, gitRef } = hosts[0].host.settings;
    return { release: { sha: await resolveRef(executor(hosts[0], 'deploy'), repo, gitRef), ref: gitRef } };
  },
});
`,
  );
  env({ KEEP_RELEASES: '2' });
  const sha = await pushCommit('v4');
  const run = async (label: string) => {
    const jsonPath = join(tb.dir, `report-prepared-${Date.now()}.json`);
    const r = await tb.hoist(['run', prepared, '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', jsonPath], { GITHUB_TOKEN: '' });
    const text = readFileSync(jsonPath, 'utf8');
    outputs.push(r.stdout, r.stderr, text);
    timings.push(`${label} ${r.durationMs} ms`);
    assert.is(r.code, 0, r.stdout + r.stderr);
    return (JSON.parse(text) as RunReport).hosts[0]!.tasks[0]!;
  };
  const first = await run('prepared GIT_REF=main');
  assert.is(first.status, 'changed');
  assert.ok(first.steps.some((s) => s.startsWith(`check out ${sha.slice(0, 12)} (main)`)), first.steps.join('\n'));
  assert.is((await run('prepared GIT_REF=main, again')).status, 'unchanged');
  await expectRelease(sha, 'v4');
  assert.is((await releases()).length, 2);
});

test('the .env content is in no output, report, other file on the VPS, or command line', async () => {
  await dockerSh(vps.container, 'touch /run/hoist-stop-sampler; sleep 0.2');
  assert.ok(outputs.length >= 30, `${outputs.length} outputs checked`);
  for (const out of outputs) {
    assert.not.ok(out.includes(CANARY), 'the .env content appeared in an output or report');
    assert.not.ok(out.includes(TOKEN), 'the token appeared in an output or report');
  }
  // -r does not follow the releases' .env symlinks: the one real file is shared/.env.
  const found = await dockerSh(vps.container, 'grep -rlF -f - /home /tmp /root /etc /var/tmp 2>/dev/null | grep -v hoist-ps-samples | sort', 'root', `${CANARY}\n`);
  assert.is(found.stdout, `${APP}/shared/.env\n${APP}/shared/.env.prev\n`);
  const samples = await onVps(`cat ${SAMPLES}`);
  const count = samples.split('--- sample').length - 1;
  assert.ok(count > 100, `sampled ${count} times`);
  assert.ok(/git .*fetch|git .*archive|git .*ls-remote/.test(samples), 'the sampler saw git-sync at work');
  assert.not.ok(samples.includes(CANARY), 'the .env content was on a command line on the VPS');
  assert.equal(fake.violations, []);
  console.log(`    ps sampled ${count} times on the VPS; timings: ${timings.join('; ')}`);
});

test.run();
