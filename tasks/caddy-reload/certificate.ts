// What Caddy serves over https, read on the host itself (curl to 127.0.0.1 with each domain as
// SNI and Host): the health path's status, the certificate (names, issuer, serial, expiry, from
// curl's %{certs}) and whether http:// redirects to https://. caddy-reload's verify waits on it
// under CADDY_TLS=auto; `hoist status` shows it. When no certificate comes, the reason is Caddy's
// own: its `tls.obtain` errors logged since the last config load, read from journald or from the
// file its stderr goes to. Commands are data and parsing is pure: unit-tested on recorded output.
import { sh, type Cmd } from '../../lib/shell-quote.ts';

export interface ServedCertificate {
  subject: string;
  /** As openssl prints it (`CN = Pebble Intermediate CA 1a2b3c`). */
  issuer: string;
  /** Lower-case hex, no colons. */
  serial: string;
  /** The DNS names of its subjectAltName. */
  names: string[];
  /** ISO 8601. */
  notAfter: string;
}

export interface DomainServing {
  domain: string;
  /** The health path's HTTP status over https; null when no answer. */
  status: number | null;
  certificate: ServedCertificate | null;
  /** curl's error for the https request, if any. */
  error: string | null;
  /** http://DOMAIN/HEALTH_PATH: its status and where it redirects. */
  http: { status: number | null; location: string };
}

const MARK = '=== hoist-cert';

/** One round trip: https (certificate and status) and http (redirect) for each domain, via 127.0.0.1. */
export function certificateCheck(domains: string[], healthPath: string): Cmd {
  return sh`for d in ${domains}; do
  echo ${MARK}" https $d"
  curl -sS -k -o /dev/null --max-time 5 --resolve "$d:443:127.0.0.1" -w 'status=%{http_code}\\n%{certs}' "https://$d"${healthPath} 2>&1 | head -c 65536
  echo
  echo ${MARK}" http $d"
  curl -sS -o /dev/null --max-time 5 --resolve "$d:80:127.0.0.1" -w 'status=%{http_code}\\nlocation=%{redirect_url}\\n' "http://$d"${healthPath} 2>&1 | head -c 4096
done
echo ${MARK}" end"`;
}

export function parseCertificateCheck(stdout: string, domains: string[]): DomainServing[] {
  const sections = new Map<string, string>();
  let key: string | null = null;
  let body: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith(`${MARK} `)) {
      if (key) sections.set(key, body.join('\n'));
      key = line.slice(MARK.length + 1);
      body = [];
    } else body.push(line);
  }
  return domains.map((domain) => {
    const https = sections.get(`https ${domain}`) ?? '';
    const http = sections.get(`http ${domain}`) ?? '';
    const status = statusOf(https);
    const error = https.split('\n').find((l) => l.startsWith('curl: ')) ?? (sections.has(`https ${domain}`) ? null : 'not checked');
    return {
      domain,
      status,
      certificate: parseFirstCertificate(https),
      error,
      http: { status: statusOf(http), location: /^location=(.*)$/m.exec(http)?.[1]?.trim() ?? '' },
    };
  });
}

function statusOf(text: string): number | null {
  const m = /^status=(\d{3})$/m.exec(text);
  return m && m[1] !== '000' ? Number(m[1]) : null;
}

/** The first certificate of curl's %{certs} (the leaf: curl lists the chain from it). */
export function parseFirstCertificate(text: string): ServedCertificate | null {
  const start = text.search(/^Subject:/m);
  if (start < 0) return null;
  const end = text.indexOf('-----END CERTIFICATE-----', start);
  const block = text.slice(start, end < 0 ? undefined : end);
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(block)?.[1]?.trim() ?? '';
  const notAfter = parseCertDate(field('Expire date'));
  if (!notAfter) return null;
  const san = field('X509v3 Subject Alternative Name');
  return {
    subject: field('Subject'),
    issuer: field('Issuer'),
    serial: field('Serial Number').replace(/:/g, '').toLowerCase(),
    names: san
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4).toLowerCase()),
    notAfter,
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** OpenSSL's `Dec  3 14:57:15 2026 GMT` as ISO 8601; null when it is not that. */
export function parseCertDate(text: string): string | null {
  const m = /^([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d\d):(\d\d):(\d\d)\s+(\d{4})\s+GMT$/.exec(text.trim());
  const month = m ? MONTHS.indexOf(m[1]!) : -1;
  if (!m || month < 0) return null;
  return new Date(Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]))).toISOString();
}

/**
 * What keeps the app from being served over https as it should, per domain (empty: served):
 * the health path answers 2xx/3xx over https, with a certificate naming that domain and no name
 * outside the app's domains, and http:// redirects to https://.
 */
