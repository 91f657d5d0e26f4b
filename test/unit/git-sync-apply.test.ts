// git-sync through the real engine (HostRun) and its real shell scripts, run by /bin/sh in a
// throwaway HOME against a local bare repo: changed then unchanged, new commits, pruning, refs,
// retry and rollback; the .env content travels only in the upload, never a command or event.
process.env.HOIST_RETRY_MIN_MS = '1';

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RepoUrl } from '../../lib/config/repo-url.ts';
import type { RunEvent } from '../../lib/engine/events.ts';
import { Interrupt } from '../../lib/engine/interrupt.ts';
import { HostRun } from '../../lib/engine/host-run.ts';
import { definePipeline } from '../../lib/engine/pipeline.ts';
import { defineTask, type Task } from '../../lib/engine/task.ts';
import { ConnectionLostError } from '../../lib/errors.ts';
import { singleExecutorPool } from '../../lib/exec/executor-pool.ts';
import type { ExecOptions, ExecResult, Executor, UploadOptions } from '../../lib/exec/executor.ts';
import type { Cmd } from '../../lib/shell-quote.ts';
import { makeGitSync, type ReleaseTarget } from '../../tasks/git-sync.ts';
import { testHost } from '../harness/settings.ts';

const SECRET = 'DB_URL="postgres://u:p@db/x?a=1#frag"\nNOTE=\'multi\nline $HOME\'\nUNI=héllo ✓\n';
const NEXT_SECRET = 'DB_URL=other\n';

/** A host that is this machine: sh -c in HOME, files written for real; records what it was sent. */
class LocalShell implements Executor {
  readonly label = 'local-shell';
  readonly lines: string[] = [];
  readonly stdins: string[] = [];
  readonly uploads: { path: string; mode: number }[] = [];
  /** Throws ConnectionLostError once before the first command containing this text. */
  dropBefore: string | null = null;
  constructor(readonly home: string) {}
  async connect(): Promise<void> {}
  async exec(cmd: Cmd, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.dropBefore && cmd.line.includes(this.dropBefore)) {
      this.dropBefore = null;
      throw new ConnectionLostError('connection lost (simulated)');
    }
    this.lines.push(cmd.line);
    if (opts.stdin !== undefined) this.stdins.push(opts.stdin.toString());
    const r = spawnSync('sh', ['-c', cmd.line], { env: { PATH: process.env.PATH, HOME: this.home }, input: (opts.stdin as string | Buffer | undefined) ?? '', encoding: 'utf8' });
    return { stdout: r.stdout, stderr: r.stderr, code: r.status ?? 1 };
  }
  async upload(path: string, content: string | Buffer, opts: UploadOptions): Promise<void> {
    this.uploads.push({ path, mode: opts.mode });
    const temp = join(dirname(path), '.upload.tmp');
    writeFileSync(temp, content, { mode: opts.mode });
    renameSync(temp, path);
  }
  async close(): Promise<void> {}
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@x.invalid', ...args], { cwd, encoding: 'utf8' }).trim();

/** A bare repo as the forge, and a work tree to make commits in. */
function forge() {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-gs-forge-'));
  const bare = join(dir, 'app.git');
  const work = join(dir, 'work');
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  execFileSync('git', ['init', '-q', '-b', 'main', work]);
  const commit = (file: string, text: string) => {
    writeFileSync(join(work, file), text);
    git(work, 'add', file);
    git(work, 'commit', '-q', '-m', `add ${file}`);
    git(work, 'push', '-q', bare, 'main');
    return git(work, 'rev-parse', 'HEAD');
  };
  const repo: RepoUrl = { url: bare, user: 'git', host: 'localhost', port: 22, path: 'app.git', owner: 'acme', repo: 'app' };
  return { bare, work, commit, repo };
}

interface Run {
  results: HostRun['results'];
  events: RunEvent[];
  thrown: unknown;
}

async function run(exec: LocalShell, tasks: Task[], settings: Parameters<typeof testHost>[0], release?: ReleaseTarget): Promise<Run> {
  const input = { host: testHost({ deployUser: userInfo().username, ...settings }), loginUser: userInfo().username, ...(release ? { shared: { release } } : {}) };
  const pipeline = definePipeline({ name: 'test', description: 'unit', login: 'deploy', tasks });
  const wanted = await Promise.all(tasks.map((t) => t.want(input)));
  const events: RunEvent[] = [];
  const hr = new HostRun(input, pipeline, wanted, singleExecutorPool(exec), { dryRun: false, retries: 2, runId: 'unit', interrupt: new Interrupt() }, (e) => events.push(e));
  await hr.start(() => {});
  let thrown: unknown;
  for (let i = 0; i < tasks.length; i++) {
    try {
      await hr.runTask(i);
    } catch (e) {
      thrown = e;
      break;
    }
  }
  return { results: hr.results, events, thrown };
}

