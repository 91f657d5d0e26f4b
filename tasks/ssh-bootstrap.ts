// Makes a fresh VPS ready for releases: the deploy user with the operator's keys and sudo,
// Docker (with compose), Caddy, git and cron installed and running, and sshd hardened (key
// logins only, no root). Knows it already is from one probe; a ready host gets no apt run and no
// reload. The sshd change is kept only after a NEW login as the deploy user works.
import { BASE_PACKAGES, installPackages, isSupportedSystem, untestedSystemNote, missingTools, missingToolsMessage, reloadSshd, startService, TOOLS, toolStates, unsupportedSystemMessage, waitForService, type ServiceName } from '../lib/distro/debian-family.ts';
import { HoistError } from '../lib/errors.ts';
import { runChecked, type Executor } from '../lib/exec/executor.ts';
import { withRetry } from '../lib/engine/retry.ts';
import { defineTask, type ApplyContext, type Step } from '../lib/engine/task.ts';
import { sh } from '../lib/shell-quote.ts';
import { mergedAuthorizedKeys, SSHD_DROP_IN, sshdDropIn, sudoersContent, sudoersPath } from './ssh-bootstrap/files.ts';
import { bootstrapProbe, parseBootstrapFact, type BootstrapFact } from './ssh-bootstrap/probe.ts';
import { applyWatchdog, watchdogSteps, watchdogWanted, type WatchdogStep, type WatchdogWanted } from './ssh-bootstrap/watchdog.ts';
import { AUTO_UPGRADE_FILES, AUTO_UPGRADES_PACKAGE } from './ssh-bootstrap/auto-upgrades.ts';
import { DAEMON_JSON, DaemonJsonError, describeLogOptions, installDaemonJson, mergeDaemonJson, parseOtherLocks, restartDockerUnlessLocked, type LogOptions } from './ssh-bootstrap/docker-logs.ts';
import { ensureSwapCommand, planSwap, SWAPFILE, swapOnCommand, type SwapPlan } from './ssh-bootstrap/swap.ts';
import { formatBytes } from '../lib/byte-size.ts';

export interface BootstrapWanted {
  user: string;
  keys: string[];
  sudoers: string;
  sshdDropIn: string;
  packages: string[];
  firewall: 'none' | 'ufw';
  sshPort: number;
  watchdog: WatchdogWanted;
  /** DOCKER_LOG_MAX_SIZE/_FILE; null: daemon.json left alone. */
  dockerLog: LogOptions | null;
  swap: number | 'auto' | 'off';
  autoUpgrades: boolean;
}

type BootstrapStep = Step &
  (
    | { kind: 'create-user' }
    | { kind: 'authorized-keys'; content: string }
    | { kind: 'sudoers'; content: string }
    | { kind: 'install-packages'; packages: string[]; compose: boolean; dockerCli: boolean; os: string }
    | { kind: 'docker-group' }
    | { kind: 'start-services'; services: ServiceName[] }
    | { kind: 'firewall'; sshPorts: number[] }
    | { kind: 'harden-sshd'; content: string }
    | Omit<WatchdogStep, 'describe'>
    /** daemon.json's new content (null: as it is) and whether dockerd restarts for it. */
    | { kind: 'docker-logs'; content: string | null; restart: boolean; heldBy: { path: string; record: string }[] }
    | { kind: 'swap'; plan: Extract<SwapPlan, { kind: 'ensure' }> }
    | { kind: 'auto-upgrades'; files: { path: string; content: string }[] }
  );

export class BootstrapError extends HoistError {}

/** What `sshd -T` must say once the drop-in is in force. */
const HARDENED: Record<string, string> = { passwordauthentication: 'no', permitrootlogin: 'no', kbdinteractiveauthentication: 'no' };

