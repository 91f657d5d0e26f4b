// git-sync's `want`: decided locally before any connection — the commit when it is already known
// (GIT_REF a full sha, or input.shared.release), otherwise left to the probe; the run's
// stamp; the .env read only when APP_ENV_FILE is set; APP_REPO required.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import type { RemoteProbe } from '../../lib/engine/task.ts';
import { ConfigError } from '../../lib/errors.ts';
import { makeGitSync, type GitSyncFact, type GitSyncWanted } from '../../tasks/git-sync.ts';
import { testHost } from '../harness/settings.ts';

const repo = parseRepoUrl('git@github.com:acme/api.git')!;
const SHA = 'ABCDEF0123456789abcdef0123456789abcdef01';
const task = makeGitSync(new Date('2024-03-01T12:00:00Z'));
const want = (settings: Parameters<typeof testHost>[0], release?: { sha: string; ref: string }) =>
  task.want({ host: testHost({ appName: 'api', repo, ...settings }), loginUser: 'deploy', ...(release ? { shared: { release } } : {}) }) as GitSyncWanted;

test('branch: no commit yet (the probe resolves it); stamp of the run; no .env without APP_ENV_FILE', () => {
  const w = want({ gitRef: 'main', keepReleases: 3, commandTimeoutMs: 60_000 });
  assert.equal({ ...w, repo: w.repo.url }, { app: 'api', user: 'deploy', repo: repo.url, ref: 'main', sha: null, stamp: '20240301120000', env: null, keep: 3, fetchTimeoutMs: 900_000 });
});

test('a full sha in GIT_REF or a ReleaseTarget: known before any connection', () => {
  assert.is(want({ gitRef: SHA }).sha, SHA.toLowerCase());
  const w = want({ gitRef: 'main' }, { sha: SHA, ref: 'v2' });
  assert.is(w.sha, SHA.toLowerCase());
  assert.is(w.ref, 'v2');
  assert.throws(() => want({}, { sha: 'abc', ref: 'main' }), /the pipeline's prepare gave no usable release target/);
});

test('the ReleaseTarget of the pipeline\'s prepare, which runs after want: the probe uses it, no ls-remote', () => {
  const w = want({ gitRef: 'main' });
  const input = { host: testHost({ appName: 'api', repo }), loginUser: 'deploy', shared: { release: { sha: SHA, ref: 'main' } } };
  const probe = task.probe(w, input) as RemoteProbe<GitSyncFact>;
  assert.not.ok(probe.command.line.includes('ls-remote'));
  assert.ok(probe.command.line.includes(`cat-file -e '${SHA.toLowerCase()}^{commit}'`));
  const f = probe.parse({ code: 0, stdout: 'home=/h\ngit=yes\ncache=no\npending=\ncurrent=\nenv=-\nend=ok\n', stderr: '' });
  assert.equal(f.resolved, { sha: SHA.toLowerCase(), name: 'main' });
});

test('APP_ENV_FILE read here; APP_REPO required', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-gs-want-'));
  const path = join(dir, 'app.env');
  writeFileSync(path, 'A=1\n');
  const w = want({ appEnvFile: path });
  assert.is(w.env?.sha256, createHash('sha256').update('A=1\n').digest('hex'));
  assert.is(w.env?.content.reveal().toString(), 'A=1\n');
  rmSync(dir, { recursive: true, force: true });
  assert.throws(
    () => task.want({ host: testHost({ appName: 'api' }), loginUser: 'deploy' }),
    (e: Error) => e instanceof ConfigError && /^APP_REPO is not set, and git-sync needs the repository/.test(e.message),
  );
});

test.run();
