// Which addresses the domains must point at. Decided in two halves: where they come from is
// settled from the config alone (in `want`, before anything is contacted); a HOST given as a
// name is only resolved later, in the probe, because that is a network lookup.
import { isIP } from 'node:net';
import { DnsLookupError } from './errors.ts';
import { canonicalIp, familyOf, type Family } from './ip.ts';
import { errorCode, isNoRecords, type Asker } from './resolve-records.ts';

export type ExpectedSource = { addresses: string[]; from: string } | { resolve: string };

export type Expected = Record<Family, string[]> & { from: string };

/** PUBLIC_IPS if given, else HOST if it is an address, else HOST's name, to resolve. */
export function expectedSource(publicIps: string[], hostAddress: string): ExpectedSource {
  if (publicIps.length > 0) return { addresses: publicIps.map(canonicalIp), from: 'PUBLIC_IPS' };
  if (isIP(hostAddress)) return { addresses: [canonicalIp(hostAddress)], from: `HOST ${hostAddress}` };
  return { resolve: hostAddress };
}

export function byFamily(addresses: string[], from: string): Expected {
  const unique = [...new Set(addresses.map(canonicalIp))];
  return { A: unique.filter((a) => familyOf(a) === 'A'), AAAA: unique.filter((a) => familyOf(a) === 'AAAA'), from };
}

export async function expectedAddresses(source: ExpectedSource, asker: Asker, via: string): Promise<Expected> {
  if ('addresses' in source) return byFamily(source.addresses, source.from);
  const name = source.resolve;
  const look = async (q: Promise<string[]>): Promise<string[]> => {
    try {
      return await q;
    } catch (e) {
      if (isNoRecords(e)) return [];
      throw new DnsLookupError(`could not resolve HOST ${name} through ${via} (${errorCode(e)}), so the addresses the domains must point at are unknown`, true);
    }
  };
  const [v4, v6] = await Promise.all([look(asker.resolve4(name)), look(asker.resolve6(name))]);
  if (v4.length + v6.length === 0) {
    throw new DnsLookupError(`HOST ${name} has no A or AAAA record (asked ${via}), so the addresses the domains must point at are unknown. Fix: set PUBLIC_IPS to the host's public addresses`, false);
  }
  return byFamily([...v4, ...v6], `HOST ${name} (resolved)`);
}
