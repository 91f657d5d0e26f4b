// The one commit a release deploys. Resolved once per run, before any host changes, so every
// host of a fleet gets the same commit even when the branch moves during the run.
import type { TaskInput } from '../engine/task.ts';

export interface ReleaseTarget {
  /** Full 40-hex commit sha. */
  sha: string;
  /** GIT_REF as the operator wrote it (branch, tag or sha), for messages. */
  ref: string;
}

export const isFullSha = (ref: string): boolean => /^[0-9a-fA-F]{40}$/.test(ref);

/**
 * The target a pipeline's `prepare` put in `input.shared.release` (pipelines/release.ts), or
 * null without one. A malformed one is a bug in that pipeline, not something to deploy.
 */
export function releaseTargetOf(input: Pick<TaskInput, 'shared'>): ReleaseTarget | null {
  const t = input.shared?.['release'];
  if (t === undefined) return null;
  const { sha, ref } = (t ?? {}) as Partial<ReleaseTarget>;
  if (typeof sha !== 'string' || !isFullSha(sha) || typeof ref !== 'string') {
    throw new Error(`the pipeline's prepare gave no usable release target (want { sha: <40 hex>, ref }): ${JSON.stringify(t)}`);
  }
  return { sha: sha.toLowerCase(), ref };
}
