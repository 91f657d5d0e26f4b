// git-sync's probe: one command without secrets that reads no content back (only the .env's
// sha256), and its parse from recorded answers, including GIT_REF resolved by the probe's own
// ls-remote (temporary) with an annotated tag peeled.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import { HostStateError, oneLineOfLink, readOneLine } from '../../lib/release/host-value.ts';
import { RefNotFoundError } from '../../lib/release/ls-remote.ts';
import { parseProbe, probeCommand } from '../../tasks/git-sync/probe.ts';
import { sha256Of, statLine } from '../../lib/exec/shared-reads.ts';
import { sh } from '../../lib/shell-quote.ts';

const repo = parseRepoUrl('git@github.com:acme/api.git')!;
const SHA = 'abcdef0123456789abcdef0123456789abcdef01';
const TAG = '7'.repeat(40);
const known = { app: 'api', repo, ref: 'main', sha: SHA };
const temp = { app: 'api', repo, ref: 'v1.0.0', sha: null };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const R1 = '20240101000000-111111111111';
const R2 = '20240102000000-abcdef012345';

test('command with a known commit: cat-file on the cache, no ls-remote, no content read back', () => {
  const line = probeCommand(known).line;
  assert.ok(line.startsWith('cd || exit 97\n'));
  assert.ok(line.includes(`if [ -z "$held" ] && [ -d apps/api/repo.git ] && git --git-dir=apps/api/repo.git cat-file -e '${SHA}^{commit}' 2>/dev/null; then echo has=${SHA}; fi`), line);
  assert.not.ok(line.includes('ls-remote'));
  // shared/.env's sha256 and mode from the round trip's shared reads, or reads of its own (shared-reads.ts).
  assert.ok(line.includes(`if [ -f apps/api/shared/.env ]; then ${sha256Of('sha', sh`apps/api/shared/.env`).line}; ${statLine('e', sh`apps/api/shared/.env`).line}; printf 'env=%s %s\\n' "$sha" "\${e% *}"`), line);
  assert.ok(line.includes('for d in apps/api/releases/*/;'));
  // Both read on one line each: a line break in them cannot add a field to the answer.
  assert.ok(line.includes(`printf 'current=%s\\n' ${oneLineOfLink('apps/api/current').line}`), line);
  assert.ok(line.includes(`${readOneLine('pending', 'apps/api/pending-release').line}; printf 'pending=%.256s\\n' "$pending"`), line);
  assert.not.ok(/cat [^|]*\.env|base64 [^|]*\.env/.test(line), 'the .env is never read out');
  assert.ok(line.endsWith('echo end=ok'));
});

test('command without a commit (temporary): ls-remote of the ref and its peeled form, cache checked for each', () => {
  const line = probeCommand(temp).line;
  assert.ok(line.includes("out=$(timeout 20 git ls-remote -q git@github.com:acme/api.git v1.0.0 'v1.0.0^{}' </dev/null 2>&1); printf 'lsremote=%s\\n' \"$?\""), line);
  assert.ok(line.includes("git --git-dir=apps/api/repo.git cat-file --batch-check='%(objectname) %(objecttype)'"));
});

const base = ['home=/home/deploy', 'git=yes'];

test('parse: a fresh host', () => {
  const f = parseProbe(known, { code: 0, stdout: [...base, 'cache=no', 'pending=', 'current=', 'env=-', 'end=ok', ''].join('\n'), stderr: '' });
  assert.equal(f, { home: '/home/deploy', git: true, cache: false, cacheHas: [], resolved: null, releases: [], pending: null, current: null, env: null });
});

