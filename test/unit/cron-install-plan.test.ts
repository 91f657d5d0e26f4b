// cron-install as data: the probe's parse from recorded `crontab -l` answers, and the plan from
// a table of {wanted, fact} -> steps or no-op reason. No host involved.
import { fileLinesFunction } from '../../lib/exec/file-lines.ts';
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cronInstall, cronInstallOfRollback, type CronFact, type CronWanted } from '../../tasks/cron-install.ts';
import { runnerScript, runnerSha256 } from '../../tasks/cron-install/app-run.ts';
import { shownForDiff } from '../../lib/cron/crontab-block.ts';
import { fileDiff } from '../../lib/render/file-diff.ts';
import type { Probe, RemoteProbe, TaskInput } from '../../lib/engine/task.ts';

function remote<F>(p: Probe<F>): RemoteProbe<F> {
  if ('local' in p) throw new Error('cron-install must probe the host');
  return p;
}

const RUNNER = runnerScript({ app: 'api', service: 'web', composeFile: null });
const wanted = (entries: string[], asOther = false): CronWanted => ({ app: 'api', user: 'deploy', asOther, entries, runner: RUNNER });
/** What the probe prints before `crontab -l`'s own output. */
const HEAD = 'home /home/deploy\nrunner -\n';
const HEAD_FACT = { home: '/home/deploy', runnerSha256: null };
const LIST = `if [ "$LOGNAME" = deploy ] && [ -n "$HOME" ]; then h=$HOME; else h=$(getent passwd deploy | cut -d: -f6); fi; echo "home $h"; r="$h"/apps/api/bin/hoist-run; if [ -f "$r" ]; then set -- $(sha256sum < "$r"); echo "runner $1"; else echo 'runner -'; fi`;
const input = {} as TaskInput;
const BEGIN = '# BEGIN hoist:api (managed by hoist; edits inside this block are replaced)';
const END = '# END hoist:api';

test('probe: the deploy user\'s home and job runner, then crontab -l, through sudo -u when logged in as someone else', () => {
  assert.is(remote(cronInstall.probe(wanted([]), input)).command.line, `${LIST}; crontab -l`);
  const other = remote(cronInstall.probe(wanted([], true), input));
  assert.is(other.command.line, `${LIST}; crontab -u deploy -l`);
  assert.is(other.sudo, true);
});

test('probe: parses recorded answers of crontab -l', () => {
  const { parse } = remote(cronInstall.probe(wanted([]), input));
  assert.equal(parse({ code: 0, stdout: `${HEAD}0 1 * * * x\n`, stderr: '' }), { exists: true, content: '0 1 * * * x\n', ...HEAD_FACT });
  assert.equal(parse({ code: 1, stdout: HEAD, stderr: 'no crontab for deploy\n' }), { exists: false, content: '', ...HEAD_FACT });
  assert.equal(parse({ code: 1, stdout: `home /home/deploy\nrunner ${'c'.repeat(64)}\n`, stderr: 'no crontab for deploy\n' }), { exists: false, content: '', home: '/home/deploy', runnerSha256: 'c'.repeat(64) });
  assert.throws(() => parse({ code: 1, stdout: HEAD, stderr: 'You (deploy) are not allowed to use this program (crontab)\n' }), /not allowed/);
  assert.throws(() => parse({ code: 0, stdout: '0 1 * * * x\n', stderr: '' }), /cut short/);
});

test('hoist-run jobs: installed as the app\'s runner, which is installed first (once: compared by hash); plain jobs stay plain', () => {
  const jobs = ['# nightly', '30 2 * * * hoist-run python train.py --full', '@hourly hoist-run ./score', '*/5 * * * * /usr/bin/backup hoist-run'];
  const plan = cronInstall.plan(wanted(jobs), { exists: false, content: '', ...HEAD_FACT });
  assert.ok(plan.changes);
  if (!plan.changes) return;
  assert.is(plan.steps.length, 1);
  assert.is(plan.steps[0]!.runner, RUNNER);
  assert.match(plan.steps[0]!.describe, /^install ~\/apps\/api\/bin\/hoist-run \(runs hoist-run jobs in a one-off container of the live release\); add the hoist:api block/);
  assert.is(
    plan.steps[0]!.content,
    `${BEGIN}\n# nightly\n30 2 * * * "$HOME"/apps/api/bin/hoist-run python train.py --full\n@hourly "$HOME"/apps/api/bin/hoist-run ./score\n*/5 * * * * /usr/bin/backup hoist-run\n${END}\n`,
  );
  // Runner in place, block in place: nothing to do. Runner changed (another service): only it.
  const installed = { exists: true, content: plan.steps[0]!.content, home: '/home/deploy', runnerSha256: runnerSha256(RUNNER) };
  assert.is(cronInstall.plan(wanted(jobs), installed).changes, false);
  const stale = cronInstall.plan(wanted(jobs), { ...installed, runnerSha256: 'd'.repeat(64) });
  assert.ok(stale.changes && stale.steps[0]!.runner === RUNNER && stale.steps[0]!.content === installed.content);
  // Plain host jobs need no runner.
  const plain = cronInstall.plan(wanted(['@daily /usr/bin/backup']), { exists: false, content: '', ...HEAD_FACT });
  assert.ok(plain.changes && plain.steps[0]!.runner === undefined);
});