const made: string[] = [];
test.after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const f = forge();
  const home = mkdtempSync(join(tmpdir(), 'hoist-gs-home-'));
  made.push(dirname(f.bare), home, `${home}.env`);
  const exec = new LocalShell(home);
  const envFile = join(home, '..', `${home.split('/').pop()}.env`);
  writeFileSync(envFile, SECRET);
  const app = join(home, 'apps/app');
  const releases = () => readdirSync(join(app, 'releases')).filter((n) => !n.startsWith('.')).sort();
  return { f, home, exec, envFile, app, releases };
}

const at = (s: string) => new Date(`2024-03-01T12:00:${s}Z`);

test('first run changed, second unchanged; release holds the commit; .env 600 and only uploaded', async () => {
  const { f, exec, envFile, app, releases } = setup();
  const sha = f.commit('README', 'v1\n');
  const settings = { repo: f.repo, appEnvFile: envFile };
  const first = await run(exec, [makeGitSync(at('01'))], settings);
  assert.is(first.thrown, undefined, String(first.thrown));
  assert.is(first.results[0]!.status, 'changed');
  assert.equal(first.results[0]!.steps.map((s) => s.split(' ')[0]), ['clone', 'check', 'write', 'link', 'set']);
  const name = `20240301120001-${sha.slice(0, 12)}`;
  assert.equal(releases(), [name]);
  assert.is(readFileSync(join(app, 'releases', name, 'README'), 'utf8'), 'v1\n');
  assert.is(readFileSync(join(app, 'releases', name, 'REVISION'), 'utf8'), `${sha}\n`);
  assert.not.ok(existsSync(join(app, 'releases', name, '.git')));
  assert.is(readlinkSync(join(app, 'releases', name, '.env')), '../../shared/.env');
  assert.is(readFileSync(join(app, 'releases', name, '.env'), 'utf8'), SECRET);
  assert.is(lstatSync(join(app, 'shared/.env')).mode & 0o777, 0o600);
  assert.is(lstatSync(join(app, 'shared')).mode & 0o777, 0o700);
  assert.is(readFileSync(join(app, 'pending-release'), 'utf8'), `${name}\n`);
  assert.equal(exec.uploads, [{ path: join(exec.home, 'apps/app/shared/.env'), mode: 0o600 }]);

  const second = await run(exec, [makeGitSync(at('59'))], settings);
  assert.is(second.results[0]!.status, 'unchanged', JSON.stringify(second.results[0]));
  assert.match(second.results[0]!.reason ?? '', new RegExp(`^release ${name} \\(${sha.slice(0, 12)}, main\\) is pending, \\.env up to date, 1 release`));
  assert.is(exec.uploads.length, 1, 'no second upload');

  const seen = JSON.stringify([exec.lines, exec.stdins, first.events, second.events, first.results, second.results]);
  for (const piece of ['postgres://', 'multi', 'héllo', 'DB_URL']) assert.not.ok(seen.includes(piece), `${piece} leaked`);
});

test('a new commit is a new release; KEEP_RELEASES=2 after 3 commits leaves 2, never the live one', async () => {
  const { f, exec, envFile, app, releases } = setup();
  const s1 = f.commit('a', '1');
  await run(exec, [makeGitSync(at('01'))], { repo: f.repo, appEnvFile: envFile, keepReleases: 2 });
  const r1 = releases()[0]!;
  // docker-up would switch `current` to it once healthy.
  execFileSync('ln', ['-s', `releases/${r1}`, join(app, 'current')]);
  const s2 = f.commit('b', '2');
  const second = await run(exec, [makeGitSync(at('02'))], { repo: f.repo, appEnvFile: envFile, keepReleases: 2 });
  assert.is(second.results[0]!.status, 'changed');
  assert.ok(second.results[0]!.steps[0]!.startsWith('fetch '), 'incremental fetch into the existing cache');
  assert.equal(releases(), [`20240301120001-${s1.slice(0, 12)}`, `20240301120002-${s2.slice(0, 12)}`]);
  const s3 = f.commit('c', '3');
  const third = await run(exec, [makeGitSync(at('03'))], { repo: f.repo, appEnvFile: envFile, keepReleases: 2 });
  assert.ok(third.results[0]!.steps.some((s) => s.startsWith('remove 1 old release(s)')), JSON.stringify(third.results[0]!.steps));
  assert.equal(releases(), [r1, `20240301120003-${s3.slice(0, 12)}`], 'the live release stays, the older pending one goes');
  const again = await run(exec, [makeGitSync(at('04'))], { repo: f.repo, appEnvFile: envFile, keepReleases: 2 });
  assert.is(again.results[0]!.status, 'unchanged');
});

