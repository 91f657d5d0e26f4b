// The app's Caddy site block, rendered from settings and the port alone. Pure, so its exact text
// is unit-tested and a second run can compare it byte for byte with the file on the host.
export type CaddyTls = 'auto' | 'internal' | 'off';

/** Which ACME CA Caddy asks (CADDY_TLS=auto only): written per site, the main Caddyfile stays the operator's. */
export interface AcmeOptions {
  /** ACME_EMAIL: the account's contact. */
  email?: string;
  /** ACME_CA: the directory URL. */
  ca?: string;
  /** Where ACME_CA_ROOT lies on the host (hoist uploads it): trusted for the directory's https. */
  caRootPath?: string;
}

export interface SiteBlockInput {
  app: string;
  domains: string[];
  tls: CaddyTls;
  port: number;
  /** One Caddyfile directive per entry (CADDY_EXTRA), written on its own line. */
  extra: string[];
  acme?: AcmeOptions;
}

/**
 * `auto`: Caddy gets certificates itself (from ACME_CA when set, with ACME_EMAIL as contact);
 * `internal`: its own CA (`tls internal`); `off`: each address is written `http://DOMAIN`, so
 * Caddy serves plain HTTP and never redirects.
 */
export function renderSiteBlock(s: SiteBlockInput): string {
  const addresses = s.domains.map((d) => (s.tls === 'off' ? `http://${d}` : d)).join(', ');
  return [
    `# Managed by hoist for ${s.app}: rewritten on every release; set APP_DOMAIN, CADDY_TLS, CADDY_EXTRA instead.`,
    `${addresses} {`,
    ...tlsLines(s),
    `\treverse_proxy 127.0.0.1:${s.port}`,
    ...s.extra.map((d) => `\t${d.trim()}`),
    '}',
    '',
  ].join('\n');
}

/**
 * The site's `tls` directive: `tls internal`; with auto, `tls EMAIL` and/or a block naming the
 * CA (`ca`, `ca_root`). Caddy's defaults (no directive) when no ACME_* key is set: what a site
 * written before these keys existed holds, so upgrading hoist rewrites nothing.
 */
function tlsLines(s: SiteBlockInput): string[] {
  if (s.tls === 'internal') return ['\ttls internal'];
  if (s.tls !== 'auto' || !s.acme) return [];
  const { email, ca, caRootPath } = s.acme;
  const head = email ? `\ttls ${email}` : '\ttls';
  const inner = [...(ca ? [`\t\tca ${ca}`] : []), ...(ca && caRootPath ? [`\t\tca_root ${caRootPath}`] : [])];
  if (inner.length === 0) return email ? [head] : [];
  return [`${head} {`, ...inner, '\t}'];
}

/**
 * The lines that decide which certificate Caddy wants: the addresses and the tls directive. When
 * they are the same before and after, a change to the site (a new slot's port) asks no CA for
 * anything; when they differ under `auto`, Caddy may order certificates, so DNS is checked first.
 */
export function certificateLines(site: string): string {
  const lines = site.split('\n');
  const open = lines.findIndex((l) => /^\S.*\{$/.test(l));
  if (open < 0) return '';
  const out = [lines[open]!];
  for (let i = open + 1; i < lines.length && lines[i] !== '}'; i++) {
    const l = lines[i]!;
    if (/^\ttls\b/.test(l)) {
      out.push(l);
      if (l.endsWith('{')) for (i++; i < lines.length && lines[i] !== '\t}'; i++) out.push(lines[i]!);
    }
  }
  return out.join('\n');
}
