// Makes true on the host: the wanted commit is checked out as a release
// (~/apps/APP/releases/<UTC stamp>-<12-char sha>, with REVISION and .env -> ../../shared/.env),
// pending-release names it, the app's .env is in shared/ (mode 600, the deploy user's), and at
// most KEEP_RELEASES releases are kept. `current` is not switched here: docker-up does that once
// the new release is healthy.
//
// The commit comes from input.release (ReleaseTarget, resolved once per run by the engine) or
// from GIT_REF itself when it is a full sha. Otherwise, until the engine has that hook, the
// probe resolves GIT_REF on each host with `git ls-remote` (temporary: a branch that moves
// mid-run could then give two hosts two commits).
//
// Releases are exported with `git archive SHA | tar -x` from a bare cache (~/apps/APP/repo.git):
// no worktree, no .git in the release, export-ignore honoured, submodules not included.
import { defineTask } from '../lib/engine/task.ts';
import { applyGitSync, rollbackGitSync } from './git-sync/apply.ts';
import { planGitSync } from './git-sync/plan.ts';
import { parseProbe, probeCommand } from './git-sync/probe.ts';
import type { GitSyncFact, GitSyncStep, GitSyncWanted } from './git-sync/types.ts';
import { gitSyncWanted } from './git-sync/want.ts';

export type { GitSyncFact, GitSyncStep, GitSyncWanted } from './git-sync/types.ts';
export type { ReleaseInput, ReleaseTarget } from '../lib/release/target.ts';
export { resolveRef } from '../lib/release/resolve-ref.ts';

/** One stamp per run (process): every host's new release gets the same name. */
const RUN_STARTED = new Date();

/** git-sync with a fixed clock (tests); `gitSync` below uses the run's start. */
export function makeGitSync(now: Date = RUN_STARTED) {
  return defineTask<GitSyncWanted, GitSyncFact, GitSyncStep>({
    name: 'git-sync',
    login: 'deploy',
    // Every step converges when run again (see git-sync/apply.ts).
    retrySafe: true,
    want: (input) => gitSyncWanted(input, now),
    probe: (w) => ({ command: probeCommand(w), parse: (r) => parseProbe(w, r) }),
    plan: planGitSync,
    apply: applyGitSync,
    rollback: rollbackGitSync,
  });
}

export const gitSync = makeGitSync();
