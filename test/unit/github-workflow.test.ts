// `hoist init --ci github` (issue #13): the workflow it writes is valid for GitHub Actions —
// checked against SchemaStore's published JSON schema for workflows (vendored in
// test/fixtures/schemas, validated with ajv), not by eye — and says what it must: push to the
// branch, one release at a time, the pushed sha, settings from the environment, secrets by name,
// the report as an artifact. init names the secrets to create and refuses what cannot work.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import { githubWorkflow, releaseCommand } from '../../lib/ci/github-workflow.ts';
import { parseCli } from '../../lib/cli/args.ts';
import { runInit, type InitArgs } from '../../lib/cli/init.ts';
import { UsageError } from '../../lib/errors.ts';

const SCHEMA = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/schemas/github-workflow.json', import.meta.url)), 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true });
const validate = ajv.compile(SCHEMA);
const valid = (yamlText: string) => {
  const ok = validate(YAML.parse(yamlText));
  return ok ? '' : ajv.errorsText(validate.errors);
};

const options = { branch: 'main', plain: { HOST: '203.0.113.7', APP_NAME: 'shop' }, secrets: { SSH_KEY: 'HOIST_SSH_KEY', KNOWN_HOSTS: 'HOIST_KNOWN_HOSTS' }, lockWaitSeconds: 900, nodeVersion: '20', lockfile: true };

test('the schema is strict enough to catch a broken workflow (so a pass means something)', () => {
  assert.ok(valid('on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n') === '');
  assert.ok(valid('on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n') !== '', 'unknown job key');
  assert.ok(valid('on: push\nconcurrency:\n  group: x\n  cancel-in-progress: maybe\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: x\n') !== '', 'bad concurrency');
  assert.ok(valid('jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: x\n') !== '', 'no on:');
});

