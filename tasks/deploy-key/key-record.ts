// What deploy-key registered at GitHub for this host's key pair, kept on the host beside the key
// (~/.ssh/hoist_APP_deploy.github, the deploy user's, mode 600): GitHub's id for the key, the
// title hoist gave it, the repository and the key's material. `hoist remove` revokes that key and
// no other (tasks/app-remove/forge-keys.ts): the .pub alone is a file anyone with the host can
// replace by another key's public half, and revoking by its material would revoke that key.
// The record is on the host, not on the machine running hoist: a fleet released from CI keeps
// nothing between runs. A host can change it too, so it is only ever checked AGAINST GitHub's
// listing and the title hoist gives this host's keys, never trusted alone.
import { sameKey } from '../../lib/forge/github-deploy-keys.ts';

export interface KeyRecord {
  /** GitHub's id of the deploy key. */
  id: number;
  /** The title hoist registered it under (deployKeyTitle). */
  title: string;
  /** owner/repo it was registered at. */
  repo: string;
  /** The public key as registered: type and base64. */
  key: string;
}

/** The record's path, relative to the deploy user's home, from the private key's (.ssh/hoist_APP_deploy). */
export const keyRecordFile = (keyFile: string): string => `${keyFile}.github`;

/** The title hoist gives the deploy key of a host (its inventory name) at the forge. */
export const deployKeyTitle = (hostName: string): string => `hoist ${hostName}`;

export function keyRecordText(r: KeyRecord): string {
  const [type, blob] = r.key.trim().split(/\s+/);
  return [
    '# Written by hoist (deploy-key): the deploy key GitHub registered for this key pair. `hoist remove` revokes this key only.',
    `id=${r.id}`,
    `title=${r.title}`,
    `repo=${r.repo}`,
    `key=${type} ${blob}`,
    '',
  ].join('\n');
}

/** The record as written by keyRecordText; null for anything else (missing fields, odd values). */
export function parseKeyRecord(text: string): KeyRecord | null {
  const f = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (!line.startsWith('#') && eq > 0) f.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const id = f.get('id') ?? '';
  const title = f.get('title') ?? '';
  const repo = f.get('repo') ?? '';
  const key = f.get('key') ?? '';
  if (!/^[1-9]\d{0,15}$/.test(id) || !title || title.length > 200 || !/^[\w.-]+\/[\w.-]+$/.test(repo) || !/^[a-z0-9-]+ [A-Za-z0-9+/=]+$/.test(key)) return null;
  return { id: Number(id), title, repo, key };
}

/** The record says this key (same material), at this repository. */
export function recordIsFor(r: KeyRecord, publicKey: string, repo: string): boolean {
  return sameKey(r.key, publicKey) && r.repo.toLowerCase() === repo.toLowerCase();
}
