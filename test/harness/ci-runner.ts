// A stand-in for a GitHub Actions runner, for test/e2e/ci-release.test.ts: a clean container
// (the Debian minbase of the test VPS image, not started as a VPS: no sshd, and no ~/.ssh) with
// only Node in it — this machine's node binary and the npm it ships, as actions/setup-node would
// install — and the environment a runner gives a step: secrets as environment variables,
// RUNNER_TEMP, GITHUB_STEP_SUMMARY, CI, no TTY. A step's `run:` goes through `bash -e` as on
// ubuntu-latest. Its environment travels on stdin (as JSON, to a small Node script that execs
// bash), so no secret is ever on a command line, here or in the container.
//
// The app repository's checkout depends on hoist the way `hoist init --ci github` asks:
// package.json lists it (here as a tarball of this tree, `npm pack`), package-lock.json pins
// it and its dependencies (the lock entries of hoist's own package-lock.json), and the
// workflow's `npm ci` installs it. The container reaches no registry: npm runs offline from a
// copy of this machine's npm cache, which `npm ci` of this tree filled (the same tarballs).
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { docker, dockerSh, remember, testLabels } from './docker.ts';
import { REPO_ROOT, vpsImage } from './testbed.ts';

export const WORKSPACE = '/home/runner/work/app/app';
export const RUNNER_TEMP = '/home/runner/work/_temp';

const STEP_RUNNER = `const { spawn } = require('node:child_process');
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const step = JSON.parse(input);
  const child = spawn('bash', ['-e', '-c', step.run], { cwd: step.cwd, env: step.env, stdio: ['ignore', 'inherit', 'inherit'] });
  child.on('close', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
});
`;

/** The app's checkout: package.json and package-lock.json that pin hoist (a tarball of this tree). */
export async function appCheckout(dir: string): Promise<void> {
  mkdirSync(join(dir, 'vendor'), { recursive: true });
  const { stdout } = await promisify(execFile)('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', join(dir, 'vendor')], { cwd: REPO_ROOT, timeout: 120_000 });
  const tgz = `vendor/${stdout.trim().split('\n').pop()}`;
  const integrity = `sha512-${createHash('sha512').update(readFileSync(join(dir, tgz))).digest('base64')}`;
  const own = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
  const packages: Record<string, unknown> = {
    '': { name: 'app', devDependencies: { hoist: `file:${tgz}` } },
    'node_modules/hoist': { version: own.version, resolved: `file:${tgz}`, integrity, dev: true, license: own.license, dependencies: own.dependencies, bin: own.bin, engines: own.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages as Record<string, Record<string, unknown>>)) {
    if (path.startsWith('node_modules/') && !entry.dev && !entry.link) packages[path] = { ...entry, dev: true };
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, devDependencies: { hoist: `file:${tgz}` } }, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }, null, 2));
}

export interface StepResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CiRunner {
  readonly container: string;

  constructor(run: string) {
    this.container = `hoist-test-${run}-runner`;
  }

  /** Starts the runner with `checkout` copied to WORKSPACE (and WORKSPACE-2, a second checkout). */
  async start(checkout: string): Promise<this> {
    remember(this.container);
    // Host networking: the test hosts' sshd are published on 127.0.0.1 ports, and that is all
    // the runner talks to.
    await docker('run', '-d', '--name', this.container, ...testLabels(), '--network', 'host', '--entrypoint', 'sleep', await vpsImage(), 'infinity');
    const npmDir = join(dirname(dirname(process.execPath)), 'lib/node_modules/npm');
    if (!existsSync(npmDir)) throw new Error(`no npm next to ${process.execPath}`);
    await docker('cp', process.execPath, `${this.container}:/usr/local/bin/node`);
    await dockerSh(this.container, 'mkdir -p /usr/local/lib/node_modules /root/.npm');
    await docker('cp', npmDir, `${this.container}:/usr/local/lib/node_modules/npm`);
    const cache = join(homedir(), '.npm/_cacache');
    if (!existsSync(cache) || readdirSync(cache).length === 0) throw new Error(`no npm cache at ${cache}: run npm ci in ${REPO_ROOT} first`);
    await docker('cp', cache, `${this.container}:/root/.npm/_cacache`);
    const setup = await dockerSh(
      this.container,
      `set -e
ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
rm -rf /root/.ssh
mkdir -p ${WORKSPACE} ${RUNNER_TEMP} /opt/runner
command -v node && node --version`,
    );
    if (setup.code !== 0) throw new Error(`setting up the runner: ${setup.stderr}`);
    writeFileSync(join(checkout, '..', 'step-runner.cjs'), STEP_RUNNER);
    await docker('cp', join(checkout, '..', 'step-runner.cjs'), `${this.container}:/opt/runner/step-runner.cjs`);
    await docker('cp', `${checkout}/.`, `${this.container}:${WORKSPACE}`);
    await docker('cp', `${checkout}/.`, `${this.container}:${WORKSPACE}-2`);
    return this;
  }

  /** The environment a runner gives every step, plus `env` (the step's own, evaluated); `ref` is the pushed or dispatched branch. */
  static baseEnv(workspace: string, sha: string, ref = 'refs/heads/main'): Record<string, string> {
    return {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: '/root',
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: workspace,
      GITHUB_SHA: sha,
      GITHUB_REF: ref,
      GITHUB_API_URL: 'https://api.github.com',
      RUNNER_TEMP,
      GITHUB_STEP_SUMMARY: `${RUNNER_TEMP}/step-summary.md`,
    };
  }

  /** Runs one step's `run:` as the runner would (bash -e, no TTY), with `env` handed over on stdin. */
  step(run: string, env: Record<string, string>, cwd = WORKSPACE, timeoutMs = 8 * 60_000): Promise<StepResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('docker', ['exec', '-i', this.container, 'node', '/opt/runner/step-runner.cjs'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(JSON.stringify({ run, env, cwd }));
    });
  }

  sh(script: string, stdin?: string) {
    return dockerSh(this.container, script, 'root', stdin);
  }
}

/**
 * `${{ … }}` in a workflow value, as the runner evaluates it: `secrets.NAME`, `vars.NAME` and
 * `github.sha` from the maps given; any other expression fails the test (the workflow would need
 * something this stand-in does not know).
 */
export function evaluate(value: string, ctx: { secrets: Record<string, string>; sha: string }): string {
  return value.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_, expr: string) => {
    if (expr === 'github.sha') return ctx.sha;
    const m = /^secrets\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (m) return ctx.secrets[m[1]!] ?? '';
    throw new Error(`the workflow uses \${{ ${expr} }}, which this runner stand-in does not evaluate`);
  });
}


/**
 * A job's `if:` as GitHub decides it, for the one form the workflow uses: `github.ref == 'REF'`
 * (no `if:`: the job runs). Anything else fails the test, as in evaluate().
 */
export function jobRuns(condition: string | undefined, ctx: { ref: string }): boolean {
  if (condition === undefined) return true;
  const m = /^github\.ref == '([^']*)'$/.exec(condition.trim());
  if (!m) throw new Error(`the job's if: ${condition} is not one this runner stand-in evaluates`);
  return ctx.ref === m[1];
}