test('the generated workflow is valid and says what it must', () => {
  const text = githubWorkflow({ ...options, inventory: 'deploy/hosts.yml' });
  assert.is(valid(text), '');
  const doc = YAML.parse(text);
  assert.equal(doc.on.push.branches, ['main']);
  assert.equal(doc.concurrency, { group: 'hoist-release', 'cancel-in-progress': false });
  assert.equal(doc.permissions, { contents: 'read' });
  const steps = doc.jobs.release.steps;
  assert.equal(steps.map((s: { uses?: string; name?: string }) => s.uses ?? s.name), ['actions/checkout@v4', 'actions/setup-node@v4', 'Install hoist', 'Release', 'actions/upload-artifact@v4']);
  assert.equal(steps[1].with, { 'node-version': '20', cache: 'npm' });
  const release = steps[3];
  assert.is(release.run, './node_modules/.bin/hoist run release --inventory deploy/hosts.yml --lock-wait 900 --json hoist-report.json');
  assert.is(release.run, releaseCommand({ inventory: 'deploy/hosts.yml', lockWaitSeconds: 900 }));
  assert.equal(release.env, {
    HOIST_ENV: '1', HOST: '203.0.113.7', APP_NAME: 'shop', SSH_KEY: '${{ secrets.HOIST_SSH_KEY }}', KNOWN_HOSTS: '${{ secrets.HOIST_KNOWN_HOSTS }}', GIT_REF: '${{ github.sha }}',
  });
  assert.equal(steps[4].if, 'always()');
  assert.equal(steps[4].with, { name: 'hoist-report', path: 'hoist-report.json', 'if-no-files-found': 'ignore' });
  assert.match(text, /^# Written by `hoist init --ci github`[^\n]*\n# Secrets it reads[^\n]*\n#   HOIST_SSH_KEY: the private key/);
});

test('a value that needs quoting in YAML stays that value', () => {
  const text = githubWorkflow({ ...options, plain: { CADDY_EXTRA: 'header X-A "a: b"; encode gzip', SSHD_OPTIONS: '#1' } });
  assert.is(valid(text), '');
  const env = YAML.parse(text).jobs.release.steps[3].env;
  assert.is(env.CADDY_EXTRA, 'header X-A "a: b"; encode gzip');
  assert.is(env.SSHD_OPTIONS, '#1');
});

/** Runs `hoist init --ci github ARGS` in a fresh repo folder with `files`; output and the workflow. */
async function initIn(files: Record<string, string>, args: string[] = []): Promise<{ out: string; workflow: string; error?: unknown }> {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-init-ci-'));
  const prev = process.cwd();
  let out = '';
  try {
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    process.chdir(dir);
    const parsed = parseCli(['init', '--ci', 'github', ...args]) as InitArgs;
    const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    try {
      await runInit(parsed, { input: process.stdin, output: sink as typeof process.stdout });
    } catch (e) {
      return { out, workflow: '', error: e };
    }
    return { out, workflow: readFileSync(join(dir, '.github/workflows/release.yml'), 'utf8') };
  } finally {
    process.chdir(prev);
    rmSync(dir, { recursive: true, force: true });
  }
}

const PKG = JSON.stringify({ name: 'shop', private: true, devDependencies: { hoist: 'github:acme/hoist#v0.1.0' } });

test('init --ci github: plain settings written in, files and secrets as secrets, bootstrap-only keys left out with a note', async () => {
  const env = [
    'HOST=203.0.113.7', 'SSH_KEY=~/.ssh/id_ed25519', 'KNOWN_HOSTS=~/.ssh/known_hosts', 'APP_NAME=shop', 'APP_REPO=git@github.com:acme/shop.git',
    'APP_ENV_FILE=./prod.env', 'SSH_KEY_PASSPHRASE=pw-secret', 'GITHUB_TOKEN=ghp_x1234', 'GIT_REF=develop', 'FORGE_KNOWN_HOSTS=', 'APP_PORT=8080',
  ].join('\n');
  const r = await initIn({ 'package.json': PKG, 'package-lock.json': '{}', '.env': env });
  assert.is(r.error, undefined, String(r.error));
  assert.is(valid(r.workflow), '');
  const stepEnv = YAML.parse(r.workflow).jobs.release.steps[3].env;
  assert.equal(stepEnv, {
    HOIST_ENV: '1', HOST: '203.0.113.7', APP_NAME: 'shop', APP_REPO: 'git@github.com:acme/shop.git', APP_PORT: '8080',
    SSH_KEY: '${{ secrets.HOIST_SSH_KEY }}', KNOWN_HOSTS: '${{ secrets.HOIST_KNOWN_HOSTS }}', APP_ENV_FILE: '${{ secrets.HOIST_APP_ENV_FILE }}', SSH_KEY_PASSPHRASE: '${{ secrets.HOIST_SSH_KEY_PASSPHRASE }}',
    GIT_REF: '${{ github.sha }}',
  });
  assert.not.ok(r.workflow.includes('pw-secret') || r.workflow.includes('ghp_x1234'), 'no secret value in the workflow');
  assert.match(r.out, /Create these repository secrets at https:\/\/github\.com\/acme\/shop\/settings\/secrets\/actions/);
  for (const s of ['HOIST_SSH_KEY:', 'HOIST_KNOWN_HOSTS:', 'HOIST_SSH_KEY_PASSPHRASE:', 'HOIST_APP_ENV_FILE:']) assert.ok(r.out.includes(`  ${s}`), s);
  assert.match(r.out, /note: GITHUB_TOKEN is left out: only bootstrap/);
  assert.not.ok(r.out.includes('pw-secret'));
});

test('init --ci github with an inventory leaves HOST out and passes --inventory; --branch and --lock-wait are used', async () => {
  const r = await initIn({ 'package.json': PKG, '.env': 'HOST=\nAPP_NAME=shop\n', 'deploy/hosts.yml': 'hosts: {}\n' }, ['--inventory', 'deploy/hosts.yml', '--branch', 'release', '--lock-wait', '60']);
  assert.is(r.error, undefined, String(r.error));
  const doc = YAML.parse(r.workflow);
  assert.equal(doc.on.push.branches, ['release']);
  assert.is(doc.jobs.release.steps[3].run, './node_modules/.bin/hoist run release --inventory deploy/hosts.yml --lock-wait 60 --json hoist-report.json');
  assert.is(doc.jobs.release.steps[2].run, 'npm install --no-audit --no-fund', 'no lockfile: npm install');
  assert.is(valid(r.workflow), '');
});

test('init --ci github refuses: no hoist in package.json, a ${{ in a value, an existing workflow without --force', async () => {
  const none = await initIn({ '.env': 'HOST=1.2.3.4\n' });
  assert.ok(none.error instanceof UsageError && /does not list hoist in package\.json.*another project/.test((none.error as Error).message), String(none.error));
  const expr = await initIn({ 'package.json': PKG, '.env': 'HOST=1.2.3.4\nCADDY_EXTRA="header X ${{ secrets.ALL }}"\n' });
  assert.ok(expr.error instanceof UsageError && /CADDY_EXTRA .*expression/.test((expr.error as Error).message), String(expr.error));
  const exists = await initIn({ 'package.json': PKG, '.env': 'HOST=1.2.3.4\n', '.github/workflows/release.yml': 'x' });
  assert.ok(exists.error instanceof UsageError && /exists already/.test((exists.error as Error).message));
  const forced = await initIn({ 'package.json': PKG, '.env': 'HOST=1.2.3.4\n', '.github/workflows/release.yml': 'x' }, ['--force']);
  assert.is(forced.error, undefined);
});

test('init flags: --ci takes github only; --branch without --ci is a usage error', () => {
  for (const args of [['init', '--ci', 'gitlab'], ['init', '--branch', 'main'], ['init', '--ci', 'github', '--host', '1.2.3.4']]) {
    let e: unknown;
    try {
      parseCli(args);
    } catch (err) {
      e = err;
    }
    assert.ok(e instanceof UsageError, args.join(' '));
  }
});

test.run();
