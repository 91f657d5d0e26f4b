// The app's Caddy site block, rendered from settings and the port alone. Pure, so its exact text
// is unit-tested and a second run can compare it byte for byte with the file on the host.
export type CaddyTls = 'auto' | 'internal' | 'off';

export interface SiteBlockInput {
  app: string;
  domains: string[];
  tls: CaddyTls;
  port: number;
  /** One Caddyfile directive per entry (CADDY_EXTRA), written on its own line. */
  extra: string[];
}

/**
 * `auto`: Caddy gets certificates itself; `internal`: its own CA (`tls internal`); `off`: each
 * address is written `http://DOMAIN`, so Caddy serves plain HTTP and never redirects.
 */
export function renderSiteBlock(s: SiteBlockInput): string {
  const addresses = s.domains.map((d) => (s.tls === 'off' ? `http://${d}` : d)).join(', ');
  return [
    `# Managed by hoist for ${s.app}: rewritten on every release; set APP_DOMAIN, CADDY_TLS, CADDY_EXTRA instead.`,
    `${addresses} {`,
    ...(s.tls === 'internal' ? ['\ttls internal'] : []),
    `\treverse_proxy 127.0.0.1:${s.port}`,
    ...s.extra.map((d) => `\t${d.trim()}`),
    '}',
    '',
  ].join('\n');
}
