// `hoist init --ci github` (issue #13): the workflow it writes is valid for GitHub Actions —
// checked against SchemaStore's published JSON schema for workflows (vendored in
// test/fixtures/schemas, validated with ajv), not by eye — and says what it must: push to the
// branch, one release at a time, the pushed sha, settings from the environment, secrets by name,
// the report as an artifact. init names the secrets to create and refuses what cannot work.
// Issue #22: only the release branch can release or read the secrets (a GitHub environment's
// secrets, the job's `if:` and a guard step on the ref, no dispatch input), every action is
// pinned by commit, the checkout keeps no token, and hoist is installed with npm ci.
import { spawnSync } from 'node:child_process';
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

const options = { branch: 'main', plain: { HOST: '203.0.113.7', APP_NAME: 'shop' }, secrets: { SSH_KEY: 'HOIST_SSH_KEY', KNOWN_HOSTS: 'HOIST_KNOWN_HOSTS' }, lockWaitSeconds: 900, nodeVersion: '20', environment: 'production' };

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
  assert.equal(steps.map((s: { uses?: string; name?: string }) => s.uses?.split('@')[0] ?? s.name), ['Refuse any ref but main', 'actions/checkout', 'actions/setup-node', 'Install hoist', 'Release', 'actions/upload-artifact']);
  assert.equal(steps[2].with, { 'node-version': '20', cache: 'npm' });
  const release = steps[4];
  assert.is(release.run, './node_modules/.bin/hoist run release --inventory deploy/hosts.yml --lock-wait 900 --json hoist-report.json');
  assert.is(release.run, releaseCommand({ inventory: 'deploy/hosts.yml', lockWaitSeconds: 900 }));
  assert.equal(release.env, {
    HOIST_ENV: '1', HOST: '203.0.113.7', APP_NAME: 'shop', SSH_KEY: '${{ secrets.HOIST_SSH_KEY }}', KNOWN_HOSTS: '${{ secrets.HOIST_KNOWN_HOSTS }}', GIT_REF: '${{ github.sha }}',
  });
  assert.equal(steps[5].if, 'always()');
  assert.equal(steps[5].with, { name: 'hoist-report', path: 'hoist-report.json', 'if-no-files-found': 'ignore' });
  assert.match(text, /^# Written by `hoist init --ci github`[^\n]*\n# Secrets it reads, from the GitHub environment "production"[^\n]*\n# deployment branch rule must allow main only[^\n]*\n#   HOIST_SSH_KEY: the private key/);
});

/** Every string value in `doc` with its path ("jobs.release.steps.4.env.SSH_KEY"). */
function strings(doc: unknown, path: string[] = []): { path: string[]; value: string }[] {
  if (typeof doc === 'string') return [{ path, value: doc }];
  if (doc && typeof doc === 'object') return Object.entries(doc).flatMap(([k, v]) => strings(v, [...path, k]));
  return [];
}

test('the secrets are a GitHub environment\'s: the job names it, and no secret is read outside that job', () => {
  for (const environment of ['production', 'prod-eu']) {
    const doc = YAML.parse(githubWorkflow({ ...options, environment }));
    assert.is(doc.jobs.release.environment, environment);
    const uses = strings(doc).filter((s) => s.value.includes('secrets.'));
    assert.is(uses.length, 2, 'SSH_KEY and KNOWN_HOSTS');
    for (const u of uses) {
      assert.is(u.path[0], 'jobs', u.path.join('.'));
      assert.ok(doc.jobs[u.path[1]!].environment, `${u.path.join('.')}: in a job without an environment`);
    }
  }
});

test('only the release branch releases: the job\'s if: on github.ref, no dispatch input, a first step refusing any other ref', () => {
  for (const branch of ['main', 'release/v2']) {
    const text = githubWorkflow({ ...options, branch });
    assert.is(valid(text), '');
    const doc = YAML.parse(text);
    assert.equal(doc.on.push.branches, [branch]);
    assert.is(doc.jobs.release.if, `github.ref == 'refs/heads/${branch}'`, 'both push and workflow_dispatch runs are checked');
    assert.equal(doc.on.workflow_dispatch, {}, 'no input: a run on demand cannot name an unreviewed commit');
    const guard = doc.jobs.release.steps[0];
    assert.ok(guard.run && !guard.uses, 'the guard is the first step, before checkout');
    // The guard's script, run by bash as the runner would, for the release branch and others.
    const run = (ref: string) => spawnSync('bash', ['-e', '-c', guard.run], { env: { ...process.env, GITHUB_REF: ref }, encoding: 'utf8' });
    assert.is(run(`refs/heads/${branch}`).status, 0);
    for (const other of ['refs/heads/feature', `refs/heads/${branch}-x`, `refs/tags/${branch}`, `refs/pull/1/merge`, '']) {
      const r = run(other);
      assert.is(r.status, 1, other);
      assert.match(r.stderr, `hoist releases ${branch} only, not ${other}: nothing was done`);
    }
  }
});

