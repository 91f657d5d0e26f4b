// Start-up is paid by every command (issue #12): each loads only what it uses. The real bin runs
// under a hook that records every module the process loads (test/fixtures/startup/), and the
// tests say what must not be among them: nothing but argument parsing for --version and help; no
// ssh2, yaml or engine for a settings file that fails validation; never listr2 (the run's task
// list), the engine or a pipeline for status, logs, exec, ssh, unlock. The bin runs whichever
// tree it picks (the sources in an edited checkout, dist/ after a build): both have the same
// imports. A run's engine is the control: the hook does see listr2 (ES modules) and ssh2 (CommonJS).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/hoist.mjs');
const RECORDER = join(ROOT, 'test/fixtures/startup/record-modules.mjs');
const CANARY_PIPELINE = join(ROOT, 'test/fixtures/pipelines/env-canary.mjs');
/** hoist's own dependencies (tsx aside: it runs the sources). */
const PACKAGES = ['ssh2', 'yaml', 'dotenv', 'listr2', 'diff', 'p-retry'];
/** What parsing the command line and printing the usage, the version or an error takes. */
const ARGUMENT_PARSING = ['lib/cli/main', 'lib/cli/args', 'lib/cli/init-flags', 'lib/engine/rollout', 'lib/errors', 'lib/printable', 'lib/secrets/redact', 'lib/package-root'];

const dir = mkdtempSync(join(tmpdir(), 'hoist-startup-'));
const key = join(dir, 'id_ed25519');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
writeFileSync(join(dir, 'known_hosts'), '');
// Fails validation at SSH_KEY, before any key is parsed or host contacted.
writeFileSync(join(dir, 'bad.env'), `HOST=203.0.113.7\nSSH_KEY=${join(dir, 'missing-key')}\nAPP_NAME=app\n`);
// Valid, for a host that refuses at once: nothing listens on port 1 of the loopback. No APP_DOMAIN,
// so status asks no DNS server.
writeFileSync(join(dir, 'down.env'), `HOST=127.0.0.1\nSSH_PORT=1\nSSH_KEY=${key}\nKNOWN_HOSTS=${join(dir, 'known_hosts')}\nAPP_NAME=app\n`);
writeFileSync(join(dir, 'canary.env'), `HOST=203.0.113.9\nSSH_KEY=${key}\nKNOWN_HOSTS=${join(dir, 'known_hosts')}\nAPP_DOMAIN=canary.example.com\nAPP_NAME=canaryapp\n`);

interface Started {
  status: number | null;
  stdout: string;
  stderr: string;
  /** `pkg:NAME` for a package, hoist's own files as `lib/cli/main` (sources or dist/ alike). */
  modules: Set<string>;
}

