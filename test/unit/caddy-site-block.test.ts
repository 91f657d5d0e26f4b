// caddy-reload's pure text: the site block for each TLS mode, several domains and extra
// directives, by exact text; and the one import line added to the operator's Caddyfile.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderSiteBlock } from '../../tasks/caddy-reload/site-block.ts';
import { hasSitesImport, IMPORT_LINE, sitePath, withSitesImport } from '../../tasks/caddy-reload/caddyfile.ts';

const HEADER = '# Managed by hoist for api: rewritten on every release; set APP_DOMAIN, CADDY_TLS, CADDY_EXTRA instead.\n';
const base = { app: 'api', domains: ['api.example.com'], port: 18001, extra: [] as string[] };

test('render: auto TLS writes no tls line', () => {
  assert.is(renderSiteBlock({ ...base, tls: 'auto' }), `${HEADER}api.example.com {\n\treverse_proxy 127.0.0.1:18001\n}\n`);
});

test('render: internal TLS adds "tls internal" before the proxy', () => {
  assert.is(renderSiteBlock({ ...base, tls: 'internal' }), `${HEADER}api.example.com {\n\ttls internal\n\treverse_proxy 127.0.0.1:18001\n}\n`);
});

test('render: TLS off writes every domain as http://DOMAIN', () => {
  assert.is(
    renderSiteBlock({ ...base, domains: ['a.example.com', 'b.example.com'], tls: 'off', port: 18002 }),
    `${HEADER}http://a.example.com, http://b.example.com {\n\treverse_proxy 127.0.0.1:18002\n}\n`,
  );
});

test('render: several domains and extra directives, each on its own line, in order', () => {
  const text = renderSiteBlock({ ...base, domains: ['api.example.com', 'www.example.com'], tls: 'auto', extra: ['encode gzip', ' header X-Robots-Tag noindex '] });
  assert.is(text, `${HEADER}api.example.com, www.example.com {\n\treverse_proxy 127.0.0.1:18001\n\tencode gzip\n\theader X-Robots-Tag noindex\n}\n`);
});

test('site file: one per app under /etc/caddy/sites, matched by the import glob', () => {
  assert.is(sitePath('api'), '/etc/caddy/sites/hoist-api.caddy');
  assert.is(IMPORT_LINE, 'import /etc/caddy/sites/*.caddy');
});

test('Caddyfile: the import is appended once, every other byte kept', () => {
  const debian = ':80 {\n\troot * /usr/share/caddy\n\tfile_server\n}\n\n# docs\n';
  assert.is(withSitesImport(debian), `${debian}import /etc/caddy/sites/*.caddy\n`);
  assert.is(withSitesImport(withSitesImport(debian)), withSitesImport(debian));
  assert.is(withSitesImport('x.example.com {\n}'), 'x.example.com {\n}\nimport /etc/caddy/sites/*.caddy\n', 'a missing final newline is added first');
  assert.is(withSitesImport(''), 'import /etc/caddy/sites/*.caddy\n');
});

test('Caddyfile: an import already there, anywhere, indented or CRLF, is found; a commented one is not', () => {
  assert.ok(hasSitesImport('import /etc/caddy/sites/*.caddy\n:80 {\n}\n'));
  assert.ok(hasSitesImport(':80 {\n}\n  import   /etc/caddy/sites/*.caddy  \n'));
  assert.ok(hasSitesImport(':80 {\r\n}\r\nimport /etc/caddy/sites/*.caddy\r\n'));
  assert.not.ok(hasSitesImport('# import /etc/caddy/sites/*.caddy\n'));
  assert.not.ok(hasSitesImport('import /etc/caddy/sites/hoist-api.caddy\n'));
  const commented = '# import /etc/caddy/sites/*.caddy\n';
  assert.is(withSitesImport(commented), `${commented}import /etc/caddy/sites/*.caddy\n`);
});

test.run();
