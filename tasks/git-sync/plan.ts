// git-sync's plan, pure: from what is wanted and what the probe found, the steps still missing
// (cache, release directory, shared .env, its link, pending-release, pruning), or why nothing
// is needed. The .env appears only as a secret FileChange: that it changes, never what it holds.
import { HoistError } from '../../lib/errors.ts';
import type { FileChange, Plan } from '../../lib/engine/task.ts';
import { appLayout, releaseName, SHORT_SHA } from '../../lib/release/layout.ts';
import { releasesToPrune } from '../../lib/release/prune.ts';
import type { GitSyncFact, GitSyncStep, GitSyncWanted, ReleaseDir } from './types.ts';

/** The commit this run deploys: known beforehand, or resolved by the probe. */
export function wantedSha(w: GitSyncWanted, fact: GitSyncFact): string {
  const sha = w.sha ?? fact.resolved?.sha;
  if (!sha) throw new HoistError(`GIT_REF=${JSON.stringify(w.ref)} was not resolved to a commit`);
  return sha;
}

/**
 * The release that holds `sha` already, if any: the pending one, else the live one, else the
 * newest. Reusing it (a redeploy of an older commit) needs no fetch and no new directory.
 */
export function existingRelease(fact: GitSyncFact, sha: string): ReleaseDir | null {
  const holding = fact.releases.filter((d) => d.revision === sha);
  return holding.find((d) => d.name === fact.pending) ?? holding.find((d) => d.name === fact.current) ?? holding[holding.length - 1] ?? null;
}

/** The release this run prepares: an existing one with the commit, or a new name. */
export function targetRelease(w: GitSyncWanted, fact: GitSyncFact): { name: string; existing: ReleaseDir | null } {
  const sha = wantedSha(w, fact);
  const existing = existingRelease(fact, sha);
  return { name: existing?.name ?? releaseName(w.stamp, sha), existing };
}

export function planGitSync(w: GitSyncWanted, fact: GitSyncFact): Plan<GitSyncStep> {
  const L = appLayout(w.app);
  const sha = wantedSha(w, fact);
  const short = sha.slice(0, SHORT_SHA);
  const { name, existing } = targetRelease(w, fact);
  const steps: GitSyncStep[] = [];
  const files: FileChange[] = [];

  if (!existing) {
    if (!fact.cacheHas.includes(sha)) {
      if (!fact.git) throw new HoistError('git is not installed on the host: run the bootstrap pipeline first');
      const clone = !fact.cache;
      steps.push({ kind: 'cache', clone, sha, describe: `${clone ? 'clone' : 'fetch'} ${w.repo.url} into ~/${L.cache} (for ${short}, ${w.ref})` });
    }
    steps.push({ kind: 'release', name, sha, describe: `check out ${short} (${w.ref}) into ~/${L.release(name)} with REVISION` });
  }
  if (w.env) {
    const why = envProblem(w, fact);
    if (why) {
      steps.push({ kind: 'env', describe: `write ~/${L.env} from APP_ENV_FILE (${why}; mode 600)` });
      files.push({ path: `~/${L.env}`, before: fact.env ? '' : null, after: '', secret: true });
    }
    if (!existing?.envLinked) steps.push({ kind: 'link', name, describe: `link ~/${L.release(name)}/.env to ../../shared/.env` });
  }
  // Missing pending-release with the live release wanted: nothing to prepare (docker-up's view too).
  const pendingOk = fact.pending === name || (fact.pending === null && fact.current === name);
  if (!pendingOk) steps.push({ kind: 'pending', name, describe: `set ~/${L.pending} to ${name}${fact.pending ? ` (was ${fact.pending})` : ''}` });
  const prune = releasesToPrune([...fact.releases.map((d) => d.name), name], w.keep, [fact.current, name]);
  if (prune.length) steps.push({ kind: 'prune', names: prune, describe: `remove ${prune.length} old release(s), keeping ${w.keep} (KEEP_RELEASES): ${prune.join(', ')}` });

  if (steps.length === 0) {
    const count = fact.releases.length;
    const role = fact.pending === name ? 'pending' : 'current';
    return { changes: false, reason: `release ${name} (${short}, ${w.ref}) is ${role}${w.env ? ', .env up to date' : ''}, ${count} release(s) kept (KEEP_RELEASES=${w.keep})` };
  }
  return files.length ? { changes: true, steps, files } : { changes: true, steps };
}

/** Why shared/.env must be written, or null. Compares hashes only. */
function envProblem(w: GitSyncWanted, fact: GitSyncFact): string | null {
  if (!w.env) return null;
  if (!fact.env) return 'missing';
  if (fact.env.sha256 !== w.env.sha256) return 'content differs';
  if (fact.env.mode !== '600') return `mode ${fact.env.mode}`;
  if (fact.env.owner !== w.user) return `owned by ${fact.env.owner}`;
  return null;
}
