// git-sync's plan as a table: recorded facts in, steps (or the reason for none) out. Covers a
// fresh host, a cache with or without the commit, a release that is pending, live or older, the
// .env by hash, mode and owner, pruning, and the commit resolved by the probe (temporary).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import type { Plan } from '../../lib/engine/task.ts';
import { SecretBytes } from '../../tasks/git-sync/env-file.ts';
import { planGitSync } from '../../tasks/git-sync/plan.ts';
import type { GitSyncFact, GitSyncStep, GitSyncWanted } from '../../tasks/git-sync/types.ts';

const SHA = 'abcdef0123456789abcdef0123456789abcdef01';
const OLD = '1111111111111111111111111111111111111111';
const NEW = `20240301120000-${SHA.slice(0, 12)}`;
const R1 = '20240101000000-111111111111';
const R2 = '20240102000000-222222222222';
const R3 = '20240103000000-333333333333';
const SECRET = 'API_KEY="s3cr3t-do-not-print"\n';
const ENV_SHA = 'e'.repeat(64);

const wanted = (over: Partial<GitSyncWanted> = {}): GitSyncWanted => ({
  app: 'api',
  user: 'deploy',
  repo: parseRepoUrl('git@github.com:acme/api.git')!,
  ref: 'main',
  sha: SHA,
  stamp: '20240301120000',
  env: { path: '/x/.env', sha256: ENV_SHA, content: new SecretBytes(Buffer.from(SECRET)) },
  keep: 5,
  fetchTimeoutMs: 900_000,
  ...over,
});
const fact = (over: Partial<GitSyncFact> = {}): GitSyncFact => ({
  home: '/home/deploy',
  git: true,
  cache: false,
  cacheHas: [],
  resolved: null,
  releases: [],
  pending: null,
  current: null,
  env: null,
  ...over,
});
const ready = (over: Partial<GitSyncFact> = {}) =>
  fact({ cache: true, cacheHas: [SHA], releases: [{ name: NEW, revision: SHA, envLinked: true }], pending: NEW, env: { sha256: ENV_SHA, mode: '600', owner: 'deploy' }, ...over });
const kinds = (p: Plan<GitSyncStep>) => (p.changes ? p.steps.map((s) => s.kind) : []);

test('fresh host: clone, check out, .env, link, pending; the .env only as a secret file change', () => {
  const p = planGitSync(wanted(), fact());
  assert.equal(kinds(p), ['cache', 'release', 'env', 'link', 'pending']);
  assert.ok(p.changes);
  if (!p.changes) return;
  assert.equal(
    p.steps.map((s) => s.describe),
    [
      'clone git@github.com:acme/api.git into ~/apps/api/repo.git (for abcdef012345, main)',
      `check out abcdef012345 (main) into ~/apps/api/releases/${NEW} with REVISION`,
      'write ~/apps/api/shared/.env from APP_ENV_FILE (missing; mode 600)',
      `link ~/apps/api/releases/${NEW}/.env to ../../shared/.env`,
      `set ~/apps/api/pending-release to ${NEW}`,
    ],
  );
  assert.equal(p.files, [{ path: '~/apps/api/shared/.env', before: null, after: '', secret: true }]);
  assert.not.ok(JSON.stringify(p).includes('s3cr3t'), 'the content is in no step nor file change');
});

test('cache: fetched when it lacks the commit, untouched when it has it', () => {
  assert.equal(kinds(planGitSync(wanted(), fact({ cache: true }))), ['cache', 'release', 'env', 'link', 'pending']);
  const p = planGitSync(wanted(), fact({ cache: true }));
  assert.ok(p.changes && p.steps[0]!.describe.startsWith('fetch git@github.com:acme/api.git into ~/apps/api/repo.git'));
  assert.equal(kinds(planGitSync(wanted(), fact({ cache: true, cacheHas: [SHA] }))), ['release', 'env', 'link', 'pending']);
});

test('nothing to do: the release is pending (or live, with no pending), .env matches, few releases', () => {
  assert.equal(planGitSync(wanted(), ready()), {
    changes: false,
    reason: `release ${NEW} (abcdef012345, main) is pending, .env up to date, 1 release(s) kept (KEEP_RELEASES=5)`,
  });
  const live = planGitSync(wanted(), ready({ pending: null, current: NEW }));
  assert.equal(live, { changes: false, reason: `release ${NEW} (abcdef012345, main) is current, .env up to date, 1 release(s) kept (KEEP_RELEASES=5)` });
  assert.not.ok(planGitSync(wanted(), ready({ pending: NEW, current: NEW, cache: false, cacheHas: [] })).changes, 'no fetch needed for a release that exists');
});

