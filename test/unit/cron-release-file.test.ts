// Issue #22 item 4: APP_CRONTAB comes with the repo, and its links are followed on the host. The
// probe's own shell runs here against a real folder tree laid out as a host's (a release with its
// `.env` link to shared/.env, another app beside it): a file that leads out of the release folder,
// or is no regular file, is named and refused, and its content never leaves the "host" (not in
// the probe's answer, the error or the plan). `crontab` is a shell function printing a crontab.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RemoteProbe, TaskInput } from '../../lib/engine/task.ts';
import { cronInstall, cronInstallOfRollback, type CronFact, type CronWanted } from '../../tasks/cron-install.ts';
import { runnerScript } from '../../tasks/cron-install/app-run.ts';

const SECRET = 'sk-live-0123456789abcdef';
const OTHER_SECRET = 'other-app-token-fedcba987654';
const home = mkdtempSync(join(tmpdir(), 'hoist-cron-file-'));
const release = join(home, 'apps/api/releases/20260101-000000-abc1234');
const JOBS = '@hourly ./bin/refresh\n';

function layout(): void {
  mkdirSync(join(release, 'deploy'), { recursive: true });
  mkdirSync(join(home, 'apps/api/shared'), { recursive: true });
  mkdirSync(join(home, 'apps/other/shared'), { recursive: true });
  writeFileSync(join(home, 'apps/api/shared/.env'), `API_KEY=${SECRET}\nPATH=/evil\n`);
  writeFileSync(join(home, 'apps/other/shared/.env'), `TOKEN=${OTHER_SECRET}\n`);
  symlinkSync('../../shared/.env', join(release, '.env'));
  symlinkSync('releases/20260101-000000-abc1234', join(home, 'apps/api/current'));
  writeFileSync(join(release, 'deploy/crontab'), JOBS);
  // Links in the repo, as git checks them out.
  symlinkSync('../.env', join(release, 'deploy/env-link'));
  symlinkSync('../../../../other/shared/.env', join(release, 'deploy/other-app'));
  symlinkSync('/etc/hostname', join(release, 'deploy/absolute'));
  symlinkSync('crontab', join(release, 'deploy/inside-link'));
  symlinkSync('no-such-file', join(release, 'deploy/dangling'));
  symlinkSync('..', join(release, 'deploy/up'));
  symlinkSync('/tmp/\x1b[2J\nrepainted', join(release, 'deploy/hostile-target'));
  mkdirSync(join(release, 'deploy/folder'));
  execFileSync('mkfifo', [join(release, 'deploy/fifo')]);
}
layout();

const wanted = (repoFile: string): CronWanted => ({ app: 'api', user: 'deploy', asOther: false, entries: null, repoFile, runner: runnerScript({ app: 'api', service: 'web', composeFile: null }) });

/** The probe's command run by sh as the deploy user would, its raw answer and what parse makes of it. */
function probeHere(repoFile: string): { stdout: string; fact: CronFact } {
  const probe = cronInstall.probe(wanted(repoFile), {} as TaskInput) as RemoteProbe<CronFact>;
  const stdout = execFileSync('sh', ['-c', `crontab() { printf 'MAILTO=me\\n'; }; ${probe.command.line}`], { env: { PATH: process.env.PATH, HOME: home, LOGNAME: 'deploy' }, encoding: 'utf8', timeout: 10_000 });
  return { stdout, fact: probe.parse({ code: 0, stdout, stderr: '' }) };
}

/** Every text form of the secrets a leak could take: as is, and base64 at each alignment. */
function leaks(text: string): string[] {
  const forms: string[] = [];
  for (const s of [SECRET, OTHER_SECRET, 'PATH=/evil']) {
    forms.push(s);
    for (let pad = 0; pad < 3; pad++) forms.push(Buffer.concat([Buffer.alloc(pad, 0x41), Buffer.from(s)]).toString('base64').slice(Math.ceil((pad * 4) / 3) + 1, -4));
  }
  return forms.filter((f) => text.includes(f));
}

