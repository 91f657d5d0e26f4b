// caddy-reload's command lines by exact string: the probe (one round trip), validate and reload
// (as the caddy user when it exists, never a restart), and the HTTP check from the host.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { caddyProbe } from '../../tasks/caddy-reload/probe.ts';
import { checkTarget, httpCheck, makeSitesDir, reloadCaddy, removeFile, validateConfig } from '../../tasks/caddy-reload/commands.ts';

test('validate and reload: the whole main Caddyfile, through the caddyfile adapter, as caddy', () => {
  assert.is(
    validateConfig().line,
    'if id -u caddy >/dev/null 2>&1; then runuser -u caddy -- caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile; else caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile; fi',
  );
  assert.is(
    reloadCaddy().line,
    'if id -u caddy >/dev/null 2>&1; then runuser -u caddy -- caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile; else caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile; fi',
  );
  assert.not.match(reloadCaddy().line, /restart|systemctl|kill/);
});

test('sites folder and file removal', () => {
  assert.is(makeSitesDir().line, 'install -d -m 755 -o root -g root /etc/caddy/sites');
  assert.is(removeFile('/etc/caddy/sites/hoist-api.caddy').line, 'rm -f /etc/caddy/sites/hoist-api.caddy');
});

test('probe: site file, Caddyfile (base64, mode, owner), pidof caddy, the deploy user\'s active-slot and ports files, the uploaded ACME_CA_ROOT', () => {
  assert.is(
    caddyProbe({ app: 'api', deployUser: 'deploy', sitePath: '/etc/caddy/sites/hoist-api.caddy' }).line,
    [
      'if [ -f /etc/caddy/sites/hoist-api.caddy ]; then echo "site=$(base64 -w0 < /etc/caddy/sites/hoist-api.caddy)"; else echo site=-; fi',
      `if [ -f /etc/caddy/Caddyfile ]; then echo "caddyfile=$(base64 -w0 < /etc/caddy/Caddyfile)"; echo "caddyfile_stat=$(stat -c '%a %U:%G' /etc/caddy/Caddyfile)"; else echo caddyfile=-; fi`,
      'if pidof caddy >/dev/null; then echo caddy=running; else echo caddy=stopped; fi',
      'home=$(getent passwd deploy | cut -d: -f6)',
      'if [ -n "$home" ] && [ -f "$home/"apps/api/active-slot ]; then echo "slot=$(base64 -w0 < "$home/"apps/api/active-slot)"; else echo slot=-; fi',
      'if [ -n "$home" ] && [ -f "$home/"apps/api/ports ]; then echo "ports=$(head -c 200 "$home/"apps/api/ports | base64 -w0)"; else echo ports=-; fi',
      'if [ -f /etc/caddy/sites/hoist-api.acme-ca-root.pem ]; then echo "caroot=$(head -c 262144 /etc/caddy/sites/hoist-api.acme-ca-root.pem | base64 -w0)"; else echo caroot=-; fi',
      '',
    ].join('\n'),
  );
});

test('HTTP check: http on 80 for auto and off, https -k on 443 for internal; every domain', () => {
  assert.equal(checkTarget('auto'), { scheme: 'http', port: 80 });
  assert.equal(checkTarget('off'), { scheme: 'http', port: 80 });
  assert.equal(checkTarget('internal'), { scheme: 'https', port: 443 });
  const off = httpCheck(['a.example.com', 'b.example.com'], 'off').line;
  assert.ok(off.startsWith('for d in a.example.com b.example.com; do\n'), off);
  assert.ok(off.includes(`out=$(curl -sS  -o /dev/null -w ' %{http_code}' --max-time 3 --resolve "$d:"80":127.0.0.1" http://"$d/" 2>&1)`), off);
  assert.ok(off.includes('case "$code" in [1-5][0-9][0-9]) break ;; esac'), off);
  assert.ok(off.includes('if [ $i -ge 20 ]; then echo "Caddy did not answer for $d on "http://127.0.0.1:80": $out" >&2; exit 1; fi'), off);
  const internal = httpCheck(['a.example.com'], 'internal').line;
  assert.ok(internal.includes(`out=$(curl -sS -k -o /dev/null -w ' %{http_code}' --max-time 3 --resolve "$d:"443":127.0.0.1" https://"$d/" 2>&1)`), internal);
});

test('reload: --force only when asked (the CA root changed, the config text did not)', () => {
  assert.not.match(reloadCaddy().line, /--force/);
  assert.match(reloadCaddy(true).line, / --force/);
});

test.run();
