// One round trip that tells ssh-bootstrap everything it compares: the deploy user, the files it
// owns, installed packages, running services and the sshd settings in force (`sshd -T`).
import { missingTools, serviceStates, toolStates, type ServiceName, type ToolName } from '../../lib/distro/debian-family.ts';
import { RemoteCommandError } from '../../lib/errors.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { SSHD_DROP_IN, sudoersPath } from './files.ts';
import { emptyWatchdogFact, parseWatchdogLine, watchdogProbe, type WatchdogFact, type WatchdogWanted } from './watchdog.ts';
import { AUTO_UPGRADE_FILES } from './auto-upgrades.ts';
import { DAEMON_JSON, otherLocks, parseOtherLocks, RESTART_PENDING } from './docker-logs.ts';
import { swapProbe, type SwapFact } from './swap.ts';

export interface BootstrapFact {
  os: string;
  user: { exists: boolean; home: string; groups: string[] };
  authorizedKeys: string | null;
  sudoers: string | null;
  sshdDropIn: string | null;
  installed: string[];
  /** The compose docker-up will use, only if it runs (a plugin without the docker CLI is none). */
  compose: 'v2' | 'v1' | 'none';
  /** What hoist runs on the host that is not there or does not run (lib/distro TOOLS). */
  missingTools: ToolName[];
  services: Partial<Record<ServiceName, 'running' | 'stopped'>>;
  sshdIncludesDropIns: boolean;
  /** Lower-case keyword → value, from `sshd -T`. */
  sshd: Record<string, string>;
  firewall: 'active' | 'inactive' | 'absent';
  /** The ports sshd listens on (`sshd -T`), as the host sees them: what ufw must leave open. */
  sshdPorts: number[];
  watchdog: WatchdogFact;
  /** /etc/docker/daemon.json, null when there is none. */
  daemonJson: string | null;
  /** hoist wrote daemon.json and dockerd has not restarted since (docker-logs.ts RESTART_PENDING). */
  dockerdStale: boolean;
  /** hoist deploy locks held on the host other than the login's own (docker-logs.ts). */
  otherLocks: { path: string; record: string }[];
  swap: SwapFact;
  /** hoist's unattended-upgrades files (auto-upgrades.ts), path → content or null. */
  autoUpgradeFiles: Record<string, string | null>;
}

/** Prints `NAME=base64` of a file, or `NAME=-` when it does not exist. */
function fileLine(name: string, path: Cmd | string): Cmd {
  const p = typeof path === 'string' ? sh`${path}` : path;
  return sh`if [ -f ${p} ]; then echo ${`file:${name}=`}"$(base64 -w0 < ${p})"; else echo ${`file:${name}=-`}; fi`;
}

export function bootstrapProbe(user: string, packages: string[], watchdog?: WatchdogWanted): Cmd {
  return sh`
. /etc/os-release; echo "os=$ID $VERSION_ID"
if id -u ${user} >/dev/null 2>&1; then
  home=$(getent passwd ${user} | cut -d: -f6); echo "user=present"; echo "home=$home"; echo "groups=$(id -nG ${user})"
  ${fileLine('authorized_keys', sh`"$home/.ssh/authorized_keys"`)}
else
  echo "user=absent"; echo "file:authorized_keys=-"
fi
${fileLine('sudoers', sudoersPath(user))}
${fileLine('sshd_drop_in', SSHD_DROP_IN)}
dpkg-query -W -f='pkg \${Package} \${db:Status-Status}\\n' ${packages} 2>/dev/null || true
${toolStates()}
{ ${serviceStates()}; } | sed 's/^/service /'
if grep -Eqi '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config.d/\\*\\.conf' /etc/ssh/sshd_config; then echo include=yes; else echo include=no; fi
/usr/sbin/sshd -T 2>/dev/null | grep -Ei '^(passwordauthentication|permitrootlogin|kbdinteractiveauthentication|pubkeyauthentication) ' | sed 's/^/sshd /'
if command -v ufw >/dev/null 2>&1; then ufw status | head -1 | sed 's/^Status: /firewall=/'; else echo firewall=absent; fi
echo "sshd_ports=$(/usr/sbin/sshd -T 2>/dev/null | awk '$1 == "port" { printf "%s ", $2 }')"
${watchdog ? watchdogProbe(watchdog) : sh``}
${fileLine('daemon_json', DAEMON_JSON)}
if [ -f ${RESTART_PENDING} ]; then echo dockerd_stale=yes; else echo dockerd_stale=no; fi
${otherLocks()}
${swapProbe()}
${AUTO_UPGRADE_FILES.map((f, i) => fileLine(`auto_upgrades_${i}`, f.path)).reduce((a, b) => sh`${a}
${b}`)}
`;
}