test('every action is pinned by a full commit sha, its version in a comment', () => {
  const text = githubWorkflow(options);
  const doc = YAML.parse(text);
  const uses = strings(doc).filter((s) => s.path.at(-1) === 'uses').map((s) => s.value);
  assert.is(uses.length, 3);
  for (const u of uses) assert.match(u, /^actions\/[a-z-]+@[0-9a-f]{40}$/, u);
  const usesLines = text.split('\n').filter((l) => /^\s*(- )?uses:/.test(l));
  assert.is(usesLines.length, 3);
  for (const l of usesLines) assert.match(l, /uses: \S+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/, l);
});

test('the token is read-only and the checkout does not keep it', () => {
  const doc = YAML.parse(githubWorkflow(options));
  const checkout = doc.jobs.release.steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/checkout@'));
  assert.equal(checkout.with, { 'persist-credentials': false });
  assert.equal(doc.permissions, { contents: 'read' });
  assert.not.ok('permissions' in doc.jobs.release, 'no job-level widening');
});

test('hoist is installed with npm ci (the lockfile\'s versions), never npm install or npx', () => {
  const text = githubWorkflow(options);
  const doc = YAML.parse(text);
  const runs = strings(doc).filter((s) => s.path.at(-1) === 'run').map((s) => s.value);
  assert.equal(runs.filter((r) => /\bnpm\b/.test(r)), ['npm ci --no-audit --no-fund']);
  assert.not.match(text, /npm install|npx /);
});

test('a value that needs quoting in YAML stays that value', () => {
  const text = githubWorkflow({ ...options, plain: { CADDY_EXTRA: 'header X-A "a: b"; encode gzip', SSHD_OPTIONS: '#1' } });
  assert.is(valid(text), '');
  const env = YAML.parse(text).jobs.release.steps[4].env;
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
  const stepEnv = YAML.parse(r.workflow).jobs.release.steps[4].env;
  assert.equal(stepEnv, {
    HOIST_ENV: '1', HOST: '203.0.113.7', APP_NAME: 'shop', APP_REPO: 'git@github.com:acme/shop.git', APP_PORT: '8080',
    SSH_KEY: '${{ secrets.HOIST_SSH_KEY }}', KNOWN_HOSTS: '${{ secrets.HOIST_KNOWN_HOSTS }}', APP_ENV_FILE: '${{ secrets.HOIST_APP_ENV_FILE }}', SSH_KEY_PASSPHRASE: '${{ secrets.HOIST_SSH_KEY_PASSPHRASE }}',
    GIT_REF: '${{ github.sha }}',
  });
  assert.not.ok(r.workflow.includes('pw-secret') || r.workflow.includes('ghp_x1234'), 'no secret value in the workflow');
  assert.is(YAML.parse(r.workflow).jobs.release.environment, 'production', 'the default environment');
  // The next steps, in order: the environment, its branch rule, its secrets, no repository secrets.
  assert.match(
    r.out,
    /with the secrets of the GitHub environment "production"\.\n\nIts secrets must be environment secrets that only main can read[^\n]* At https:\/\/github\.com\/acme\/shop\/settings\/environments:\n  1\. New environment: name it production[^\n]*\n  2\. Deployment branches and tags: choose "Selected branches and tags", Add deployment branch or tag rule: Branch, main\. Add no other rule\.\n  3\. Environment secrets > Add environment secret, one for each:\n(     HOIST_[A-Z_]+: [^\n]+\n){4}  4\. If you created these as repository secrets before[^\n]*delete them there\.\n/,
  );
  for (const s of ['HOIST_SSH_KEY:', 'HOIST_KNOWN_HOSTS:', 'HOIST_SSH_KEY_PASSPHRASE:', 'HOIST_APP_ENV_FILE:']) assert.ok(r.out.includes(`     ${s}`), s);
  assert.not.match(r.out, /Create these repository secrets|New repository secret/);
  assert.match(r.out, /note: GITHUB_TOKEN is left out: only bootstrap/);
  assert.not.ok(r.out.includes('pw-secret'));
});

