// Clients that keep asking apps for their page while something happens on their host: one loop
// per app inside the host (10 requests a second through Caddy, bounded to 240 s), each answer
// recorded as "BODY CODE" (or a line starting "failed": no connection, no status line, no end of
// the answer within 8 s; for https curl's own error, e.g. `curl: (56) Recv failure: Connection
// reset by peer 000`). What a release of one app must not break for others.
import { quote } from '../../lib/shell-quote.ts';
import type { TestHost } from './testbed.ts';

export interface ClientLoop {
  /** The app's domain, sent as Host and resolved to the host's own Caddy (127.0.0.1). */
  domain: string;
  /** Answers, one line each. */
  log: string;
  /** The loop ends once this file exists. */
  stop: string;
  /** And at the latest after this many seconds of wall clock (read every 50 answers). */
  seconds: number;
  /** Seconds between answers (default 0.1). */
  pause?: number;
  /** Ask over https (port 443), trusting this CA certificate on the host; default plain http on 80. */
  https?: { cacert: string };
}

/**
 * The shell of one client loop, started in the background on a host. Over plain http it is bash
 * alone: each request is a new TCP connection (`/dev/tcp`), an HTTP/1.0 GET with the app's Host
 * (1.0: no chunked answer to undo), the status line, headers and body read with `read -t 8`, and
 * the pause a `read -t` on a pipe nobody writes: no process per answer. A loop of curl and sleep
 * cost ~35 ms of CPU per answer on the test hosts (the dynamic linking of curl at each start), and
 * most release tests run one or more loops through their releases on a 2-core machine. Over https
 * it is curl (and sleep) per answer: TLS is not something to hand-roll.
 */
export function clientLoop(o: ClientLoop): string {
  const pause = o.pause ?? 0.1;
  if (o.https) {
    const curl = `--cacert ${quote(o.https.cacert)} --resolve ${quote(`${o.domain}:443:127.0.0.1`)} ${quote(`https://${o.domain}/`)}`;
    // Splitting the answer into words under `set -f` folds its line breaks.
    return `(set -f; end=$(( $(date +%s) + ${o.seconds} )); i=0; while [ ! -e ${o.stop} ] && { [ $((i % 50)) -ne 0 ] || [ $(date +%s) -lt $end ]; }; do i=$((i+1)); out=$(curl -sS --max-time 8 -w ' %{http_code}' ${curl} 2>&1) || out="failed $out"; set -- $out; printf '%s\\n' "$*"; sleep ${pause}; done > ${o.log} 2>&1 &)`;
  }
  const script = `set -f; printf -v cr "\\r"; tick=${o.log}.tick; rm -f "$tick"; mkfifo "$tick" && exec 5<>"$tick" || exit 1
end=$((EPOCHSECONDS + ${o.seconds})); i=0
while [ ! -e ${o.stop} ] && { [ $((i % 50)) -ne 0 ] || [ $EPOCHSECONDS -lt $end ]; }; do
  i=$((i+1))
  if { exec 3<>/dev/tcp/127.0.0.1/80; } 2>/dev/null; then
    printf "GET / HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n" ${quote(o.domain)} >&3
    if IFS= read -r -t 8 line <&3; then
      set -- \${line%"$cr"}; code=\${2:-000}
      while IFS= read -r -t 8 line <&3 && [ -n "\${line%"$cr"}" ]; do :; done
      body=; while :; do IFS= read -r -t 8 line <&3; rc=$?; [ -n "$line" ] && body="$body \${line%"$cr"}"; [ $rc -eq 0 ] || break; done
      if [ $rc -gt 128 ]; then answer="failed: no end of the answer within 8 s"; else set -- $body $code; answer="$*"; fi
    else answer="failed: no status line (read: $?)"; fi
    exec 3<&-
  else answer="failed: no connection"; fi
  printf "%s\\n" "$answer"
  read -t ${pause} -u 5 _
done > ${o.log} 2>&1; rm -f "$tick"`;
  return `(bash -c ${quote(script)} >/dev/null 2>&1 &)`;
}

/** Runs `during` while each `domains[name]` is asked; returns, per name, how often each answer came. */
export async function underLoad<N extends string>(host: TestHost, domains: Record<N, string>, during: () => Promise<void>): Promise<Record<N, Record<string, number>>> {
  const names = Object.keys(domains) as N[];
  const loop = names.map((n) => clientLoop({ domain: domains[n], log: `/tmp/loop.${n}.log`, stop: '/tmp/loop.stop', seconds: 240 }));
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
