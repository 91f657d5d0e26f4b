// envSyntaxProblem: what dotenv would silently drop from hoist's .env, or let win twice. Every
// case is also parsed with dotenv itself, so "accepted" here means dotenv reads every line.
import dotenv from 'dotenv';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { envSyntaxProblem } from '../../lib/config/env-syntax.ts';

const READ: [string, string, Record<string, string>][] = [
  ['comments, blanks, export, colon style', '# c\n\n  # indented\nexport A=1\nB: two\nC=3 # trailing\n', { A: '1', B: 'two', C: '3' }],
  ['a double-quoted value over lines, with # and = inside', 'A="one\n# not a comment\nB=not a key"\nC=3\n', { A: 'one\n# not a comment\nB=not a key', C: '3' }],
  ["single quotes and backticks over lines", "A='x\ny'\nB=`p\nq`\n", { A: 'x\ny', B: 'p\nq' }],
  ['CRLF line ends', 'A=1\r\nB=2\r\n', { A: '1', B: '2' }],
  ['an empty value and a lone quote', "A=\nB='unclosed\n", { A: '', B: "'unclosed" }],
];

for (const [name, text, values] of READ) {
  test(`read whole: ${name}`, () => {
    assert.equal(dotenv.parse(text), values, 'dotenv reads these values');
    assert.is(envSyntaxProblem(text), null);
  });
}

const DROPPED: [string, string, ReturnType<typeof envSyntaxProblem>][] = [
  ['a key without =', 'A=1\nCRON_FILE jobs.crontab\n', { kind: 'not-key-value', line: 2, key: 'CRON_FILE' }],
  ['a shell line', 'A=1\n\n$(touch /tmp/x)\n', { kind: 'not-key-value', line: 3, key: null }],
  ['text after a closed multi-line value is still read', 'A="x\ny"\nB 2\n', { kind: 'not-key-value', line: 3, key: 'B' }],
  ['a key given twice', 'A=1\nB=2\n\nA=3\n', { kind: 'duplicate', key: 'A', lines: [1, 4] }],
  ['a key given twice, once exported', 'export A=1\nA=2\n', { kind: 'duplicate', key: 'A', lines: [1, 2] }],
];

for (const [name, text, problem] of DROPPED) {
  test(`refused: ${name}`, () => {
    assert.equal(envSyntaxProblem(text), problem);
  });
}

test.run();
