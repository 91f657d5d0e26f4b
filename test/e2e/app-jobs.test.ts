// Issue #10 item 4: scheduled jobs in the app's own environment. A crontab line whose command
// starts with `hoist-run` runs in a one-off container of the live release (its image, its .env,
// its volumes); the job writes what the app then serves. The installed line is run by its own
// command, as cron would run it (cron's environment: HOME, a bare PATH), not by waiting for the
// clock. It follows a release and a rollback; its output and exit status land in the job log.
// A plain host job in the same block keeps running on the host.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GitServer } from '../harness/git-host.ts';
import { dockerSh } from '../harness/docker.ts';
import { loadAppBase } from '../harness/images.ts';
import { findCanaries, formsOf } from '../harness/secret-watch.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { assertNothingChanged, runTwice } from '../harness/run-twice.ts';
import type { PipelineRun, TestHost } from '../harness/testbed.ts';

const test = suite('jobs in the app\'s environment');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'jobs.hoist.test';
const SECRET = `sk-${randomBytes(12).toString('hex')}`;
const LOG = '/home/deploy/apps/app/logs/cron.log';
let git: GitServer;
let host: TestHost;
const releases: string[] = [];

const appFiles = (version: string) => ({
  Dockerfile: 'FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["sh", "-c", "mkdir -p /www/data; exec httpd -f -p 8000 -h /www"]\n',
  // One named volume for both slots: what a job writes, the live app serves.
  'compose.yaml': 'services:\n  web:\n    build: .\n    volumes:\n      - data:/www/data\nvolumes:\n  data:\n    name: hoist-jobs-test-data\n',
  'index.html': `${version}\n`,
  'deploy/crontab': [
    '# the model is retrained at night, in the app\'s own image and settings',
    `17 3 * * * hoist-run sh -c 'test -n "$API_KEY" && echo "$GREETING from $(cat /www/index.html)" > /www/data/job.txt'`,
    '*/10 * * * * hoist-run sh -c \'echo failing on purpose; exit 3\'',
    '@hourly date > /tmp/host-job.txt',
    '',
  ].join('\n'),
});

test.before(async () => {
  // Debian 12 without systemd, compose v1: CI budget (#19: an sshd host starts in 4-9 s, a systemd one in 10-40 s).
  ({ git, host } = await bed.start({ domain: DOMAIN, token: TOKEN, host: 'debian12-no-systemd' }));
  bed.env({ APP_ENV_FILE: tb.file('app.env', `API_KEY=${SECRET}\nGREETING=hello\n`), APP_CRONTAB: 'deploy/crontab', HEALTH_TIMEOUT: '20' });
  const boot = await runTwice('bootstrap', () => run('bootstrap'));
  assert.is(boot.code, 0, boot.out);
  await loadAppBase(host.container);
});
test.after(async () => {
  await bed.stop();
});

