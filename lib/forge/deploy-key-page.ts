// Where a person adds a deploy key by hand when hoist has no token: the repository's
// "Add deploy key" page on github.com or on a GitHub Enterprise server (from GITHUB_API_URL);
// for any other forge there is no page we can name, only the key to paste.
import type { RepoUrl } from '../config/repo-url.ts';
import { isGitHubSshHost } from './github-host-keys.ts';

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';

export function deployKeyPage(repo: RepoUrl, githubApiUrl: string): string | null {
  const path = `/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.repo)}/settings/keys/new`;
  if (isGitHubSshHost(repo.host)) return `https://github.com${path}`;
  if (githubApiUrl === DEFAULT_GITHUB_API_URL) return null;
  // GitHub Enterprise Server: the API lives at https://HOST/api/v3, the web pages at https://HOST/.
  return `${githubApiUrl.replace(/\/+$/, '').replace(/\/api\/v3$/, '')}${path}`;
}

/** The forge speaks GitHub's REST API: github.com, or a GITHUB_API_URL set for Enterprise. */
export function forgeIsGitHub(repo: RepoUrl, githubApiUrl: string): boolean {
  return isGitHubSshHost(repo.host) || githubApiUrl !== DEFAULT_GITHUB_API_URL;
}