test('a hoist-run job with no command is refused, naming the line', () => {
  assert.throws(() => cronInstall.plan(wanted(['@hourly hoist-run']), { exists: false, content: '', ...HEAD_FACT }), /the job "@hourly hoist-run" is hoist-run with no command/);
  assert.throws(() => cronInstall.plan(wanted(['5 * * * *  hoist-run   ']), { exists: false, content: '', ...HEAD_FACT }), /with no command/);
});

test('the runner script: valid sh, the app and service quoted, the live slot read at run time', () => {
  const script = runnerScript({ app: 'api', service: 'web', composeFile: 'deploy/compose prod.yaml' });
  const check = spawnSync('/bin/sh', ['-n'], { input: script, encoding: 'utf8' });
  assert.is(check.status, 0, check.stderr);
  assert.match(script, /^umask 077$/m, 'the job log is private');
  assert.match(script, /^app=api$/m);
  assert.match(script, /^service=web$/m);
  assert.ok(script.includes("for n in 'deploy/compose prod.yaml'; do"), script);
  assert.match(script, /slot=\$\(head -n 1 "\$root\/active-slot"/);
  assert.match(script, /run --rm --no-deps -T "\$service" "\$@" >> "\$log" 2>&1/);
});

const cases: { name: string; want: string[]; fact: CronFact; steps?: RegExp; reason?: RegExp; after?: string }[] = [
  { name: 'nothing wanted, no crontab', want: [], fact: { exists: false, content: '' }, reason: /no jobs wanted and no hoist:api block/ },
  { name: 'nothing wanted, user crontab without final newline', want: [], fact: { exists: true, content: '0 1 * * * x' }, reason: /no jobs wanted/ },
  { name: 'first install, no crontab', want: ['@daily a'], fact: { exists: false, content: '' }, steps: /add the hoist:api block .*1 lines/, after: `${BEGIN}\n@daily a\n${END}\n` },
  { name: 'first install after user lines', want: ['@daily a'], fact: { exists: true, content: 'MAILTO=x\n' }, steps: /add/, after: `MAILTO=x\n${BEGIN}\n@daily a\n${END}\n` },
  { name: 'up to date', want: ['@daily a'], fact: { exists: true, content: `u\n${BEGIN}\n@daily a\n${END}\nv\n` }, reason: /up to date \(1 lines\)/ },
  { name: 'entry changed in place', want: ['@hourly b'], fact: { exists: true, content: `u\n${BEGIN}\n@daily a\n${END}\nv\n` }, steps: /update/, after: `u\n${BEGIN}\n@hourly b\n${END}\nv\n` },
  { name: 'all entries removed', want: [], fact: { exists: true, content: `u\n${BEGIN}\n@daily a\n${END}\nv\n` }, steps: /remove the hoist:api block/, after: 'u\nv\n' },
  { name: 'only the block: removing it empties the crontab', want: [], fact: { exists: true, content: `${BEGIN}\n@daily a\n${END}\n` }, steps: /remove/, after: '' },
];

for (const c of cases) {
  test(`plan: ${c.name}`, () => {
    const plan = cronInstall.plan(wanted(c.want), c.fact);
    if (c.reason) {
      assert.is(plan.changes, false);
      if (!plan.changes) assert.match(plan.reason, c.reason);
      return;
    }
    assert.ok(plan.changes);
    if (!plan.changes) return;
    assert.is(plan.steps.length, 1);
    assert.match(plan.steps[0]!.describe, c.steps!);
    assert.is(plan.steps[0]!.content, c.after);
    assert.equal(plan.files, [{ path: 'crontab of deploy', before: c.fact.exists ? shownForDiff(c.fact.content, 'api') : null, after: c.after === '' ? null : shownForDiff(c.after!, 'api') }]);
  });
}

test('plan: a damaged block is refused, never guessed at', () => {
  assert.throws(() => cronInstall.plan(wanted(['@daily a']), { exists: true, content: `${BEGIN}\n@daily a\n` }), /damaged/);
});

test('APP_CRONTAB: the file is read from the live release in the same round trip as crontab -l', () => {
  const w: CronWanted = { app: 'api', user: 'deploy', asOther: false, entries: null, repoFile: 'deploy/crontab', runner: RUNNER };
  const probe = remote(cronInstall.probe(w, input));
  assert.is(
    probe.command.line,
    `${LIST}; d="$h"/apps/api/current; f="$d"/deploy/crontab; if [ ! -e "$f" ] && [ ! -L "$f" ]; then echo 'file -'; else c=; t=; if cd -P -- "$d" 2>/dev/null; then c=$PWD; fi; if [ -L "$f" ]; then t=$(readlink -f -- "$f"); elif cd -P -- "\${f%/*}" 2>/dev/null; then t=$PWD/\${f##*/}; fi; i=; if [ -n "$c" ]; then case "$t" in "$c"/*) i=1;; esac; fi; if [ -z "$i" ]; then printf 'file outside '; printf '%s' "$t" | base64 -w0; echo; elif [ -f "$t" ]; then echo 'file |'; ${fileLinesFunction.line}; hoist_lines '' "$t" 16777216; echo 'file end'; else echo 'file not-regular'; fi; fi; crontab -l`,
  );
  const file = '@hourly ./bin/refresh\n';
  const fact = probe.parse({ code: 0, stdout: `${HEAD}file |\n|@hourly ./bin/refresh\nfile end\nMAILTO=x\n`, stderr: '' });
  assert.equal(fact, { exists: true, content: 'MAILTO=x\n', repoFile: file, ...HEAD_FACT });
  const plan = cronInstall.plan(w, fact);
  assert.ok(plan.changes);
  if (plan.changes) assert.is(plan.steps[0]!.content, `MAILTO=x\n${BEGIN}\n@hourly ./bin/refresh\n${END}\n`);
  assert.equal(probe.parse({ code: 1, stdout: `${HEAD}file -\n`, stderr: 'no crontab for deploy\n' }), { exists: false, content: '', repoFile: null, ...HEAD_FACT });
});

test('rollback: a release older than APP_CRONTAB\'s file had no jobs: the block is removed, not an error that undoes the rollback', () => {
  const w: CronWanted = { app: 'api', user: 'deploy', asOther: false, entries: null, repoFile: 'deploy/crontab', runner: RUNNER };
  const content = `MAILTO=ops\n${BEGIN}\n0 1 * * * cd ~/apps/api/current && ./nightly\n${END}\n`;
  const plan = cronInstallOfRollback.plan(w, { exists: true, content, repoFile: null, ...HEAD_FACT });
  assert.ok(plan.changes && plan.steps[0]!.describe === 'remove the hoist:api block from the crontab of deploy', JSON.stringify(plan));
  assert.equal(cronInstallOfRollback.plan(w, { exists: true, content: 'MAILTO=ops\n', repoFile: null, ...HEAD_FACT }), { changes: false, reason: 'no jobs wanted and no hoist:api block present' });
  // The release has the file: its jobs, as a release would install them; a bad line still fails.
  assert.equal(cronInstallOfRollback.plan(w, { exists: true, content, repoFile: '0 1 * * * cd ~/apps/api/current && ./nightly\n', ...HEAD_FACT }).changes, false);
  assert.throws(() => cronInstallOfRollback.plan(w, { exists: false, content: '', repoFile: '99 * * * * bad\n' }), /minute "99"/);
  assert.is(cronInstallOfRollback.name, 'cron-install');
});

test('rollback: an older release whose crontab releases now refuse (a variable line, a link out of it) gets no jobs, and the rollback goes on saying why', () => {
  const w: CronWanted = { app: 'api', user: 'deploy', asOther: false, entries: null, repoFile: 'deploy/crontab', runner: RUNNER };
  const content = `${BEGIN}\n0 1 * * * cd ~/apps/api/current && ./nightly\n${END}\n`;
  const old = 'PATH=/opt/bin:/usr/bin\n0 1 * * * ./nightly\n';
  assert.throws(() => cronInstall.plan(w, { exists: true, content, repoFile: old, ...HEAD_FACT }), /PATH=/, 'a release refuses it');
  const plan = cronInstallOfRollback.plan(w, { exists: true, content, repoFile: old, ...HEAD_FACT });
  assert.ok(plan.changes, JSON.stringify(plan));
  if (plan.changes) {
    assert.match(plan.steps[0]!.describe, /^remove the hoist:api block .*the release's jobs are not installed: APP_CRONTAB deploy\/crontab line 1/);
    assert.not.match(plan.steps[0]!.describe, /\/opt\/bin/, 'the value stays hidden');
    assert.is(plan.steps[0]!.content, '');
  }
  const linked = cronInstallOfRollback.plan(w, { exists: false, content: '', repoFileRefused: { outside: '/home/deploy/apps/api/shared/.env' }, ...HEAD_FACT });
  assert.equal(linked.changes, false);
  if (!linked.changes) assert.match(linked.reason, /leads out of the release folder/);
});

test('APP_CRONTAB: a release without the file, or with a bad line, fails the plan naming it', () => {
  const w: CronWanted = { app: 'api', user: 'deploy', asOther: false, entries: null, repoFile: 'deploy/crontab', runner: RUNNER };
  assert.throws(() => cronInstall.plan(w, { exists: false, content: '', repoFile: null }), /APP_CRONTAB deploy\/crontab is not in the live release/);
  assert.throws(() => cronInstall.plan(w, { exists: false, content: '', repoFile: '* * * * * ok\n99 * * * * bad\n' }), /line 2 .*minute "99" is outside 0-59/);
  // A line with control characters is shown escaped: the error stays one line, and a terminal
  // escape in the release's file cannot repaint the operator's screen.
  const hostile = '99 * * * * echo \x1b[2J\rgone';
  try {
    cronInstall.plan(w, { exists: false, content: '', repoFile: `${hostile}\n` });
    assert.unreachable('a bad line must fail the plan');
  } catch (e) {
    const message = (e as Error).message;
    assert.ok(message.includes(JSON.stringify(hostile)), message);
    assert.not.match(message, /[\x00-\x1f]/);
  }
});


// Issue #22: the diff goes to the terminal, the JSON report and CI artifacts.
test('the diff shows the app\'s block only, variables\' values hidden; the installed crontab keeps every byte', () => {
  const user = 'API_TOKEN=tok-abcdef123456\n0 4 * * * curl -H "Authorization: tok-abcdef123456" https://x\n';
  const other = '# BEGIN hoist:web (managed by hoist; edits inside this block are replaced)\n@daily other-app-job\n# END hoist:web\n';
  const old = `${BEGIN}\nPATH=/opt/old-secret-path\n@daily a\n${END}\n`;
  const plan = cronInstall.plan(wanted(['@hourly b']), { exists: true, content: user + old + other, ...HEAD_FACT });
  assert.ok(plan.changes);
  if (!plan.changes) return;
  assert.is(plan.steps[0]!.content, `${user}${BEGIN}\n@hourly b\n${END}\n${other}`, 'installed as it is');
  const fold = (n: number) => `# (${n} lines outside hoist:api, kept as they are, not shown)`;
  assert.equal(plan.files, [
    { path: 'crontab of deploy', before: `${fold(2)}\n${BEGIN}\nPATH=(hidden)\n@daily a\n${END}\n${fold(3)}\n`, after: `${fold(2)}\n${BEGIN}\n@hourly b\n${END}\n${fold(3)}\n` },
  ]);
  const diff = fileDiff(plan.files![0]!)!;
  for (const hidden of ['tok-abcdef123456', 'old-secret-path', 'other-app-job']) assert.not.ok(diff.includes(hidden), diff);
  assert.match(diff, /^-PATH=\(hidden\)$/m);
  assert.match(diff, /^\+@hourly b$/m);
});

test('an app\'s variable line is refused with the fix before it reaches the crontab, so it cannot reach the lines after the block', () => {
  const w: CronWanted = { app: 'api', user: 'deploy', asOther: false, entries: null, repoFile: 'deploy/crontab', runner: RUNNER };
  const other = '# BEGIN hoist:web (managed by hoist; edits inside this block are replaced)\n* * * * * env > /tmp/web-env\n# END hoist:web\n';
  for (const line of ['PATH=/opt/api/bin', 'SHELL=/bin/bash', 'MAILTO=ops@example.com']) {
    const key = line.split('=')[0]!;
    assert.throws(
      () => cronInstall.plan(w, { exists: true, content: other, repoFile: `${line}\n@daily a\n`, ...HEAD_FACT }),
      (e: Error) => e.message.startsWith(`APP_CRONTAB deploy/crontab line 1 "${key}=(hidden)": sets the cron variable ${key}, which cron applies to every later line`) && !e.message.includes(line.slice(key.length + 1)),
    );
  }
});

test.run();
