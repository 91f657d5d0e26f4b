// The few calls of GitHub's REST API that deploy keys need (list, create, delete), made from
// hoist's own process with fetch: the token never travels to the host being set up. Works for
// github.com and GitHub Enterprise Server (GITHUB_API_URL = https://HOST/api/v3).
import { apiError, redact, unreachable } from './github-api-errors.ts';

export interface RepoRef {
  owner: string;
  repo: string;
}

/** A deploy key as GitHub describes it (components/schemas/deploy-key). */
export interface DeployKey {
  id: number;
  key: string;
  url: string;
  title: string;
  verified: boolean;
  created_at: string;
  read_only: boolean;
  added_by?: string | null;
  last_used?: string | null;
  enabled?: boolean;
}

export interface GitHubClientOptions {
  /** GITHUB_API_URL, without a trailing slash. */
  apiUrl: string;
  token: string;
  timeoutMs?: number;
}

const PER_PAGE = 100;
/** 50 pages of 100: far more deploy keys than any repository has; bounds the loop. */
const MAX_PAGES = 50;

/** Same key material (type and base64), whatever the comments say. */
export function sameKey(a: string, b: string): boolean {
  const [ta, ka] = a.trim().split(/\s+/);
  const [tb, kb] = b.trim().split(/\s+/);
  return ta !== undefined && ka !== undefined && ta === tb && ka === kb;
}

export class GitHubDeployKeys {
  // An ES private field: never enumerated, so never serialised or printed with the object.
  readonly #token: string;
  private readonly apiUrl: string;
  private readonly timeoutMs: number;

  constructor(opts: GitHubClientOptions) {
    this.#token = opts.token;
    this.apiUrl = opts.apiUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async list(ref: RepoRef): Promise<DeployKey[]> {
    const keys: DeployKey[] = [];
    for (let page = 1; page <= MAX_PAGES; page++) {
      const r = await this.call(ref, 'GET', `${keysPath(ref)}?per_page=${PER_PAGE}&page=${page}`, undefined, `listing the deploy keys of ${name(ref)}`);
      const batch = r.body as DeployKey[];
      keys.push(...batch);
      // We count pages ourselves instead of following Link URLs: the token goes to GITHUB_API_URL only.
      if (!/rel="next"/.test(r.link ?? '') || batch.length === 0) break;
    }
    return keys;
  }

  async find(ref: RepoRef, publicKey: string): Promise<DeployKey | null> {
    return (await this.list(ref)).find((k) => sameKey(k.key, publicKey)) ?? null;
  }

  async create(ref: RepoRef, publicKey: string, title: string): Promise<DeployKey> {
    const body = { title, key: publicKey.trim(), read_only: true };
    const r = await this.call(ref, 'POST', keysPath(ref), body, `adding a deploy key to ${name(ref)}`);
    return r.body as DeployKey;
  }

  /** Deletes key `id`; a key already gone counts as deleted. */
  async remove(ref: RepoRef, id: number): Promise<void> {
    try {
      await this.call(ref, 'DELETE', `${keysPath(ref)}/${id}`, undefined, `deleting deploy key ${id} of ${name(ref)}`);
    } catch (e) {
      if ((e as { status?: number }).status !== 404) throw e;
    }
  }

  /** Registers `publicKey` read-only unless a key with the same material is there already. */
  async ensure(ref: RepoRef, publicKey: string, title: string): Promise<{ key: DeployKey; created: boolean }> {
    const existing = await this.find(ref, publicKey);
    if (existing) return { key: existing, created: false };
    return { key: await this.create(ref, publicKey, title), created: true };
  }

  private async call(ref: RepoRef, method: string, path: string, body: unknown, what: string): Promise<{ body: unknown; link: string | null }> {
    const url = `${this.apiUrl}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          Accept: 'application/vnd.github+json',
          Authorization: `Bearer ${this.#token}`,
          'X-GitHub-Api-Version': '2022-11-28',
          'User-Agent': 'hoist',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        // Never follow: the token must go to GITHUB_API_URL only, and a moved repo needs APP_REPO fixed.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const cause = err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000}s` : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw unreachable(what, this.apiUrl, redact(String(cause), this.#token));
    }
    const text = await res.text();
    if (!res.ok) {
      throw apiError({
        what,
        repo: name(ref),
        status: res.status,
        message: redact(messageOf(text), this.#token),
        rateLimitRemaining: res.headers.get('x-ratelimit-remaining'),
        rateLimitReset: res.headers.get('x-ratelimit-reset'),
      });
    }
    if (res.status === 204 || text === '') return { body: null, link: null };
    try {
      return { body: JSON.parse(text) as unknown, link: res.headers.get('link') };
    } catch {
      throw apiError({ what, repo: name(ref), status: res.status, message: 'answer is not JSON', rateLimitRemaining: null, rateLimitReset: null });
    }
  }
}

function keysPath(ref: RepoRef): string {
  return `/repos/${encodeURIComponent(ref.owner)}/${encodeURIComponent(ref.repo)}/keys`;
}

function name(ref: RepoRef): string {
  return `${ref.owner}/${ref.repo}`;
}

/** GitHub's error body: {message, errors: [{message|code, field}]} -> "Validation Failed: key is already in use". */
function messageOf(text: string): string {
  try {
    const j = JSON.parse(text) as { message?: unknown; errors?: { message?: unknown; code?: unknown; field?: unknown }[] };
    const details = (Array.isArray(j.errors) ? j.errors : [])
      .map((e) => (typeof e.message === 'string' ? e.message : [e.field, e.code].filter((x) => typeof x === 'string').join(' ')))
      .filter(Boolean);
    const main = typeof j.message === 'string' ? j.message : '';
    return [main, ...details].filter(Boolean).join(': ').slice(0, 300);
  } catch {
    return text.trim().slice(0, 200);
  }
}