let runs = 0;
function hoist(args: string[], cwd = dir): Started {
  const record = join(dir, `modules-${++runs}.txt`);
  writeFileSync(record, '');
  // `--` ends Node's options: `--env-file` after the script is hoist's (see bin/hoist.mjs).
  const r = spawnSync(process.execPath, ['--import', RECORDER, '--', BIN, ...args], {
    cwd,
    env: { ...process.env, HOME: dir, NODE_OPTIONS: '', HOIST_RECORD_MODULES: record },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const modules = new Set<string>();
  for (const url of readFileSync(record, 'utf8').split('\n').filter(Boolean)) {
    const path = url.startsWith('file:') ? fileURLToPath(url) : url;
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
    if (pkg) modules.add(`pkg:${pkg[1]}`);
    else if (path.startsWith(ROOT)) modules.add(path.slice(ROOT.length).replace(/^dist\//, '').replace(/\.(ts|js|mjs)$/, ''));
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, modules };
}

const shown = (r: Started) => `exit ${r.status}\n${r.stderr}\nloaded: ${[...r.modules].filter((m) => !/^pkg:(tsx|esbuild|@esbuild|get-tsconfig|resolve-pkg-maps)$/.test(m)).sort().join(' ')}`;

function loads(r: Started, what: string, why: string): void {
  assert.ok(r.modules.has(what), `${why}: ${what} not loaded\n${shown(r)}`);
}

function loadsNone(r: Started, what: (string | RegExp)[], why: string): void {
  const found = [...r.modules].filter((m) => what.some((w) => (typeof w === 'string' ? m === w : w.test(m))));
  assert.equal(found, [], `${why}: loaded ${found.join(', ')}\n${shown(r)}`);
}

test('--version and help load the argument parsing only: no package, no settings, no command', () => {
  for (const args of [['--version'], ['help'], ['status', '--help']]) {
    const r = hoist(args);
    assert.is(r.status, 0, `${args.join(' ')}: ${shown(r)}`);
    assert.match(r.stdout, args[0] === '--version' ? /^\d+\.\d+\.\d+/ : /^Usage: hoist run/);
    loads(r, 'lib/cli/main', `${args.join(' ')} (is the recorder working?)`);
    loadsNone(r, PACKAGES.map((p) => `pkg:${p}`), `hoist ${args.join(' ')}`);
    const beyond = [...r.modules].filter((m) => !m.startsWith('pkg:') && !m.startsWith('bin/') && !ARGUMENT_PARSING.includes(m));
    assert.equal(beyond, [], `hoist ${args.join(' ')} loads more than argument parsing (lib/cli/main.ts imports a command's modules statically?)\n${shown(r)}`);
  }
});

test('settings that fail validation are told before ssh2, yaml, a task or the engine load', () => {
  for (const args of [['status'], ['unlock'], ['logs'], ['run', 'release', '--dry-run']]) {
    const flagsAt = args.indexOf('--') < 0 ? args.length : args.indexOf('--');
    const r = hoist([...args.slice(0, flagsAt), '--env-file', join(dir, 'bad.env'), ...args.slice(flagsAt)]);
    const what = `hoist ${args.join(' ')}`;
    assert.is(r.status, 2, `${what}: ${shown(r)}`);
    assert.match(r.stderr, /^hoist: config error: SSH_KEY=.*missing-key.*cannot read/, what);
    loads(r, 'pkg:dotenv', `${what} read the settings file`);
    loadsNone(r, ['pkg:ssh2', 'pkg:yaml', 'pkg:listr2', 'pkg:diff', 'pkg:p-retry', 'lib/engine/run-pipeline', 'lib/engine/host-run'], what);
    // status's checks are three tasks' probes: loaded once the settings are good.
    if (args[0] !== 'run') loadsNone(r, [/^pipelines\//, /^tasks\/(?!docker-up\/)/, ...(args[0] === 'status' ? ['lib/status/host-status'] : [])], what);
  }
});

test('status, logs, exec, ssh and unlock reach a host with ssh2 but never load listr2, the engine or a pipeline', () => {
  const theirs: Record<string, RegExp> = { status: /^tasks\/(docker-up|caddy-reload|dns-verify)(\/|$)/, unlock: /^$/, logs: /^tasks\/docker-up\//, exec: /^tasks\/docker-up\//, ssh: /^tasks\/docker-up\// };
  for (const args of [['status'], ['unlock'], ['logs'], ['exec', '--', 'true'], ['ssh', '--', 'true']]) {
    const flagsAt = args.indexOf('--') < 0 ? args.length : args.indexOf('--');
    const r = hoist([...args.slice(0, flagsAt), '--env-file', join(dir, 'down.env'), ...args.slice(flagsAt)]);
    const what = `hoist ${args.join(' ')} against a closed port`;
    assert.is(r.status, 1, `${what}: ${shown(r)}`);
    assert.match(r.stdout + r.stderr, /ECONNREFUSED/, what);
    loads(r, 'pkg:ssh2', `${what} connected`);
    loadsNone(r, ['pkg:listr2', 'pkg:diff', 'pkg:p-retry', 'pkg:yaml', 'lib/engine/run-pipeline', 'lib/engine/host-run', /^pipelines\//], what);
    const tasks = [...r.modules].filter((m) => m.startsWith('tasks/') && !theirs[args[0]!]!.test(m));
    assert.equal(tasks, [], `${what}: tasks it does not use\n${shown(r)}`);
  }
});

test('init writes the settings file without ssh2, yaml, dotenv or the engine', () => {
  const cwd = join(dir, 'app');
  mkdirSync(cwd);
  const r = hoist(['init', '--env-file', join(cwd, '.env'), '--host', '203.0.113.7', '--key', key, '--repo', 'git@github.com:acme/shop.git'], cwd);
  assert.is(r.status, 0, shown(r));
  assert.match(readFileSync(join(cwd, '.env'), 'utf8'), /^APP_NAME=shop$/m);
  loads(r, 'lib/cli/init', 'init');
  loadsNone(r, [...PACKAGES.map((p) => `pkg:${p}`), /^lib\/engine\/(?!rollout$)/, /^tasks\//, /^pipelines\//], 'hoist init');
});

test('control: a run loads its engine, listr2 (an ES module) with it, and the recorder sees it', () => {
  const r = hoist(['run', CANARY_PIPELINE, '--env-file', join(dir, 'canary.env'), '--json', '-']);
  assert.is(r.status, 0, shown(r));
  loads(r, 'lib/engine/run-pipeline', 'a run');
  loads(r, 'pkg:listr2', 'a run');
  loads(r, 'pkg:ssh2', 'a run (SSH_KEY parsed)');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
