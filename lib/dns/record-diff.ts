// The pure heart of dns-verify: what the world sees against what it should see, as the exact
// records an operator must create, fix or remove. No lookups here, so every rule is tested
// from a table (test/unit/dns-record-diff.test.ts).
import type { Plan, Step } from '../engine/task.ts';
import type { Expected } from './expected.ts';
import type { Family } from './ip.ts';
import type { Answer } from './resolve-records.ts';

export type DomainSeen = { domain: string } & Record<Family, Answer>;

export interface DnsFact {
  expected: Expected;
  domains: DomainSeen[];
}

export interface DnsStep extends Step {
  domain: string;
  family: Family;
  /** The record as the operator should enter it at the DNS provider (or remove it). */
  record: string;
  /** What is there now, for people. */
  now: string;
  via: string;
}

const FAMILIES: Family[] = ['A', 'AAAA'];

export function diffRecords(fact: DnsFact): Plan<DnsStep> {
  if (fact.domains.length === 0) return { changes: false, reason: 'no APP_DOMAIN set' };
  const steps: DnsStep[] = [];
  const fine: string[] = [];
  for (const seen of fact.domains) {
    const ok: string[] = [];
    for (const family of FAMILIES) {
      const step = familyStep(seen.domain, family, fact.expected[family], seen[family]);
      if (step) steps.push(step);
      else if ('addresses' in seen[family] && fact.expected[family].length > 0) ok.push(`${family} → ${fact.expected[family].join(', ')}`);
    }
    const auth = FAMILIES.map((f) => seen[f]).find((a) => a.authoritative);
    const note = auth ? `as wanted, per ${auth.via}` : 'as wanted';
    if (ok.length > 0) fine.push(`${seen.domain} ${ok.join(', ')} (${note})`);
  }
  return steps.length > 0 ? { changes: true, steps } : { changes: false, reason: fine.join('; ') };
}

/**
 * The one step that makes `family` of `domain` right, or null when it is right: every wanted
 * address present and nothing else. With nothing wanted, nothing may be there: a stale AAAA
 * sends IPv6 clients to a machine that is no longer ours.
 */
function familyStep(domain: string, family: Family, want: string[], seen: Answer): DnsStep | null {
  const set = `${family.padEnd(2)} ${domain} → ${want.join(', ')}`;
  const base = { domain, family, via: seen.via };
  if ('error' in seen) {
    const now = `unknown, could not ask ${seen.via}: ${seen.error}`;
    const record = want.length > 0 ? set : `no ${family} record for ${domain}`;
    return { ...base, record, now, describe: `${record} (now: ${now})` };
  }
  const have = seen.addresses;
  if (sameSet(want, have)) return null;
  if (want.length === 0) {
    const record = `remove ${family} ${domain} → ${have.join(', ')}`;
    return { ...base, record, now: have.join(', '), describe: record };
  }
  const now = have.length > 0 ? have.join(', ') : 'none';
  return { ...base, record: set, now, describe: `${set} (now: ${now})` };
}

function sameSet(a: string[], b: string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}
