// GIT_REF to one commit: recorded `git ls-remote` output (branches, lightweight and annotated
// tags with their peeled ^{} lines, HEAD), git's order when a tag and a branch share a name, a
// full sha taken without asking, and resolveRef's exact command and errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import { RecordingExecutor } from '../../lib/exec/recording-executor.ts';
import { lsRemoteRefCommand, parseLsRemote, pickCommit, RefNotFoundError } from '../../lib/release/ls-remote.ts';
import { resolveRef } from '../../lib/release/resolve-ref.ts';
import { isFullSha } from '../../lib/release/target.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const T = '7'.repeat(40); // an annotated tag object
const C = 'c'.repeat(40);
const D = 'd'.repeat(40);
// As printed by git 2.39 for `git ls-remote URL` (all refs), with a CRLF line for good measure.
const RECORDED = [
  `${A}\tHEAD`,
  `${B}\trefs/heads/feature/v1`,
  `${A}\trefs/heads/main`,
  `${C}\trefs/heads/same`,
  `${B}\trefs/tags/light`,
  `${D}\trefs/tags/same`,
  `${T}\trefs/tags/v1.0.0`,
  `${B}\trefs/tags/v1.0.0^{}\r`,
  'warning: redirecting to somewhere',
  '',
].join('\n');

test('parse: sha and name per line; noise ignored', () => {
  const refs = parseLsRemote(RECORDED);
  assert.is(refs.length, 8);
  assert.equal(refs[7], { sha: B, name: 'refs/tags/v1.0.0^{}' });
});

test('pick: branch, lightweight tag, annotated tag peeled, full names, HEAD, git\'s tag-before-branch order', () => {
  const refs = parseLsRemote(RECORDED);
  assert.equal(pickCommit(refs, 'main'), { sha: A, name: 'refs/heads/main' });
  assert.equal(pickCommit(refs, 'light'), { sha: B, name: 'refs/tags/light' });
  assert.equal(pickCommit(refs, 'v1.0.0'), { sha: B, name: 'refs/tags/v1.0.0' }, 'the commit, not the tag object');
  assert.equal(pickCommit(refs, 'refs/tags/v1.0.0'), { sha: B, name: 'refs/tags/v1.0.0' });
  assert.equal(pickCommit(refs, 'refs/heads/same'), { sha: C, name: 'refs/heads/same' });
  assert.equal(pickCommit(refs, 'same'), { sha: D, name: 'refs/tags/same' });
  assert.equal(pickCommit(refs, 'HEAD'), { sha: A, name: 'HEAD' });
  assert.equal(pickCommit(refs, 'feature/v1'), { sha: B, name: 'refs/heads/feature/v1' });
  assert.is(pickCommit(refs, 'v1'), null, 'no tail matching: v1 is not feature/v1');
  assert.is(pickCommit(refs, 'aaaaaaa'), null, 'an abbreviated sha is not resolved');
  assert.equal(pickCommit([], C.toUpperCase()), { sha: C, name: C });
  assert.ok(isFullSha(A) && !isFullSha(A.slice(1)) && !isFullSha(`${A}0`));
});

test('command: only the ref and its peeled form are listed, bounded, no prompt', () => {
  assert.is(lsRemoteRefCommand('git@github.com:acme/api.git', 'v1.0.0', 30).line, "timeout 30 git ls-remote -q git@github.com:acme/api.git v1.0.0 'v1.0.0^{}' </dev/null");
});

const failure = (p: Promise<unknown>) => p.then(() => 'resolved', (e: Error) => e.message);
const repo = parseRepoUrl('git@github.com:acme/api.git')!;

test('resolveRef: one ls-remote on the host, the peeled commit of an annotated tag', async () => {
  const exec = new RecordingExecutor([() => ({ code: 0, stdout: `${T}\trefs/tags/v1.0.0\n${B}\trefs/tags/v1.0.0^{}\n`, stderr: '' })]);
  assert.is(await resolveRef(exec, repo, 'v1.0.0'), B);
  assert.equal(exec.lines, ["cd && timeout 30 git ls-remote -q git@github.com:acme/api.git v1.0.0 'v1.0.0^{}' </dev/null"]);
});

test('resolveRef: a full sha is taken as it is, without asking', async () => {
  const exec = new RecordingExecutor([]);
  assert.is(await resolveRef(exec, repo, C.toUpperCase()), C);
  assert.is(exec.calls.length, 0);
});

test('resolveRef: unknown ref names GIT_REF; a failing ls-remote says why', async () => {
  const empty = new RecordingExecutor([() => ({ code: 0, stdout: '', stderr: '' })]);
  const err = await resolveRef(empty, repo, 'nope').catch((e: Error) => e);
  assert.instance(err, RefNotFoundError);
  assert.match((err as Error).message, /^GIT_REF="nope" is not a branch or tag of git@github\.com:acme\/api\.git\. Fix: /);
  const denied = new RecordingExecutor([() => ({ code: 128, stdout: '', stderr: 'git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.\n' })]);
  assert.match(await failure(resolveRef(denied, repo, 'main')), /resolving GIT_REF="main": git ls-remote git@github\.com:acme\/api\.git on recording failed: .*Permission denied \(publickey\)/);
  const slow = new RecordingExecutor([() => ({ code: 124, stdout: '', stderr: '' })]);
  assert.match(await failure(resolveRef(slow, repo, 'main')), /timed out after 30s/);
});

test.run();
