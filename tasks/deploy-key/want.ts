// deploy-key's `want`: everything decided locally from settings before any connection — the
// repo, the key's path and ssh alias, the forge host keys to pin, and how the key gets
// registered (GitHub's API with a token, or by a person). Bad or missing inputs are ConfigErrors.
import { ConfigError } from '../../lib/errors.ts';
import type { TaskInput } from '../../lib/engine/task.ts';
import { deployKeyPage, forgeIsGitHub } from '../../lib/forge/deploy-key-page.ts';
import { forgePins } from '../../lib/forge/forge-host-keys.ts';
import type { DeployKeyWanted } from './types.ts';

export function deployKeyWanted({ host }: TaskInput): DeployKeyWanted {
  const s = host.settings;
  const repo = s.repo;
  if (!repo) {
    throw new ConfigError('APP_REPO', undefined, 'is not set, and the deploy-key task needs the repository to give access to', 'set APP_REPO to the SSH clone URL, e.g. git@github.com:acme/sentiment-api.git');
  }
  const pins = forgePins(repo, s.forgeKnownHosts);
  if (s.githubToken && !forgeIsGitHub(repo, s.githubApiUrl)) {
    throw new ConfigError(
      'GITHUB_TOKEN',
      undefined,
      `is set, but APP_REPO's host ${repo.host} is not github.com and GITHUB_API_URL is GitHub's`,
      'for GitHub Enterprise set GITHUB_API_URL to https://HOST/api/v3; for another forge leave GITHUB_TOKEN empty and add the key by hand',
    );
  }
  const alias = `hoist-${s.appName}-repo`;
  // ssh:// paths are absolute on the server, scp-like ones relative to its home: keep the form.
  const aliasUrl = repo.url.startsWith('ssh://') ? `ssh://${repo.user}@${alias}/${repo.path}` : `${repo.user}@${alias}:${repo.path}`;
  return {
    app: s.appName,
    user: s.deployUser,
    hostName: host.name,
    repo,
    keyFile: `.ssh/hoist_${s.appName}_deploy`,
    alias,
    aliasUrl,
    pins,
    registration: s.githubToken
      ? { kind: 'github-api', apiUrl: s.githubApiUrl }
      : { kind: 'manual', page: deployKeyPage(repo, s.githubApiUrl), waitMs: s.deployKeyWaitMs },
  };
}