test('live release wanted but pending names another: pending is set back', () => {
  const p = planGitSync(wanted(), ready({ releases: [{ name: R1, revision: OLD, envLinked: true }, { name: NEW, revision: SHA, envLinked: true }], pending: R1, current: NEW }));
  assert.equal(kinds(p), ['pending']);
  assert.ok(p.changes && p.steps[0]!.describe === `set ~/apps/api/pending-release to ${NEW} (was ${R1})`);
});

test('an older release holds the commit: reused (no fetch, no new directory)', () => {
  const p = planGitSync(wanted(), ready({ cacheHas: [], releases: [{ name: R1, revision: SHA, envLinked: false }, { name: R2, revision: OLD, envLinked: true }], pending: R2, current: R2 }));
  assert.equal(kinds(p), ['link', 'pending']);
  assert.ok(p.changes && p.steps.every((s) => !('name' in s) || s.name === R1));
});

test('.env: written again for other content, mode or owner; not at all without APP_ENV_FILE', () => {
  const env = (sha256: string, mode: string, owner: string) => ready({ env: { sha256, mode, owner } });
  for (const [f, why] of [
    [env('0'.repeat(64), '600', 'deploy'), 'content differs'],
    [env(ENV_SHA, '644', 'deploy'), 'mode 644'],
    [env(ENV_SHA, '600', 'root'), 'owned by root'],
  ] as const) {
    const p = planGitSync(wanted(), f);
    assert.equal(kinds(p), ['env']);
    assert.ok(p.changes && p.steps[0]!.describe === `write ~/apps/api/shared/.env from APP_ENV_FILE (${why}; mode 600)`);
    assert.ok(p.changes && p.files?.[0]?.secret === true && p.files[0].before === '');
  }
  const noEnv = planGitSync(wanted({ env: null }), fact({ cache: true, cacheHas: [SHA] }));
  assert.equal(kinds(noEnv), ['release', 'pending']);
  assert.equal(planGitSync(wanted({ env: null }), ready({ env: null, releases: [{ name: NEW, revision: SHA, envLinked: false }] })), {
    changes: false,
    reason: `release ${NEW} (abcdef012345, main) is pending, 1 release(s) kept (KEEP_RELEASES=5)`,
  });
});

test('KEEP_RELEASES: the oldest go, never the live one', () => {
  const releases = [R1, R2, R3].map((name, i) => ({ name, revision: String(i + 2).repeat(40), envLinked: true }));
  const p = planGitSync(wanted({ keep: 2 }), ready({ cacheHas: [SHA], releases, current: R1, pending: R3 }));
  assert.equal(kinds(p), ['release', 'link', 'pending', 'prune']);
  const prune = p.changes ? p.steps.find((s) => s.kind === 'prune') : undefined;
  assert.equal(prune && 'names' in prune ? prune.names : null, [R2, R3]);
  assert.ok(prune?.describe === `remove 2 old release(s), keeping 2 (KEEP_RELEASES): ${R2}, ${R3}`);
  // After that run: current R1 and the new one; keep=1 cannot drop either until docker-up switches.
  assert.not.ok(planGitSync(wanted({ keep: 1 }), ready({ releases: [{ name: R1, revision: OLD, envLinked: true }, { name: NEW, revision: SHA, envLinked: true }], current: R1 })).changes);
});

test('commit from the probe (temporary) or none at all; no git on the host', () => {
  const p = planGitSync(wanted({ sha: null, ref: 'v1.0.0' }), fact({ cache: true, cacheHas: [SHA], resolved: { sha: SHA, name: 'refs/tags/v1.0.0' } }));
  assert.ok(p.changes && p.steps[0]!.describe === `check out abcdef012345 (v1.0.0) into ~/apps/api/releases/${NEW} with REVISION`);
  assert.throws(() => planGitSync(wanted({ sha: null }), fact()), /GIT_REF="main" was not resolved/);
  assert.throws(() => planGitSync(wanted(), fact({ git: false })), /git is not installed on the host: run the bootstrap pipeline first/);
  assert.not.ok(planGitSync(wanted(), ready({ git: false })).changes, 'a ready release needs no git');
});

test.run();
