// A key that may hold a file's content (SSH_KEY, KNOWN_HOSTS, FORGE_KNOWN_HOSTS, APP_ENV_FILE)
// given content hoist does not read as such (a base64-encoded key from a CI secret) must not
// reach a log in any shape (issue #22): not as given, and not as the path made of it (path.resolve
// turns `//` into `/` and drops a trailing `/`, so a mask that looks for the exact value misses
// it; GitHub masks only the exact secret). Checked on the error itself and on everything the real
// bin prints, from the environment (HOIST_ENV=1 and without) and from a settings file. A short
// path that is simply missing is still named.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../lib/config/load-config.ts';
import { ConfigError } from '../../lib/errors.ts';
import { REPO_ROOT } from '../harness/testbed.ts';

const BIN = join(REPO_ROOT, 'bin/hoist.mjs');
const dir = mkdtempSync(join(tmpdir(), 'hoist-content-hidden-'));
const keyPath = join(dir, 'id');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
const keyText = readFileSync(keyPath);

/**
 * The key base64-encoded, as a CI secret often holds it, made to contain `//` and to end in `/`
 * (0xff 0xff 0xff encodes as `////`; the key is padded to whole 3-byte groups so the bytes after
 * it keep their shape).
 */
function awkwardBase64(content: Buffer): string {
  const padded = Buffer.concat([content, Buffer.alloc((3 - (content.length % 3)) % 3, 0x0a)]);
  const half = Math.floor(padded.length / 6) * 3;
  const ff = Buffer.from([0xff, 0xff, 0xff]);
  const b64 = Buffer.concat([padded.subarray(0, half), ff, padded.subarray(half), ff]).toString('base64');
  assert.ok(b64.includes('//') && b64.endsWith('/') && !b64.endsWith('=='), b64.slice(-8));
  return b64;
}
const B64_KEY = awkwardBase64(keyText);
const B64_ENV = awkwardBase64(Buffer.from('DATABASE_URL=postgres://app:s3cr3t-pw-0123456789@db/app\nAPI_TOKEN=tok_abcdefghijklmnopqrstuvwxyz0123456789\n'));

/** The first window of 16 characters of `value` (or of the path made of it) found in `text`. */
function leak(text: string, value: string): string | null {
  for (const form of [value, resolve(dir, value), value.replace(/\/+/g, '/')]) {
    for (let i = 0; i + 16 <= form.length; i++) {
      const window = form.slice(i, i + 16);
      if (!`${dir}/`.includes(window) && text.includes(window)) return window;
    }
  }
  return null;
}

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('no error thrown');
}

const envFile = (text: string) => {
  const p = join(dir, `${Math.random().toString(36).slice(2)}.env`);
  writeFileSync(p, text);
  return p;
};

