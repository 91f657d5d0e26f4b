// Clients that keep asking apps for their page while something happens on their host: one loop
// per app inside the host (10 requests a second through Caddy, bounded to 240 s), each answer
// recorded as "BODY CODE" (or "failed" with curl's own error, e.g. `curl: (56) Recv failure:
// Connection reset by peer 000`). What a release of one app must not break for others.
import type { TestHost } from './testbed.ts';

/**
 * The shell of one client loop, started in the background on a host: asks with curl (`curl`: its
 * address arguments) about 10 times a second until `stop` exists, bounded by `seconds` of wall
 * clock (read every 50 answers), one line per answer to `log`: "BODY CODE", or "failed" with
 * curl's error. Each answer starts only curl and sleep (splitting the answer into words under
 * `set -f` folds its line breaks): most release tests run a loop through their releases, and each
 * process more per answer was CPU the test hosts share.
 */
export function clientLoop(o: { curl: string; log: string; stop: string; seconds: number; pause?: number }): string {
  return `(set -f; end=$(( $(date +%s) + ${o.seconds} )); i=0; while [ ! -e ${o.stop} ] && { [ $((i % 50)) -ne 0 ] || [ $(date +%s) -lt $end ]; }; do i=$((i+1)); out=$(curl -sS --max-time 8 -w ' %{http_code}' ${o.curl} 2>&1) || out="failed $out"; set -- $out; printf '%s\\n' "$*"; sleep ${o.pause ?? 0.1}; done > ${o.log} 2>&1 &)`;
}

/** Runs `during` while each `domains[name]` is asked; returns, per name, how often each answer came. */
export async function underLoad<N extends string>(host: TestHost, domains: Record<N, string>, during: () => Promise<void>): Promise<Record<N, Record<string, number>>> {
  const names = Object.keys(domains) as N[];
  const loop = names.map((n) => clientLoop({ curl: `--resolve ${domains[n]}:80:127.0.0.1 http://${domains[n]}/`, log: `/tmp/loop.${n}.log`, stop: '/tmp/loop.stop', seconds: 240 }));
  await host.sh(`rm -f /tmp/loop.*; ${loop.join('; ')}`);
  await new Promise((r) => setTimeout(r, 1000));
  try {
    await during();
  } finally {
    await new Promise((r) => setTimeout(r, 1000));
    await host.sh('touch /tmp/loop.stop; sleep 0.5');
  }
  const counts = {} as Record<N, Record<string, number>>;
  for (const n of names) {
    const seen: Record<string, number> = {};
    for (const l of (await host.sh(`cat /tmp/loop.${n}.log`)).stdout.trim().split('\n')) seen[l] = (seen[l] ?? 0) + 1;
    counts[n] = seen;
  }
  return counts;
}
