// The Debian/Ubuntu command builders as data: exact command lines, each accepted by sh -n, and the
// ones that only read (serviceStates, waitForService) run here through /bin/sh with stand-ins for
// pidof, apt-get and apt-cache on PATH, so their logic is checked, not just their spelling.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BASE_PACKAGES, installPackages, joinScripts, reloadSshd, serviceStates, SERVICES, startService, startServiceHint, waitForService } from '../../lib/distro/debian-family.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';

const APT = 'DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -o APT::Cmd::Pattern-Only=true -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q';

function syntaxOk(cmd: Cmd): void {
  const r = spawnSync('/bin/sh', ['-n', '-c', cmd.line], { encoding: 'utf8' });
  assert.is(r.status, 0, `sh -n rejected: ${cmd.line}\n${r.stderr}`);
}

/** Runs `cmd` with /bin/sh, with the given stand-in programs first on PATH. */
function runWith(cmd: Cmd, stubs: Record<string, string>): { code: number | null; stdout: string; stderr: string; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-distro-'));
  for (const [name, body] of Object.entries(stubs)) {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
  }
  const r = spawnSync('/bin/sh', ['-c', cmd.line], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`, STUBS: dir }, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('BASE_PACKAGES and SERVICES: what every bootstrapped host has', () => {
  assert.equal(BASE_PACKAGES, ['docker.io', 'caddy', 'git', 'cron', 'ca-certificates', 'curl']);
  assert.equal(SERVICES.map((s) => `${s.name}:${s.process}`), ['docker:dockerd', 'caddy:caddy', 'cron:cron']);
});

// ------------------------------------------------------------------------------ installPackages

test('installPackages without compose: update, then install exactly the packages', () => {
  assert.is(installPackages(['docker.io', 'caddy'], false).line, `${APT} update >/dev/null && { ${APT} install --no-install-recommends docker.io caddy; }`);
  assert.is(installPackages(['htop'], false).line, `${APT} update >/dev/null && { ${APT} install --no-install-recommends htop; }`);
});

test('installPackages with compose: picks the v2 package the archive has, else docker-compose', () => {
  assert.is(
    installPackages(['docker.io'], true).line,
    `${APT} update >/dev/null && { compose=docker-compose; for p in docker-compose-v2 docker-compose-plugin; do if apt-cache show "$p" >/dev/null 2>&1; then compose=$p; break; fi; done; ${APT} install --no-install-recommends docker.io "$compose"; }`,
  );
});

test('installPackages: package names are quoted words, never shell', () => {
  assert.ok(installPackages(['a;b', 'c d'], false).line.endsWith(`install --no-install-recommends 'a;b' 'c d'; }`));
  syntaxOk(installPackages(['a;b', "it's"], true));
});

test('installPackages: valid sh with and without compose', () => {
  syntaxOk(installPackages(BASE_PACKAGES, false));
  syntaxOk(installPackages(BASE_PACKAGES, true));
});

const APT_LOG = `echo "apt-get $*" >> "$STUBS/log"`;

test('installPackages (run with a stand-in apt): the compose package the archive offers is installed', () => {
  for (const [offered, expected] of [
    ['docker-compose-v2', 'docker-compose-v2'],
    ['docker-compose-plugin', 'docker-compose-plugin'],
    ['nothing', 'docker-compose'],
  ] as const) {
    const r = runWith(installPackages(['docker.io', 'caddy'], true), {
      'apt-get': APT_LOG,
      'apt-cache': `[ "$2" = ${offered} ]`,
    });
    try {
      assert.is(r.code, 0, r.stderr);
      const log = readFileSync(join(r.dir, 'log'), 'utf8').trim().split('\n');
      assert.is(log.length, 2);
      assert.match(log[0]!, / update$/);
      assert.match(log[1]!, new RegExp(` install --no-install-recommends docker\\.io caddy ${expected}$`));
    } finally {
      r.cleanup();
    }
  }
});

test('installPackages (run with a stand-in apt): a failed apt-get update stops before install, and fails', () => {
  for (const compose of [false, true]) {
    const r = runWith(installPackages(['docker.io'], compose), {
      'apt-get': `${APT_LOG}; case " $* " in *" update "*) exit 100;; esac; exit 0`,
      'apt-cache': 'exit 0',
    });
    try {
      const log = readFileSync(join(r.dir, 'log'), 'utf8');
      assert.not.match(log, / install /, `compose=${compose}: install ran after update failed`);
      assert.is.not(r.code, 0, `compose=${compose}: the command succeeded after update failed`);
    } finally {
      r.cleanup();
    }
  }
});

// ------------------------------------------------------------------------------- serviceStates

const STATES =
  'if pidof dockerd >/dev/null; then echo docker running; else echo docker stopped; fi; ' +
  'if pidof caddy >/dev/null; then echo caddy running; else echo caddy stopped; fi; ' +
  'if pidof cron >/dev/null; then echo cron running; else echo cron stopped; fi';

test('serviceStates: the exact line, valid sh', () => {
  assert.is(serviceStates().line, STATES);
  syntaxOk(serviceStates());
});

test('serviceStates: run here with the real pidof, one "NAME running|stopped" line per service', () => {
  // The services may or may not run on this machine (a CI run's containers can be visible), so
  // only the shape is certain here; the stand-in test below pins the logic.
  const r = spawnSync('/bin/sh', ['-c', serviceStates().line], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '');
  assert.match(r.stdout, /^docker (running|stopped)\ncaddy (running|stopped)\ncron (running|stopped)\n$/);
});

test('serviceStates: run with a stand-in pidof, each service reports its own process', () => {
  const r = runWith(serviceStates(), { pidof: 'echo "$1" >> "$STUBS/asked"; [ "$1" = dockerd ] || [ "$1" = cron ]' });
  try {
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, 'docker running\ncaddy stopped\ncron running\n');
    assert.is(readFileSync(join(r.dir, 'asked'), 'utf8'), 'dockerd\ncaddy\ncron\n');
  } finally {
    r.cleanup();
  }
});

// ------------------------------------------------------------------------------ startService

test('startService: systemctl enable --now under systemd, else start-stop-daemon as the right user', () => {
  assert.is(
    startService('docker').line,
    'if [ -d /run/systemd/system ]; then systemctl enable --now docker; else pidof dockerd >/dev/null || start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile /run/hoist-docker.pid --chuid root --output /var/log/hoist-docker.log --exec /usr/sbin/dockerd -- ; fi',
  );
  assert.is(
    startService('caddy').line,
    'if [ -d /run/systemd/system ]; then systemctl enable --now caddy; else pidof caddy >/dev/null || start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile /run/hoist-caddy.pid --chuid caddy --output /var/log/hoist-caddy.log --exec /usr/bin/caddy -- run --environ --config /etc/caddy/Caddyfile; fi',
  );
  assert.is(
    startService('cron').line,
    'if [ -d /run/systemd/system ]; then systemctl enable --now cron; else pidof cron >/dev/null || start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile /run/hoist-cron.pid --chuid root --output /var/log/hoist-cron.log --exec /usr/sbin/cron -- ; fi',
  );
  for (const s of SERVICES) syntaxOk(startService(s.name));
});

test('startServiceHint: what an operator runs to start a service now, the way startService does', () => {
  assert.is(startServiceHint('docker', true), 'sudo systemctl start docker');
  const direct = startServiceHint('docker', false);
  assert.is(direct, 'sudo start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile /run/hoist-docker.pid --chuid root --output /var/log/hoist-docker.log --exec /usr/sbin/dockerd');
  // The same command bootstrap runs without systemd (one definition of how dockerd is started).
  assert.ok(startService('docker').line.includes(`|| ${direct.slice('sudo '.length)} -- ; fi`));
  assert.is(startServiceHint('caddy', false), `sudo ${/\|\| (start-stop-daemon .*); fi$/.exec(startService('caddy').line)![1]}`);
  for (const s of SERVICES) assert.is(spawnSync('/bin/sh', ['-n', '-c', startServiceHint(s.name, false)]).status, 0, s.name);
});

// ---------------------------------------------------------------------------- waitForService

test('waitForService: bounded wait, 5 checks a second, an error naming the service', () => {
  assert.is(
    waitForService('docker').line,
    "i=0; until pidof dockerd >/dev/null; do i=$((i+1)); [ $i -gt 150 ] && { echo 'docker did not start' >&2; exit 1; }; sleep 0.2; done",
  );
  assert.is(
    waitForService('caddy', 2).line,
    "i=0; until pidof caddy >/dev/null; do i=$((i+1)); [ $i -gt 10 ] && { echo 'caddy did not start' >&2; exit 1; }; sleep 0.2; done",
  );
  for (const s of SERVICES) syntaxOk(waitForService(s.name));
});

test('waitForService (run with a stand-in pidof): returns once the process appears', () => {
  // pidof finds the process on its third call.
  const r = runWith(waitForService('cron', 5), { pidof: 'echo x >> "$STUBS/calls"; [ "$(wc -l < "$STUBS/calls")" -ge 3 ]' });
  try {
    assert.is(r.code, 0, r.stderr);
    assert.is(readFileSync(join(r.dir, 'calls'), 'utf8').split('\n').length - 1, 3);
  } finally {
    r.cleanup();
  }
});

test('waitForService (run with a stand-in pidof): gives up after the bound with exit 1 and a message', () => {
  const r = runWith(waitForService('caddy', 1), { pidof: 'echo x >> "$STUBS/calls"; exit 1' });
  try {
    assert.is(r.code, 1);
    assert.is(r.stderr, 'caddy did not start\n');
    // The bound is a count, not a clock: 1 s at 5 checks a second is 5 more checks after the first.
    assert.is(readFileSync(join(r.dir, 'calls'), 'utf8').split('\n').length - 1, 6, 'the wait must be bounded');
  } finally {
    r.cleanup();
  }
});

// ------------------------------------------------------------------------------- reloadSshd

test('reloadSshd: systemd (ssh on Debian/Ubuntu, sshd elsewhere), else SIGHUP to the listener', () => {
  assert.is(
    reloadSshd().line,
    'if [ -d /run/systemd/system ]; then systemctl reload ssh || systemctl reload sshd; elif [ -f /run/sshd.pid ]; then kill -HUP "$(cat /run/sshd.pid)"; else pkill -HUP -o -x sshd; fi',
  );
  syntaxOk(reloadSshd());
});

// ------------------------------------------------------------------------------ joinScripts

test('joinScripts: parts joined with "; ", in order; none is empty, one is itself', () => {
  assert.is(joinScripts([]).line, '');
  assert.is(joinScripts([sh`echo a`]).line, 'echo a');
  assert.is(joinScripts([sh`echo a`, sh`echo ${'b c'}`, sh`echo d`]).line, "echo a; echo 'b c'; echo d");
});

test('joinScripts: the result is valid sh and runs every part in order, even after a failing one', () => {
  const joined = joinScripts([sh`echo one`, sh`false`, sh`if true; then echo ${"two's"}; fi`, sh`echo three`]);
  syntaxOk(joined);
  const r = spawnSync('/bin/sh', ['-c', joined.line], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, "one\ntwo's\nthree\n");
});

test('joinScripts: builders compose (the probe wraps serviceStates in braces and a pipe)', () => {
  const wrapped = sh`{ ${joinScripts([serviceStates(), waitForService('cron')])}; } | sed 's/^/service /'`;
  syntaxOk(wrapped);
});

test.run();
