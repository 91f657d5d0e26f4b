// CADDY_TLS=auto with ACME settings, as data: the per-site tls directive (exact text), which site
// changes may make Caddy order certificates (and so get a DNS check first), the uploaded
// ACME_CA_ROOT as a planned file, want from settings, and the settings' own checks.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../lib/config/load-config.ts';
import type { Settings } from '../../lib/config/settings.ts';
import { ConfigError } from '../../lib/errors.ts';
import { caddyReload } from '../../tasks/caddy-reload.ts';
import { planCaddy } from '../../tasks/caddy-reload/plan.ts';
import { certificateLines, renderSiteBlock } from '../../tasks/caddy-reload/site-block.ts';
import type { CaddyFact, CaddyWanted } from '../../tasks/caddy-reload/types.ts';
import { testHost } from '../harness/settings.ts';

const HEADER = '# Managed by hoist for api: rewritten on every release; set APP_DOMAIN, CADDY_TLS, CADDY_EXTRA instead.\n';
const base = { app: 'api', domains: ['api.example.com'], port: 18001, extra: [] as string[], tls: 'auto' as const };
const CA = 'https://acme-staging-v02.api.letsencrypt.org/directory';
const ROOT = '/etc/caddy/sites/hoist-api.acme-ca-root.pem';

test('render: ACME_EMAIL alone is `tls EMAIL`', () => {
  assert.is(renderSiteBlock({ ...base, acme: { email: 'ops@example.com' } }), `${HEADER}api.example.com {\n\ttls ops@example.com\n\treverse_proxy 127.0.0.1:18001\n}\n`);
});

test('render: ACME_CA, ACME_CA_ROOT and ACME_EMAIL in one tls block, inside the site', () => {
  assert.is(
    renderSiteBlock({ ...base, acme: { email: 'ops@example.com', ca: CA, caRootPath: ROOT } }),
    `${HEADER}api.example.com {\n\ttls ops@example.com {\n\t\tca ${CA}\n\t\tca_root ${ROOT}\n\t}\n\treverse_proxy 127.0.0.1:18001\n}\n`,
  );
  assert.is(renderSiteBlock({ ...base, acme: { ca: CA } }), `${HEADER}api.example.com {\n\ttls {\n\t\tca ${CA}\n\t}\n\treverse_proxy 127.0.0.1:18001\n}\n`);
});

test('render: no ACME key, or another TLS mode: exactly the text of before (nothing to rewrite on upgrade)', () => {
  assert.is(renderSiteBlock({ ...base, acme: {} }), `${HEADER}api.example.com {\n\treverse_proxy 127.0.0.1:18001\n}\n`);
  assert.is(renderSiteBlock({ ...base, tls: 'internal', acme: { email: 'ops@example.com', ca: CA } }), `${HEADER}api.example.com {\n\ttls internal\n\treverse_proxy 127.0.0.1:18001\n}\n`);
  assert.is(renderSiteBlock({ ...base, tls: 'off', acme: { email: 'ops@example.com' } }), `${HEADER}http://api.example.com {\n\treverse_proxy 127.0.0.1:18001\n}\n`);
});

test('certificate lines: addresses and the tls directive; a port or CADDY_EXTRA change leaves them', () => {
  const a = renderSiteBlock({ ...base, acme: { email: 'ops@example.com', ca: CA, caRootPath: ROOT }, extra: ['encode gzip'] });
  assert.is(certificateLines(a), `api.example.com {\n\ttls ops@example.com {\n\t\tca ${CA}\n\t\tca_root ${ROOT}`);
  assert.is(certificateLines(renderSiteBlock({ ...base, port: 18002, acme: { email: 'ops@example.com', ca: CA, caRootPath: ROOT } })), certificateLines(a));
  assert.is.not(certificateLines(renderSiteBlock({ ...base, domains: ['api.example.com', 'www.example.com'] })), certificateLines(renderSiteBlock(base)));
  assert.is(certificateLines(''), '');
});

const want = (s: Partial<Settings>) => caddyReload.want({ host: testHost({ appName: 'api', domains: ['api.example.com'], ...s }), loginUser: 'deploy' }) as CaddyWanted;
const IMPORTED = ':80 {\n}\nimport /etc/caddy/sites/*.caddy\n';
const fact = (f: Partial<CaddyFact>): CaddyFact => ({ site: null, caddyfile: IMPORTED, caddyfileMode: '644', caddyfileOwner: 'root:root', running: true, activeSlot: null, recordedPorts: null, caRoot: null, port: 18001, ...f });

