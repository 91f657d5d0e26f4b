// Makes sure every domain of the app (APP_DOMAIN) points at this host, A and AAAA, before
// anything relies on it (Caddy's certificates, users). hoist cannot edit the records, so its
// apply waits (up to DNS_WAIT) for them to be right and otherwise names the records to enter.
import { defineTask } from '../lib/engine/task.ts';
import { expectedSource } from '../lib/dns/expected.ts';
import { observe, type DnsWanted } from '../lib/dns/observe.ts';
import { diffRecords, type DnsFact, type DnsStep } from '../lib/dns/record-diff.ts';
import { waitForRecords } from '../lib/dns/wait.ts';

export type { DnsWanted } from '../lib/dns/observe.ts';
export type { DnsFact, DnsStep } from '../lib/dns/record-diff.ts';

export const dnsVerify = defineTask<DnsWanted, DnsFact, DnsStep>({
  name: 'dns-verify',
  // Looks at DNS from here, as the world does: needs no connection to the host.
  local: true,

  want({ host }) {
    const s = host.settings;
    return {
      domains: s.domains.map((d) => d.toLowerCase().replace(/\.$/, '')),
      resolvers: s.dnsResolvers,
      authoritative: s.dnsAuthoritative,
      authoritativePort: authoritativePort(),
      waitMs: s.dnsWaitMs,
      expected: expectedSource(s.publicIps, host.address),
    };
  },

  probe(w) {
    return { local: () => observe(w) };
  },

  plan(w, fact) {
    if (w.domains.length === 0) return { changes: false, reason: 'no APP_DOMAIN set' };
    return diffRecords(fact);
  },

  async apply(_exec, steps, { wanted, progress }) {
    await waitForRecords({ waitMs: wanted.waitMs, first: steps, check: async () => diffRecords(await observe(wanted)), progress });
  },
  // No rollback: nothing was changed. verify: the default (look again, expect an empty plan).
});

/** Test knob: authoritative servers in tests listen on a loopback port, not 53. */
function authoritativePort(): number {
  const port = Number(process.env.HOIST_DNS_AUTH_PORT);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : 53;
}
