// caddy-reload's plan, pure: the rendered site file and the Caddyfile with its import, compared
// byte for byte with what the probe read. Equal: nothing to do, and Caddy is not reloaded.
// Under CADDY_TLS=auto, a site whose addresses or tls directive change may make Caddy order
// certificates: DNS is checked first (a `dns` step), so a wrong record never reaches the CA.
import type { FileChange, Plan } from '../../lib/engine/task.ts';
import { CADDYFILE, IMPORT_LINE, withSitesImport } from './caddyfile.ts';
import { certificateLines, renderSiteBlock } from './site-block.ts';
import { CaddyError, type CaddyFact, type CaddyStep, type CaddyWanted } from './types.ts';

export function planCaddy(w: CaddyWanted, f: CaddyFact): Plan<CaddyStep> {
  if (f.caddyfile === null) throw new CaddyError(`${CADDYFILE} does not exist: install Caddy (the bootstrap pipeline does); hoist adds its import to that file`);
  if (!f.running) throw new CaddyError('Caddy is not running: start it (the bootstrap pipeline does); hoist reloads Caddy but never starts or restarts it');
  const route = `${w.domains.join(', ')} → 127.0.0.1:${f.port}`;
  const site = renderSiteBlock({ app: w.app, domains: w.domains, tls: w.tls, port: f.port, extra: w.extra, ...(w.acme ? { acme: w.acme } : {}) });
  const caddyfile = withSitesImport(f.caddyfile);
  const caRoot = w.caRoot !== undefined && w.caRoot !== f.caRoot && w.acme?.caRootPath ? { path: w.acme.caRootPath, content: w.caRoot } : null;
  if (site === f.site && caddyfile === f.caddyfile && !caRoot) return { changes: false, reason: `Caddy already proxies ${route}` };

  const steps: CaddyStep[] = [];
  const files: FileChange[] = [];
  if (w.tls === 'auto' && certificateLines(site) !== certificateLines(f.site ?? '')) {
    const ca = w.acme?.ca ?? "its default CAs (Let's Encrypt, ZeroSSL)";
    steps.push({ kind: 'dns', describe: `check that ${w.domains.join(', ')} point at this host before Caddy asks ${ca} for certificates (waits up to DNS_WAIT)` });
  }
  if (caRoot) {
    steps.push({ kind: 'ca-root', content: caRoot.content, describe: `${f.caRoot === null ? 'upload' : 'replace'} ACME_CA_ROOT as ${caRoot.path}` });
    files.push({ path: caRoot.path, before: f.caRoot, after: caRoot.content });
  }
  if (site !== f.site) {
    steps.push({ kind: 'site', content: site, describe: `${f.site === null ? 'create' : 'update'} ${w.sitePath}: ${route} (tls ${w.tls})` });
    files.push({ path: w.sitePath, before: f.site, after: site });
  }
  if (caddyfile !== f.caddyfile) {
    steps.push({ kind: 'import', content: caddyfile, describe: `add "${IMPORT_LINE}" to ${CADDYFILE} (its other lines kept)` });
    files.push({ path: CADDYFILE, before: f.caddyfile, after: caddyfile });
  }
  steps.push({ kind: 'validate-reload', describe: 'caddy validate the whole config, then caddy reload (no restart); the previous files are put back if either fails' });
  return { changes: true, steps, files };
}