test('init --ci github with an inventory leaves HOST out and passes --inventory; --branch, --environment and --lock-wait are used', async () => {
  const r = await initIn({ 'package.json': PKG, 'package-lock.json': '{}', '.env': 'HOST=\nAPP_NAME=shop\n', 'deploy/hosts.yml': 'hosts: {}\n' }, ['--inventory', 'deploy/hosts.yml', '--branch', 'release', '--environment', 'prod-eu', '--lock-wait', '60']);
  assert.is(r.error, undefined, String(r.error));
  const doc = YAML.parse(r.workflow);
  assert.equal(doc.on.push.branches, ['release']);
  assert.is(doc.jobs.release.if, "github.ref == 'refs/heads/release'");
  assert.is(doc.jobs.release.environment, 'prod-eu');
  assert.is(doc.jobs.release.steps[4].run, './node_modules/.bin/hoist run release --inventory deploy/hosts.yml --lock-wait 60 --json hoist-report.json');
  assert.is(doc.jobs.release.steps[3].run, 'npm ci --no-audit --no-fund');
  assert.match(r.out, /the GitHub environment "prod-eu"[\s\S]*the repository's Settings > Environments:\n  1\. New environment: name it prod-eu[\s\S]*Branch, release\. Add no other rule/);
  assert.is(valid(r.workflow), '');
});

test('init --ci github --build local: the runner builds from its checkout of the pushed commit and ships; registry secrets stay secrets', async () => {
  const env = 'HOST=203.0.113.7\nAPP_NAME=shop\nBUILD_SOURCE=/home/me/shop\n';
  const r = await initIn({ 'package.json': PKG, 'package-lock.json': '{}', '.env': env }, ['--build', 'local']);
  assert.is(r.error, undefined, String(r.error));
  assert.is(valid(r.workflow), '');
  const stepEnv = YAML.parse(r.workflow).jobs.release.steps[4].env;
  assert.is(stepEnv.BUILD, 'local');
  assert.is(stepEnv.BUILD_SOURCE, '.', "the runner's checkout, not the laptop's path");
  assert.match(r.workflow, /# BUILD=local: the runner's Docker builds the image of the pushed commit/);
  const reg = await initIn({ 'package.json': PKG, 'package-lock.json': '{}', '.env': 'HOST=203.0.113.7\nBUILD=registry\nREGISTRY=ghcr.io/acme\nREGISTRY_USER=ci\nREGISTRY_PASSWORD=pw-secret-1\n' });
  assert.is(reg.error, undefined, String(reg.error));
  const regEnv = YAML.parse(reg.workflow).jobs.release.steps[4].env;
  assert.equal([regEnv.BUILD, regEnv.BUILD_SOURCE, regEnv.REGISTRY, regEnv.REGISTRY_PASSWORD], ['registry', '.', 'ghcr.io/acme', '${{ secrets.HOIST_REGISTRY_PASSWORD }}']);
  assert.not.ok(reg.workflow.includes('pw-secret-1'));
  const host = await initIn({ 'package.json': PKG, 'package-lock.json': '{}', '.env': env });
  assert.is(YAML.parse(host.workflow).jobs.release.steps[4].env.BUILD_SOURCE, undefined, 'builds on the hosts: no BUILD_SOURCE');
  let e: unknown;
  try {
    parseCli(['init', '--ci', 'github', '--build', 'laptop']);
  } catch (err) {
    e = err;
  }
  assert.ok(e instanceof UsageError && /--build "laptop": not host, local or registry/.test((e as Error).message), String(e));
});

test('init --ci github refuses: no hoist in package.json, no package-lock.json, a ${{ in a value, an existing workflow without --force', async () => {
  const LOCK = { 'package-lock.json': '{}' };
  const none = await initIn({ ...LOCK, '.env': 'HOST=1.2.3.4\n' });
  assert.ok(none.error instanceof UsageError && /does not list hoist in package\.json.*another project/.test((none.error as Error).message), String(none.error));
  const noLock = await initIn({ 'package.json': PKG, '.env': 'HOST=1.2.3.4\n' });
  assert.ok(noLock.error instanceof UsageError && /no package-lock\.json.*npm ci.*Fix: npm install, commit package-lock\.json/.test((noLock.error as Error).message), String(noLock.error));
  const expr = await initIn({ 'package.json': PKG, ...LOCK, '.env': 'HOST=1.2.3.4\nCADDY_EXTRA="header X ${{ secrets.ALL }}"\n' });
  assert.ok(expr.error instanceof UsageError && /CADDY_EXTRA .*expression/.test((expr.error as Error).message), String(expr.error));
  const exists = await initIn({ 'package.json': PKG, ...LOCK, '.env': 'HOST=1.2.3.4\n', '.github/workflows/release.yml': 'x' });
  assert.ok(exists.error instanceof UsageError && /exists already/.test((exists.error as Error).message));
  const forced = await initIn({ 'package.json': PKG, ...LOCK, '.env': 'HOST=1.2.3.4\n', '.github/workflows/release.yml': 'x' }, ['--force']);
  assert.is(forced.error, undefined);
});

test('init flags: --ci takes github only; --branch or --environment without --ci is a usage error; --environment takes a plain name', () => {
  for (const args of [
    ['init', '--ci', 'gitlab'], ['init', '--branch', 'main'], ['init', '--environment', 'production'], ['init', '--ci', 'github', '--host', '1.2.3.4'],
    ['init', '--ci', 'github', '--environment', ''], ['init', '--ci', 'github', '--environment', "prod'x"], ['init', '--ci', 'github', '--environment', 'a b'],
  ]) {
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
