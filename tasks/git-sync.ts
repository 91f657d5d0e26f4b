// Makes true on the host: the wanted commit is checked out as a release, the app's .env is in
// shared/ (mode 600, the deploy user's), pending-release names the release, and at most
// KEEP_RELEASES are kept. `current` is docker-up's to switch, once the new release is healthy.
import { defineTask } from '../lib/engine/task.ts';
import { applyGitSync, rollbackGitSync } from './git-sync/apply.ts';
import { planGitSync } from './git-sync/plan.ts';
import { gitSyncReads, parseProbe, probeCommand, probeWanted } from './git-sync/probe.ts';
import type { GitSyncFact, GitSyncStep, GitSyncWanted } from './git-sync/types.ts';
import { gitSyncWanted } from './git-sync/want.ts';

export type { GitSyncFact, GitSyncStep, GitSyncWanted } from './git-sync/types.ts';
export type { ReleaseTarget } from '../lib/release/target.ts';
export { resolveRef } from '../lib/release/resolve-ref.ts';

// Notes. Layout: lib/release/layout.ts (~/apps/APP/{repo.git,releases/<UTC stamp>-<sha12>,
// shared/.env,pending-release,current}). A release is `git archive SHA` of the bare cache,
// untarred into a hidden staging folder with REVISION, then renamed into place: no worktree, no
// .git in the release, export-ignore honoured, submodules not included; a tracked REVISION is
// overwritten, a tracked .env replaced by the link when APP_ENV_FILE is set.
// The commit: GIT_REF itself when a full sha, else input.shared.release (the release pipeline's
// `prepare` resolves GIT_REF once for the fleet with resolveRef), else — a pipeline without that
// prepare, like the test fixture — the probe runs `git ls-remote` on each host (a branch moving
// mid-run could then give two hosts two commits).

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
    probe: (w, input) => {
      const pw = probeWanted(w, input);
      return { command: probeCommand(pw), reads: gitSyncReads(pw.app), parse: (r) => parseProbe(pw, r) };
    },
    plan: planGitSync,
    apply: applyGitSync,
    rollback: rollbackGitSync,
  });
}

export const gitSync = makeGitSync();