test.after(() => rmSync(home, { recursive: true, force: true }));

test('a regular file in the release, or a link to one inside it, is read', () => {
  for (const file of ['deploy/crontab', 'deploy/inside-link']) {
    const { fact } = probeHere(file);
    assert.is(fact.repoFile, JOBS, file);
    assert.is(fact.repoFileRefused, undefined);
    assert.is(fact.content, 'MAILTO=me\n');
    assert.ok(cronInstall.plan(wanted(file), fact).changes);
  }
  assert.is(probeHere('deploy/missing').fact.repoFile, null, 'a missing file is "not there", as before');
});

const outside: Array<[string, RegExp]> = [
  ['deploy/env-link', /apps\/api\/shared\/\.env/],
  ['deploy/other-app', /apps\/other\/shared\/\.env/],
  ['deploy/absolute', /\/etc\/hostname/],
  ['deploy/up/.env', /apps\/api\/shared\/\.env/],
];
for (const [file, target] of outside) {
  test(`a link out of the release is refused, naming the key, path, target and fix, its content never read: ${file}`, () => {
    const { stdout, fact } = probeHere(file);
    assert.equal(leaks(stdout), [], 'the content never left the host');
    assert.is(fact.repoFile, undefined);
    assert.ok(fact.repoFileRefused && 'outside' in fact.repoFileRefused, JSON.stringify(fact));
    try {
      cronInstall.plan(wanted(file), fact, {} as TaskInput);
      assert.unreachable('refused');
    } catch (e) {
      const message = (e as Error).message;
      assert.match(message, new RegExp(`^APP_CRONTAB ${file}: ~/apps/api/current/${file} leads out of the release folder \\(to /`));
      assert.match(message, target);
      assert.match(message, /Fix: commit the crontab itself at/);
      assert.equal(leaks(message), []);
    }
    // A rollback installs no jobs of such a release and goes on, saying why (never the content).
    const back = cronInstallOfRollback.plan(wanted(file), fact, {} as TaskInput);
    const said = back.changes ? back.steps.map((st) => st.describe).join('\n') : back.reason;
    assert.match(said, /the release's jobs are not installed: APP_CRONTAB .* leads out of the release folder/);
    assert.equal(leaks(said), []);
  });
}

test('a folder, a fifo (whose read would hang) and a dangling link are refused as not regular files', () => {
  for (const file of ['deploy/folder', 'deploy/fifo', 'deploy/dangling']) {
    const { fact } = probeHere(file);
    assert.equal(fact.repoFileRefused, { notRegular: true }, file);
    assert.throws(() => cronInstall.plan(wanted(file), fact), new RegExp(`^APP_CRONTAB ${file}: ~/apps/api/current/${file} is not a regular file .*Fix: `));
  }
});

test('without the release folder: "not there"', () => {
  rmSync(join(home, 'apps/api/current'));
  try {
    assert.is(probeHere('deploy/crontab').fact.repoFile, null);
  } finally {
    symlinkSync('releases/20260101-000000-abc1234', join(home, 'apps/api/current'));
  }
});

test('a regular file in the release that is a .env (committed) is refused by its variable lines, values hidden', () => {
  writeFileSync(join(release, 'deploy/committed.env'), `API_KEY=${SECRET}\n`);
  const { fact } = probeHere('deploy/committed.env');
  assert.throws(() => cronInstall.plan(wanted('deploy/committed.env'), fact), (e: Error) => /line 1 "API_KEY=\(hidden\)": sets the cron variable API_KEY/.test(e.message) && leaks(e.message).length === 0);
});

test('a link target with control characters is shown quoted: the error stays one line and cannot repaint a terminal', () => {
  const { fact } = probeHere('deploy/hostile-target');
  assert.throws(() => cronInstall.plan(wanted('deploy/hostile-target'), fact), (e: Error) => e.message.includes('(to "/tmp/\\u001b[2J\\nrepainted")') && !/[\x00-\x1f]/.test(e.message));
});

test.run();
