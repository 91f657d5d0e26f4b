// APP_ENV_FILE read locally: a real .env with tricky values passes (quotes, #, $, unicode, a
// newline inside quotes), broken files are ConfigErrors that never quote the content, and the
// content prints as [secret] through JSON, String and util.inspect.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError } from '../../lib/errors.ts';
import { envFileProblem, readEnvFile } from '../../tasks/git-sync/env-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'hoist-gs-envfile-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const TRICKY = [
  '# the app\'s settings',
  'export PLAIN=value',
  'QUOTED="it\'s \\"quoted\\" # not a comment"',
  "SINGLE='$HOME stays $HOME'",
  'HASH=abc#def',
  'DOLLAR=$(whoami) `id` ${X}',
  'UNICODE=héllo ✓ 漢字',
  'MULTI="line one',
  'line two = still the value',
  '"',
  '',
  'EMPTY=',
  'SPACED = x',
].join('\n');

test('tricky but valid files pass; the hash is of the bytes', () => {
  assert.is(envFileProblem(Buffer.from(TRICKY)), null);
  assert.is(envFileProblem(Buffer.from('A=1\r\nB="x\r\ny"\r\n')), null);
  const path = join(dir, 'ok.env');
  writeFileSync(path, TRICKY);
  const f = readEnvFile(path);
  assert.is(f.sha256.length, 64);
  assert.is(f.content.reveal().toString('utf8'), TRICKY);
});

test('broken files: a ConfigError naming APP_ENV_FILE and the line, never the content', () => {
  const cases: [string | Buffer, RegExp][] = [
    ['A=1\nthis is not a setting SECRETVALUE\n', /line 2 is not KEY=value \(its content is not shown\)/],
    ['A="SECRETVALUE\nB=2\n', /the quoted value starting on line 1 is never closed/],
    [Buffer.from([0x41, 0x3d, 0x00, 0x0a]), /holds NUL bytes/],
    [Buffer.from([0x41, 0x3d, 0xff, 0xfe, 0x0a]), /is not valid UTF-8/],
    ['-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETVALUE\n', /line 1 is not KEY=value/],
  ];
  for (const [content, pattern] of cases) {
    const path = join(dir, 'bad.env');
    writeFileSync(path, content);
    const e = (() => {
      try {
        readEnvFile(path);
      } catch (err) {
        return err as Error;
      }
      return null;
    })();
    assert.instance(e, ConfigError);
    assert.match(e!.message, /^APP_ENV_FILE=".*bad\.env": /);
    assert.match(e!.message, pattern);
    assert.not.ok(e!.message.includes('SECRETVALUE'));
  }
  const missing = (() => {
    try {
      readEnvFile(join(dir, 'missing.env'));
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  })();
  assert.match(missing, /APP_ENV_FILE=.*cannot be read \(ENOENT\)/);
});

test('the content never prints', () => {
  const path = join(dir, 'print.env');
  writeFileSync(path, 'TOKEN=SECRETVALUE\n');
  const f = readEnvFile(path);
  for (const shown of [JSON.stringify(f), String(f.content), `${f.content}`, inspect(f, { depth: 5, showHidden: true }), inspect({ wanted: { env: f } })]) {
    assert.not.ok(shown.includes('SECRETVALUE'), shown);
  }
  assert.ok(JSON.stringify(f).includes('"content":"[secret]"'));
});

test.run();
