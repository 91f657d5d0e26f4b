// Asks DNS servers for a name's A and AAAA records, keeping "there are none" apart from "could
// not ask": the first is an answer a plan can act on, the second must be shown but never be
// mistaken for "no records" (a dead resolver would otherwise read as a missing record).
import { Resolver } from 'node:dns/promises';
import { canonicalIp, type Family } from './ip.ts';

/** The part of node:dns's Resolver that dns-verify uses; tests hand in fakes. */
export interface Asker {
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveNs(name: string): Promise<string[]>;
  resolveCname(name: string): Promise<string[]>;
}

/** Makes an asker for these servers ('ip' or 'ip:port'); none: the system's resolvers. */
export type MakeAsker = (servers: string[]) => Asker;

/** What one server set said about one record type of one name. */
export type Answer = {
  /** Who answered (or did not), for people. */
  via: string;
  /** Came from the zone's own name servers rather than a cache. */
  authoritative?: true;
} & ({ addresses: string[] } | { error: string });

// Short per-query bounds: a dead resolver must not eat the whole DNS_WAIT in one look.
const QUERY_TIMEOUT_MS = 2000;
const QUERY_TRIES = 2;

export const makeResolver: MakeAsker = (servers) => {
  const r = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
  if (servers.length > 0) r.setServers(servers);
  return r;
};

export function viaLabel(servers: string[]): string {
  return servers.length > 0 ? servers.join(', ') : 'the system resolvers';
}

/** The name exists without such records, or does not exist: both mean "no records". */
export function isNoRecords(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENODATA' || code === 'ENOTFOUND';
}

export function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? (error as Error | undefined)?.message ?? String(error);
}

export async function askRecords(asker: Asker, name: string, family: Family, via: string): Promise<Answer> {
  try {
    const list = await (family === 'A' ? asker.resolve4(name) : asker.resolve6(name));
    return { via, addresses: [...new Set(list.map(canonicalIp))].sort() };
  } catch (e) {
    return isNoRecords(e) ? { via, addresses: [] } : { via, error: errorCode(e) };
  }
}

export async function askBoth(asker: Asker, name: string, via: string): Promise<Record<Family, Answer>> {
  const [A, AAAA] = await Promise.all([askRecords(asker, name, 'A', via), askRecords(asker, name, 'AAAA', via)]);
  return { A, AAAA };
}
