// caddy-reload's plan, pure: the rendered site file and the Caddyfile with its import, compared
// byte for byte with what the probe read. Equal: nothing to do, and Caddy is not reloaded.
import type { FileChange, Plan } from '../../lib/engine/task.ts';
import { CADDYFILE, IMPORT_LINE, withSitesImport } from './caddyfile.ts';
import { renderSiteBlock } from './site-block.ts';
import { CaddyError, type CaddyFact, type CaddyStep, type CaddyWanted } from './types.ts';

export function planCaddy(w: CaddyWanted, f: CaddyFact): Plan<CaddyStep> {
  if (f.caddyfile === null) throw new CaddyError(`${CADDYFILE} does not exist: install Caddy (the bootstrap pipeline does); hoist adds its import to that file`);
  if (!f.running) throw new CaddyError('Caddy is not running: start it (the bootstrap pipeline does); hoist reloads Caddy but never starts or restarts it');
  const route = `${w.domains.join(', ')} → 127.0.0.1:${f.port}`;
  const site = renderSiteBlock({ app: w.app, domains: w.domains, tls: w.tls, port: f.port, extra: w.extra });
  const caddyfile = withSitesImport(f.caddyfile);
  if (site === f.site && caddyfile === f.caddyfile) return { changes: false, reason: `Caddy already proxies ${route}` };

  const steps: CaddyStep[] = [];
  const files: FileChange[] = [];
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
