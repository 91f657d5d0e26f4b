// Everything that differs between the systems hoist bootstraps (Debian 12 and 13, Ubuntu
// 22.04/24.04) or between a VPS with systemd and one without (container-based VPSes, test hosts): package
// names and how services are started, enabled and reloaded. Other code asks here, never guesses.
import { sh, type Cmd } from '../shell-quote.ts';

/** The daemons bootstrap keeps running, with the process name that shows one is up. */
export const SERVICES = [
  { name: 'docker', process: 'dockerd', binary: '/usr/sbin/dockerd', args: [] as string[], user: 'root' },
  { name: 'caddy', process: 'caddy', binary: '/usr/bin/caddy', args: ['run', '--environ', '--config', '/etc/caddy/Caddyfile'], user: 'caddy' },
  { name: 'cron', process: 'cron', binary: '/usr/sbin/cron', args: [] as string[], user: 'root' },
] as const;

export type ServiceName = (typeof SERVICES)[number]['name'];

/**
 * The systems bootstrap accepts, as `/etc/os-release` names them (`$ID $VERSION_ID`). `tested`:
 * a test host runs it through bootstrap, releases and a reboot (test/e2e). Ubuntu's archive cannot
 * be reached from the test machines, so Ubuntu is accepted on reasoning alone.
 */
export const SYSTEMS = [
  { os: 'debian 12', name: 'Debian 12', tested: true },
  { os: 'debian 13', name: 'Debian 13', tested: true },
  { os: 'ubuntu 22.04', name: 'Ubuntu 22.04', tested: false },
  { os: 'ubuntu 24.04', name: 'Ubuntu 24.04', tested: false },
] as const;

export function isSupportedSystem(os: string): boolean {
  return SYSTEMS.some((s) => s.os === os);
}

/** What a user reads when bootstrap refuses their system: what is supported, and how well. */
export function unsupportedSystemMessage(os: string): string {
  const tested = SYSTEMS.filter((s) => s.tested).map((s) => s.name);
  const untested = SYSTEMS.filter((s) => !s.tested).map((s) => s.name);
  return `unsupported system "${os}": hoist bootstraps ${tested.join(' and ')} (tested on real hosts) and ${untested.join(' and ')} (accepted, but no test host runs them). Fix: run it on one of these`;
}

/**
 * What a user reads when bootstrap runs on a system it accepts but no test host runs (Ubuntu),
 * in the dry run's plan and the run's warnings; null for a tested one.
 */
export function untestedSystemNote(os: string): string | null {
  const s = SYSTEMS.find((x) => x.os === os);
  if (!s || s.tested) return null;
  const socket = os === 'ubuntu 24.04' ? '; its sshd started by ssh.socket is reloaded from reading Ubuntu\'s units (socket regenerated and restarted), not from a run' : '';
  return `${s.name} is accepted, but no test host runs it (Ubuntu's archive cannot be reached from hoist's test machines): its package names are checked by running each tool after the install${socket}. Debian 12 and 13 are the tested systems`;
}

/**
 * What hoist runs on a host after bootstrap, each checked by running it (not by package name: the
 * archives split and rename packages; Debian 13's docker.io leaves out the `docker` CLI), with the
 * package that provides it on each system, for the message when one is missing.
 */
export const TOOLS = [
  { name: 'docker', what: 'the docker CLI (`docker`)', package: (os: string) => (os === 'debian 13' ? 'docker-cli' : 'docker.io') },
  { name: 'compose', what: 'docker compose', package: (os: string) => (os.startsWith('ubuntu') ? 'docker-compose-v2' : 'docker-compose') },
  { name: 'caddy', what: 'caddy', package: () => 'caddy' },
  { name: 'git', what: 'git', package: () => 'git' },
  { name: 'crontab', what: 'crontab', package: () => 'cron' },
] as const;

export type ToolName = (typeof TOOLS)[number]['name'];

/**
 * One line per tool: `tool NAME yes|no`, plus `compose=v2|v1|none`: the compose docker-up will use
 * (the plugin where its file is, as docker-up decides, else docker-compose v1), and whether it runs.
 * A plugin without the docker CLI (Debian 13 with docker.io alone) is no compose: `docker compose`
 * cannot run.
 */
