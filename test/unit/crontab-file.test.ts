import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crontabProblems, wantedEntries, withVariableHidden } from '../../lib/cron/crontab-file.ts';

const valid: string[] = [
  '*/15 9-17 * * mon-fri cmd',
  '0 0 1 jan,jul * /usr/bin/backup --full',
  '0 0 1 JAN,Jul * cmd',
  '@daily cmd',
  '@reboot /srv/app/start.sh',
  '@yearly cmd',
  '@annually cmd',
  '@monthly cmd',
  '@weekly cmd',
  '@midnight cmd',
  '@hourly cmd arg1 arg2',
  '5 4 * * 7 cmd % with percent',
  '5 4 * * 0 cmd',
  '* * * * * cmd',
  '0-59 0-23 1-31 1-12 0-7 cmd',
  '59 23 31 12 7 cmd',
  '1,2,3-5,*/10 * * * * cmd',
  '5/10 * * * * cmd',
  '0-30/5 * * * * cmd',
  '*/59 */23 */31 */12 */7 cmd',
  '0 12 * * sun-sat cmd',
  '0 12 * * SAT,sun cmd',
  '0 12 * * 5-7 cmd',
  '0 0 * feb-nov * cmd',
  '\t0  0\t* * *   cmd',
  '  @daily  cmd',
  '# a comment',
  '   # an indented comment',
  '#0 0 * * * disabled job',
];

for (const line of valid) {
  test(`valid: ${JSON.stringify(line)}`, () => {
    assert.equal(crontabProblems(line), []);
  });
}

const invalid: Array<[string, string]> = [
  ['61 * * * * cmd', 'minute "61" is outside 0-59'],
  ['* 24 * * * cmd', 'hour "24" is outside 0-23'],
  ['* * 0 * * cmd', 'day of month "0" is outside 1-31'],
  ['* * 32 * * cmd', 'day of month "32" is outside 1-31'],
  ['* * * 13 * cmd', 'month "13" is outside 1-12'],
  ['* * * 0 * cmd', 'month "0" is outside 1-12'],
  ['* * * * 8 cmd', 'day of week "8" is outside 0-7'],
  ['1 2 3', 'expected 5 time fields and a command, found 3 fields'],
  ['cmd', 'expected 5 time fields and a command, found 1 field'],
  ['* * * * *', 'missing the command'],
  ['@every 5m cmd', 'unknown schedule "@every"'],
  ['@Daily cmd', 'unknown schedule "@Daily"'],
  ['@daily', 'missing the command'],
  ['@daily   ', 'missing the command'],
  ['*/0 * * * * cmd', 'step "/0" must be at least 1'],
  ['*/60 * * * * cmd', 'minute step "/60" is larger than 59'],
  ['* */8 * * */8 cmd', 'day of week step "/8" is larger than 7'],
  ['*/ * * * * cmd', 'minute step "/" is not a number'],
  ['*/x * * * * cmd', 'minute step "/x" is not a number'],
  ['5-2 * * * * cmd', 'range "5-2" goes backwards'],
  ['* * * * fri-mon cmd', 'day of week range "fri-mon" goes backwards'],
  ['* * * dec-jan * cmd', 'month range "dec-jan" goes backwards'],
  ['1-2-3 * * * * cmd', 'minute "1-2-3" is not a valid range'],
  ['5- * * * * cmd', 'minute range "5-" is missing a bound'],
  ['-5 * * * * cmd', 'minute range "-5" is missing a bound'],
  ['1,,2 * * * * cmd', 'minute "1,,2" has an empty item'],
  ['1, * * * * cmd', 'minute "1," has an empty item'],
  ['x * * * * cmd', 'minute "x" is not a number'],
  ['* * * foo * cmd', 'month "foo" is not a number or a name (jan-dec)'],
  ['* * * * monday cmd', 'day of week "monday" is not a number or a name (sun-sat)'],
  ['* * * mon * cmd', 'month "mon" is not a number or a name'],
  ['* * * * jan cmd', 'day of week "jan" is not a number or a name'],
  ['* * * * mon-8 cmd', 'day of week "8" is outside 0-7'],
  ['*-5 * * * * cmd', 'minute "*" is not a number'],
  ['* * * * * cmd \0 x', 'NUL byte'],
  ['# BEGIN hoist:app (managed by hoist)', '"# BEGIN hoist:"'],
  ['# END hoist:app', '"# END hoist:"'],
  ['  # END hoist:other', '"# END hoist:"'],
];

