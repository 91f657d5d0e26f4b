// DNS before the CA: under CADDY_TLS=auto, writing a site that names a domain makes Caddy order a
// certificate at once, and a CA whose validation fails (the record points elsewhere) counts it
// against the account's rate limits. So caddy-reload looks at DNS from here first, exactly as
// dns-verify does (same settings, same wait bounded by DNS_WAIT, same records named), and writes
// nothing until it is right. Only when the site's addresses or tls directive change: a new slot's
// port asks the CA for nothing.
import type { TaskInput } from '../../lib/engine/task.ts';
import { observe } from '../../lib/dns/observe.ts';
import { diffRecords } from '../../lib/dns/record-diff.ts';
import { waitForRecords } from '../../lib/dns/wait.ts';
import { dnsVerify, type DnsWanted } from '../dns-verify.ts';

/** Resolves when every domain points at the host; throws DnsNotReadyError (the records to set) when DNS_WAIT runs out. */
export async function dnsGate(input: TaskInput, progress: (message: string) => void): Promise<void> {
  const w = (await dnsVerify.want(input)) as DnsWanted;
  const check = async () => diffRecords(await observe(w));
  const plan = await check();
  if (!plan.changes) {
    progress(`DNS right: ${plan.reason}`);
    return;
  }
  await waitForRecords({ waitMs: w.waitMs, first: plan.steps, check, progress });
}