export function servingProblems(seen: DomainServing[], domains: string[]): string[] {
  const ours = new Set(domains.map((d) => d.toLowerCase()));
  const problems: string[] = [];
  for (const s of seen) {
    const c = s.certificate;
    if (!c) problems.push(`https://${s.domain}: no certificate served${s.error ? ` (${s.error})` : ''}`);
    else if (!c.names.includes(s.domain.toLowerCase())) problems.push(`https://${s.domain}: the certificate names ${c.names.join(', ') || 'no DNS name'} (issuer ${c.issuer}), not ${s.domain}`);
    else if (c.names.some((n) => !ours.has(n))) problems.push(`https://${s.domain}: the certificate also names ${c.names.filter((n) => !ours.has(n)).join(', ')}`);
    else if (s.status === null || s.status >= 400) problems.push(`https://${s.domain}: the health path answered ${s.status ?? 'nothing'}`);
    const redirect = s.http.status !== null && s.http.status >= 300 && s.http.status < 400 && s.http.location.toLowerCase().startsWith(`https://${s.domain.toLowerCase()}`);
    if (!redirect) problems.push(`http://${s.domain}: answered ${s.http.status ?? 'nothing'}${s.http.location ? ` → ${s.http.location}` : ''}, not a redirect to https://${s.domain}`);
  }
  return problems;
}

export interface CertificateStatus {
  domain: string;
  issuer: string | null;
  serial: string | null;
  notAfter: string | null;
  /** Whole days until it expires (negative: expired); null when none is served. */
  daysLeft: number | null;
  /** Under WARN_DAYS left, expired, none served, or not for this domain. */
  warning: string | null;
}

/** Caddy renews 30 days ahead; under 14 something keeps it from doing so. */
export const WARN_DAYS = 14;

export function certificateStatus(seen: DomainServing[], now: Date): CertificateStatus[] {
  return seen.map((s) => {
    const c = s.certificate;
    if (!c) return { domain: s.domain, issuer: null, serial: null, notAfter: null, daysLeft: null, warning: `no certificate served${s.error ? ` (${s.error})` : ''}` };
    const daysLeft = Math.floor((Date.parse(c.notAfter) - now.getTime()) / 86_400_000);
    const warning = !c.names.includes(s.domain.toLowerCase())
      ? `the certificate is for ${c.names.join(', ') || 'no DNS name'}`
      : daysLeft < 0
        ? `expired on ${c.notAfter.slice(0, 10)}`
        : daysLeft < WARN_DAYS
          ? `expires in ${daysLeft} days (${c.notAfter.slice(0, 10)}): Caddy renews 30 days ahead, see its log`
          : null;
    return { domain: s.domain, issuer: c.issuer, serial: c.serial, notAfter: c.notAfter, daysLeft, warning };
  });
}

/**
 * Caddy's log, last lines: journald's when Caddy is systemd's caddy.service, else the file its
 * stderr goes to (a Caddy started by hand or by another supervisor). Read as root.
 */
export function caddyLogTail(lines = 1000): Cmd {
  return sh`pid=$(pidof caddy | awk '{print $1}')
if [ -z "$pid" ]; then echo 'Caddy is not running' >&2; exit 1; fi
if [ -d /run/systemd/system ] && command -v journalctl >/dev/null 2>&1 && systemctl is-active --quiet caddy 2>/dev/null; then
  journalctl -u caddy -o cat -n ${String(lines)} --no-pager
else
  f=$(readlink /proc/$pid/fd/2)
  if [ -f "$f" ]; then tail -n ${String(lines)} "$f"; else echo "Caddy's log is not a file here (its stderr is $f)" >&2; exit 1; fi
fi`;
}

export interface ObtainError {
  domain: string;
  error: string;
}

/**
 * Caddy's reasons for not getting a certificate for one of `domains`, logged after the last
 * config it was handed (POST /load: `caddy reload`): one per domain, the latest. With several
 * issuers (Caddy's defaults: Let's Encrypt, then ZeroSSL) one issuer's failure is not the end:
 * `finalOnly` counts a domain only once Caddy gave up on every issuer for this attempt ("will
 * retry"). Without the reload in the log tail nothing can be told apart: no reasons.
 */
export function obtainErrors(log: string, domains: string[], opts: { finalOnly?: boolean } = {}): ObtainError[] {
  const entries = log
    .split('\n')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return null;
      }
    })
    .filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object');
  let start = -1;
  entries.forEach((e, i) => {
    if (e.logger === 'admin.api' && e.uri === '/load') start = i;
  });
  if (start < 0) return [];
  const wanted = new Set(domains.map((d) => d.toLowerCase()));
  const found = new Map<string, string>();
  for (const e of entries.slice(start)) {
    if (e.level !== 'error' || e.logger !== 'tls.obtain' || typeof e.error !== 'string') continue;
    if (opts.finalOnly && e.msg !== 'will retry') continue;
    const id = typeof e.identifier === 'string' ? e.identifier.toLowerCase() : /^\[([^\]]+)\]/.exec(e.error)?.[1]?.toLowerCase();
    if (id && wanted.has(id) && (e.msg === 'could not get certificate from issuer' || !found.has(id))) found.set(id, e.error);
  }
  return [...found].map(([domain, error]) => ({ domain, error }));
}