export function parseBootstrapFact(r: { stdout: string; stderr: string; code: number }): BootstrapFact {
  if (r.code !== 0) throw new RemoteCommandError('probing the host for ssh-bootstrap', r.code, r.stderr);
  const fact: BootstrapFact = {
    os: '',
    user: { exists: false, home: '', groups: [] },
    authorizedKeys: null,
    sudoers: null,
    sshdDropIn: null,
    installed: [],
    compose: 'none',
    missingTools: missingTools(r.stdout),
    services: {},
    sshdIncludesDropIns: false,
    sshd: {},
    firewall: 'absent',
    sshdPorts: [],
    watchdog: emptyWatchdogFact(),
    daemonJson: null,
    dockerdStale: false,
    otherLocks: parseOtherLocks(r.stdout),
    swap: { memTotal: 0, memLimit: null, swapTotal: 0, file: null, active: false, fstab: '', diskFree: 0 },
    autoUpgradeFiles: Object.fromEntries(AUTO_UPGRADE_FILES.map((f) => [f.path, null])),
  };
  const kb = (v: string) => (/^\d+$/.test(v) ? Number(v) * 1024 : 0);
  const decode = (v: string) => (v === '-' ? null : Buffer.from(v, 'base64').toString('utf8'));
  for (const line of r.stdout.split('\n')) {
    if (parseWatchdogLine(fact.watchdog, line)) continue;
    const [head, ...rest] = line.split(' ');
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq) : '';
    const value = eq > 0 ? line.slice(eq + 1) : '';
    if (key === 'os') fact.os = value;
    else if (key === 'user') fact.user.exists = value === 'present';
    else if (key === 'home') fact.user.home = value;
    else if (key === 'groups') fact.user.groups = value.split(/\s+/).filter(Boolean);
    else if (key === 'file:authorized_keys') fact.authorizedKeys = decode(value);
    else if (key === 'file:sudoers') fact.sudoers = decode(value);
    else if (key === 'file:sshd_drop_in') fact.sshdDropIn = decode(value);
    else if (key === 'compose') fact.compose = value as BootstrapFact['compose'];
    else if (key === 'include') fact.sshdIncludesDropIns = value === 'yes';
    else if (key === 'sshd_ports') fact.sshdPorts = value.split(/\s+/).filter((v) => /^\d{1,5}$/.test(v)).map(Number);
    else if (key === 'firewall') fact.firewall = value === 'active' ? 'active' : value === 'absent' ? 'absent' : 'inactive';
    else if (key === 'file:daemon_json') fact.daemonJson = decode(value);
    else if (key === 'dockerd_stale') fact.dockerdStale = value === 'yes';
    else if (key === 'mem_total_kb') fact.swap.memTotal = kb(value);
    else if (key === 'swap_total_kb') fact.swap.swapTotal = kb(value);
    else if (key === 'mem_limit') fact.swap.memLimit = /^\d+$/.test(value) ? Number(value) : null;
    else if (key === 'swapfile') {
      const [size, mode] = value.split(' ');
      fact.swap.file = value === '-' || !/^\d+$/.test(size ?? '') ? null : { size: Number(size), mode: mode ?? '' };
    } else if (key === 'swap_active') fact.swap.active = value === 'yes';
    else if (key === 'file:fstab') fact.swap.fstab = value ? Buffer.from(value, 'base64').toString('utf8') : '';
    else if (key === 'disk_free_kb') fact.swap.diskFree = kb(value);
    else if (key.startsWith('file:auto_upgrades_')) fact.autoUpgradeFiles[AUTO_UPGRADE_FILES[Number(key.slice('file:auto_upgrades_'.length))]!.path] = decode(value);
    else if (head === 'pkg' && rest[1] === 'installed') fact.installed.push(rest[0]!);
    else if (head === 'service') fact.services[rest[0] as ServiceName] = rest[1] === 'running' ? 'running' : 'stopped';
    else if (head === 'sshd' && rest.length >= 2) fact.sshd[rest[0]!.toLowerCase()] = rest.slice(1).join(' ');
  }
  return fact;
}
