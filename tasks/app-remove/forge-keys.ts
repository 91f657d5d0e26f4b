// The forge side of removing a deploy key: the repository's keys are listed once per run, before
// any host changes (the remove pipeline's `prepare`), so the dry run can name the key it would
// revoke, and again when it is revoked. Which key that is never rests on the host's .pub alone
// (a host can swap it for another key's public half): see `keysToRevoke`.
import { createHash } from 'node:crypto';
import type { TaskInput } from '../../lib/engine/task.ts';
import { GitHubDeployKeys, sameKey } from '../../lib/forge/github-deploy-keys.ts';
import type { ForgeAccess, ForgeKey } from './types.ts';
import { forgeAccess } from './want.ts';
import { keyRecordFile, recordIsFor, type KeyRecord } from '../deploy-key/key-record.ts';

type GitHubAccess = Extract<ForgeAccess, { kind: 'github-api' }>;

/** input.shared key under which `prepare` leaves the keys it listed. */
export const SHARED_KEY = 'forgeDeployKeys';

function listKey(f: GitHubAccess): string {
  return `${f.apiUrl} ${f.owner}/${f.repo}`.toLowerCase();
}

/** Lists the deploy keys of every repository the hosts' settings name (one call per repository). */
export async function listForgeKeys(hosts: readonly TaskInput[]): Promise<Record<string, ForgeKey[]>> {
  const lists: Record<string, ForgeKey[]> = {};
  for (const { host } of hosts) {
    const f = forgeAccess(host.settings);
    const token = host.settings.githubToken;
    if (f.kind !== 'github-api' || !token || listKey(f) in lists) continue;
    const keys = await new GitHubDeployKeys({ apiUrl: f.apiUrl, token }).list(f);
    lists[listKey(f)] = keys.map(({ id, key, title }) => ({ id, key, title }));
  }
  return lists;
}

/** The keys `prepare` listed for the app's repository; null when it listed none (no token). */
export function listedKeys(f: ForgeAccess, shared: Readonly<Record<string, unknown>> | undefined): ForgeKey[] | null {
  if (f.kind !== 'github-api') return null;
  const lists = (shared?.[SHARED_KEY] ?? {}) as Record<string, ForgeKey[]>;
  return lists[listKey(f)] ?? null;
}

/** The forge's keys whose material is `publicKey` (comments ignored). */
export function matchingKeys(keys: readonly ForgeKey[], publicKey: string): ForgeKey[] {
  return keys.filter((k) => sameKey(k.key, publicKey));
}

/** Which of the repository's keys `hoist remove` revokes, and those it leaves with the reason. */
export interface KeyVerdict {
  revoke: ForgeKey[];
  leave: { key: ForgeKey; why: string }[];
}

/**
 * The key to revoke, checked from every side: with deploy-key's record (key-record.ts), only the
 * key GitHub lists under the recorded id whose title and material are the recorded ones, whose
 * title is hoist's for this host (`hoist HOST`), at this repository, and whose material is this
 * host's .pub. Without a record (a key registered before hoist kept one), a key whose material
 * is the .pub AND whose title is hoist's for this host. Any other key that the record or the .pub
 * points at is left, with the reason: a swapped .pub, or a changed record, makes hoist revoke
 * nothing rather than someone else's key. Neither listed: nothing to do (already revoked).
 */
export function keysToRevoke(listed: readonly ForgeKey[], publicKey: string, record: KeyRecord | null, want: { title: string; repo: string; keyFile: string }): KeyVerdict {
  const byMaterial = matchingKeys(listed, publicKey);
  const notHoists = (k: ForgeKey) => `its title "${k.title}" is not the one hoist gives this host's key ("${want.title}")`;
  if (!record) {
    return {
      revoke: byMaterial.filter((k) => k.title === want.title),
      leave: byMaterial.filter((k) => k.title !== want.title).map((key) => ({ key, why: `it has this host's public key, but ${notHoists(key)}` })),
    };
  }
  const recorded = listed.find((k) => k.id === record.id);
  const problem = (k: ForgeKey): string | null => {
    const file = `~/${keyRecordFile(want.keyFile)}`;
    if (!recordIsFor(record, publicKey, want.repo)) return `this host's ~/${want.keyFile}.pub or ${file} does not hold the key deploy-key registered (key ${record.id} "${record.title}" of ${record.repo})`;
    if (k.id !== record.id) return `it is not key ${record.id}, which ${file} says deploy-key registered`;
    if (k.title !== record.title || !sameKey(k.key, record.key)) return `its title or key is not what ${file} recorded for key ${record.id}`;
    if (k.title !== want.title) return notHoists(k);
    return null;
  };
  const candidates = [...(recorded ? [recorded] : []), ...byMaterial.filter((k) => k !== recorded)];
  const verdict: KeyVerdict = { revoke: [], leave: [] };
  for (const k of candidates) {
    const why = problem(k);
    if (why) verdict.leave.push({ key: k, why });
    else verdict.revoke.push(k);
  }
  return verdict;
}

/** Said for each key left: what it is, why, and how to revoke it by hand if it is this host's. */
export function leftKeysWarning(v: KeyVerdict, repo: string, app: string, page: string | null): string | null {
  if (!v.leave.length) return null;
  const keys = v.leave.map(({ key, why }) => `deploy key ${key.id} "${key.title}" (${why})`).join('; ');
  return `hoist leaves ${keys} of ${repo} at GitHub: the host's files do not agree with GitHub and hoist's record, so they may have been changed. If a key there is this host's for ${app}, revoke it by hand${page ? ` at ${page}` : ` in the deploy keys of ${repo}`}`;
}

/** `SHA256:…` as `ssh-keygen -lf` and GitHub's settings page show a key. */
export function fingerprint(publicKey: string): string {
  const blob = publicKey.trim().split(/\s+/)[1] ?? '';
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** Lists the repository's keys again now and deletes those `keysToRevoke` allows; what it did and left. */
export async function revokeChecked(f: GitHubAccess, token: string, publicKey: string, record: KeyRecord | null, want: { title: string; repo: string; keyFile: string }): Promise<KeyVerdict> {
  const api = new GitHubDeployKeys({ apiUrl: f.apiUrl, token });
  const listed = (await api.list(f)).map(({ id, key, title }) => ({ id, key, title }));
  const verdict = keysToRevoke(listed, publicKey, record, want);
  for (const k of verdict.revoke) await api.remove(f, k.id);
  return verdict;
}
