// ssh2 does no host key checking of its own: it only hands us the server's key in a hostVerifier
// callback. So we read the user's OpenSSH known_hosts and apply OpenSSH's rules ourselves, so that
// a host trusted (or refused) by `ssh` is trusted (or refused) by hoist in exactly the same way.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { appendFile, chmod, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface KnownHostEntry {
  marker: '' | '@revoked' | '@cert-authority';
  patterns: string;
  keyType: string;
  keyBase64: string;
  line: number;
}

export type HostKeyVerdict =
  | { kind: 'known' }
  | { kind: 'unknown' }
  | { kind: 'changed'; expected: string[]; got: string }
  | { kind: 'revoked'; got: string };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const fields = raw.trim().split(/[ \t]+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'] = '';
    if (fields[0].startsWith('@')) {
      // OpenSSH skips a line with an unknown marker rather than guessing what it meant.
      if (fields[0] !== '@revoked' && fields[0] !== '@cert-authority') return;
      marker = fields[0];
      fields.shift();
    }
    const [patterns, keyType, keyBase64] = fields;
    if (patterns === undefined || keyType === undefined || keyBase64 === undefined) return;
    if (!BASE64.test(keyBase64)) return;
    // Like OpenSSH, a line whose declared type disagrees with the key it carries is not trusted.
    let blobType: string;
    try {
      blobType = keyTypeOfBlob(Buffer.from(keyBase64, 'base64'));
    } catch {
      return;
    }
    if (blobType !== keyType) return;
    entries.push({ marker, patterns, keyType, keyBase64, line: index + 1 });
  });
  return entries;
}

export function hostLookupName(host: string, port: number): string {
  // ssh lowercases the host before looking it up; hashed entries only match the lowercase form.
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

const HASH_MAGIC = '|1|';

function hashedEntryMatches(field: string, lookupName: string): boolean {
  const parts = field.slice(HASH_MAGIC.length).split('|');
  if (parts.length !== 2 || !BASE64.test(parts[0] ?? '') || !BASE64.test(parts[1] ?? '')) return false;
  const salt = Buffer.from(parts[0] ?? '', 'base64');
  const want = Buffer.from(parts[1] ?? '', 'base64');
  const got = createHmac('sha1', salt).update(lookupName).digest();
  return got.length === want.length && timingSafeEqual(got, want);
}

function wildcardMatches(pattern: string, name: string): boolean {
  const source = pattern
    .split('')
    .map((ch) => (ch === '*' ? '[\\s\\S]*' : ch === '?' ? '[\\s\\S]' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`).test(name);
}

export function entryMatchesHost(entry: KnownHostEntry, lookupName: string): boolean {
  // A hashed field stands for exactly one name, so OpenSSH never reads it as a pattern list.
  if (entry.patterns.startsWith(HASH_MAGIC)) return hashedEntryMatches(entry.patterns, lookupName);
  const name = lookupName.toLowerCase();
  let matched = false;
  for (const raw of entry.patterns.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (!wildcardMatches(pattern, name)) continue;
    // A negation wins over any positive pattern, wherever it sits in the list.
    if (negated) return false;
    matched = true;
  }
  return matched;
}

export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) throw new Error('SSH key blob is too short to hold its key type');
  const length = blob.readUInt32BE(0);
  if (length === 0 || 4 + length > blob.length) throw new Error('SSH key blob has a malformed key type');
  return blob.subarray(4, 4 + length).toString('latin1');
}

export function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

function hostEntries(entries: KnownHostEntry[], lookupName: string): KnownHostEntry[] {
  return entries.filter((e) => e.marker === '' && entryMatchesHost(e, lookupName));
}

export function checkHostKey(entries: KnownHostEntry[], lookupName: string, blob: Buffer): HostKeyVerdict {
  const got = fingerprint(blob);
  const sameKey = (e: KnownHostEntry) => Buffer.from(e.keyBase64, 'base64').equals(blob);
  // A revoked key must never be accepted, whichever host it is presented for.
  if (entries.some((e) => e.marker === '@revoked' && sameKey(e))) return { kind: 'revoked', got };
  const known = hostEntries(entries, lookupName);
  if (known.length === 0) return { kind: 'unknown' };
  if (known.some(sameKey)) return { kind: 'known' };
  const expected = [...new Set(known.map((e) => fingerprint(Buffer.from(e.keyBase64, 'base64'))))];
  return { kind: 'changed', expected, got };
}

export function knownKeyTypes(entries: KnownHostEntry[], lookupName: string): string[] {
  return [...new Set(hostEntries(entries, lookupName).map((e) => e.keyType))];
}

export function hostKeyAlgorithmsFor(keyTypes: string[]): string[] {
  // An RSA key can be proven with any of these signature algorithms; offering all of them lets a
  // server that has disabled SHA-1 still present the RSA key we already trust.
  const algorithms = keyTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  return [...new Set(algorithms)];
}

export function knownHostsLine(lookupName: string, blob: Buffer): string {
  return `${lookupName} ${keyTypeOfBlob(blob)} ${blob.toString('base64')}`;
}

export async function pinHostKey(file: string, lookupName: string, blob: Buffer): Promise<void> {
  const line = knownHostsLine(lookupName, blob) + '\n';
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let existing: Buffer | undefined;
  try {
    existing = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing === undefined) {
    await appendFile(file, line, { mode: 0o600 });
    // The mode passed above is filtered by the umask; set it outright so it is exactly 600.
    await chmod(file, 0o600);
    return;
  }
  // Appending to an unterminated last line would glue our entry onto it and corrupt both.
  const separator = existing.length > 0 && existing[existing.length - 1] !== 0x0a ? '\n' : '';
  await appendFile(file, separator + line);
}

export async function readKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
