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
export function reloadCaddy(force = false): Cmd {
  return caddyCli(['reload', ...CONFIG, ...(force ? ['--force'] : [])]);
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