export function toolStates(): Cmd {
  return sh`for t in docker caddy git crontab; do if command -v "$t" >/dev/null 2>&1; then echo "tool $t yes"; else echo "tool $t no"; fi; done
compose=none; plugin=no
for p in /usr/libexec/docker/cli-plugins/docker-compose /usr/lib/docker/cli-plugins/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose; do [ -x "$p" ] && plugin=yes; done
if [ $plugin = yes ]; then docker compose version >/dev/null 2>&1 && compose=v2
elif command -v docker-compose >/dev/null 2>&1; then compose=v1
elif docker compose version >/dev/null 2>&1; then compose=v2; fi
echo "compose=$compose"; if [ $compose = none ]; then echo "tool compose no"; else echo "tool compose yes"; fi`;
}

/** The tools `toolStates` printed as missing. */
export function missingTools(stdout: string): ToolName[] {
  return TOOLS.map((t) => t.name).filter((n) => new RegExp(`^tool ${n} no$`, 'm').test(stdout));
}

/** The message for tools still missing after an install: each with its package on `os`, and the fix. */
export function missingToolsMessage(missing: ToolName[], os: string): string {
  const rows = missing.map((n) => TOOLS.find((t) => t.name === n)!);
  const packages = [...new Set(rows.map((t) => t.package(os)))];
  return `after apt-get install the host still lacks ${rows.map((t) => `${t.what} (package ${t.package(os)})`).join(', ')}. Fix: sudo apt-get install ${packages.join(' ')} on the host, then run bootstrap again`;
}

/** Packages every bootstrapped host has; compose and the docker CLI are chosen at install time (see below). */
export const BASE_PACKAGES = ['docker.io', 'caddy', 'git', 'cron', 'ca-certificates', 'curl'];

/**
 * `DEBIAN_FRONTEND` and a lock timeout: apt waits out a short-held dpkg lock by itself.
 * Pattern-Only: a name that is no package (an EXTRA_PACKAGES typo such as `curl.`) is an error,
 * not a regular expression that installs every package it matches (apt 2.6 did: 238 of them).
 */
const APT = sh`DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -o APT::Cmd::Pattern-Only=true -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q`;

/**
 * Installs `packages` plus, with `withCompose`, a compose: the v2 plugin where the archive has one
 * (Ubuntu 24.04: docker-compose-v2; Docker's repository: docker-compose-plugin), else Debian's
 * docker-compose (v1 on Debian 12, the v2 plugin on 13). With `withDockerCli`, the docker CLI
 * package docker.io names as a dependency or recommendation (Debian 13: docker-cli, only
 * recommended, so `--no-install-recommends` would leave it out); none where docker.io has the CLI.
 */
export function installPackages(packages: string[], withCompose: boolean, withDockerCli = false): Cmd {
  const compose = withCompose
    ? sh`compose=docker-compose; for p in docker-compose-v2 docker-compose-plugin; do if apt-cache show "$p" >/dev/null 2>&1; then compose=$p; break; fi; done; `
    : sh``;
  const cli = withDockerCli ? sh`cli=; if apt-cache depends docker.io 2>/dev/null | grep -Eq '^[[:space:]]*[|]?(Depends|Recommends): docker-cli$'; then cli=docker-cli; fi; ` : sh``;
  const extra = sh`${withCompose ? sh` "$compose"` : sh``}${withDockerCli ? sh` \${cli:+"$cli"}` : sh``}`;
  return sh`${APT} update >/dev/null && { ${compose}${cli}${APT} install --no-install-recommends ${packages}${extra}; }`;
}

/** One line per service: `NAME running|stopped`. */
export function serviceStates(): Cmd {
  const lines = SERVICES.map((s) => sh`if pidof ${s.process} >/dev/null; then echo ${s.name} running; else echo ${s.name} stopped; fi`);
  return joinScripts(lines);
}

/** Starts a service now and at boot. Without systemd (containers) it is started directly. */
export function startService(name: ServiceName): Cmd {
  const s = SERVICES.find((x) => x.name === name)!;
  return sh`if [ -d /run/systemd/system ]; then systemctl enable --now ${s.name}; else pidof ${s.process} >/dev/null || ${startDirectly(name)}; fi`;
}

/** Without systemd: the service's binary in the background, as its user, logging to /var/log. */
function startDirectly(name: ServiceName): Cmd {
  const s = SERVICES.find((x) => x.name === name)!;
  return sh`start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile ${`/run/hoist-${s.name}.pid`} --chuid ${s.user} --output ${`/var/log/hoist-${s.name}.log`} --exec ${s.binary} -- ${[...s.args]}`;
}

