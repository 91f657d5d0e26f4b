// Everything that differs between the systems hoist bootstraps (Debian 12, Ubuntu 22.04/24.04)
// or between a VPS with systemd and one without (container-based VPSes, test hosts): package
// names and how services are started, enabled and reloaded. Other code asks here, never guesses.
import { sh, type Cmd } from '../shell-quote.ts';

/** The daemons bootstrap keeps running, with the process name that shows one is up. */
export const SERVICES = [
  { name: 'docker', process: 'dockerd', binary: '/usr/sbin/dockerd', args: [] as string[], user: 'root' },
  { name: 'caddy', process: 'caddy', binary: '/usr/bin/caddy', args: ['run', '--environ', '--config', '/etc/caddy/Caddyfile'], user: 'caddy' },
  { name: 'cron', process: 'cron', binary: '/usr/sbin/cron', args: [] as string[], user: 'root' },
] as const;

export type ServiceName = (typeof SERVICES)[number]['name'];

/** Packages every bootstrapped host has; compose is chosen at install time (see below). */
export const BASE_PACKAGES = ['docker.io', 'caddy', 'git', 'cron', 'ca-certificates', 'curl'];

/**
 * `DEBIAN_FRONTEND` and a lock timeout: apt waits out a short-held dpkg lock by itself.
 * Pattern-Only: a name that is no package (an EXTRA_PACKAGES typo such as `curl.`) is an error,
 * not a regular expression that installs every package it matches (apt 2.6 did: 238 of them).
 */
const APT = sh`DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -o APT::Cmd::Pattern-Only=true -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q`;

/**
 * Installs `packages` plus a compose: the v2 plugin where the archive has one (Ubuntu 24.04:
 * docker-compose-v2; Docker's repository: docker-compose-plugin), else Debian's docker-compose v1.
 */
export function installPackages(packages: string[], withCompose: boolean): Cmd {
  const compose = withCompose
    ? sh`compose=docker-compose; for p in docker-compose-v2 docker-compose-plugin; do if apt-cache show "$p" >/dev/null 2>&1; then compose=$p; break; fi; done; `
    : sh``;
  const extra = withCompose ? sh` "$compose"` : sh``;
  return sh`${APT} update >/dev/null && { ${compose}${APT} install --no-install-recommends ${packages}${extra}; }`;
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

/** Makes sshd re-read its configuration; running sessions stay open. */
export function reloadSshd(): Cmd {
  return sh`if [ -d /run/systemd/system ]; then systemctl reload ssh || systemctl reload sshd; elif [ -f /run/sshd.pid ]; then kill -HUP "$(cat /run/sshd.pid)"; else pkill -HUP -o -x sshd; fi`;
}

export function joinScripts(parts: Cmd[]): Cmd {
  return parts.reduce((acc, part, i) => (i === 0 ? part : sh`${acc}; ${part}`), sh``);
}
