// ssh-bootstrap's part that installs the watchdog (watchdog-script.ts) for the deploy user: its
// files in ~/.hoist/watchdog, and what runs it every minute: a systemd timer where systemd runs,
// else a line in hoist's own file /etc/cron.d/hoist-watchdog-USER (the deploy user's crontab is
// the apps' jobs', rewritten block by block by cron-install; a file of its own is never touched by
// them). Known to be in place from sha256 sums in ssh-bootstrap's one probe. NOTIFY_URL is written
// to a file of mode 600 by upload (SFTP): never on a command line, never in a plan or a report.
import { createHash } from 'node:crypto';
import type { HostConfig } from '../../lib/config/load-config.ts';
import { runChecked, type Executor } from '../../lib/exec/executor.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { DECIDE, SEE, WATCHDOG_SCRIPT } from './watchdog-script.ts';

export interface WatchdogWanted {
  user: string;
  app: string;
  /** name -> content of the files in ~/.hoist/watchdog (notify-url apart). */
  files: Record<string, string>;
  notifyUrl: string | null;
  service: string;
  timer: string;
  cron: string;
}

export interface WatchdogFact {
  home: string;
  systemd: boolean;
  /** name -> sha256 of each file there (notify-url included), the units and the cron file. */
  sums: Record<string, string>;
  timerActive: boolean;
}

export interface WatchdogStep {
  kind: 'watchdog';
  describe: string;
  home: string;
  systemd: boolean;
  /** Names of the files to write (their content is in the wanted state, the URL never in a step). */
  write: string[];
  removeUrl: boolean;
  runner: 'timer' | 'cron' | null;
}

export const WATCHDOG_DIR = '.hoist/watchdog';
export const unitName = (user: string) => `hoist-watchdog-${user}`;
export const cronFilePath = (user: string) => `/etc/cron.d/hoist-watchdog-${user}`;
const UNIT_DIR = '/etc/systemd/system';

export function watchdogWanted(host: HostConfig): WatchdogWanted {
  const s = host.settings;
  const user = s.deployUser;
  return {
    user,
    app: s.appName,
    files: {
      run: WATCHDOG_SCRIPT,
      'decide.awk': DECIDE,
      'see.awk': SEE,
      config: `# Written by hoist bootstrap.\nhost=${host.name}\nformat=${s.notifyFormat}\ndisk_min_kb=${Math.floor(s.alertDiskFree / 1024)}\n`,
    },
    notifyUrl: s.notifyUrl ?? null,
    service: [
      '# Written by hoist bootstrap: its watchdog (~/.hoist/watchdog/run), as the deploy user.',
      '[Unit]',
      `Description=hoist watchdog for ${user}: apps, restarts, disk, certificates; posts changes`,
      'After=docker.service',
      '',
      '[Service]',
      'Type=oneshot',
      `User=${user}`,
      'Nice=10',
      `ExecStart=/bin/sh -c 'exec "$HOME/${WATCHDOG_DIR}/run"'`,
      '',
    ].join('\n'),
    timer: ['# Written by hoist bootstrap.', '[Unit]', `Description=hoist watchdog for ${user}, every minute`, '', '[Timer]', 'OnBootSec=1min', 'OnUnitActiveSec=1min', 'AccuracySec=5s', '', '[Install]', 'WantedBy=timers.target', ''].join('\n'),
    cron: `# Written by hoist bootstrap: its watchdog, every minute, as ${user}.\n* * * * * ${user} "$HOME/${WATCHDOG_DIR}/run" >/dev/null 2>&1\n`,
  };
}

const sum = (text: string) => createHash('sha256').update(text).digest('hex');

/** Part of ssh-bootstrap's probe (run with sudo): `watchdog:` lines. */
export function watchdogProbe(w: WatchdogWanted): Cmd {
  const names = [...Object.keys(w.files), 'notify-url'];
  const unit = unitName(w.user);
  return sh`h=$(getent passwd ${w.user} | cut -d: -f6); echo "watchdog:home=$h"
if [ -d /run/systemd/system ]; then echo watchdog:systemd=yes; else echo watchdog:systemd=no; fi
for f in ${names}; do if [ -n "$h" ] && [ -f "$h/"${WATCHDOG_DIR}"/$f" ]; then echo "watchdog:sum:$f=$(sha256sum < "$h/"${WATCHDOG_DIR}"/$f" | cut -c1-64)"; fi; done
for f in ${`${UNIT_DIR}/${unit}.service`} ${`${UNIT_DIR}/${unit}.timer`} ${cronFilePath(w.user)}; do [ -f "$f" ] && echo "watchdog:sum:$f=$(sha256sum < "$f" | cut -c1-64)"; done
if [ -d /run/systemd/system ] && systemctl is-enabled --quiet ${`${unit}.timer`} 2>/dev/null && systemctl is-active --quiet ${`${unit}.timer`}; then echo watchdog:timer=active; fi`;
}

export function emptyWatchdogFact(): WatchdogFact {
  return { home: '', systemd: false, sums: {}, timerActive: false };
}

