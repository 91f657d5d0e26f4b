// CADDY_EXTRA: extra directives inside the app's site block, ';'-separated, one line each.
//
// An allow-list, not a deny-list: Caddy (2.6 on the hosts) has directives that read the host's
// files (import, root + file_server, try_files, templates, tls with certificate paths), run or
// reach other things (php_fastcgi, reverse_proxy, forward_auth, acme_server, metrics, bind), and
// plugins may add more; a deny-list is one new directive away from letting CADDY_EXTRA, which
// may come from a CI variable, serve /etc or a local service. What a reverse-proxied app needs
// on one line is short: the directives below only shape requests and responses between the
// visitor and the app (Caddy 2.6's standard directives, checked against its directive list).
// Braces are refused outright: no block, and no placeholder ({file.*} reads a file, {env.*} and
// {$VAR} read the environment of Caddy or of whoever runs `caddy validate`).
import { shown } from './validators.ts';

/** The directives CADDY_EXTRA may use, and what each does (listed in the error). */
export const CADDY_EXTRA_DIRECTIVES: readonly string[] = [
  'header', // response headers
  'request_header', // headers passed to the app
  'encode', // compression
  'redir', // redirects
  'rewrite', // internal rewrites (still to the app)
  'uri', // path/query manipulation
  'method', // change the request method
  'respond', // a fixed response
  'abort', // drop the connection
  'error', // trigger an error status
  'log', // access log to Caddy's own log (no block: no output file)
  'skip_log', // silence the access log for some paths
  'vars', // request variables for matchers
];

const ALLOWED = new Set(CADDY_EXTRA_DIRECTIVES);

/** Why some directives are refused by name: the reason said in the error. */
const REFUSED_WHY: Readonly<Record<string, string>> = {
  import: 'reads files on the host',
  root: 'points Caddy at a folder on the host',
  file_server: 'serves files from the host',
  try_files: 'looks at files on the host',
  templates: 'can read files on the host',
  tls: 'reads certificate files on the host (use CADDY_TLS and ACME_*)',
  php_fastcgi: 'runs programs through FastCGI',
  reverse_proxy: 'sends requests elsewhere (hoist proxies to the app itself)',
  forward_auth: 'sends requests elsewhere',
  acme_server: 'runs a certificate authority',
  metrics: "exposes Caddy's metrics",
  bind: 'changes the address Caddy listens on',
};

/** The items as the site block writes them: split at every ';' (lib/config/validators.ts splitList). */
function items(v: string): string[] {
  return v.split(';').map((s) => s.trim()).filter((s) => s !== '');
}

export function caddyExtraProblem(v: string): string | null {
  if (/\{(\$|env\.|file\.)/.test(v)) return 'may not contain placeholders ({file.*}, {env.*}, {$VAR} read files and the environment on the host)';
  if (/[{}\n\r]/.test(v)) return 'may not contain braces or line breaks (no nested blocks, no placeholders)';
  for (const item of v.split(';')) {
    let quote: '"' | '`' | null = null;
    for (let i = 0; i < item.length; i++) {
      const c = item[i];
      if (quote === '"' && c === '\\') i++;
      else if (quote && c === quote) quote = null;
      else if (!quote && (c === '"' || c === '`')) quote = c;
    }
    if (quote) return `${shown(item.trim())} leaves a ${quote} quote open`;
  }
  for (const item of items(v)) {
    const directive = item.split(/\s+/)[0]!;
    if (ALLOWED.has(directive)) continue;
    const why = REFUSED_WHY[directive] ?? (directive.startsWith('@') ? 'defines a matcher (a file matcher looks at the host\'s files)' : 'is not one of the directives allowed here');
    return `uses ${shown(directive)}, which ${why}; allowed: ${CADDY_EXTRA_DIRECTIVES.join(', ')}`;
  }
  return null;
}
