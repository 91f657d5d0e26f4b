// Picks the commit a ref names from `git ls-remote` output, the way git itself would: an exact
// ref name first, then refs/tags/, then refs/heads/; an annotated tag counts as the commit it
// peels to (its `^{}` line), never the tag object itself. Pure, so recorded output tests it.
import { HoistError } from '../errors.ts';
import { sh, type Cmd } from '../shell-quote.ts';
import { isFullSha } from './target.ts';

export interface RemoteRef {
  sha: string;
  name: string;
}

/** GIT_REF names nothing in APP_REPO: not retried, exit 1. */
export class RefNotFoundError extends HoistError {}

export function parseLsRemote(stdout: string): RemoteRef[] {
  const refs: RemoteRef[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^([0-9a-f]{40})\t(\S+)$/.exec(line.trimEnd());
    if (m) refs.push({ sha: m[1]!, name: m[2]! });
  }
  return refs;
}

/** Patterns for `git ls-remote`: the ref and its peeled form (otherwise not listed with a pattern). */
export function lsRemotePatterns(ref: string): string[] {
  return [ref, `${ref}^{}`];
}

/** `git ls-remote` of the ref only, bounded; stdin closed so nothing can wait for a prompt. */
export function lsRemoteRefCommand(url: string, ref: string, seconds: number): Cmd {
  return sh`timeout ${seconds} git ls-remote -q ${url} ${lsRemotePatterns(ref)} </dev/null`;
}

/** The full names `ref` can stand for, in the order git's rev-parse tries them. */
export function candidateNames(ref: string): string[] {
  return [ref, `refs/${ref}`, `refs/tags/${ref}`, `refs/heads/${ref}`];
}

/** The commit `ref` names among `refs`, or null. A full sha is taken as it is. */
export function pickCommit(refs: readonly RemoteRef[], ref: string): { sha: string; name: string } | null {
  if (isFullSha(ref)) return { sha: ref.toLowerCase(), name: ref.toLowerCase() };
  const byName = new Map(refs.map((r) => [r.name, r.sha]));
  for (const name of candidateNames(ref)) {
    const sha = byName.get(name);
    if (sha) return { sha: byName.get(`${name}^{}`) ?? sha, name };
  }
  return null;
}

export function refNotFound(ref: string, url: string): RefNotFoundError {
  return new RefNotFoundError(
    `GIT_REF=${JSON.stringify(ref)} is not a branch or tag of ${url}. Fix: set GIT_REF to an existing branch (main), tag (v1.2.0) or a full 40-character commit sha`,
  );
}