export const sshBootstrap = defineTask<BootstrapWanted, BootstrapFact, BootstrapStep>({
  name: 'ssh-bootstrap',
  login: 'admin',

  want({ host }) {
    const s = host.settings;
    const packages = [...BASE_PACKAGES, ...s.extraPackages, ...(s.firewall === 'ufw' ? ['ufw'] : []), ...(s.autoUpgrades === 'security' ? [AUTO_UPGRADES_PACKAGE] : [])];
    return {
      user: s.deployUser,
      keys: s.authorizedKeys,
      sudoers: sudoersContent(s.deployUser),
      sshdDropIn: sshdDropIn(s.sshdOptions),
      packages: [...new Set(packages)],
      firewall: s.firewall,
      sshPort: s.sshPort,
      watchdog: watchdogWanted(host),
      dockerLog: s.dockerLog,
      swap: s.swap,
      autoUpgrades: s.autoUpgrades === 'security',
    };
  },

  probe(w) {
    return { command: bootstrapProbe(w.user, w.packages, w.watchdog), sudo: true, parse: parseBootstrapFact };
  },

  plan(w, f) {
    if (!isSupportedSystem(f.os)) throw new BootstrapError(unsupportedSystemMessage(f.os));
    if (!f.sshdIncludesDropIns) {
      throw new BootstrapError(`/etc/ssh/sshd_config does not include sshd_config.d/*.conf, so hoist's hardening would not apply; add "Include /etc/ssh/sshd_config.d/*.conf" at its top`);
    }
    const steps: BootstrapStep[] = [];
    const home = f.user.home || `/home/${w.user}`;
    if (!f.user.exists) steps.push({ kind: 'create-user', describe: `create user ${w.user}` });
    const keys = mergedAuthorizedKeys(f.authorizedKeys, w.keys);
    if (keys !== f.authorizedKeys) steps.push({ kind: 'authorized-keys', content: keys, describe: `add ${w.keys.length} key(s) to ${home}/.ssh/authorized_keys` });
    if (f.sudoers !== w.sudoers) steps.push({ kind: 'sudoers', content: w.sudoers, describe: `install ${sudoersPath(w.user)} (checked with visudo -cf)` });
    const missing = w.packages.filter((p) => !f.installed.includes(p));
    const needCompose = f.compose === 'none';
    // Packages can be installed and a tool still absent (Debian 13's docker.io without docker-cli):
    // what hoist runs is checked, not only the package names. A tool whose package is missing
    // anyway is not named twice.
    const needDockerCli = f.missingTools.includes('docker');
    const unexplained = f.missingTools.filter((t) => t !== 'compose' && !missing.includes(TOOLS.find((x) => x.name === t)!.package(f.os)));
    if (missing.length || needCompose || unexplained.length) {
      const what = [...missing, ...unexplained.map((t) => (t === 'docker' ? 'the docker CLI' : t)), ...(needCompose ? ['docker compose'] : [])].join(', ');
      steps.push({
        kind: 'install-packages',
        packages: missing.length ? missing : ['docker.io'],
        compose: needCompose,
        dockerCli: needDockerCli,
        os: f.os,
        describe: `apt-get install ${what}; check that docker, docker compose, caddy, git and crontab run`,
      });
    }
    if (!f.user.groups.includes('docker')) steps.push({ kind: 'docker-group', describe: `add ${w.user} to the docker group` });
    const stopped = (['docker', 'caddy', 'cron'] as const).filter((s) => f.services[s] !== 'running');
    if (stopped.length) steps.push({ kind: 'start-services', services: stopped, describe: `start and enable ${stopped.join(', ')}` });
    const health = planHealth(w, f);
    steps.push(...health.steps);
    if (w.firewall === 'ufw' && f.firewall !== 'active') {
      // sshd's own port(s): SSH_PORT is where hoist connects, which a NAT or port forward in front
      // of the host may map to another port; allowing only SSH_PORT there would lock everyone out.
      // sshd's ports now, and any the hardening adds (SSHD_OPTIONS "Port 2222"): ufw goes on before
      // the hardening, so a port only the new drop-in opens must be allowed already.
      const added = [...w.sshdDropIn.matchAll(/^\s*Port\s+(\d{1,5})\s*$/gim)].map((m) => Number(m[1]));
      const sshPorts = [...new Set([...(f.sshdPorts.length > 0 ? f.sshdPorts : [w.sshPort]), ...added])];
      steps.push({ kind: 'firewall', sshPorts, describe: `ufw: allow ${sshPorts.map((p) => `${p}/tcp`).join(', ')} (sshd), 80/tcp, 443/tcp; deny the rest; enable` });
    }
    if (f.sshdDropIn === w.sshdDropIn) {
      // Our file is there, yet sshd would use other values: a file read before ours sets them.
      const off = Object.entries(HARDENED).filter(([k, v]) => f.sshd[k] !== undefined && f.sshd[k] !== v);
      if (off.length) {
        throw new BootstrapError(
          `sshd -T says ${off.map(([k]) => `${k} ${f.sshd[k]}`).join(', ')} although ${SSHD_DROP_IN} says no: a file in /etc/ssh/sshd_config.d that sorts before 00-hoist.conf, or a line in sshd_config before its Include, sets them; remove that setting`,
        );
      }
    } else {
      steps.push({ kind: 'harden-sshd', content: w.sshdDropIn, describe: `harden sshd (${SSHD_DROP_IN}: no passwords, no root login), check, reload, prove a new login as ${w.user}` });
    }
    // The watchdog (ssh-bootstrap/watchdog.ts) goes in once the user, Docker and cron are there.
    steps.push(...watchdogSteps(w.watchdog, f.watchdog, home));
    // Ubuntu: accepted, untested; said where the user looks (the plan, and the run's warnings in apply).
    const untested = untestedSystemNote(f.os);
    if (!steps.length) return { changes: false, reason: [`${w.user} ready, ${w.packages.length} packages installed, docker/caddy/cron running, sshd hardened`, ...health.notes, ...(untested ? [`Note: ${untested}`] : [])].join('; ') };
    if (untested) steps[0] = { ...steps[0]!, describe: `${steps[0]!.describe} (note: ${untested})` };
    return {
      changes: true,
      steps,
      files: [
        { path: `${home}/.ssh/authorized_keys`, before: f.authorizedKeys, after: keys },
        { path: sudoersPath(w.user), before: f.sudoers, after: w.sudoers },
        { path: SSHD_DROP_IN, before: f.sshdDropIn, after: w.sshdDropIn },
        ...health.files,
      ].filter((file) => file.before !== file.after),
    };
  },

  async apply(exec, steps, ctx) {
    const untested = untestedSystemNote(ctx.before.os);
    if (untested) ctx.warn?.(untested);
    for (const step of steps) {
      ctx.progress(step.describe);
      await applyStep(exec, step, ctx);
    }
  },

  // Verified, the machine's setup stands: a later task failing for its own reasons (nobody added
  // the deploy key in time, DNS not there yet) must not re-open root and password logins.
  keptOnceVerified: true,

  /**
   * Runs only when ssh-bootstrap itself failed. Puts back what differs from before: sshd's
   * drop-in unless this run proved a new deploy login with it (then the hardening, and the user,
   * keys and sudo that login needs, stay), the sudoers file, the keys, and the deploy user if this
   * run created it. Packages stay: they change nobody's access. sshd goes first and the user last,
   * so a rollback that stops half-way leaves the way in that was there before, or a wider one.
   */
  async rollback(exec, ctx) {
    const { wanted: w, before } = ctx;
    if (hardeningProven.has(ctx)) return;
    const now = parseBootstrapFact(await exec.exec(bootstrapProbe(w.user, w.packages, w.watchdog), { sudo: true }));
    const home = before.user.home || `/home/${w.user}`;
    const putBack: string[] = [];
    const step = async (what: string, run: () => Promise<void>) => {
      try {
        await run();
        putBack.push(what);
      } catch (e) {
        throw new BootstrapError(rollbackStopped(w.user, what, (e as Error).message, putBack, now, before));
      }
    };
    // First: a firewall this run turned on may be what keeps the new login out.
    if (before.firewall !== 'active' && now.firewall === 'active') await step('ufw disabled (as before)', async () => void (await runChecked(exec, sh`ufw --force disable`, 'disabling ufw', { sudo: true })));
    if (now.sshdDropIn !== before.sshdDropIn) {
      await step(`sshd config (${SSHD_DROP_IN} as before, reloaded)`, async () => {
        await restoreFile(exec, SSHD_DROP_IN, before.sshdDropIn, 0o644, 'root:root');
        await runChecked(exec, reloadSshd(), 'reloading sshd', { sudo: true });
      });
    }
    if (now.sudoers !== before.sudoers) await step(`${sudoersPath(w.user)} as before`, () => restoreFile(exec, sudoersPath(w.user), before.sudoers, 0o440, 'root:root'));
    if (before.user.exists && now.authorizedKeys !== before.authorizedKeys) {
      await step(`${home}/.ssh/authorized_keys as before`, () => restoreFile(exec, `${home}/.ssh/authorized_keys`, before.authorizedKeys, 0o600, `${w.user}:${w.user}`));
    }
    if (!before.user.exists && now.user.exists) await step(`user ${w.user} removed`, () => removeUser(exec, w.user));
  },
});

