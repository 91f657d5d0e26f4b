// The drain before release-switch stops the old slot: wait, in ONE remote command, until no
// request is in flight through the slot's loopback port, at most DRAIN_TIMEOUT seconds.
//
// Why not ask Caddy: its admin API (2.6) drops the old upstream from /reverse_proxy/upstreams
// as soon as the reload is in, while requests the old config proxied are still running. So the
// host's sockets are read: Docker's proxy (docker-proxy, Docker's default userland proxy)
// accepts Caddy's connections on 127.0.0.1:PORT, one ESTABLISHED socket whose local port is the
// slot's port per connection.
//
// Idle keep-alive connections are not requests. Measured on a test host (Debian 12, Caddy
// 2.6.2): after `caddy reload` moved the route from 127.0.0.1:18011 to :18012, Caddy kept its
// idle pooled connection to 18011 open (still there 2 s and 60 s later; it closes idle upstream
// connections only after its keep-alive idle timeout, 2 minutes, or when the app closes them).
// Counting every ESTABLISHED socket would then wait the whole DRAIN_TIMEOUT after any
// keep-alive traffic. `ss -ti` tells them apart: on the app's side of a connection, a request
// in flight is one that received bytes and sent none yet (a new connection: ss prints no
// bytes_sent, 0), or whose last data came IN (the request) after the last data went OUT (the previous
// response): lastrcv < lastsnd (both "ms ago"), or bytes still queued either way. An idle
// connection sent last (its response), or received nothing. The times are in jiffies (4 ms at
// HZ=250): a request that reached a pooled connection within the same few ms as its previous
// response reads as idle (equal), the one case this misses; a response streamed with pauses
// (SSE) reads as idle between chunks. (lastsnd alone cannot tell a new connection's first
// request: the kernel stamps it at the handshake, often in the same jiffy as the request.)
//
// Without `ss` (no iproute2: every Debian and Ubuntu server image has it) /proc/net/tcp and
// tcp6 are read instead: every ESTABLISHED connection on the port counts, idle or not, so the
// drain may last until DRAIN_TIMEOUT (never stops a request early, only later than needed).
// With Docker's userland proxy turned off (`"userland-proxy": false`) Caddy's connections are
// NATed and no socket has the slot's port as its local port: the drain sees none and stops at
// once, as with DRAIN_TIMEOUT=0.
import { sh, type Cmd } from '../../lib/shell-quote.ts';

/** The command's last line: `drained: IN_FLIGHT IDLE HOW WAITED_MS` (HOW: ss, proc or none). */
export const DRAINED = 'drained:';

export interface DrainResult {
  /** Requests still in flight when the wait ended (0 unless DRAIN_TIMEOUT ran out). */
  inFlight: number;
  /** Idle keep-alive connections left (closed with the slot); 0 when `how` is proc. */
  idle: number;
  how: 'ss' | 'proc' | 'none';
  waitedMs: number;
}

/**
 * Waits until no request is in flight on 127.0.0.1:`port` (polled every 100 ms, so one with
 * none stops at once), at most `timeoutSeconds`, then prints the DRAINED line. `port` null (no
 * port known for the slot): prints at once. The final echo fails once the session is gone
 * (SIGPIPE/EPIPE), which is what afterDrainIfLive relies on.
 */
export function waitForRequests(port: number | null, timeoutSeconds: number): Cmd {
  if (port === null) return sh`echo ${`${DRAINED} 0 0 none 0`}`;
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  // ss prints `Recv-Q Send-Q local peer` then an indented info line per socket.
  const ssCount = `/^[0-9]/ { done(); open = ($1 > 0 || $2 > 0); snd = 0; rcv = 0; sent = 0; got = -1; have = 1; next }
{ for (k = 1; k <= NF; k++) { split($k, kv, ":"); if (kv[1] == "lastsnd") snd = kv[2] + 0; else if (kv[1] == "lastrcv") rcv = kv[2] + 0; else if (kv[1] == "bytes_sent") sent = kv[2] + 0; else if (kv[1] == "bytes_received") got = kv[2] + 0 } }
function done() { if (have) { if (open || rcv < snd || (got > 0 && sent == 0)) f++; else i++ } have = 0 }
END { done(); print f + 0, i + 0, "ss" }`;
  // /proc/net/tcp: `sl local rem st ...`, local as HEXADDR:HEXPORT, st 01 = ESTABLISHED.
  const procCount = `$4 == "01" { n = split($2, a, ":"); if (a[n] == p) f++ } END { print f + 0, 0, "proc" }`;
  return sh`{ inflight() { if command -v ss >/dev/null 2>&1; then ss -Htni state established ${`( sport = :${port} )`} | awk ${ssCount}; else cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=${hex} ${procCount}; fi; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
start=$(ms); end=$(( start + ${timeoutSeconds} * 1000 ))
set -- $(inflight)
while [ "$1" -gt 0 ] && [ "$(ms)" -lt "$end" ]; do sleep 0.1; set -- $(inflight); done
echo ${DRAINED} "$1" "$2" "$3" $(( $(ms) - start )); }`;
}

/** The DRAINED line of the command's output; null if there is none. */
export function parseDrained(stdout: string): DrainResult | null {
  const m = /^drained: (\d+) (\d+) (ss|proc|none) (\d+)$/m.exec(stdout);
  if (!m) return null;
  return { inFlight: Number(m[1]), idle: Number(m[2]), how: m[3] as DrainResult['how'], waitedMs: Number(m[4]) };
}

/** What the run says about the drain, e.g. "the blue slot stopped with 0 requests in flight (...)". */
export function drainSummary(slot: string, port: number | null, timeoutSeconds: number, d: DrainResult): string {
  const requests = `${d.inFlight} request${d.inFlight === 1 ? '' : 's'}`;
  const waited = `waited ${(d.waitedMs / 1000).toFixed(1)} s`;
  if (d.how === 'none') return `the ${slot} slot stopped without a drain: no port of it is known`;
  if (d.how === 'proc') return `the ${slot} slot stopped with ${d.inFlight} connection${d.inFlight === 1 ? '' : 's'} open on 127.0.0.1:${port} (${waited}${d.inFlight ? `; DRAIN_TIMEOUT is ${timeoutSeconds} s` : ''}; no ss here: idle keep-alive connections count too)`;
  if (d.inFlight) return `the ${slot} slot stopped with ${requests} still in flight on 127.0.0.1:${port}: DRAIN_TIMEOUT (${timeoutSeconds} s) ran out`;
  return `the ${slot} slot stopped with 0 requests in flight on 127.0.0.1:${port} (${waited}; ${d.idle} idle keep-alive connection${d.idle === 1 ? '' : 's'} closed with it)`;
}
