// Where hoist's Caddy files live and the one line hoist adds to the operator's main Caddyfile.
// Every other byte of that file is the operator's: hoist only appends the import when missing.
export const CADDYFILE = '/etc/caddy/Caddyfile';
export const SITES_DIR = '/etc/caddy/sites';
export const IMPORT_LINE = `import ${SITES_DIR}/*.caddy`;

/** One file per app, so apps on one Caddy never edit each other's routes. */
export function sitePath(app: string): string {
  return `${SITES_DIR}/hoist-${app}.caddy`;
}

/** ACME_CA_ROOT as uploaded for the app's site (`ca_root`); not matched by the import's *.caddy. */
export function caRootPath(app: string): string {
  return `${SITES_DIR}/hoist-${app}.acme-ca-root.pem`;
}

const IMPORT_RE = /^[ \t]*import[ \t]+\/etc\/caddy\/sites\/\*\.caddy[ \t]*\r?$/m;

export function hasSitesImport(caddyfile: string): boolean {
  return IMPORT_RE.test(caddyfile);
}

/** The Caddyfile with the import line appended (after a newline if the file lacks a final one). */
export function withSitesImport(caddyfile: string): string {
  if (hasSitesImport(caddyfile)) return caddyfile;
  const body = caddyfile === '' || caddyfile.endsWith('\n') ? caddyfile : `${caddyfile}\n`;
  return `${body}${IMPORT_LINE}\n`;
}

/**
 * The Caddyfile without hoist's import line(s): what `hoist remove` writes once no site file is
 * left to import. Every other byte stays (a final newline the file lacked before the import was
 * added cannot be told apart and is kept).
 */
export function withoutSitesImport(caddyfile: string): string {
  return caddyfile
    .split(/(?<=\n)/)
    .filter((line) => !IMPORT_RE.test(line.replace(/\n$/, '')))
    .join('');
}
