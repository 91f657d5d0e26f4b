// Finds the name servers of a domain's zone, so a new record can be checked at its source: a
// resolver's cache may keep the old answer for the record's TTL, the zone's own servers never do.
// Walks up the labels (app.example.com, example.com) until a name has NS records.
import { serverAddress } from './ip.ts';
import { errorCode, isNoRecords, type Asker } from './resolve-records.ts';

export interface ZoneServers {
  zone: string;
  /** The NS names, for people. */
  names: string[];
  /** Their addresses, as setServers takes them. */
  servers: string[];
}

export async function findZoneServers(domain: string, recursive: Asker, port = 53): Promise<ZoneServers | { error: string }> {
  const labels = domain.replace(/\.$/, '').split('.');
  let found: { zone: string; names: string[] } | null = null;
  // Stop at two labels: a top-level domain's servers only refer onwards, they never answer.
  for (let i = 0; labels.length - i >= 2 && !found; i++) {
    const zone = labels.slice(i).join('.');
    try {
      const names = await recursive.resolveNs(zone);
      if (names.length > 0) found = { zone, names: names.sort() };
    } catch (e) {
      if (!isNoRecords(e)) return { error: `could not look up the NS records of ${zone} (${errorCode(e)})` };
    }
  }
  if (!found) return { error: `found no NS records for ${domain} or its parent domains` };

  const addressesOf = async (name: string, q: (n: string) => Promise<string[]>) => q(name).catch(() => [] as string[]);
  // IPv4 first: many machines that run hoist have no IPv6 route, and one reachable server is enough.
  let ips = (await Promise.all(found.names.map((n) => addressesOf(n, (x) => recursive.resolve4(x))))).flat();
  if (ips.length === 0) ips = (await Promise.all(found.names.map((n) => addressesOf(n, (x) => recursive.resolve6(x))))).flat();
  if (ips.length === 0) return { error: `the name servers of ${found.zone} (${found.names.join(', ')}) have no addresses` };
  return { ...found, servers: [...new Set(ips)].map((ip) => serverAddress(ip, port)) };
}
