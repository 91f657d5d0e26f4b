// caddy-reload's command lines: the probe (one round trip, its file reader run by a real shell), validate and reload
// (as the caddy user when it exists, never a restart), and the HTTP check from the host.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileFromLines } from '../../lib/exec/file-lines.ts';
import { setHome } from '../../lib/exec/home-of.ts';
import { caddyProbe, fileReaders, parseCaddyProbe } from '../../tasks/caddy-reload/probe.ts';
import { checkTarget, httpCheck, makeSitesDir, reloadCaddy, removeFile, validateConfig } from '../../tasks/caddy-reload/commands.ts';

test('validate and reload: the whole main Caddyfile, through the caddyfile adapter, as caddy', () => {
  assert.is(
    validateConfig().line,
    'if id -u caddy >/dev/null 2>&1; then runuser -u caddy -- caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile; else caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile; fi',
  );
  // First the kernel is told to hand connections queued on Caddy's old socket to the new one
  // (net.ipv4.tcp_migrate_req): without it, a reload resets them (keepQueuedConnections).
  assert.is(
    reloadCaddy().line,
    `{ [ "$(cat /proc/sys/net/ipv4/tcp_migrate_req 2>/dev/null)" = 1 ] || echo 1 >/proc/sys/net/ipv4/tcp_migrate_req; } 2>/dev/null || echo 'hoist: net.ipv4.tcp_migrate_req is not 1'; ` +
      'if id -u caddy >/dev/null 2>&1; then runuser -u caddy -- caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile; else caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile; fi',
  );
  assert.not.match(reloadCaddy().line, /restart|systemctl|kill/);
});

test('sites folder and file removal', () => {
  assert.is(makeSitesDir().line, 'install -d -m 755 -o root -g root /etc/caddy/sites');
  assert.is(removeFile('/etc/caddy/sites/hoist-api.caddy').line, 'rm -f /etc/caddy/sites/hoist-api.caddy');
});

// The probe's file reader, run by a real /bin/sh as an unprivileged user (nobody, who has no
// sudo): what it answers for a readable, a missing, an unreadable and a hidden file.
test('probe: files are read without sudo; missing is told from unreadable and from hidden', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-caddy-probe-'));
  try {
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'open'), { mode: 0o755 });
    writeFileSync(join(dir, 'open', 'site.caddy'), 'api.example.com {\n}\n', { mode: 0o644 });
    writeFileSync(join(dir, 'open', 'empty'), '', { mode: 0o644 });
    writeFileSync(join(dir, 'open', 'secret'), 'x', { mode: 0o600 });
    mkdirSync(join(dir, 'closed'), { mode: 0o700 });
    writeFileSync(join(dir, 'closed', 'site.caddy'), 'x');
    // Each file's answer: `-`, `?`, base64 (through sudo) or, read by the shell, its text.
    const asNobody = (files: string[]) => {
      const script = `${fileReaders().line}\n${files.map((f, i) => `rd k${i} ${f} 8`).join('\n')}`;
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
      assert.is(r.status, 0, r.stderr);
      const lines = r.stdout.split('\n');
      return files.map((_, i) => {
        const v = lines.find((l) => l.startsWith(`k${i}=`))!.slice(`k${i}=`.length);
        return v === '|' ? fileFromLines(lines, `k${i}`) : v;
      });
    };
    symlinkSync(join(dir, 'open', 'gone'), join(dir, 'open', 'dangling'));
    symlinkSync(join(dir, 'open', 'site.caddy'), join(dir, 'open', 'link'));
    assert.equal(
      asNobody([`${dir}/open/site.caddy`, `${dir}/open/empty`, `${dir}/open/none`, `${dir}/no/such/dir/f`, `${dir}/open/site.caddy/f`, `${dir}/open/dangling`, `${dir}/open`, `${dir}/open/link`, `${dir}/open/secret`, `${dir}/closed/site.caddy`, `${dir}/closed/none`]),
      // At most about 8 bytes: whole lines, up to the one that reaches 8.
      ['api.example.com {\n', '', '-', '-', '-', '-', '-', 'api.example.com {\n', '?', '?', '?'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The shell's `read` instead of base64 (issue #20): what Caddy compares must come back byte for byte.
test('probe: a file read by the shell comes back byte for byte, and none of its lines passes for an answer line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-caddy-lines-'));
  try {
    const texts = ['a {\n\treverse_proxy  127.0.0.1:8001 \n}\n', 'no line break at the end', '\n\n two blank lines first\\n \\\n', 'caddy=stopped\nslot=-\nsite=-\n', '', '  \n'];
    texts.forEach((t, i) => writeFileSync(join(dir, `f${i}`), t));
    for (const [i, t] of texts.entries()) {
      const one = `${fileReaders().line}\nrd site ${dir}/f${i}\nrd caddyfile ${dir}/none\necho caddy=running\necho slot=-`;
      const r = spawnSync('/bin/sh', ['-c', one], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      const state = parseCaddyProbe({ code: 0, stdout: r.stdout, stderr: '' });
      assert.is(state.site, t, JSON.stringify(t));
      assert.is(state.caddyfile, null);
      assert.is(state.running, true);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('probe: an answer that could not read a file fails with what to do, not as a missing file', () => {
  const r = { code: 0, stderr: '', stdout: 'site=?\ncaddyfile=-\ncaddy=running\nslot=-\nports=-\ncaroot=-\n' };
  assert.throws(() => parseCaddyProbe(r), /cannot read the app's Caddy site file as the login user, and `sudo -n` did not work either\. Fix: /);
});

test('probe: as the login user (no sudo), reading the site, the Caddyfile, the slot and ports under the deploy user\'s home', () => {
  const line = caddyProbe({ app: 'api', deployUser: 'deploy', sitePath: '/etc/caddy/sites/hoist-api.caddy' }).line;
  for (const part of ['rd site /etc/caddy/sites/hoist-api.caddy\n', 'rd caddyfile /etc/caddy/Caddyfile; if [ "$rdv" != - ]', 'if [ "$LOGNAME" = deploy ] && [ -n "$HOME" ]; then home=$HOME; else home=$(getent passwd deploy | cut -d: -f6); fi', 'rd slot "$home/"apps/api/active-slot;', 'rd ports "$home/"apps/api/ports 200;', 'rd caroot /etc/caddy/sites/hoist-api.acme-ca-root.pem 262144']) {
    assert.ok(line.includes(part), part);
  }
});

test('setHome: the session\'s $HOME when logged in as that user, else the passwd database\'s', () => {
  const run = (logname: string, user: string) =>
    spawnSync('/bin/sh', ['-c', `${setHome('h', user).line}; printf '%s' "$h"`], { encoding: 'utf8', env: { PATH: process.env.PATH, LOGNAME: logname, HOME: '/from/session' } }).stdout;
  assert.is(run('deploy', 'deploy'), '/from/session');
  assert.is(run('deploy', 'root'), '/root', 'another user: from getent');
  assert.is(run('root', 'no-such-user-here'), '', 'no such user: empty');
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
