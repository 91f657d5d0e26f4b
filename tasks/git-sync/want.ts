// git-sync's `want`: everything decided locally before any connection — the repo and ref, the
// commit when GIT_REF is a full sha (else the pipeline's `prepare` or the probe finds it), this
// run's release stamp, and the app's .env read and checked here (a ConfigError otherwise).
import { ConfigError } from '../../lib/errors.ts';
import type { TaskInput } from '../../lib/engine/task.ts';
import { releaseStamp } from '../../lib/release/layout.ts';
import { isFullSha, releaseTargetOf } from '../../lib/release/target.ts';
import { readEnvFile } from './env-file.ts';
import type { GitSyncWanted } from './types.ts';

/** A fetch may take much longer than other commands; at least this long. */
const MIN_FETCH_MS = 15 * 60_000;

/** `now` is fixed once per run (process) so every host's new release gets the same name. */
export function gitSyncWanted(input: TaskInput, now: Date): GitSyncWanted {
  const s = input.host.settings;
  if (!s.repo) {
    throw new ConfigError('APP_REPO', undefined, 'is not set, and git-sync needs the repository to deploy', 'set APP_REPO to the SSH clone URL, e.g. git@github.com:acme/sentiment-api.git');
  }
  // The engine runs `want` before `prepare`; a target here means a caller resolved it earlier.
  const target = releaseTargetOf(input);
  const sha = target ? target.sha : isFullSha(s.gitRef) ? s.gitRef.toLowerCase() : null;
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
