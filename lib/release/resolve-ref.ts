// Resolves GIT_REF to one commit by asking the forge from a host (the host holds the deploy key;
// hoist's own machine may have no access). Meant to run once per run, before any host changes,
// and the sha handed to every host's tasks (ReleaseTarget).
import { HoistError } from '../errors.ts';
import type { Executor } from '../exec/executor.ts';
import type { RepoUrl } from '../config/repo-url.ts';
import { sh } from '../shell-quote.ts';
import { lsRemoteRefCommand, parseLsRemote, pickCommit, refNotFound } from './ls-remote.ts';
import { isFullSha } from './target.ts';

/** How long one `git ls-remote` may take. */
export const LS_REMOTE_SECONDS = 30;

/** The commit `ref` names in `repo` now; a full sha is returned as it is, without asking. */
export async function resolveRef(exec: Executor, repo: RepoUrl | string, ref: string): Promise<string> {
  if (isFullSha(ref)) return ref.toLowerCase();
  const url = typeof repo === 'string' ? repo : repo.url;
  const r = await exec.exec(sh`cd && ${lsRemoteRefCommand(url, ref, LS_REMOTE_SECONDS)}`);
  if (r.code !== 0) {
    const why = r.code === 124 ? `timed out after ${LS_REMOTE_SECONDS}s` : r.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${r.code}`;
    throw new HoistError(`resolving GIT_REF=${JSON.stringify(ref)}: git ls-remote ${url} on ${exec.label} failed: ${why}`);
  }
  const picked = pickCommit(parseLsRemote(r.stdout), ref);
  if (!picked) throw refNotFound(ref, url);
  return picked.sha;
}
