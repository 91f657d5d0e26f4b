// The one commit a release deploys. Resolved once per run, before any host changes, so every
// host of a fleet gets the same commit even when the branch moves during the run.

export interface ReleaseTarget {
  /** Full 40-hex commit sha. */
  sha: string;
  /** GIT_REF as the operator wrote it (branch, tag or sha), for messages. */
  ref: string;
}

/**
 * What a release task may find in its TaskInput once the engine has a pipeline-level `prepare`
 * step that resolves GIT_REF once (see resolveRef). Until then `release` is absent.
 */
export interface ReleaseInput {
  release?: ReleaseTarget;
}

export const isFullSha = (ref: string): boolean => /^[0-9a-fA-F]{40}$/.test(ref);