for (const [line, expected] of invalid) {
  test(`invalid: ${JSON.stringify(line)}`, () => {
    const problems = crontabProblems(line);
    assert.ok(problems.length > 0, 'expected at least one problem');
    const texts = problems.map((p) => p.problem);
    assert.ok(
      texts.some((t) => t.includes(expected)),
      `expected a problem containing ${JSON.stringify(expected)}, got ${JSON.stringify(texts)}`,
    );
  });
}

test('every bad field on a line is reported', () => {
  const texts = crontabProblems('61 24 * * * cmd').map((p) => p.problem);
  assert.equal(texts, ['minute "61" is outside 0-59', 'hour "24" is outside 0-23']);
});

test('problems carry the 1-based line number and the trimmed line text', () => {
  const text = ['# header', '', '0 0 * * * ok', '', '61 * * * * bad   \r', '@every x'].join('\n');
  const problems = crontabProblems(text);
  assert.equal(
    problems.map((p) => [p.line, p.text]),
    [
      [5, '61 * * * * bad'],
      [6, '@every x'],
    ],
  );
});

test('blank and whitespace-only lines are ignored', () => {
  assert.equal(crontabProblems('\n   \n\t\r\n'), []);
});

test('a file with CRLF line endings validates', () => {
  assert.equal(crontabProblems('# jobs\r\n*/5 * * * * cmd\r\n'), []);
});

test('wantedEntries keeps non-blank lines and comments in order, trimming trailing whitespace', () => {
  const text = '# nightly jobs\r\n\r\n# more  \n\n  0 3 * * * backup % x\t\n@daily cmd\n   \n';
  assert.equal(wantedEntries(text), ['# nightly jobs', '# more', '  0 3 * * * backup % x', '@daily cmd']);
});

test('wantedEntries of an empty file is empty', () => {
  assert.equal(wantedEntries(''), []);
  assert.equal(wantedEntries('\n\n  \n'), []);
});

// Issue #22: cron applies a variable to every later line of the whole crontab (no unset), so a
// variable in an app's block would change other apps' jobs and the user's own lines.
const variables: Array<[string, RegExp]> = [
  ['MAILTO=""', /cron variable MAILTO.*past hoist's block.*\| mail -s/],
  ['MAILTO = ops@example.com', /cron variable MAILTO/],
  ['PATH=/opt/app/bin:/usr/bin:/bin', /cron variable PATH.*in the job's command instead \(PATH=\.\.\. command\), or, for a hoist-run job, in the app's \.env/],
  ['SHELL=/bin/bash', /cron variable SHELL.*bash -c/],
  ['  CRON_TZ=Europe/Paris', /cron variable CRON_TZ.*time zone/],
  ['_X1=', /cron variable _X1/],
];
for (const [line, fix] of variables) {
  test(`refused, with the fix: ${JSON.stringify(line)}`, () => {
    const problems = crontabProblems(`@daily ok\n${line}\n`);
    assert.is(problems.length, 1, JSON.stringify(problems));
    assert.is(problems[0]!.line, 2);
    assert.match(problems[0]!.problem, fix);
  });
}

test('a refused variable line is shown with its value hidden (a .env read as a crontab is all such lines)', () => {
  const secret = 'postgres://app:s3cr3t-Pa55@db/app';
  const problems = crontabProblems(`DATABASE_URL=${secret}\n export X=1\n`);
  assert.equal(problems[0]!.text, 'DATABASE_URL=(hidden)');
  assert.not.ok(JSON.stringify(problems).includes('s3cr3t'), JSON.stringify(problems));
  assert.is(withVariableHidden('  PATH = /a:/b'), '  PATH =(hidden)');
  assert.is(withVariableHidden('@daily PATH=/a cmd'), '@daily PATH=/a cmd', 'a job line is shown as it is');
  assert.is(withVariableHidden('# A=1'), '# A=1');
});

test.run();
