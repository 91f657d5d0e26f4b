// The two ways dns-verify fails on purpose: the records stayed wrong for the whole wait (the
// operator must act at the DNS provider, so retrying is pointless), or a lookup hoist needs
// for itself did not get an answer (a passing network problem, worth another try).
import { HoistError, MaybePassingError } from '../errors.ts';

/** The records were still wrong when the wait ran out; the message lists what to create or fix. */
export class DnsNotReadyError extends HoistError {
  constructor(
    readonly domains: string[],
    readonly waitedMs: number,
    /** The exact records, one per entry, as the operator should enter them. */
    readonly records: string[],
    seenNow: string,
  ) {
    super(
      `DNS for ${domains.join(', ')} is not right after ${Math.round(waitedMs / 1000)}s. ` +
        `Create or fix these records at your DNS provider:\n${records.map((r) => `  ${r}`).join('\n')}\n${seenNow}`,
    );
  }
}

/** A lookup of hoist's own inputs (the host's addresses) got no answer at all. */
export class DnsLookupError extends MaybePassingError {}
