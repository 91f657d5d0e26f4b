// git-sync's `want`: everything decided locally before any connection — the repo and ref, the
// commit when it is already known (from the engine's ReleaseTarget, or GIT_REF is a full sha),
// this run's release stamp, and the app's .env read and checked here (a ConfigError otherwise).
import { ConfigError } from '../../lib/errors.ts';
import type { TaskInput } from '../../lib/engine/task.ts';
import { releaseStamp } from '../../lib/release/layout.ts';
import { isFullSha, type ReleaseInput } from '../../lib/release/target.ts';
import { readEnvFile } from './env-file.ts';
import type { GitSyncWanted } from './types.ts';

/** A fetch may take much longer than other commands; at least this long. */
const MIN_FETCH_MS = 15 * 60_000;

/** `now` is fixed once per run (process) so every host's new release gets the same name. */
export function gitSyncWanted(input: TaskInput & ReleaseInput, now: Date): GitSyncWanted {
  const s = input.host.settings;
  if (!s.repo) {
    throw new ConfigError('APP_REPO', undefined, 'is not set, and git-sync needs the repository to deploy', 'set APP_REPO to the SSH clone URL, e.g. git@github.com:acme/sentiment-api.git');
  }
  const target = input.release;
  if (target && !isFullSha(target.sha)) throw new Error(`the release target is not a full commit sha: ${target.sha}`);
  const sha = target ? target.sha.toLowerCase() : isFullSha(s.gitRef) ? s.gitRef.toLowerCase() : null;
  return {
    app: s.appName,
    user: s.deployUser,
    repo: s.repo,
    ref: target?.ref ?? s.gitRef,
    sha,
    stamp: releaseStamp(now),
    env: s.appEnvFile ? readEnvFile(s.appEnvFile) : null,
    keep: s.keepReleases,
    fetchTimeoutMs: Math.max(s.commandTimeoutMs, MIN_FETCH_MS),
  };
}
