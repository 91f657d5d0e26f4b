// The command lines caddy-reload runs on the host (all as root), as data: unit tests compare them
// exactly. Caddy itself runs as the `caddy` user when there is one, as its service does, so
// validate reads what the running Caddy can read and writes its storage where the service does.
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { CADDYFILE, SITES_DIR } from './caddyfile.ts';
import type { CaddyTls } from './site-block.ts';

function caddyCli(args: string[]): Cmd {
  return sh`if id -u caddy >/dev/null 2>&1; then runuser -u caddy -- caddy ${args}; else caddy ${args}; fi`;
}

const CONFIG = ['--config', CADDYFILE, '--adapter', 'caddyfile'];

/** Adapts and provisions the WHOLE config as it is on disk; the running Caddy is not touched. */
export function validateConfig(): Cmd {
  return caddyCli(['validate', ...CONFIG]);
}

/** Hands the config to the running Caddy through its admin API (localhost:2019): no restart. */
/** `force`: reload although the config text is the same (a file it names, ca_root, changed). */
/** Queued connections are handed over first (keepQueuedConnections): the reload resets none. */
export function reloadCaddy(force = false): Cmd {
  return sh`${keepQueuedConnections()}; ${caddyCli(['reload', ...CONFIG, ...(force ? ['--force'] : [])])}`;
}

/** Linux's switch (5.14+, per network namespace) that moves a closing listener's queue to its twin. */
export const MIGRATE_REQ = '/proc/sys/net/ipv4/tcp_migrate_req';
/** What the reload prints (stdout) when the switch could not be turned on. */
export const MIGRATE_REQ_UNSET = 'hoist: net.ipv4.tcp_migrate_req is not 1';

/**
 * Caddy (2.6 and later, on Linux) opens a new socket on :80/:443 for each config it loads
 * (SO_REUSEPORT: both listen for a moment) and closes the old one once the new config runs. A
 * connection the kernel had already queued on the old socket, not yet accepted by Caddy, is then
 * reset: a visitor's request fails ("connection reset", or "refused" for one still in its
 * handshake), more often on a busy CPU, where Caddy accepts later. net.ipv4.tcp_migrate_req=1
 * makes the kernel hand those connections to the new socket instead. Turned on before every
 * reload (it only changes what happens to a closing SO_REUSEPORT listener's queue); where it
 * cannot be (an older kernel, a container VPS with a read-only /proc/sys) the reload goes on
 * and says so on stdout.
 */
export function keepQueuedConnections(): Cmd {
  return sh`{ [ "$(cat ${MIGRATE_REQ} 2>/dev/null)" = 1 ] || echo 1 >${MIGRATE_REQ}; } 2>/dev/null || echo ${MIGRATE_REQ_UNSET}`;
}

export function makeSitesDir(): Cmd {
  return sh`install -d -m 755 -o root -g root ${SITES_DIR}`;
}

export function removeFile(path: string): Cmd {
  return sh`rm -f ${path}`;
}

/** Where the host itself asks Caddy for each domain: https on 443 for `internal`, else http on 80. */
export function checkTarget(tls: CaddyTls): { scheme: 'http' | 'https'; port: number } {
  return tls === 'internal' ? { scheme: 'https', port: 443 } : { scheme: 'http', port: 80 };
}

/**
 * Asks Caddy on 127.0.0.1 for each domain and prints `DOMAIN STATUS`. Any status proves the
 * route (a 502 is Caddy saying the app is down); a refused connection does not. Retried for up
 * to about 5 s, since Caddy issues an `internal` certificate just after the reload.
 */
export function httpCheck(domains: string[], tls: CaddyTls): Cmd {
  const { scheme, port } = checkTarget(tls);
  const insecure = tls === 'internal' ? ['-k'] : [];
  return sh`for d in ${domains}; do
  i=0
  while :; do
    out=$(curl -sS ${insecure} -o /dev/null -w ' %{http_code}' --max-time 3 --resolve "$d:"${String(port)}":127.0.0.1" ${`${scheme}://`}"$d/" 2>&1)
    code=$(echo "$out" | tail -n 1 | awk '{print $NF}')
    case "$code" in [1-5][0-9][0-9]) break ;; esac
    i=$((i+1)); if [ $i -ge 20 ]; then echo "Caddy did not answer for $d on "${`${scheme}://127.0.0.1:${port}`}": $out" >&2; exit 1; fi
    sleep 0.25
  done
  echo "$d $code"
done`;
}