const CASES: { name: string; key: string; value: string; load: (value: string) => unknown }[] = [
  { name: 'SSH_KEY from the environment, HOIST_ENV=1', key: 'SSH_KEY', value: B64_KEY, load: (v) => loadConfig({ envFile: envFile(''), env: { HOIST_ENV: '1', HOST: '10.0.0.1', SSH_KEY: v } }) },
  { name: 'SSH_KEY from a settings file, no HOIST_ENV', key: 'SSH_KEY', value: B64_KEY, load: (v) => loadConfig({ envFile: envFile(`HOST=10.0.0.1\nSSH_KEY=${v}\n`), env: {} }) },
  { name: 'KNOWN_HOSTS from a settings file', key: 'KNOWN_HOSTS', value: B64_KEY, load: (v) => loadConfig({ envFile: envFile(`HOST=10.0.0.1\nSSH_KEY=${keyPath}\nKNOWN_HOSTS=${v}\n`), env: {} }) },
  { name: 'FORGE_KNOWN_HOSTS from the environment', key: 'FORGE_KNOWN_HOSTS', value: B64_KEY, load: (v) => loadConfig({ envFile: envFile(`HOST=10.0.0.1\nSSH_KEY=${keyPath}\n`), env: { HOIST_ENV: '1', FORGE_KNOWN_HOSTS: v } }) },
  { name: 'APP_ENV_FILE from the environment, HOIST_ENV=1', key: 'APP_ENV_FILE', value: B64_ENV, load: (v) => loadConfig({ envFile: envFile(`HOST=10.0.0.1\nSSH_KEY=${keyPath}\n`), env: { HOIST_ENV: '1', APP_ENV_FILE: v } }) },
  { name: 'APP_ENV_FILE from a settings file', key: 'APP_ENV_FILE', value: B64_ENV, load: (v) => loadConfig({ envFile: envFile(`HOST=10.0.0.1\nSSH_KEY=${keyPath}\nAPP_ENV_FILE=${v}\n`), env: {} }) },
  {
    name: 'APP_ENV_FILE per host in an inventory',
    key: 'APP_ENV_FILE',
    value: B64_ENV,
    load: (v) => {
      const inventory = join(dir, `inv-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(inventory, JSON.stringify({ hosts: { web1: { host: '10.0.0.1', vars: { APP_ENV_FILE: v } } } }));
      return loadConfig({ envFile: envFile(`SSH_KEY=${keyPath}\n`), inventoryFile: inventory, env: {} });
    },
  },
];

for (const c of CASES) {
  test(`${c.name}: refused, naming the key, and no 16 characters of the value or its path in the message`, () => {
    const e = thrown(() => c.load(c.value));
    assert.instance(e, ConfigError, String(e));
    assert.ok(e.message.startsWith(`${c.key}=`), e.message);
    assert.ok(e.message.includes('(hidden)'), e.message);
    assert.match(e.message, /Fix: /);
    assert.is(leak(e.message, c.value), null, `leaks ${leak(e.message, c.value)}: ${e.message}`);
  });
}

test('a content-like value that names something unreadable (a folder) is hidden with the path made of it', () => {
  const name = 'a+b='.repeat(30);
  mkdirSync(join(dir, name));
  const value = `${dir}//${name}/`;
  const e = thrown(() => loadConfig({ envFile: envFile(''), env: { HOIST_ENV: '1', HOST: '10.0.0.1', SSH_KEY: value } }));
  assert.instance(e, ConfigError);
  assert.match(e.message, /^SSH_KEY="\(hidden\)" in the environment: cannot read \(hidden\) \(EISDIR\)/);
  assert.not.ok(e.message.includes(name.slice(0, 16)), e.message);
});

test('a short relative path that is simply missing is still named, resolved', () => {
  const e = thrown(() => loadConfig({ envFile: envFile('HOST=10.0.0.1\nSSH_KEY=keys/id\n'), env: {} }));
  assert.instance(e, ConfigError);
  assert.ok(e.message.includes('SSH_KEY="keys/id"'), e.message);
  assert.ok(e.message.includes(join(dir, 'keys/id')), e.message);
  assert.match(e.message, /cannot read/);
});

/** The real bin, as a user or a CI job runs it; nothing from HOME or the caller's environment. */
const viaBin = (args: string[], env: Record<string, string>) =>
  spawnSync(BIN, args, { cwd: dir, env: { PATH: process.env.PATH!, HOME: dir, NODE_OPTIONS: '', ...env }, encoding: 'utf8', timeout: 60_000 });

test('the bin prints no 16 characters of a base64 SSH_KEY or APP_ENV_FILE, from the environment or a settings file (run, status, exec)', () => {
  const runs: [string, ReturnType<typeof viaBin>, string][] = [
    ['run, SSH_KEY from the environment', viaBin(['run', 'release', '--env-file', envFile('APP_NAME=app\n')], { HOIST_ENV: '1', HOST: '203.0.113.9', SSH_KEY: B64_KEY }), B64_KEY],
    ['status, SSH_KEY from the environment, no settings file', viaBin(['status'], { HOIST_ENV: '1', HOST: '203.0.113.9', SSH_KEY: B64_KEY }), B64_KEY],
    ['run --json -, SSH_KEY from a settings file', viaBin(['run', 'release', '--json', '-', '--env-file', envFile(`HOST=203.0.113.9\nSSH_KEY=${B64_KEY}\n`)], {}), B64_KEY],
    ['run, APP_ENV_FILE from the environment', viaBin(['run', 'release', '--env-file', envFile(`HOST=203.0.113.9\nSSH_KEY=${keyPath}\n`)], { HOIST_ENV: '1', APP_ENV_FILE: B64_ENV }), B64_ENV],
  ];
  for (const [name, r, value] of runs) {
    assert.is(r.status, 2, `${name}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /^hoist: config error: (SSH_KEY|APP_ENV_FILE)="\(hidden\)"/, `${name}: ${r.stderr}`);
    const all = r.stdout + r.stderr;
    assert.is(leak(all, value), null, `${name}: leaks ${leak(all, value)}:\n${all}`);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