/** Contexts whose apply proved a new deploy login after hardening sshd. */
const hardeningProven = new WeakSet<object>();

/**
 * A user this run created: its processes (a login's leftover session, a command started through
 * it) are this run's too, so they are ended first; `userdel` refuses while any runs.
 */
async function removeUser(exec: Executor, user: string): Promise<void> {
  await runChecked(
    exec,
    sh`for i in 1 2 3 4 5; do pkill -KILL -u ${user} 2>/dev/null; if userdel --remove ${user} 2>/dev/null || userdel ${user}; then exit 0; fi; sleep 1; done; exit 1`,
    `removing user ${user}`,
    { sudo: true },
  );
}

/** What a rollback that could not finish left on the host, in words the operator can act on. */
export function rollbackStopped(user: string, failed: string, reason: string, putBack: string[], now: BootstrapFact, before: BootstrapFact): string {
  const left: string[] = [];
  const sshdAsBefore = putBack.some((p) => p.startsWith('sshd')) || now.sshdDropIn === before.sshdDropIn;
  if (!sshdAsBefore) left.push(`sshd config as this run left it (${SSHD_DROP_IN}: no root or password logins)`);
  if (!before.user.exists && now.user.exists) left.push(`user ${user} with the keys in AUTHORIZED_KEYS${now.user.groups.includes('docker') ? ', in the docker group' : ''}`);
  if (!putBack.some((p) => p.startsWith('/etc/sudoers')) && now.sudoers !== before.sudoers) left.push(`${sudoersPath(user)} (sudo for ${user})`);
  return [
    `the rollback of ssh-bootstrap stopped at "${failed}": ${reason}.`,
    putBack.length ? `Put back: ${putBack.join('; ')}.` : 'Nothing was put back.',
    left.length ? `Left as this run made it: ${left.join('; ')}.` : '',
    sshdAsBefore
      ? 'Logins that worked before the run still work; run bootstrap again to finish the setup.'
      : `Log in as ${user} (its keys and sudo are kept for that) or through the provider's console, then run bootstrap again.`,
  ]
    .filter(Boolean)
    .join(' ');
}

