// Settings from the environment (issue #13): HOIST_ENV=1 opts every known key in and the
// environment wins over .env; without it only secrets are read (a stray HOST in a shell does not
// redirect a deploy). File keys may hold the file's content: a mode-600 file in a mode-700
// folder, removed at exit, on an error and on a signal. The run report says where each key came
// from, never a value.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isInlineContent } from '../../lib/config/inline-files.ts';
import { loadConfig, readsAllFromEnvironment } from '../../lib/config/load-config.ts';
import { ConfigError } from '../../lib/errors.ts';
import { settingsSourcesText } from '../../lib/render/settings-sources.ts';
import { clearSecrets, redact } from '../../lib/secrets/redact.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CANARY = join(REPO_ROOT, 'test/fixtures/pipelines/env-canary.mjs');
let dir = '';
let key = '';
const HOSTLINE = '[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJmYXJ0ZXN0a2V5Zm9ydW5pdHRlc3RzMDAwMDAw';

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hoist-envcfg-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  key = readFileSync(join(dir, 'id'), 'utf8');
});
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  clearSecrets();
});

const envFile = (text: string) => {
  const p = join(dir, `${Math.random().toString(36).slice(2)}.env`);
  writeFileSync(p, text);
  return p;
};

test('without HOIST_ENV a stray HOST, GIT_REF or APP_NAME in the environment is not read; secrets are', () => {
  const c = loadConfig({ envFile: envFile(`HOST=10.0.0.1\nSSH_KEY=${join(dir, 'id')}\n`), env: { HOST: '10.6.6.6', GIT_REF: 'evil', APP_NAME: 'other', SSH_KEY_PASSPHRASE: 'pass-from-env' } });
  assert.is(c.hosts[0]!.address, '10.0.0.1');
  assert.is(c.hosts[0]!.settings.gitRef, 'main');
  assert.is(c.hosts[0]!.settings.appName, 'app');
  assert.is(c.sources!.SSH_KEY_PASSPHRASE, 'the environment');
  assert.is(c.sources!.HOST!.endsWith('.env'), true);
});

test('HOIST_ENV=1 with HOIST_ENV_WINS=1: every known key from the environment, the environment wins, no .env needed; empty counts as unset', () => {
  const file = envFile(`HOST=10.0.0.1\nAPP_NAME=fromfile\nAPP_PORT=9000\nSSH_KEY=${join(dir, 'id')}\n`);
  const c = loadConfig({ envFile: file, env: { HOIST_ENV: '1', HOIST_ENV_WINS: '1', HOST: '10.0.0.2', APP_NAME: 'fromenv', APP_PORT: '', NOT_A_HOIST_KEY: 'x' } });
  assert.is(c.hosts[0]!.address, '10.0.0.2');
  assert.is(c.hosts[0]!.settings.appName, 'fromenv');
  assert.is(c.hosts[0]!.settings.appPort, 9000, 'an empty variable leaves the file value');
  assert.equal(c.sources, { HOST: 'the environment', APP_NAME: 'the environment', APP_PORT: file, SSH_KEY: file });

  const cwdNoEnv = mkdtempSync(join(dir, 'cwd-'));
  const prev = process.cwd();
  process.chdir(cwdNoEnv);
  try {
    const c2 = loadConfig({ env: { HOIST_ENV: 'true', HOST: '10.0.0.3', SSH_KEY: join(dir, 'id') } });
    assert.is(c2.envFile, null);
    assert.is(c2.hosts[0]!.address, '10.0.0.3');
  } finally {
    process.chdir(prev);
  }
});