test('parse: releases (oldest first, foreign dirs and bad REVISIONs ignored), pending, current, .env', () => {
  const stdout = [
    ...base,
    'cache=yes',
    `has=${SHA}`,
    `release=${R2} yes ${SHA}`,
    `release=${R1} no 1111111111111111111111111111111111111111`,
    'release=notes yes ',
    'release=20240103000000-333333333333 no ',
    'release=20240104000000-444444444444 no not-a-sha',
    `pending=${R2}`,
    `current=/home/deploy/apps/api/releases/${R1}/`,
    `env=${'e'.repeat(64)} 600 deploy`,
    'end=ok',
  ].join('\n');
  const f = parseProbe(known, { code: 0, stdout, stderr: '' });
  assert.equal(f.cacheHas, [SHA]);
  assert.equal(f.releases, [
    { name: R1, envLinked: false, revision: '1'.repeat(40) },
    { name: R2, envLinked: true, revision: SHA },
    { name: '20240103000000-333333333333', envLinked: false, revision: '' },
    { name: '20240104000000-444444444444', envLinked: false, revision: '' },
  ]);
  assert.is(f.pending, R2);
  assert.is(f.current, R1);
  assert.equal(f.env, { sha256: 'e'.repeat(64), mode: '600', owner: 'deploy' });
});

test('parse: pending-release or current naming no release stops git-sync, naming the file and the value (escaped)', () => {
  const answer = (pending: string, current: string) => ({ code: 0, stdout: [...base, 'cache=no', `pending=${pending}`, `current=${current}`, 'env=-', 'end=ok'].join('\n'), stderr: '' });
  assert.throws(
    () => parseProbe(known, answer('../../../etc\x1b]0;x\x07 ', '')),
    (e: Error) => e instanceof HostStateError && e.message === '~/apps/api/pending-release holds "../../../etc\\u001b]0;x\\u0007", which is not a release name (YYYYMMDDHHMMSS-<12 hex digits>). Fix: remove it (rm ~/apps/api/pending-release); the next release writes it again',
  );
  assert.throws(() => parseProbe(known, answer('', 'releases/x y')), (e: Error) => e instanceof HostStateError && e.message.startsWith('~/apps/api/current points at "releases/x y", which is not a release name'));
  // A target the probe read over two lines (tr made them one): still no release.
  assert.throws(() => parseProbe(known, answer('', `releases/${R1} active=green`)), (e: Error) => e instanceof HostStateError);
  assert.is(parseProbe(known, answer(`${R1} `, `releases/${R1} `)).pending, R1, 'the line break hoist writes after a name');
});

test('parse (temporary): GIT_REF resolved from the probe\'s ls-remote, annotated tag peeled', () => {
  const out = `${TAG}\trefs/tags/v1.0.0\n${SHA}\trefs/tags/v1.0.0^{}\n`;
  const stdout = [...base, 'cache=yes', 'lsremote=0', `lsout=${b64(out)}`, `has=${SHA}`, 'pending=', 'current=', 'env=-', 'end=ok'].join('\n');
  const f = parseProbe(temp, { code: 0, stdout, stderr: '' });
  assert.equal(f.resolved, { sha: SHA, name: 'refs/tags/v1.0.0' });
  assert.equal(f.cacheHas, [SHA]);
});

test('parse (temporary): unknown ref names GIT_REF; a failing ls-remote says why; no git', () => {
  const tail = ['cache=no', 'pending=', 'current=', 'env=-', 'end=ok'];
  const unknown = () => parseProbe(temp, { code: 0, stdout: [...base, 'lsremote=0', 'lsout=', ...tail].join('\n'), stderr: '' });
  assert.throws(unknown, (e: Error) => e instanceof RefNotFoundError && /^GIT_REF="v1\.0\.0" is not a branch or tag of git@github\.com:acme\/api\.git/.test(e.message));
  const denied = [...base, 'lsremote=128', `lsout=${b64('git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.\n')}`, ...tail].join('\n');
  assert.throws(() => parseProbe(temp, { code: 0, stdout: denied, stderr: '' }), /git ls-remote git@github\.com:acme\/api\.git failed: git@github\.com: Permission denied \(publickey\)\. \| fatal: Could not read/);
  assert.throws(() => parseProbe(temp, { code: 0, stdout: ['home=/h', 'git=no', 'lsremote=127', 'lsout=', ...tail].join('\n'), stderr: '' }), /git is not installed on the host/);
});

test('parse: a failed or cut-short probe is an error', () => {
  assert.throws(() => parseProbe(known, { code: 97, stdout: '', stderr: 'cd: no home' }), /probing the releases failed \(exit 97\): cd: no home/);
  assert.throws(() => parseProbe(known, { code: 0, stdout: [...base, 'cache=no'].join('\n'), stderr: '' }), /probing the releases failed/);
});

test.run();
