// dns-verify's probe: what the world sees for each domain, and what it should see. Run from
// here, never on the host. With DNS_AUTHORITATIVE the zone's own servers are asked as well, and
// their answer wins whenever they gave one (a cache may still hold the old record for its TTL;
// the source is what every cache converges to). When they could not be asked, or the name is a
// CNAME whose addresses live in another zone, the resolvers' answer stands, marked as such.
import { findZoneServers } from './authoritative.ts';
import { expectedAddresses, type ExpectedSource } from './expected.ts';
import type { Family } from './ip.ts';
import type { DnsFact, DomainSeen } from './record-diff.ts';
import { askBoth, makeResolver, viaLabel, type Answer, type Asker, type MakeAsker } from './resolve-records.ts';

export interface DnsWanted {
  domains: string[];
  /** 'ip' or 'ip:port'; empty: the system resolvers. */
  resolvers: string[];
  authoritative: boolean;
  /** Port the zone's name servers are asked on: 53, except in tests. */
  authoritativePort: number;
  waitMs: number;
  expected: ExpectedSource;
}

export async function observe(w: DnsWanted, make: MakeAsker = makeResolver): Promise<DnsFact> {
  if (w.domains.length === 0) return { expected: { A: [], AAAA: [], from: 'nothing' }, domains: [] };
  const recursive = make(w.resolvers);
  const via = viaLabel(w.resolvers);
  const [expected, domains] = await Promise.all([
    expectedAddresses(w.expected, recursive, via),
    Promise.all(w.domains.map((d) => seeDomain(d, w, recursive, via, make))),
  ]);
  return { expected, domains };
}

async function seeDomain(domain: string, w: DnsWanted, recursive: Asker, via: string, make: MakeAsker): Promise<DomainSeen> {
  const cached = await askBoth(recursive, domain, via);
  if (!w.authoritative) return { domain, ...cached };
  const zone = await findZoneServers(domain, recursive, w.authoritativePort);
  if ('error' in zone) {
    const note = (a: Answer): Answer => ({ ...a, via: `${a.via} (authoritative servers not asked: ${zone.error})` });
    return { domain, A: note(cached.A), AAAA: note(cached.AAAA) };
  }
  const asker = make(zone.servers);
  const source = await askBoth(asker, domain, `${zone.names.join(', ')} (authoritative for ${zone.zone})`);
  // A CNAME into another zone: its own servers only know the alias, the addresses live elsewhere.
  const empty = (f: Family) => 'addresses' in source[f] && source[f].addresses.length === 0;
  const alias = empty('A') || empty('AAAA') ? ((await asker.resolveCname(domain).catch(() => []))[0] ?? null) : null;
  const pick = (f: Family): Answer => {
    if ('error' in source[f]) return cached[f];
    if (alias && empty(f)) return { ...cached[f], via: `${cached[f].via} (${domain} is an alias of ${alias})` };
    return { ...source[f], authoritative: true };
  };
  return { domain, A: pick('A'), AAAA: pick('AAAA') };
}
