// dns-verify's apply: hoist cannot create records (they live at the operator's DNS provider),
// so applying means waiting, bounded by DNS_WAIT, for records to appear or change, telling the
// operator what is seen against what is wanted, and at the end naming the records to enter.
import { isTransient } from '../errors.ts';
import type { Plan } from '../engine/task.ts';
import { DnsNotReadyError } from './errors.ts';
import type { DnsStep } from './record-diff.ts';

export interface WaitOptions {
  waitMs: number;
  /** The steps of the plan that sent us here. */
  first: DnsStep[];
  /** Looks again: a fresh probe, planned. */
  check(): Promise<Plan<DnsStep>>;
  progress(message: string): void;
  clock?: { now(): number; sleep(ms: number): Promise<void> };
}

const realClock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };

/** Often enough to notice a record soon, seldom enough not to hammer resolvers on a long wait. */
export function pollIntervalMs(waitMs: number): number {
  return Math.max(200, Math.min(5000, waitMs / 20));
}

/** Resolves with the final no-op reason; throws DnsNotReadyError when the wait runs out. */
export async function waitForRecords(o: WaitOptions): Promise<string> {
  const clock = o.clock ?? realClock;
  const started = clock.now();
  const deadline = started + o.waitMs;
  const interval = pollIntervalMs(o.waitMs);
  let steps = o.first;
  for (;;) {
    const left = deadline - clock.now();
    if (left <= 0) throw notReady(steps, o.waitMs);
    o.progress(`waiting for DNS (${Math.ceil(left / 1000)}s left): ${steps.map((s) => s.describe).join('; ')}`);
    await clock.sleep(Math.min(interval, left));
    let plan: Plan<DnsStep>;
    try {
      plan = await o.check();
    } catch (e) {
      // A lookup that timed out says nothing about the records: look again next time.
      if (!isTransient(e)) throw e;
      o.progress(`could not look (${(e as Error).message}); trying again`);
      continue;
    }
    if (!plan.changes) {
      o.progress(`DNS right after ${((clock.now() - started) / 1000).toFixed(1)}s: ${plan.reason}`);
      return plan.reason;
    }
    steps = plan.steps;
  }
}

export function notReady(steps: DnsStep[], waitMs: number): DnsNotReadyError {
  const domains = [...new Set(steps.map((s) => s.domain))];
  const seen = steps.map((s) => `${s.family} ${s.domain}: ${s.now} (from ${s.via})`).join('; ');
  return new DnsNotReadyError(domains, waitMs, steps.map((s) => s.record), `Seen now: ${seen}`);
}
