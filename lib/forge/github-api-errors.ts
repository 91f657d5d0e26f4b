// Turns a failed GitHub REST call into one sentence that names the setting to fix (GITHUB_TOKEN,
// APP_REPO) and the permission needed. The token itself is never part of any message: callers
// pass texts through `redact` before they reach an error.
import { HoistError } from '../errors.ts';

export class GitHubApiError extends HoistError {
  constructor(
    message: string,
    readonly status: number,
    private readonly worthRetrying: boolean,
  ) {
    super(message);
  }
  /** GitHub's own outages and a lost connection pass; a refused token or a missing repo do not. */
  override get transient(): boolean {
    return this.worthRetrying;
  }
}

export interface FailedCall {
  /** What hoist was doing: 'listing the deploy keys of acme/app'. */
  what: string;
  /** owner/repo, from APP_REPO. */
  repo: string;
  status: number;
  /** GitHub's `message` (and validation details), already redacted. */
  message: string;
  rateLimitRemaining: string | null;
  rateLimitReset: string | null;
}

const PERMISSION =
  'a fine-grained token needs the "Administration" repository permission (read and write) on that repository; ' +
  'a classic token needs the "repo" scope and an account with admin rights on it';

export function apiError(c: FailedCall): GitHubApiError {
  const said = c.message ? ` ${c.message}` : '';
  const status = `(${c.status}${said})`;
  if (c.status === 401) {
    return new GitHubApiError(
      `GitHub refused GITHUB_TOKEN while ${c.what} ${status}: the token is wrong, expired or revoked. ` +
        `Fix: set GITHUB_TOKEN to a valid token for ${c.repo} (${PERMISSION}), or leave it empty to add the deploy key by hand`,
      c.status,
      false,
    );
  }
  if ((c.status === 403 || c.status === 429) && (c.rateLimitRemaining === '0' || /rate limit/i.test(c.message))) {
    const reset = c.rateLimitReset ? ` (the limit resets at ${new Date(Number(c.rateLimitReset) * 1000).toISOString()})` : '';
    return new GitHubApiError(`GitHub's API rate limit was hit while ${c.what} ${status}${reset}. Fix: run again later`, c.status, false);
  }
  if (c.status === 403) {
    return new GitHubApiError(
      `GITHUB_TOKEN may not manage the deploy keys of ${c.repo} ${status}. Fix: give the token that permission (${PERMISSION}), ` +
        'or leave GITHUB_TOKEN empty to add the deploy key by hand',
      c.status,
      false,
    );
  }
  if (c.status === 404) {
    return new GitHubApiError(
      `GitHub knows no repository ${c.repo} that GITHUB_TOKEN can see ${status} while ${c.what}. ` +
        `Fix: check APP_REPO (owner and name are taken from it) and that the token was granted access to ${c.repo}`,
      c.status,
      false,
    );
  }
  if (c.status === 422) {
    return new GitHubApiError(
      `GitHub refused the deploy key for ${c.repo} ${status}. A key can be the deploy key of one repository only and cannot also be ` +
        'an account key: if this key is used elsewhere, remove it there (or delete the key files on the host to get a new one)',
      c.status,
      false,
    );
  }
  if (c.status >= 300 && c.status < 400) {
    return new GitHubApiError(
      `GitHub redirects the requests for ${c.repo} ${status} while ${c.what}: the repository was probably renamed or transferred. ` +
        'Fix: set APP_REPO to its current URL',
      c.status,
      false,
    );
  }
  const passing = c.status >= 500 || c.status === 429;
  return new GitHubApiError(`GitHub's API answered ${status} while ${c.what}`, c.status, passing);
}

/** A request that got no answer at all (refused connection, DNS, timeout): worth retrying. */
export function unreachable(what: string, apiUrl: string, cause: string): GitHubApiError {
  return new GitHubApiError(`cannot reach GitHub's API at ${apiUrl} while ${what}: ${cause}. Fix: check GITHUB_API_URL and the network`, 0, true);
}

/** Replaces every occurrence of `secret` in `text`, so no message can carry it. */
export function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join('(hidden)') : text;
}
