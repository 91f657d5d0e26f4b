// The redaction registry: every secret key of lib/config/keys.ts is registered from the settings,
// the values of an app .env in the forms an app prints them (as written, as read, per line, a
// URL's password, JSON/URL/base64), short values left alone, and every HoistError's message
// (remote stderr, a failed release's log tail) made with the values hidden.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KEYS } from '../../lib/config/keys.ts';
import type { LoadedConfig } from '../../lib/config/load-config.ts';
import type { Settings } from '../../lib/config/settings.ts';
import { HoistError, RemoteCommandError } from '../../lib/errors.ts';
import { addSecret, clearSecrets, redact } from '../../lib/secrets/redact.ts';
import { envFileValues, registerConfigSecrets, SECRET_SETTINGS } from '../../lib/secrets/register.ts';

const test = suite('secret redaction');
const dir = mkdtempSync(join(tmpdir(), 'hoist-redact-'));
test.after.each(() => clearSecrets());
test.after(() => rmSync(dir, { recursive: true, force: true }));

const ENV = [
  '# the app',
  'export PLAIN=plain-value-0123',
  'PORT=8000',
  'NODE_ENV=prod',
  'DATABASE_URL=postgres://app:p%40ss-word-99@db:5432/app # the database',
  'TRICKY="tricky-0123 it\'s \\"quoted\\" $NOT_A_VAR and',
  'second line 4567-end"',
  "SINGLE='single $quoted value'",
].join('\n');

test('every key marked secret in keys.ts is read from the settings', () => {
  assert.equal(Object.keys(SECRET_SETTINGS).sort(), KEYS.filter((k) => k.secret).map((k) => k.key).sort());
});

test('the values of a .env, as written and as read, with a URL\'s password on its own', () => {
  const values = Object.fromEntries(envFileValues(ENV).map((e) => [e.key, e.values]));
  assert.equal(values.PLAIN, ['plain-value-0123']);
  assert.equal(values.DATABASE_URL, ['postgres://app:p%40ss-word-99@db:5432/app # the database', 'postgres://app:p%40ss-word-99@db:5432/app', 'p%40ss-word-99', 'p@ss-word-99']);
  assert.equal(values.TRICKY, ['tricky-0123 it\'s \\"quoted\\" $NOT_A_VAR and\nsecond line 4567-end', 'tricky-0123 it\'s "quoted" $NOT_A_VAR and\nsecond line 4567-end']);
  assert.equal(values.SINGLE, ['single $quoted value']);
});

test('settings and APP_ENV_FILE are registered; long values are hidden in every form, short ones left alone', () => {
  const envFile = join(dir, 'app.env');
  writeFileSync(envFile, ENV);
  const settings = { githubToken: 'ghp_token0123456789', appEnvFile: envFile } as Settings;
  registerConfigSecrets({ envFile: null, hosts: [{ name: 'web1', address: '127.0.0.1', tags: [], settings }] } as LoadedConfig);
  const log = [
    'web_1 | starting with DATABASE_URL=postgres://app:p%40ss-word-99@db:5432/app',
    'web_1 | password p@ss-word-99 rejected',
    'web_1 | second line 4567-end',
    'curl -H "Authorization: Bearer ghp_token0123456789"',
    `basic ${Buffer.from('ghp_token0123456789').toString('base64')}`,
    `json {"v":${JSON.stringify('tricky-0123 it\'s "quoted" $NOT_A_VAR and\nsecond line 4567-end')}}`,
    'listening on 8000 in prod mode',
  ].join('\n');
  const out = redact(log);
  for (const secret of ['p%40ss-word-99', 'p@ss-word-99', 'second line 4567-end', 'ghp_token0123456789', 'tricky-0123', Buffer.from('ghp_token0123456789').toString('base64')]) {
    assert.not.ok(out.includes(secret), `${secret} hidden in:\n${out}`);
  }
  assert.match(out, /starting with DATABASE_URL=\[secret APP_ENV_FILE DATABASE_URL\]/);
  assert.match(out, /Bearer \[secret GITHUB_TOKEN\]/);
  assert.match(out, /listening on 8000 in prod mode/, 'short values (8000, prod) are left alone');
});

test('HoistError messages are made with known secrets hidden: remote stderr, log tails', () => {
  addSecret('s3cret-value-42', 'TEST');
  const e = new RemoteCommandError('docker compose up', 1, 'error: bad value s3cret-value-42\n');
  assert.is(e.message, 'docker compose up failed (exit 1): error: bad value [secret TEST]');
  assert.is(new HoistError('Last log lines:\nusing s3cret-value-42').message, 'Last log lines:\nusing [secret TEST]');
  assert.is(new HoistError('nothing secret').message, 'nothing secret');
});

test('nothing registered: text passes unchanged', () => {
  assert.is(redact('s3cret-value-42'), 's3cret-value-42');
});

test.run();
