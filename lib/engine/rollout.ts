// How a run walks a fleet: which hosts go together (canary, then batches) and when to stop
// starting hosts (the failure budget). Pure functions of the host list and the flags, so the
// order a rollout will take can be shown and tested without a host.

/** A count given as a number of hosts or as a share of the fleet ("25%"). */
export type Count = { hosts: number } | { percent: number };

export interface RolloutOptions {
  /** Hosts worked on at once within a wave. */
  concurrency: number;
  /** Rolling: waves of this many hosts, the next only after the previous one finished healthy. */
  batch?: Count;
  /** The first N hosts alone, before any other. */
  canary?: number;
  /** Failed hosts tolerated; one more and no new host starts. */
  maxFail?: Count;
  /** When the budget is exceeded, hosts already released in this run are rolled back too. */
  fleetRollback: boolean;
}

/** Parses "3" or "25%"; null when the text is neither. */
export function parseCount(text: string): Count | null {
  const m = /^(\d{1,4})(%?)$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  if (m[2]) return n <= 100 ? { percent: n } : null;
  return { hosts: n };
}

export function formatCount(c: Count): string {
  return 'hosts' in c ? String(c.hosts) : `${c.percent}%`;
}

/** Batch sizes round up (25% of 3 hosts is a batch of 1, never 0). */
export function batchSize(c: Count, total: number): number {
  return Math.max(1, 'hosts' in c ? c.hosts : Math.ceil((total * c.percent) / 100));
}

/**
 * Failures tolerated. Budgets round down (10% of 5 hosts tolerates none). Without --max-fail a
 * plain run lets every host finish (one host's trouble is not the others'), while a staged
 * rollout (--canary, --batch) stops at the first failure: that is what staging is for.
 */
export function failureBudget(opts: RolloutOptions, total: number): number {
  if (opts.maxFail) return 'hosts' in opts.maxFail ? opts.maxFail.hosts : Math.floor((total * opts.maxFail.percent) / 100);
  return opts.batch || opts.canary ? 0 : Number.POSITIVE_INFINITY;
}

/** The waves of a rollout, in inventory order: canary hosts, then batches of the rest. */
export function planWaves<T>(hosts: readonly T[], opts: RolloutOptions): T[][] {
  const waves: T[][] = [];
  let rest = [...hosts];
  if (opts.canary && opts.canary > 0) {
    waves.push(rest.slice(0, opts.canary));
    rest = rest.slice(opts.canary);
  }
  if (!rest.length) return waves;
  const size = opts.batch ? batchSize(opts.batch, hosts.length) : rest.length;
  for (let i = 0; i < rest.length; i += size) waves.push(rest.slice(i, i + size));
  return waves;
}
