// Clients that keep asking apps for their page while something happens on their host: one loop
// per app inside the host (10 requests a second through Caddy, bounded to 240 s), each answer
// recorded as "BODY CODE" (or "failed" with curl's own error, e.g. `curl: (56) Recv failure:
// Connection reset by peer 000`). What a release of one app must not break for others.
import type { TestHost } from './testbed.ts';

/** Runs `during` while each `domains[name]` is asked; returns, per name, how often each answer came. */
export async function underLoad<N extends string>(host: TestHost, domains: Record<N, string>, during: () => Promise<void>): Promise<Record<N, Record<string, number>>> {
  const names = Object.keys(domains) as N[];
  const loop = names.map(
    (n) =>
      `(end=$(( $(date +%s) + 240 )); while [ ! -e /tmp/loop.stop ] && [ $(date +%s) -lt $end ]; do out=$(curl -sS --max-time 8 -w ' %{http_code}' --resolve ${domains[n]}:80:127.0.0.1 http://${domains[n]}/ 2>&1) || out="failed $out"; printf '%s\\n' "$out" | tr -s '\\n ' '  ' | sed 's/ $//'; echo; sleep 0.1; done > /tmp/loop.${n}.log 2>&1 &)`,
  );
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