async function applyStep(exec: Executor, step: BootstrapStep, ctx: ApplyContext<BootstrapWanted, BootstrapFact>): Promise<void> {
  const { wanted: w, before } = ctx;
  const user = w.user;
  switch (step.kind) {
    case 'create-user':
      await runChecked(exec, sh`id -u ${user} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash ${user}`, `creating user ${user}`, { sudo: true });
      return;
    case 'authorized-keys': {
      const home = (await runChecked(exec, sh`getent passwd ${user} | cut -d: -f6`, 'finding the home folder', { sudo: true })).trim();
      await runChecked(exec, sh`install -d -m 700 -o ${user} -g ${user} ${`${home}/.ssh`}`, 'making ~/.ssh', { sudo: true });
      await exec.upload(`${home}/.ssh/authorized_keys`, step.content, { mode: 0o600, owner: `${user}:${user}`, sudo: true });
      return;
    }
    case 'sudoers': {
      // Checked before it is in place: a broken sudoers file would lock sudo for everyone.
      const path = sudoersPath(user);
      const candidate = `/etc/sudoers.d/.hoist-${user}.new`;
      await exec.upload(candidate, step.content, { mode: 0o440, owner: 'root:root', sudo: true });
      await runChecked(exec, sh`visudo -cf ${candidate} >/dev/null && mv -f ${candidate} ${path} || { rm -f ${candidate}; exit 1; }`, 'checking sudoers with visudo', { sudo: true });
      return;
    }
    case 'install-packages': {
      await runChecked(exec, installPackages(step.packages, step.compose, step.dockerCli), `apt-get install ${step.packages.join(' ')}`, { sudo: true });
      // apt said yes; whether what hoist runs is there is another question (a split package, a
      // recommendation left out): asked here, so "changed" means ready, not "apt ran".
      const missing = missingTools(await runChecked(exec, toolStates(), 'checking the installed tools', { sudo: true }));
      if (missing.length) throw new BootstrapError(missingToolsMessage(missing, step.os));
      return;
    }
    case 'docker-group':
      await runChecked(exec, sh`usermod -aG docker ${user}`, `adding ${user} to the docker group`, { sudo: true });
      return;
    case 'start-services':
      for (const service of step.services) {
        await runChecked(exec, sh`${startService(service)} && ${waitForService(service)}`, `starting ${service}`, { sudo: true });
      }
      return;
    case 'firewall':
      await runChecked(exec, sh`for p in ${step.sshPorts.map((p) => `${p}/tcp`)}; do ufw allow "$p" || exit 1; done && ufw allow 80/tcp && ufw allow 443/tcp && ufw --force enable`, 'enabling ufw', { sudo: true });
      return;
    case 'harden-sshd':
      await hardenSshd(exec, step.content, before.sshdDropIn, ctx);
      return;
    case 'watchdog':
      await applyWatchdog(exec, step, w.watchdog);
      return;
    case 'docker-logs': {
      if (step.content !== null) {
        const candidate = `${DAEMON_JSON}.hoist-new`;
        await runChecked(exec, sh`mkdir -p /etc/docker`, 'making /etc/docker', { sudo: true });
        await exec.upload(candidate, step.content, { mode: 0o644, owner: 'root:root', sudo: true });
        await runChecked(exec, installDaemonJson(candidate), `checking and installing ${DAEMON_JSON}`, { sudo: true });
      }
      const postponed = (locks: { path: string; record: string }[]) =>
        (ctx.warn ?? ctx.progress)(`${DAEMON_JSON} has the new log options, but dockerd was not restarted: ${lockWords(locks)}. The next bootstrap after that run restarts it`);
      if (!step.restart) {
        if (step.heldBy.length) postponed(step.heldBy);
        return;
      }
      ctx.progress('restarting dockerd for the new log options (containers with a restart policy come back)');
      const out = await runChecked(exec, restartDockerUnlessLocked(), 'restarting dockerd', { sudo: true });
      if (out.split('\n')[0] === 'postponed') postponed(parseOtherLocks(out));
      return;
    }
    case 'swap': {
      await runChecked(exec, ensureSwapCommand(step.plan), `making ${SWAPFILE}`, { sudo: true });
      const on = await exec.exec(swapOnCommand(), { sudo: true });
      if (on.code !== 0) {
        (ctx.warn ?? ctx.progress)(`${SWAPFILE} (${formatBytes(step.plan.size)}) and its /etc/fstab line are in place, but the kernel refused to turn it on (${on.stderr.trim() || `exit ${on.code}`}): a container VPS, or a filesystem that cannot hold swap, cannot use a swapfile. Fix: ask the provider for swap or more memory, or set SWAP_SIZE=off`);
      }
      return;
    }
    case 'auto-upgrades':
      for (const file of step.files) await exec.upload(file.path, file.content, { mode: 0o644, owner: 'root:root', sudo: true });
      return;
  }
}

