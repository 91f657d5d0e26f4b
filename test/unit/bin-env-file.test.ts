// `--env-file` is also Node's own option, and Node 20 reads it even after the script's name
// (nodejs/node#54232): `hoist init --env-file new.env` died with Node's "new.env: not found",
// exit 9, before hoist ran. The real entry points (the `hoist` bin through its #! line, and the
// npm scripts) must hand every word to hoist: a new file for init, hoist's own error and exit 2
// for a missing one, and none of the settings file's values in hoist's process.env.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../harness/testbed.ts';

const BIN = join(REPO_ROOT, 'bin/hoist.mjs');
const CANARY_PIPELINE = join(REPO_ROOT, 'test/fixtures/pipelines/env-canary.mjs');
const dir = mkdtempSync(join(tmpdir(), 'hoist-env-file-'));
const env = { ...process.env, HOME: dir, NODE_OPTIONS: '' };
const key = join(dir, 'id_ed25519');
spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);

/** The way a user runs it: the bin file itself (its #! line picks node), or an npm script. */
const viaBin = (args: string[]) => spawnSync(BIN, args, { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
const viaNpm = (script: string, args: string[]) =>
  spawnSync('npm', ['run', '--silent', '--prefix', REPO_ROOT, script, '--', ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });

test('hoist init --env-file writes a settings file that does not exist yet (bin and npm run setup)', () => {
  const flags = ['--host', '203.0.113.7', '--user', 'root', '--key', key, '--domain', 'second.example.com', '--repo', 'git@github.com:acme/second.git'];
  for (const [how, run] of [
    ['bin', () => viaBin(['init', '--env-file', join(dir, 'second.env'), ...flags])],
    ['npm run setup', () => viaNpm('setup', ['--env-file', join(dir, 'third.env'), ...flags])],
  ] as const) {
    const file = join(dir, how === 'bin' ? 'second.env' : 'third.env');
    const r = run();
    assert.is(r.status, 0, `${how}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    assert.not.match(r.stderr, /node: .*not found/, `${how}: Node did not take the option`);
    assert.ok(existsSync(file), `${how}: ${file} written`);
    assert.match(readFileSync(file, 'utf8'), /^APP_DOMAIN=.*second\.example\.com/m);
    assert.match(readFileSync(file, 'utf8'), /^APP_NAME=second$/m, 'named after the repository');
    assert.is(statSync(file).mode & 0o777, 0o600, `${how}: mode 600`);
  }
});

test('a missing settings file gets hoist\'s own error, exit 2, the fix named (bin and npm scripts)', () => {
  const missing = join(dir, 'nope.env');
  for (const [how, r] of [
    ['bin run', viaBin(['run', 'release', '--env-file', missing])],
    ['bin status', viaBin(['status', '--env-file', missing])],
    ['npm run pipeline:release', viaNpm('pipeline:release', ['--env-file', missing])],
    ['npm run pipeline:plan', viaNpm('pipeline:plan', ['--env-file', missing])],
  ] as const) {
    assert.is(r.status, 2, `${how}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    assert.not.match(r.stderr, /^node: /m, `${how}: not Node's own error`);
    assert.ok(r.stderr.includes(`--env-file ${missing}: no such file`), `${how}: names the file:\n${r.stderr}`);
    assert.match(r.stderr, /Fix: /, `${how}: says what to do`);
  }
});

test('the settings file\'s values are read by hoist, never loaded into its process.env', () => {
  const canary = `canary-${process.pid}-${Date.now()}.example.com`;
  const file = join(dir, 'canary.env');
  writeFileSync(file, `HOST=203.0.113.9\nSSH_KEY=${key}\nAPP_DOMAIN=${canary}\nAPP_NAME=canaryapp\n`);
  const r = viaBin(['run', CANARY_PIPELINE, '--env-file', file, '--json', '-']);
  assert.is(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const reason = (JSON.parse(r.stdout) as { hosts: { tasks: { reason?: string }[] }[] }).hosts[0]!.tasks[0]!.reason ?? '';
  assert.match(reason, /settings: domain canary-/, 'hoist read the file');
  assert.ok(reason.includes(canary), reason);
  assert.match(reason, /process\.env holds none of the file's keys/, reason);
});

test.run();
