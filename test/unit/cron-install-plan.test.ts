// cron-install as data: the probe's parse from recorded `crontab -l` answers, and the plan from
// a table of {wanted, fact} -> steps or no-op reason. No host involved.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cronInstall, type CronFact, type CronWanted } from '../../tasks/cron-install.ts';
import type { Probe, RemoteProbe, TaskInput } from '../../lib/engine/task.ts';

function remote<F>(p: Probe<F>): RemoteProbe<F> {
  if ('local' in p) throw new Error('cron-install must probe the host');
  return p;
}

const wanted = (entries: string[], asOther = false): CronWanted => ({ app: 'api', user: 'deploy', asOther, entries });
const input = {} as TaskInput;
const BEGIN = '# BEGIN hoist:api (managed by hoist; edits inside this block are replaced)';
const END = '# END hoist:api';

test('probe: the command is crontab -l, through sudo -u when logged in as someone else', () => {
  assert.is(remote(cronInstall.probe(wanted([]), input)).command.line, 'crontab -l');
  const other = remote(cronInstall.probe(wanted([], true), input));
  assert.is(other.command.line, 'crontab -u deploy -l');
  assert.is(other.sudo, true);
});

test('probe: parses recorded answers of crontab -l', () => {
  const { parse } = remote(cronInstall.probe(wanted([]), input));
  assert.equal(parse({ code: 0, stdout: '0 1 * * * x\n', stderr: '' }), { exists: true, content: '0 1 * * * x\n' });
  assert.equal(parse({ code: 1, stdout: '', stderr: 'no crontab for deploy\n' }), { exists: false, content: '' });
  assert.throws(() => parse({ code: 1, stdout: '', stderr: 'You (deploy) are not allowed to use this program (crontab)\n' }), /not allowed/);
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
    assert.equal(plan.files, [{ path: 'crontab of deploy', before: c.fact.exists ? c.fact.content : null, after: c.after === '' ? null : c.after }]);
  });
}

test('plan: a damaged block is refused, never guessed at', () => {
  assert.throws(() => cronInstall.plan(wanted(['@daily a']), { exists: true, content: `${BEGIN}\n@daily a\n` }), /damaged/);
});

test('APP_CRONTAB: the file is read from the live release in the same round trip as crontab -l', () => {
  const w: CronWanted = { app: 'api', user: 'deploy', asOther: false, entries: null, repoFile: 'deploy/crontab' };
  const probe = remote(cronInstall.probe(w, input));
  assert.is(
    probe.command.line,
    `f="$(getent passwd deploy | cut -d: -f6)"/apps/api/current/deploy/crontab; if [ -f "$f" ]; then printf 'file '; base64 -w0 < "$f"; echo; else echo 'file -'; fi; crontab -l`,
  );
  const file = '@hourly ./bin/refresh\n';
  const fact = probe.parse({ code: 0, stdout: `file ${Buffer.from(file).toString('base64')}\nMAILTO=x\n`, stderr: '' });
  assert.equal(fact, { exists: true, content: 'MAILTO=x\n', repoFile: file });
  const plan = cronInstall.plan(w, fact);
  assert.ok(plan.changes);
  if (plan.changes) assert.is(plan.steps[0]!.content, `MAILTO=x\n${BEGIN}\n@hourly ./bin/refresh\n${END}\n`);
  assert.equal(probe.parse({ code: 1, stdout: 'file -\n', stderr: 'no crontab for deploy\n' }), { exists: false, content: '', repoFile: null });
});

test('APP_CRONTAB: a release without the file, or with a bad line, fails the plan naming it', () => {
  const w: CronWanted = { app: 'api', user: 'deploy', asOther: false, entries: null, repoFile: 'deploy/crontab' };
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

test.run();
