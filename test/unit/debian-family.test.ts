// The Debian/Ubuntu command builders as data: exact command lines, each accepted by sh -n, and the
// ones that only read (serviceStates, waitForService) run here through /bin/sh with stand-ins for
// pidof, apt-get and apt-cache on PATH, so their logic is checked, not just their spelling.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BASE_PACKAGES, installPackages, isSupportedSystem, joinScripts, missingTools, missingToolsMessage, reloadSshd, reloadSshdUnderSystemd, serviceStates, SERVICES, startService, startServiceHint, SYSTEMS, toolStates, TOOLS, unsupportedSystemMessage, waitForService } from '../../lib/distro/debian-family.ts';
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

test('installPackages with the docker CLI: adds the CLI package docker.io names (Debian 13: docker-cli, only recommended)', () => {
  assert.is(
    installPackages(['docker.io', 'caddy'], true, true).line,
    `${APT} update >/dev/null && { compose=docker-compose; for p in docker-compose-v2 docker-compose-plugin; do if apt-cache show "$p" >/dev/null 2>&1; then compose=$p; break; fi; done; cli=; if apt-cache depends docker.io 2>/dev/null | grep -Eq '^[[:space:]]*[|]?(Depends|Recommends): docker-cli$'; then cli=docker-cli; fi; ${APT} install --no-install-recommends docker.io caddy "$compose" \${cli:+"$cli"}; }`,
  );
  syntaxOk(installPackages(['docker.io'], false, true));
});

/** `apt-cache depends docker.io` as Debian 13 (trixie, docker.io 26.1) answers it (abridged; checked on a trixie test host). */
const TRIXIE_DEPENDS = 'docker.io\n  Depends: adduser\n  Depends: containerd\n  Depends: iptables\n  Depends: runc\n  Depends: tini\n  Depends: libc6\n  Recommends: apparmor\n  Recommends: ca-certificates\n  Recommends: docker-cli\n  Recommends: git\n  Suggests: docker-buildx\n';
/** And Debian 12 (bookworm, docker.io 20.10: the CLI inside). */
const BOOKWORM_DEPENDS = 'docker.io\n  Depends: adduser\n  Depends: containerd\n  Depends: iptables\n  Depends: runc\n  Depends: tini\n  Recommends: apparmor\n  Recommends: ca-certificates\n  Recommends: git\n  Recommends: xz-utils\n  Suggests: docker-doc\n';