let dir = '';
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hoist-acme-unit-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  writeFileSync(join(dir, 'root.pem'), '-----BEGIN CERTIFICATE-----\nMIIBpjCCAUygAwIBAgIU\n-----END CERTIFICATE-----\n');
  writeFileSync(join(dir, 'not.pem'), 'hello\n');
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('want: ACME_* only under auto; the CA root read here, to go to the host', () => {
  const root = join(dir, 'root.pem');
  const w = want({ acmeEmail: 'ops@example.com', acmeCa: CA, acmeCaRoot: root });
  assert.equal(w.acme, { email: 'ops@example.com', ca: CA, caRootPath: ROOT });
  assert.match(w.caRoot ?? '', /^-----BEGIN CERTIFICATE-----/);
  assert.is(want({ caddyTls: 'internal', acmeEmail: 'ops@example.com', acmeCa: CA }).acme, undefined);
  assert.not.ok('acme' in want({}), 'no ACME key: the wanted of before');
});

test('plan: a first auto site checks DNS before anything, uploads the root, then the site; a new port only rewrites the site', () => {
  const w = want({ acmeEmail: 'ops@example.com', acmeCa: CA, acmeCaRoot: join(dir, 'root.pem') });
  const first = planCaddy(w, fact({}));
  assert.ok(first.changes);
  if (!first.changes) return;
  assert.equal(first.steps.map((s) => s.kind), ['dns', 'ca-root', 'site', 'validate-reload']);
  assert.match(first.steps[0]!.describe, /^check that api\.example\.com point at this host before Caddy asks https:\/\/acme-staging.* for certificates/);
  assert.equal(first.files?.map((f) => f.path), [ROOT, '/etc/caddy/sites/hoist-api.caddy']);

  const live = renderSiteBlock({ ...base, acme: w.acme! });
  const moved = planCaddy(w, fact({ site: live, caRoot: w.caRoot!, port: 18002 }));
  assert.ok(moved.changes);
  if (moved.changes) assert.equal(moved.steps.map((s) => s.kind), ['site', 'validate-reload'], 'no DNS check: Caddy orders nothing for a new port');
  const same = planCaddy(w, fact({ site: live, caRoot: w.caRoot! }));
  assert.not.ok(same.changes);

  const more = planCaddy(want({ domains: ['api.example.com', 'www.example.com'] }), fact({ site: renderSiteBlock(base) }));
  assert.ok(more.changes);
  if (more.changes) assert.is(more.steps[0]!.kind, 'dns', 'a new domain is a new certificate: DNS first');
  const internal = planCaddy(want({ caddyTls: 'internal' }), fact({}));
  assert.ok(internal.changes);
  if (internal.changes) assert.not.ok(internal.steps.some((s) => s.kind === 'dns'), 'no CA, no DNS gate');
});

function load(env: string): Settings {
  const file = join(dir, `case-${Math.random().toString(16).slice(2)}.env`);
  writeFileSync(file, `HOST=203.0.113.7\nSSH_KEY=${join(dir, 'id')}\n${env}`);
  return loadConfig({ envFile: file, env: {} }).hosts[0]!.settings;
}

function configError(env: string): ConfigError {
  try {
    load(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`no ConfigError for ${env}`);
}

test('settings: defaults keep today\'s behaviour; good values pass', () => {
  const s = load('');
  assert.is(s.acmeEmail, undefined);
  assert.is(s.acmeCa, undefined);
  assert.is(s.acmeCaRoot, undefined);
  const t = load(`ACME_EMAIL=ops@example.com\nACME_CA=${CA}\nACME_CA_ROOT=${join(dir, 'root.pem')}\n`);
  assert.is(t.acmeEmail, 'ops@example.com');
  assert.is(t.acmeCa, CA);
  assert.is(t.acmeCaRoot, join(dir, 'root.pem'));
});

test('settings: each bad value names its key and fix', () => {
  for (const [env, key, problem] of [
    ['ACME_EMAIL=ops@example.com {\n', 'ACME_EMAIL', /is not an e-mail address/],
    ['ACME_EMAIL=not-an-address\n', 'ACME_EMAIL', /is not an e-mail address/],
    ['ACME_CA=http://ca.example.com/dir\n', 'ACME_CA', /is not an https URL/],
    ['ACME_CA="https://ca.example.com/dir\\n}"\n', 'ACME_CA', /is not an https URL/],
    [`ACME_CA_ROOT=${join(dir, 'root.pem')}\n`, 'ACME_CA_ROOT', /is set without ACME_CA/],
    [`ACME_CA=${CA}\nACME_CA_ROOT=${join(dir, 'not.pem')}\n`, 'ACME_CA_ROOT', /holds no PEM certificate/],
    [`ACME_CA=${CA}\nACME_CA_ROOT=${join(dir, 'missing.pem')}\n`, 'ACME_CA_ROOT', /is not a readable file/],
  ] as const) {
    const e = configError(env);
    assert.is(e.key, key, env);
    assert.match(e.message, problem);
    assert.match(e.message, /Fix: set /);
  }
});

test.run();