test('GIT_REF: an annotated tag gives its commit, a full sha works, an unknown ref fails naming GIT_REF', async () => {
  const { f, exec, app, releases } = setup();
  const tagged = f.commit('a', 'tagged');
  git(f.work, 'tag', '-a', 'v1.0.0', '-m', 'release 1');
  git(f.work, 'push', '-q', f.bare, 'v1.0.0');
  const later = f.commit('b', 'later');
  const tag = await run(exec, [makeGitSync(at('01'))], { repo: f.repo, gitRef: 'v1.0.0' });
  assert.is(tag.results[0]!.status, 'changed', JSON.stringify(tag.results[0]));
  assert.is(readFileSync(join(app, 'releases', releases()[0]!, 'REVISION'), 'utf8'), `${tagged}\n`);
  assert.not.ok(existsSync(join(app, 'releases', releases()[0]!, 'b')));
  assert.is((await run(exec, [makeGitSync(at('02'))], { repo: f.repo, gitRef: 'v1.0.0' })).results[0]!.status, 'unchanged');

  const seen = exec.lines.length;
  const bySha = await run(exec, [makeGitSync(at('03'))], { repo: f.repo, gitRef: later });
  assert.is(bySha.results[0]!.status, 'changed');
  assert.ok(exec.lines.slice(seen).every((l) => !l.includes('ls-remote')), 'a full sha needs no ls-remote');
  assert.ok(releases().includes(`20240301120003-${later.slice(0, 12)}`));

  const unknown = await run(exec, [makeGitSync(at('04'))], { repo: f.repo, gitRef: 'no-such-branch' });
  assert.is(unknown.results[0]!.status, 'failed');
  assert.match(unknown.results[0]!.error ?? '', /^GIT_REF="no-such-branch" is not a branch or tag of /);
});

test('a ReleaseTarget from the pipeline\'s prepare (input.shared.release) is used as it is: no ls-remote on the host', async () => {
  const { f, exec, app, releases } = setup();
  const first = f.commit('a', '1');
  f.commit('b', '2');
  const r = await run(exec, [makeGitSync(at('01'))], { repo: f.repo, gitRef: 'main' }, { sha: first, ref: 'main' });
  assert.is(r.results[0]!.status, 'changed', JSON.stringify(r.results[0]));
  assert.equal(releases(), [`20240301120001-${first.slice(0, 12)}`]);
  assert.is(readFileSync(join(app, 'releases', releases()[0]!, 'REVISION'), 'utf8'), `${first}\n`);
  assert.ok(exec.lines.every((l) => !l.includes('ls-remote')), 'resolved once, elsewhere');
  assert.is((await run(exec, [makeGitSync(at('02'))], { repo: f.repo }, { sha: first, ref: 'main' })).results[0]!.status, 'unchanged');
});

test('a connection lost mid-apply: the apply is retried and converges', async () => {
  const { f, exec, envFile, releases } = setup();
  f.commit('a', '1');
  exec.dropBefore = 'pending-release.tmp';
  const r = await run(exec, [makeGitSync(at('01'))], { repo: f.repo, appEnvFile: envFile });
  assert.is(r.results[0]!.status, 'changed');
  assert.is(r.results[0]!.attempts, 2);
  assert.is(releases().length, 1);
  assert.is((await run(exec, [makeGitSync(at('02'))], { repo: f.repo, appEnvFile: envFile })).results[0]!.status, 'unchanged');
});

test('rollback when a later task fails: new release removed, pending and .env put back, cache kept', async () => {
  const { f, exec, envFile, app, releases } = setup();
  f.commit('a', '1');
  await run(exec, [makeGitSync(at('01'))], { repo: f.repo, appEnvFile: envFile });
  const before = releases();
  const pendingBefore = readFileSync(join(app, 'pending-release'), 'utf8');
  f.commit('b', '2');
  writeFileSync(envFile, NEXT_SECRET);
  const boom = defineTask({
    name: 'boom',
    want: () => null,
    probe: () => ({ local: async () => null }),
    plan: () => ({ changes: true, steps: [{ describe: 'fail' }] }),
    apply: async () => {
      throw new Error('failing on purpose');
    },
  });
  const r = await run(exec, [makeGitSync(at('02')), boom], { repo: f.repo, appEnvFile: envFile });
  assert.is(r.results[0]!.status, 'rolled-back', JSON.stringify(r.results));
  assert.equal(releases(), before);
  assert.is(readFileSync(join(app, 'pending-release'), 'utf8'), pendingBefore);
  assert.is(readFileSync(join(app, 'shared/.env'), 'utf8'), SECRET);
  assert.is(lstatSync(join(app, 'shared/.env')).mode & 0o777, 0o600);
  assert.ok(existsSync(join(app, 'repo.git')), 'the cache stays (it holds the new commit for next time)');
  writeFileSync(envFile, SECRET);
  assert.is((await run(exec, [makeGitSync(at('03'))], { repo: f.repo, appEnvFile: envFile })).results[0]!.status, 'changed', 'the next run prepares it again');
});

test.run();