/** Reads one `watchdog:` line into `f`; false for any other line. */
export function parseWatchdogLine(f: WatchdogFact, line: string): boolean {
  if (!line.startsWith('watchdog:')) return false;
  const rest = line.slice('watchdog:'.length);
  const eq = rest.indexOf('=');
  const [key, value] = [rest.slice(0, eq), rest.slice(eq + 1)];
  if (key === 'home') f.home = value;
  else if (key === 'systemd') f.systemd = value === 'yes';
  else if (key === 'timer') f.timerActive = value === 'active';
  else if (key.startsWith('sum:')) f.sums[key.slice(4)] = value;
  return true;
}

/** What must change for the watchdog to be as wanted: none, or one step. */
export function watchdogSteps(w: WatchdogWanted, f: WatchdogFact, fallbackHome: string): WatchdogStep[] {
  const home = f.home || fallbackHome;
  const write = Object.entries(w.files).filter(([name, text]) => f.sums[name] !== sum(text)).map(([name]) => name);
  if (w.notifyUrl && f.sums['notify-url'] !== sum(w.notifyUrl)) write.push('notify-url');
  const removeUrl = !w.notifyUrl && f.sums['notify-url'] !== undefined;
  const unit = unitName(w.user);
  const runnerOff = f.systemd
    ? f.sums[`${UNIT_DIR}/${unit}.service`] !== sum(w.service) || f.sums[`${UNIT_DIR}/${unit}.timer`] !== sum(w.timer) || !f.timerActive
    : f.sums[cronFilePath(w.user)] !== sum(w.cron);
  if (!write.length && !removeUrl && !runnerOff) return [];
  const runner = runnerOff ? (f.systemd ? 'timer' : 'cron') : null;
  const what = [
    ...(write.length ? [`write ~/${WATCHDOG_DIR}/{${write.join(',')}}`] : []),
    ...(removeUrl ? ['remove the NOTIFY_URL file (NOTIFY_URL is empty)'] : []),
    ...(runner === 'timer' ? [`install and start ${unit}.timer (every minute, as ${w.user})`] : runner === 'cron' ? [`install ${cronFilePath(w.user)} (every minute, as ${w.user})`] : []),
  ];
  return [{ kind: 'watchdog', describe: `watchdog: ${what.join('; ')}`, home, systemd: f.systemd, write, removeUrl, runner }];
}

export async function applyWatchdog(exec: Executor, step: WatchdogStep, w: WatchdogWanted): Promise<void> {
  const dir = `${step.home}/${WATCHDOG_DIR}`;
  const owner = `${w.user}:${w.user}`;
  await runChecked(exec, sh`install -d -m 700 -o ${w.user} -g ${w.user} ${`${step.home}/.hoist`} ${dir}`, 'making ~/.hoist/watchdog', { sudo: true });
  for (const name of step.write) {
    const content = name === 'notify-url' ? w.notifyUrl! : w.files[name]!;
    const mode = name === 'notify-url' ? 0o600 : name === 'run' ? 0o755 : 0o644;
    await exec.upload(`${dir}/${name}`, content, { mode, owner, sudo: true });
  }
  if (step.removeUrl) await runChecked(exec, sh`rm -f ${`${dir}/notify-url`}`, 'removing the NOTIFY_URL file', { sudo: true });
  const unit = unitName(w.user);
  if (step.runner === 'timer') {
    await exec.upload(`${UNIT_DIR}/${unit}.service`, w.service, { mode: 0o644, owner: 'root:root', sudo: true });
    await exec.upload(`${UNIT_DIR}/${unit}.timer`, w.timer, { mode: 0o644, owner: 'root:root', sudo: true });
    await runChecked(exec, sh`systemctl daemon-reload && systemctl enable --now ${`${unit}.timer`} && systemctl is-active --quiet ${`${unit}.timer`}`, `starting ${unit}.timer`, { sudo: true });
  } else if (step.runner === 'cron') {
    // cron reads /etc/cron.d itself (files owned by root, not writable by others, no dot in the name).
    await exec.upload(cronFilePath(w.user), w.cron, { mode: 0o644, owner: 'root:root', sudo: true });
  }
}

/** What the probe finds on a host where `w` is installed (tests, and the plan's reading of it). */
export function installedWatchdogFact(w: WatchdogWanted, systemd: boolean, home = `/home/${w.user}`): WatchdogFact {
  const unit = unitName(w.user);
  const sums: Record<string, string> = Object.fromEntries(Object.entries(w.files).map(([n, t]) => [n, sum(t)]));
  if (w.notifyUrl) sums['notify-url'] = sum(w.notifyUrl);
  if (systemd) Object.assign(sums, { [`${UNIT_DIR}/${unit}.service`]: sum(w.service), [`${UNIT_DIR}/${unit}.timer`]: sum(w.timer) });
  else sums[cronFilePath(w.user)] = sum(w.cron);
  return { home, systemd, sums, timerActive: systemd };
}