/**
 * What a person runs on a host to start a stopped service now, as bootstrap would start it: for
 * messages that tell the operator the fix (systemd or not is the host's, from a probe).
 */
export function startServiceHint(name: ServiceName, systemd: boolean): string {
  return systemd ? `sudo systemctl start ${name}` : `sudo ${startDirectly(name).line}`.trimEnd().replace(/ --$/, '');
}

/** Waits (bounded) until the service's process is there. */
export function waitForService(name: ServiceName, seconds = 30): Cmd {
  const s = SERVICES.find((x) => x.name === name)!;
  return sh`i=0; until pidof ${s.process} >/dev/null; do i=$((i+1)); [ $i -gt ${seconds * 5} ] && { echo ${`${s.name} did not start`} >&2; exit 1; }; sleep 0.2; done`;
}

/**
 * Makes sshd re-read its configuration; running sessions stay open. Ubuntu 24.04 (and 22.10+)
 * starts sshd through ssh.socket, whose ListenStream a generator makes from sshd_config's Port:
 * there the socket is regenerated and restarted and a running ssh.service restarted (its
 * KillMode=process keeps sessions), else a new Port would not be listened on. Reasoned from
 * Ubuntu's units, not run: no Ubuntu test host exists. Debian 12/13 enable ssh.service, not the
 * socket: a plain reload (proven on systemd test hosts).
 */
export function reloadSshd(): Cmd {
  return sh`${SSHD_LISTENERS}
if [ -d /run/systemd/system ]; then
  pid=; if ! systemctl is-active --quiet ssh.socket; then pid=$(systemctl show -p MainPID --value ssh 2>/dev/null); [ -n "$pid" ] && [ "$pid" != 0 ] || pid=$(systemctl show -p MainPID --value sshd 2>/dev/null); fi
elif [ -f /run/sshd.pid ]; then pid=$(cat /run/sshd.pid); else pid=$(pgrep -o -x sshd); fi
before=$(sshd_listeners "$pid")
if [ -d /run/systemd/system ]; then ${reloadSshdUnderSystemd()}; elif [ -f /run/sshd.pid ]; then kill -HUP "$(cat /run/sshd.pid)"; else pkill -HUP -o -x sshd; fi || exit
${WAIT_FOR_NEW_LISTENER}`;
}

/**
 * `sshd_listeners PID`: the inodes of the listening TCP sockets process PID holds (none for no PID).
 * On SIGHUP sshd closes its listening sockets and re-executes itself with the new config, but
 * `kill` and `systemctl reload` return before it has: a login in that moment is served by the
 * old sshd and the old config, and a proof that "a new login still works" would pass for a
 * config that locks everyone out (seen under load in the e2e suite). Sockets other than those it
 * had before mean the new sshd listens.
 */
const SSHD_LISTENERS = sh`sshd_listeners() {
  case "$1" in ''|0) return 0;; esac
  { for t in /proc/net/tcp /proc/net/tcp6; do [ -r "$t" ] && awk 'NR > 1 && $4 == "0A" { print "L", $10 }' "$t"; done
    ls -l "/proc/$1/fd" 2>/dev/null | sed -n 's/.*socket:\\[\\([0-9]*\\)\\]$/S \\1/p'; } | awk '$1 == "L" { l[$2] = 1; next } $1 == "S" && ($2 in l) { printf "%s ", $2 }'
}`;

/** After the reload: bounded (20 s), until sshd listens on new sockets (none known before, e.g. socket activation: no wait). */
const WAIT_FOR_NEW_LISTENER = sh`if [ -n "$before" ]; then
  i=0
  while :; do
    now=$(sshd_listeners "$pid"); fresh=$now
    for x in $now; do case " $before" in *" $x "*) fresh=;; esac; done
    [ -n "$fresh" ] && break
    i=$((i+1)); [ $i -gt 100 ] && { echo "sshd (pid $pid) did not listen again within 20s of its reload" >&2; exit 1; }
    sleep 0.2
  done
fi`;

/** reloadSshd's part for a host with systemd. */
export function reloadSshdUnderSystemd(): Cmd {
  return sh`if systemctl is-active --quiet ssh.socket; then systemctl daemon-reload && systemctl restart ssh.socket && systemctl try-restart ssh.service; else systemctl reload ssh || systemctl reload sshd; fi`;
}

export function joinScripts(parts: Cmd[]): Cmd {
  return parts.reduce((acc, part, i) => (i === 0 ? part : sh`${acc}; ${part}`), sh``);
}