/** The ConfigError loadConfig throws, or a failure naming what it returned instead. */
function refusal(opts: Parameters<typeof loadConfig>[0]): ConfigError {
  try {
    const c = loadConfig(opts);
    throw new Error(`no error: ${JSON.stringify(c.sources)}`);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
}

test('a secret set in .env and, to another value, in the environment (no HOIST_ENV) stops the run, naming the key and both places, no value', () => {
  const file = envFile(`HOST=10.0.0.1\nSSH_KEY=${join(dir, 'id')}\nGITHUB_TOKEN=ghp_fromfile1234\n`);
  const e = refusal({ envFile: file, env: { GITHUB_TOKEN: 'ghp_fromshell5678' } });
  assert.ok(e.message.startsWith(`GITHUB_TOKEN in ${file} is also set in the environment, to another value (neither value is shown: a secret)`), e.message);
  assert.match(e.message, /Fix: keep one: unset GITHUB_TOKEN in the environment, or remove it from .*; or set HOIST_ENV_WINS=1/);
  assert.not.ok(e.message.includes('fromfile1234') || e.message.includes('fromshell5678'), e.message);
  // The same value in both is no conflict; the file stays the source.
  assert.is(loadConfig({ envFile: file, env: { GITHUB_TOKEN: 'ghp_fromfile1234' } }).sources!.GITHUB_TOKEN, file);
  // Asked for in so many words, the environment wins, and the sources say so.
  const won = loadConfig({ envFile: file, env: { GITHUB_TOKEN: 'ghp_fromshell5678', HOIST_ENV_WINS: '1' } });
  assert.is(won.hosts[0]!.settings.githubToken, 'ghp_fromshell5678');
  assert.is(won.sources!.GITHUB_TOKEN, 'the environment');
});

test('HOIST_ENV=1: HOST or GIT_REF exported to another value than .env stops the run before any host is made; same values pass', () => {
  const file = envFile(`HOST=10.0.0.1\nGIT_REF=main\nSSH_KEY=${join(dir, 'id')}\n`);
  for (const [key, value] of [['HOST', '10.6.6.6'], ['GIT_REF', 'evil-branch']] as const) {
    const e = refusal({ envFile: file, env: { HOIST_ENV: '1', [key]: value } });
    assert.ok(e.message.startsWith(`${key} in ${file} is also set in the environment, to another value (values not shown)`), e.message);
    assert.not.ok(e.message.includes(value), e.message);
    assert.ok(e.message.includes('HOIST_ENV_WINS=1'), e.message);
  }
  const same = loadConfig({ envFile: file, env: { HOIST_ENV: '1', HOST: '10.0.0.1', GIT_REF: 'main', APP_NAME: 'onlyenv' } });
  assert.is(same.hosts[0]!.address, '10.0.0.1');
  assert.equal(same.sources, { HOST: file, GIT_REF: file, SSH_KEY: file, APP_NAME: 'the environment' });
  // An empty line in the file is unset: the environment fills it without a conflict.
  const filled = loadConfig({ envFile: envFile(`HOST=\nSSH_KEY=${join(dir, 'id')}\n`), env: { HOIST_ENV: '1', HOST: '10.0.0.9' } });
  assert.is(filled.hosts[0]!.address, '10.0.0.9');
  assert.throws(() => loadConfig({ envFile: file, env: { HOIST_ENV: '1', HOIST_ENV_WINS: 'yes' } }), (err: unknown) => err instanceof ConfigError && /^HOIST_ENV_WINS="yes"/.test(err.message));
});

test('the bin prints where each setting came from (names, no values) before the run, in plain and --json - output', () => {
  const file = envFile(`HOST=203.0.113.9\nSSH_KEY=${join(dir, 'id')}\nAPP_DOMAIN=fromfile.example.com\n`);
  const env = { PATH: process.env.PATH!, HOME: dir, NODE_OPTIONS: '', HOIST_ENV: '1', APP_NAME: 'envapp', GITHUB_TOKEN: 'ghp_sources9876' };
  const plain = spawnSync(join(REPO_ROOT, 'bin/hoist.mjs'), ['run', CANARY, '--env-file', file], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  assert.is(plain.status, 0, plain.stdout + plain.stderr);
  const lines = plain.stdout.split('\n');
  assert.equal(lines.slice(0, 2), [`settings from ${file}: HOST, SSH_KEY, APP_DOMAIN`, 'settings from the environment: APP_NAME, GITHUB_TOKEN'], plain.stdout);
  assert.ok(plain.stdout.indexOf('env-canary') > plain.stdout.indexOf('settings from the environment'), 'before the first task');
  const json = spawnSync(join(REPO_ROOT, 'bin/hoist.mjs'), ['run', CANARY, '--env-file', file, '--json', '-'], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  assert.is(json.status, 0, json.stdout + json.stderr);
  assert.equal((JSON.parse(json.stdout) as { settings: Record<string, string> }).settings, { HOST: file, SSH_KEY: file, APP_DOMAIN: file, APP_NAME: 'the environment', GITHUB_TOKEN: 'the environment' });
  assert.ok(json.stderr.startsWith(`settings from ${file}: HOST, SSH_KEY, APP_DOMAIN\nsettings from the environment: APP_NAME, GITHUB_TOKEN\n`), json.stderr);
  for (const out of [plain.stdout, plain.stderr, json.stdout, json.stderr]) assert.not.ok(out.includes('ghp_sources9876'), out);
});

test('HOIST_ENV other than 1/true/0/false is a config error naming it', () => {
  assert.is(readsAllFromEnvironment({}), false);
  assert.is(readsAllFromEnvironment({ HOIST_ENV: '0' }), false);
  let e: unknown;
  try {
    readsAllFromEnvironment({ HOIST_ENV: 'yes' });
  } catch (err) {
    e = err;
  }
  assert.ok(e instanceof ConfigError && /HOIST_ENV/.test(e.message), String(e));
});

test('content is told from a path', () => {
  assert.ok(isInlineContent('private-key', key));
  assert.not.ok(isInlineContent('private-key', '~/.ssh/id_ed25519'));
  assert.ok(isInlineContent('known-hosts', `${HOSTLINE}\n# comment\n${HOSTLINE}\n`));
  assert.ok(isInlineContent('known-hosts', HOSTLINE));
  assert.not.ok(isInlineContent('known-hosts', '/home/me/.ssh/known_hosts'));
  assert.not.ok(isInlineContent('known-hosts', 'My Files/known hosts'));
  assert.ok(isInlineContent('env-file', 'SECRET=1'));
  assert.ok(isInlineContent('env-file', '# app settings\nA=1\n'));
  assert.not.ok(isInlineContent('env-file', 'config/app.env'));
});

test('SSH_KEY, KNOWN_HOSTS and APP_ENV_FILE as content: mode-600 files in a mode-700 folder; the key is a secret; sources say content', () => {
  clearSecrets();
  const c = loadConfig({ env: { HOIST_ENV: '1', HOST: '10.0.0.4', SSH_KEY: key.replace(/\n/g, '\r\n').trimEnd(), KNOWN_HOSTS: HOSTLINE, APP_ENV_FILE: 'SECRET=abc\n' } });
  const s = c.hosts[0]!.settings;
  for (const path of [s.sshKeyPath, s.knownHostsPath, s.appEnvFile!]) {
    assert.is(statSync(path).mode & 0o777, 0o600, path);
    assert.is(statSync(dirname(path)).mode & 0o777, 0o700);
  }
  assert.is(readFileSync(s.sshKeyPath, 'utf8'), key, 'CRLF and a missing last newline mended');
  assert.is(readFileSync(s.knownHostsPath, 'utf8'), `${HOSTLINE}\n`);
  assert.is(c.sources!.SSH_KEY, 'the environment (content)');
  const line = settingsSourcesText(c.sources);
  assert.match(line, /^settings from the environment: HOST, SSH_KEY \(content, in a temporary file\), KNOWN_HOSTS \(content, in a temporary file\), APP_ENV_FILE \(content/);
  assert.not.ok(line.includes('BEGIN'));
  const keyBody = key.split('\n')[1]!;
  assert.not.ok(redact(`oops ${keyBody}`).includes(keyBody), 'a line of the key is hidden in output');
});

test('a value of several lines that is no key is refused without being shown', () => {
  const broken = 'not a key line one\nline two secret-ish';
  let e: unknown;
  try {
    loadConfig({ env: { HOIST_ENV: '1', HOST: '10.0.0.5', SSH_KEY: broken } });
  } catch (err) {
    e = err;
  }
  assert.ok(e instanceof ConfigError, String(e));
  assert.match((e as Error).message, /^SSH_KEY="\(hidden\)" in the environment: holds several lines but not an OpenSSH\/PEM private key/);
  assert.not.ok((e as Error).message.includes('secret-ish'));
});

/** Runs the fixture with SSH_KEY as content; returns the folder it printed, its exit code and signal. */
function child(how: 'exit' | 'throw' | 'wait', signal?: NodeJS.Signals): Promise<{ folder: string; code: number | null; signal: NodeJS.Signals | null }> {
  const cwd = mkdtempSync(join(dir, 'child-'));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(REPO_ROOT, 'test/fixtures/inline/load-and-wait.ts'), how], {
      cwd,
      env: { PATH: process.env.PATH, HOIST_ENV: '1', HOST: '10.0.0.6', SSH_KEY: key, RUNNER_TEMP: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.stderr.on('data', (d) => (err += d));
    p.stdout.on('data', (d) => {
      out += d;
      if (signal && out.includes('\n')) p.kill(signal);
    });
    p.on('error', reject);
    p.on('close', (code, sig) => {
      clearTimeout(timer);
      const folder = out.split(' ')[0]!;
      if (!folder.startsWith(dir)) reject(new Error(`no folder printed: ${out} ${err}`));
      else resolve({ folder, code, signal: sig });
    });
  });
}

test('the temporary folder is removed at exit, on an uncaught error, and on SIGINT / SIGTERM (under RUNNER_TEMP)', async () => {
  for (const [how, signal, code] of [['exit', undefined, 0], ['throw', undefined, 1], ['wait', 'SIGINT', 130], ['wait', 'SIGTERM', 143]] as const) {
    const r = await child(how, signal);
    assert.is(r.code, code, `${how} ${signal ?? ''}`);
    assert.not.ok(existsSync(r.folder), `${how} ${signal ?? ''}: ${r.folder} is gone`);
  }
});

test.run();