const run = (pipeline: string, args: string[] = []): Promise<PipelineRun> => tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN }, args });
const statuses = (r: PipelineRun) => r.report.hosts[0]!.tasks.map((t) => t.status);
const served = async (path: string) => (await host.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}${path}`)).stdout.trim();

/** The installed crontab line whose command contains `marker`, run as cron runs it. */
async function runInstalledJob(marker: string): Promise<{ code: number; line: string }> {
  const crontab = (await host.sh('crontab -l', 'deploy')).stdout;
  const line = crontab.split('\n').find((l) => l.includes(marker) && !l.startsWith('#'));
  assert.ok(line, `no installed line with ${marker}:\n${crontab}`);
  const command = line!.replace(/^(@\w+|(\S+\s+){5})/, '').trim();
  const r = await host.sh(`cd && env -i HOME=/home/deploy LOGNAME=deploy SHELL=/bin/sh PATH=/usr/bin:/bin sh -c "$(cat)"`, 'deploy', command);
  return { code: r.code, line: line! };
}

async function release(version: string): Promise<void> {
  await git.commit('app', appFiles(version), version);
  const r = await run('release');
  assert.is(r.code, 0, r.out);
  releases.push((await host.sh('readlink /home/deploy/apps/app/current')).stdout.trim().replace(/^releases\//, ''));
  const again = await run('release');
  assert.ok(statuses(again).every((s) => s === 'unchanged'), `${version} again: ${JSON.stringify(statuses(again))}`);
  assertNothingChanged(again.report, `release ${version}, run again`);
}

test('v1: the job line is installed through the app\'s runner; run by its own command it works in the live release with the app\'s settings', async () => {
  await release('v1');
  const crontab = (await host.sh('crontab -l', 'deploy')).stdout;
  assert.match(crontab, /^17 3 \* \* \* "\$HOME"\/apps\/app\/bin\/hoist-run sh -c /m);
  assert.match(crontab, /^@hourly date > \/tmp\/host-job\.txt$/m, 'the plain job is left as written');
  assert.is((await host.sh('stat -c "%a %U" /home/deploy/apps/app/bin/hoist-run')).stdout.trim(), '755 deploy');
  const job = await runInstalledJob('GREETING');
  assert.is(job.code, 0, (await host.sh(`cat ${LOG}`)).stdout);
  assert.is(await served('/data/job.txt'), 'hello from v1', 'the job ran in v1\'s image with the app\'s .env and wrote to its volume');
  const log = (await host.sh(`cat ${LOG}`)).stdout;
  assert.match(log, new RegExp(`job start, release ${releases[0]} on (blue|green): sh -c`));
  assert.match(log, new RegExp(`job end, release ${releases[0]}, exit 0: sh -c`));
  assert.not.ok(log.includes(SECRET), 'the settings are in the container, not in the log');
});

test('a failing job: its exit status is the line\'s and is in the job log with its output', async () => {
  const job = await runInstalledJob('failing on purpose');
  assert.is(job.code, 3);
  const log = (await host.sh(`cat ${LOG}`)).stdout;
  const tail = log.slice(log.lastIndexOf('job start'));
  assert.match(tail, /failing on purpose/, 'its output');
  assert.match(tail, /job end, release \S+, exit 3: sh -c/, 'its exit status');
});

test('the plain host job runs on the host, as written', async () => {
  const job = await runInstalledJob('host-job');
  assert.is(job.code, 0);
  assert.match((await host.sh('cat /tmp/host-job.txt', 'deploy')).stdout, /\d{4}/);
});

test('after v2 the same line runs v2; after a rollback it runs v1 again', async () => {
  await release('v2');
  assert.is((await runInstalledJob('GREETING')).code, 0);
  assert.is(await served('/data/job.txt'), 'hello from v2');
  // `rollback` runs once (each run goes one release further back); its second run is `--to`
  // the release it went to, which must change nothing.
  const back = await run('rollback');
  assert.is(back.code, 0, back.out);
  assert.is(await served('/'), 'v1');
  assert.is((await runInstalledJob('GREETING')).code, 0);
  assert.is(await served('/data/job.txt'), 'hello from v1', 'the line follows the rollback');
  const again = await run('rollback', ['--to', releases[0]!]);
  assert.ok(statuses(again).every((s) => s === 'unchanged'), JSON.stringify(statuses(again)));
  assertNothingChanged(again.report, 'rollback --to v1 after the rollback');
});

test('with no release live the runner says so in the job log and exits 1', async () => {
  await host.sh('mv /home/deploy/apps/app/active-slot /home/deploy/apps/app/active-slot.off', 'deploy');
  try {
    const job = await runInstalledJob('GREETING');
    assert.is(job.code, 1);
    assert.match((await host.sh(`tail -n 1 ${LOG}`)).stdout, /job not run, no live release of app \(no active slot\)/);
  } finally {
    await host.sh('mv /home/deploy/apps/app/active-slot.off /home/deploy/apps/app/active-slot', 'deploy');
  }
});

/** Replaces `path` in the app's repo by a symbolic link to `target` (git stores it as a link). */
async function commitLink(path: string, target: string): Promise<void> {
  const script = `set -e
w=$(mktemp -d); git clone -q /home/git/acme/app.git "$w"
rm -f "$w/$1"; ln -s "$2" "$w/$1"
git -C "$w" add -A
git -C "$w" -c user.name=test -c user.email=test@example.invalid commit -q -m link
git -C "$w" push -q origin main
rm -rf "$w"`;
  const r = await dockerSh(git.container, `set -- '${path}' '${target}'\n${script}`, 'git');
  assert.is(r.code, 0, r.stderr);
}

// Issue #22 item 4: a link in the repo is followed on the host. deploy/crontab -> ../.env is the
// release's .env link, i.e. the app's secrets in ~/apps/app/shared/.env.
test('APP_CRONTAB linked to ../.env: the release is refused naming the key, the path and the fix; the secret is nowhere', async () => {
  const crontabBefore = (await host.sh('crontab -l', 'deploy')).stdout;
  await git.commit('app', appFiles('v3'), 'v3');
  await commitLink('deploy/crontab', '../.env');
  const forms = formsOf({ name: 'API_KEY', value: SECRET });
  for (let attempt = 1; attempt <= 2; attempt++) {
    const r = await run('release');
    assert.is(r.code, 1, `run ${attempt}: ${r.out}`);
    const cron = r.report.hosts[0]!.tasks.find((t) => t.task === 'cron-install')!;
    assert.match(cron.error ?? '', /^APP_CRONTAB deploy\/crontab: ~\/apps\/app\/current\/deploy\/crontab leads out of the release folder \(to \/home\/deploy\/apps\/app\/shared\/\.env\).* Fix: commit the crontab itself at deploy\/crontab/);
    assert.match(r.out, /APP_CRONTAB deploy\/crontab: .*leads out of the release folder/);
    assert.equal(findCanaries(r.out, forms).map((f) => f.form), [], `run ${attempt}: the secret is not in the output or the JSON report`);
    const saved = join(tb.dir, '.hoist', 'runs');
    for (const f of readdirSync(saved)) assert.equal(findCanaries(readFileSync(join(saved, f), 'utf8'), forms).map((x) => x.form), [], `${f}: a saved report`);
    assert.is(await served('/'), 'v1', `run ${attempt}: the release was undone, v1 still serves`);
    assert.is((await host.sh('crontab -l', 'deploy')).stdout, crontabBefore, `run ${attempt}: the crontab is as it was`);
  }
});

test.run();