test('installPackages (run with a stand-in apt): docker-cli where docker.io names it, nothing where the CLI is inside', () => {
  for (const [depends, compose, expected] of [
    [TRIXIE_DEPENDS, true, ' install --no-install-recommends docker.io caddy docker-compose docker-cli'],
    [TRIXIE_DEPENDS, false, ' install --no-install-recommends docker.io caddy docker-cli'],
    [BOOKWORM_DEPENDS, true, ' install --no-install-recommends docker.io caddy docker-compose'],
    ['', false, ' install --no-install-recommends docker.io caddy'],
  ] as const) {
    const r = runWith(installPackages(['docker.io', 'caddy'], compose, true), {
      'apt-get': APT_LOG,
      'apt-cache': `if [ "$1" = depends ]; then printf '%s' '${depends}'; exit 0; fi; exit 100`,
    });
    try {
      assert.is(r.code, 0, r.stderr);
      const log = readFileSync(join(r.dir, 'log'), 'utf8').trim().split('\n');
      assert.ok(log[1]!.endsWith(expected), `${log[1]} should end with ${expected}`);
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

test('reloadSshd: systemd (ssh.socket regenerated and restarted where it is active, else reload ssh/sshd), else SIGHUP to the listener; then waits for the new listener', () => {
  const line = reloadSshd().line;
  assert.ok(
    line.includes(
      '\nif [ -d /run/systemd/system ]; then if systemctl is-active --quiet ssh.socket; then systemctl daemon-reload && systemctl restart ssh.socket && systemctl try-restart ssh.service; else systemctl reload ssh || systemctl reload sshd; fi; elif [ -f /run/sshd.pid ]; then kill -HUP "$(cat /run/sshd.pid)"; else pkill -HUP -o -x sshd; fi || exit\n',
    ),
    line,
  );
  // The listener's sockets are read before the signal and waited on after it, bounded by a count.
  assert.ok(line.indexOf('before=$(sshd_listeners "$pid")') < line.indexOf('kill -HUP'), line);
  assert.match(line, /now=\$\(sshd_listeners "\$pid"\)[\s\S]*\[ \$i -gt 100 \] && \{ echo "sshd \(pid \$pid\) did not listen again within 20s of its reload" >&2; exit 1; \}/);
  syntaxOk(reloadSshd());
});

test('reloadSshd, run as root here against a listener that a fake HUP re-creates: returns only once the new socket listens', async () => {
  // A stand-in "sshd": a node process listening on a loopback port whose pid file is /run/sshd.pid
  // is the machine's, so the script runs with its own paths swapped in. The HUP handler closes the
  // listener and opens a new one 1 s later, as sshd's re-exec does; the reload must not return before.
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'hoist-reload-'));
  const child = spawn(process.execPath, ['-e', `
    const net = require('node:net'); let srv = net.createServer().listen(0, '127.0.0.1', () => console.log('ready'));
    process.on('SIGHUP', () => { srv.close(); setTimeout(() => { srv = net.createServer().listen(0, '127.0.0.1', () => require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'relistened'))}, String(Date.now()))); }, 1000); });
    setTimeout(() => process.exit(0), 60000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    writeFileSync(join(dir, 'sshd.pid'), String(child.pid));
    const script = reloadSshd().line.replaceAll('/run/sshd.pid', join(dir, 'sshd.pid')).replaceAll('/run/systemd/system', join(dir, 'no-systemd'));
    const r = spawnSync('/bin/sh', ['-c', `${script}\necho returned $(date +%s%3N)`], { encoding: 'utf8', timeout: 30_000 });
    assert.is(r.status, 0, r.stderr);
    const returned = Number(/returned (\d+)/.exec(r.stdout)![1]);
    const relistened = Number(readFileSync(join(dir, 'relistened'), 'utf8'));
    assert.ok(returned >= relistened, `returned ${returned - relistened} ms before the new listener existed`);
  } finally {
    child.kill('SIGKILL');
    spawnSync('rm', ['-rf', dir]);
  }
});

test('reloadSshd (run with a stand-in systemctl, /run/systemd/system faked by the test): the socket path or the reload', () => {
  // The branch on /run/systemd/system is the machine's; the systemd part runs on its own here.
  assert.ok(reloadSshd().line.includes(`\nif [ -d /run/systemd/system ]; then ${reloadSshdUnderSystemd().line}; elif `));
  for (const [socketActive, expected] of [
    [true, 'is-active --quiet ssh.socket\ndaemon-reload\nrestart ssh.socket\ntry-restart ssh.service\n'],
    [false, 'is-active --quiet ssh.socket\nreload ssh\n'],
  ] as const) {
    const r = runWith(reloadSshdUnderSystemd(), { systemctl: `echo "$*" >> "$STUBS/log"; [ "$1" != is-active ] || ${socketActive ? 'exit 0' : 'exit 3'}` });
    try {
      assert.is(r.code, 0, r.stderr);
      assert.is(readFileSync(join(r.dir, 'log'), 'utf8'), expected);
    } finally {
      r.cleanup();
    }
  }
});

// -------------------------------------------------------------------------- supported systems

test('SYSTEMS: Debian 12 and 13 tested, Ubuntu 22.04 and 24.04 accepted untested; nothing else', () => {
  assert.equal(SYSTEMS.map((s) => [s.os, s.tested]), [
    ['debian 12', true],
    ['debian 13', true],
    ['ubuntu 22.04', false],
    ['ubuntu 24.04', false],
  ]);
  for (const os of ['debian 12', 'debian 13', 'ubuntu 22.04', 'ubuntu 24.04']) assert.ok(isSupportedSystem(os), os);
  for (const os of ['debian 11', 'debian 14', 'debian 13.1', 'Debian 13', 'ubuntu 20.04', 'ubuntu 24.10', 'centos 9', '', ' debian 12']) assert.not.ok(isSupportedSystem(os), os);
});

test('unsupportedSystemMessage: names the system, the tested and the untested ones, and the fix', () => {
  assert.is(
    unsupportedSystemMessage('debian 11'),
    'unsupported system "debian 11": hoist bootstraps Debian 12 and Debian 13 (tested on real hosts) and Ubuntu 22.04 and Ubuntu 24.04 (accepted, but no test host runs them). Fix: run it on one of these',
  );
});

// --------------------------------------------------------------------------------- toolStates

const PLUGIN_DIR = '/usr/libexec/docker/cli-plugins';

/**
 * Runs toolStates with only the stand-ins on PATH (and sh's builtins), its first plugin folder
 * pointed at the test's own: whether this machine has Docker or compose does not matter.
 */
function toolsWith(stubs: Record<string, string>, plugin: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-tools-'));
  try {
    const plugins = join(dir, 'plugins');
    if (plugin) {
      spawnSync('mkdir', ['-p', plugins]);
      writeFileSync(join(plugins, 'docker-compose'), '#!/bin/sh\nexit 0\n');
      chmodSync(join(plugins, 'docker-compose'), 0o755);
    }
    for (const [name, body] of Object.entries(stubs)) {
      writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, name), 0o755);
    }
    const r = spawnSync('/bin/sh', ['-c', toolStates().line.replace(PLUGIN_DIR, plugins)], { encoding: 'utf8', env: { PATH: dir }, timeout: 20_000 });
    assert.is(r.status, 0, r.stderr);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const OTHERS_THERE = { caddy: 'exit 0', git: 'exit 0', crontab: 'exit 0' };

test('toolStates: valid sh; the plugin folders are the ones docker-up looks in', () => {
  syntaxOk(toolStates());
  assert.ok(toolStates().line.includes(`${PLUGIN_DIR}/docker-compose /usr/lib/docker/cli-plugins/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose`));
});

test('toolStates (run): Debian 13 with docker.io alone: the compose plugin is there, but no docker CLI, so no compose', () => {
  const out = toolsWith(OTHERS_THERE, true);
  assert.is(out, 'tool docker no\ntool caddy yes\ntool git yes\ntool crontab yes\ncompose=none\ntool compose no\n');
  assert.equal(missingTools(out), ['docker', 'compose']);
});

test('toolStates (run): Debian 13 with docker-cli: compose v2 through the plugin', () => {
  const out = toolsWith({ ...OTHERS_THERE, docker: '[ "$1 $2" = "compose version" ]' }, true);
  assert.is(out, 'tool docker yes\ntool caddy yes\ntool git yes\ntool crontab yes\ncompose=v2\ntool compose yes\n');
  assert.equal(missingTools(out), []);
});

test('toolStates (run): Debian 12: no plugin, docker-compose v1; a docker CLI with compose built in is v2', () => {
  const v1 = toolsWith({ ...OTHERS_THERE, docker: 'exit 1', 'docker-compose': 'exit 0' }, false);
  assert.match(v1, /^tool docker yes\n.*compose=v1\ntool compose yes\n$/s);
  const v2 = toolsWith({ ...OTHERS_THERE, docker: '[ "$1 $2" = "compose version" ]' }, false);
  assert.match(v2, /compose=v2\ntool compose yes\n$/);
});

test('toolStates (run): a bare host lacks every tool', () => {
  const out = toolsWith({}, false);
  assert.equal(missingTools(out), ['docker', 'compose', 'caddy', 'git', 'crontab']);
});

test('missingToolsMessage: each tool with its package on that system, one apt-get line as the fix', () => {
  assert.is(
    missingToolsMessage(['docker', 'compose'], 'debian 13'),
    'after apt-get install the host still lacks the docker CLI (`docker`) (package docker-cli), docker compose (package docker-compose). Fix: sudo apt-get install docker-cli docker-compose on the host, then run bootstrap again',
  );
  assert.match(missingToolsMessage(['docker'], 'debian 12'), /package docker\.io\)\. Fix: sudo apt-get install docker\.io on/);
  assert.match(missingToolsMessage(['compose', 'crontab'], 'ubuntu 24.04'), /Fix: sudo apt-get install docker-compose-v2 cron on/);
  assert.equal(TOOLS.map((t) => t.name), ['docker', 'compose', 'caddy', 'git', 'crontab']);
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
