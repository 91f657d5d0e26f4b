// The forge side of removing a deploy key: the repository's keys are listed once per run, before
// any host changes (the remove pipeline's `prepare`), so the dry run can name the key it would
// revoke; only a key whose material equals this host's public key for this app is ever touched.
import { createHash } from 'node:crypto';
import type { TaskInput } from '../../lib/engine/task.ts';
import { GitHubDeployKeys, sameKey } from '../../lib/forge/github-deploy-keys.ts';
import type { ForgeAccess, ForgeKey } from './types.ts';
import { forgeAccess } from './want.ts';

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

/** `SHA256:…` as `ssh-keygen -lf` and GitHub's settings page show a key. */
export function fingerprint(publicKey: string): string {
  const blob = publicKey.trim().split(/\s+/)[1] ?? '';
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** Deletes every key of the repository that is `publicKey`, listed again now; returns their ids. */
export async function revokeMatching(f: GitHubAccess, token: string, publicKey: string): Promise<number[]> {
  const api = new GitHubDeployKeys({ apiUrl: f.apiUrl, token });
  const found = matchingKeys(await api.list(f), publicKey);
  for (const k of found) await api.remove(f, k.id);
  return found.map((k) => k.id);
}