/** Other runs' deploy locks, in words. */
function lockWords(locks: { path: string; record: string }[]): string {
  return `another hoist run holds ${locks.map((l) => `${l.path} (${l.record})`).join(', ')}, maybe a release mid-way`;
}

/**
 * What keeps a small VPS healthy (issue #19 item 4): Docker's log rotation, swap, security
 * updates. Steps, the files the dry run shows, and notes for the no-op reason.
 */
function planHealth(w: BootstrapWanted, f: BootstrapFact): { steps: BootstrapStep[]; files: { path: string; before: string | null; after: string | null }[]; notes: string[] } {
  const steps: BootstrapStep[] = [];
  const files: { path: string; before: string | null; after: string | null }[] = [];
  const notes: string[] = [];
  if (w.dockerLog) {
    let merged;
    try {
      merged = mergeDaemonJson(f.daemonJson, w.dockerLog);
    } catch (e) {
      if (e instanceof DaemonJsonError) throw new BootstrapError(e.message);
      throw e;
    }
    if (merged.kind === 'other-driver') notes.push(`Docker logs left to its log-driver ${merged.driver} (${DAEMON_JSON})`);
    else {
      const content = merged.kind === 'write' ? merged.content : null;
      // dockerd runs by then (apt starts it on a systemd host before the file is there; the
      // start-services step does elsewhere): a restart for a change it has not read.
      const wantsRestart = content !== null || f.dockerdStale;
      const locked = wantsRestart && f.otherLocks.length > 0;
      if (content !== null || (wantsRestart && !locked)) {
        const restart = wantsRestart && !locked;
        steps.push({
          kind: 'docker-logs',
          content,
          restart,
          heldBy: locked ? f.otherLocks : [],
          describe: `${content !== null ? `Docker's container logs rotated (${describeLogOptions(w.dockerLog)}) in ${DAEMON_JSON}, checked by dockerd` : `dockerd has not read ${DAEMON_JSON} yet`}${restart ? '; restart dockerd (containers with a restart policy come back; the options apply to containers created from now on: each app\'s next release)' : locked ? `; dockerd NOT restarted: ${lockWords(f.otherLocks)}` : ''}`,
        });
        if (content !== null) files.push({ path: DAEMON_JSON, before: f.daemonJson, after: content });
      } else if (locked) notes.push(`dockerd has not read ${DAEMON_JSON} yet and is not restarted: ${lockWords(f.otherLocks)}`);
      else notes.push(`Docker logs rotated (${describeLogOptions(w.dockerLog)})`);
    }
  }
  const swap = planSwap(w.swap, f.swap);
  if (swap.kind === 'ensure') {
    steps.push({ kind: 'swap', plan: swap, describe: `${swap.recreate ? `make ${SWAPFILE} of ${formatBytes(swap.size)} (${swap.why}), mode 600` : `${SWAPFILE} mode 600`}${swap.fstab !== null ? ', add it to /etc/fstab' : ''}, turn it on` });
    if (swap.fstab !== null) files.push({ path: '/etc/fstab', before: f.swap.fstab, after: swap.fstab });
  } else notes.push(swap.why);
  if (w.autoUpgrades) {
    const changed = AUTO_UPGRADE_FILES.filter((file) => f.autoUpgradeFiles[file.path] !== file.content);
    if (changed.length) {
      steps.push({ kind: 'auto-upgrades', files: changed.map((x) => ({ path: x.path, content: x.content })), describe: 'unattended-upgrades: security updates daily, never an automatic reboot (AUTO_UPGRADES=security)' });
      files.push(...changed.map((x) => ({ path: x.path, before: f.autoUpgradeFiles[x.path] ?? null, after: x.content })));
    } else notes.push('security updates unattended');
  }
  return { steps, files, notes };
}

/** Install, check with sshd -t, reload, then prove a fresh deploy login; else put back and reload. */
async function hardenSshd(exec: Executor, content: string, previous: string | null, ctx: ApplyContext<BootstrapWanted, BootstrapFact>): Promise<void> {
  const user = ctx.wanted.user;
  const putBack = async () => {
    await restoreFile(exec, SSHD_DROP_IN, previous, 0o644, 'root:root');
    await runChecked(exec, reloadSshd(), 'reloading sshd', { sudo: true });
  };
  await exec.upload(SSHD_DROP_IN, content, { mode: 0o644, owner: 'root:root', sudo: true });
  const check = await exec.exec(sh`/usr/sbin/sshd -t`, { sudo: true });
  if (check.code !== 0) {
    await restoreFile(exec, SSHD_DROP_IN, previous, 0o644, 'root:root');
    throw new BootstrapError(`sshd -t rejected the hardened config, nothing was reloaded and the previous config is back: ${check.stderr.trim()}`);
  }
  try {
    await runChecked(exec, reloadSshd(), 'reloading sshd', { sudo: true });
  } catch (e) {
    // sshd did not take the new config in time (or the reload failed): the old one goes back.
    await putBack();
    throw new BootstrapError(`reloading sshd with the hardened config failed (${(e as Error).message}); the previous sshd config is back and reloaded`);
  }
  ctx.progress(`proving a new login as ${user} works`);
  const probe = ctx.freshConnection('deploy');
  try {
    // sshd re-executes itself on reload: for a moment connections are reset (transient, retried);
    // a refused key or a failing sudo is the answer, not a hiccup.
    await withRetry(() => runChecked(probe, sh`sudo -n true`, `sudo as ${user} over a new connection`), { retries: 5 });
    hardeningProven.add(ctx);
  } catch (e) {
    await putBack();
    throw new BootstrapError(`after the sshd reload a new login as ${user} failed (${(e as Error).message}); the previous sshd config is back and reloaded`);
  } finally {
    await probe.close();
  }
}

async function restoreFile(exec: Executor, path: string, content: string | null, mode: number, owner: string): Promise<void> {
  if (content === null) await runChecked(exec, sh`rm -f ${path}`, `removing ${path}`, { sudo: true });
  else await exec.upload(path, content, { mode, owner, sudo: true });
}
