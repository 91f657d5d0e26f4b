// caddy-reload's want and plan as data: APP_DOMAIN required, and a table of host facts -> step
// kinds and file diffs, or the no-op reason, or the refusal. No host involved.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError } from '../../lib/errors.ts';
import type { Settings } from '../../lib/config/settings.ts';
import { caddyReload } from '../../tasks/caddy-reload.ts';
import { planCaddy } from '../../tasks/caddy-reload/plan.ts';
import { renderSiteBlock } from '../../tasks/caddy-reload/site-block.ts';
import { CaddyError, type CaddyFact, type CaddyWanted } from '../../tasks/caddy-reload/types.ts';
import { testHost } from '../harness/settings.ts';

const want = (s: Partial<Settings>) => caddyReload.want({ host: testHost({ appName: 'api', ...s }), loginUser: 'deploy' }) as CaddyWanted;
const w = want({ domains: ['api.example.com'], caddyTls: 'off', caddyExtra: ['encode gzip'] });
const DEBIAN = ':80 {\n\troot * /usr/share/caddy\n\tfile_server\n}\n';
const IMPORTED = `${DEBIAN}import /etc/caddy/sites/*.caddy\n`;
const site = (port: number) => renderSiteBlock({ app: 'api', domains: ['api.example.com'], tls: 'off', port, extra: ['encode gzip'] });
const fact = (f: Partial<CaddyFact>): CaddyFact => ({ site: null, caddyfile: DEBIAN, caddyfileMode: '644', caddyfileOwner: 'root:root', running: true, activeSlot: null, recordedPorts: null, caRoot: null, port: 18001, ...f });

test('want: the app\'s domains, TLS mode and extras, its own site file; all local', () => {
  assert.equal(w, { app: 'api', deployUser: 'deploy', domains: ['api.example.com'], tls: 'off', extra: ['encode gzip'], sitePath: '/etc/caddy/sites/hoist-api.caddy' });
  assert.is(caddyReload.plan, planCaddy);
});

test('want: no APP_DOMAIN is a config error naming APP_DOMAIN', () => {
  try {
    want({ domains: [] });
    assert.unreachable('want should throw');
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.is((e as ConfigError).key, 'APP_DOMAIN');
    assert.match((e as Error).message, /^APP_DOMAIN is empty; caddy-reload needs the domain\(s\).*Fix: set APP_DOMAIN/);
  }
});

const cases: { name: string; fact: Partial<CaddyFact>; kinds?: string[]; files?: string[]; describe?: RegExp; reason?: string }[] = [
  { name: 'fresh host: create the site file, add the import', fact: {}, kinds: ['site', 'import', 'validate-reload'], files: ['/etc/caddy/sites/hoist-api.caddy', '/etc/caddy/Caddyfile'], describe: /^create \/etc\/caddy\/sites\/hoist-api\.caddy: api\.example\.com → 127\.0\.0\.1:18001 \(tls off\)$/ },
  { name: 'import there, no site file yet', fact: { caddyfile: IMPORTED }, kinds: ['site', 'validate-reload'], files: ['/etc/caddy/sites/hoist-api.caddy'] },
  { name: 'site file right, import missing', fact: { site: site(18001) }, kinds: ['import', 'validate-reload'], files: ['/etc/caddy/Caddyfile'], describe: /^add "import \/etc\/caddy\/sites\/\*\.caddy" to \/etc\/caddy\/Caddyfile/ },
  { name: 'the slot moved to green', fact: { site: site(18001), caddyfile: IMPORTED, port: 18002 }, kinds: ['site', 'validate-reload'], describe: /^update .*→ 127\.0\.0\.1:18002/ },
  { name: 'hand-edited site file', fact: { site: `${site(18001)}# mine\n`, caddyfile: IMPORTED }, kinds: ['site', 'validate-reload'] },
  { name: 'up to date', fact: { site: site(18001), caddyfile: IMPORTED }, reason: 'Caddy already proxies api.example.com → 127.0.0.1:18001' },
];

for (const c of cases) {
  test(`plan: ${c.name}`, () => {
    const f = fact(c.fact);
    const plan = planCaddy(w, f);
    if (c.reason) {
      assert.equal(plan, { changes: false, reason: c.reason });
      return;
    }
    assert.ok(plan.changes);
    if (!plan.changes) return;
    assert.equal(plan.steps.map((s) => s.kind), c.kinds);
    if (c.describe) assert.match(plan.steps[0]!.describe, c.describe);
    if (c.files) assert.equal(plan.files!.map((x) => x.path), c.files);
    const siteFile = plan.files!.find((x) => x.path.endsWith('.caddy'));
    if (siteFile) assert.equal(siteFile, { path: '/etc/caddy/sites/hoist-api.caddy', before: f.site, after: site(f.port) });
    const main = plan.files!.find((x) => x.path === '/etc/caddy/Caddyfile');
    if (main) assert.equal(main, { path: '/etc/caddy/Caddyfile', before: f.caddyfile, after: IMPORTED });
    const step = plan.steps.find((s) => s.kind === 'site');
    if (step && step.kind === 'site') assert.is(step.content, site(f.port));
  });
}

test('plan: several domains in the reason', () => {
  const two = want({ domains: ['a.example.com', 'b.example.com'], caddyTls: 'auto' });
  const text = renderSiteBlock({ app: 'api', domains: ['a.example.com', 'b.example.com'], tls: 'auto', port: 18001, extra: [] });
  assert.equal(planCaddy(two, fact({ site: text, caddyfile: IMPORTED })), { changes: false, reason: 'Caddy already proxies a.example.com, b.example.com → 127.0.0.1:18001' });
});

test('plan: refuses when Caddy is not running (never starts or restarts it) or has no Caddyfile', () => {
  assert.throws(() => planCaddy(w, fact({ running: false, site: site(18001), caddyfile: IMPORTED })), (e: Error) => e instanceof CaddyError && /Caddy is not running/.test(e.message));
  assert.throws(() => planCaddy(w, fact({ caddyfile: null })), (e: Error) => e instanceof CaddyError && /\/etc\/caddy\/Caddyfile does not exist/.test(e.message));
});

test.run();
