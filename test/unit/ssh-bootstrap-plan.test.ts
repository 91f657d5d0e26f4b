// ssh-bootstrap as data: the probe's parse from recorded outputs of its script (a fresh Debian 12
// VPS, a half-done one, a ready one), and the plan from a table of fact changes -> step kinds in
// order, or the no-op reason, or the refusal. No host involved.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sshBootstrap, BootstrapError, type BootstrapWanted } from '../../tasks/ssh-bootstrap.ts';
import { parseBootstrapFact, type BootstrapFact } from '../../tasks/ssh-bootstrap/probe.ts';
import { SSHD_DROP_IN, sshdDropIn, sudoersContent } from '../../tasks/ssh-bootstrap/files.ts';
import { emptyWatchdogFact, installedWatchdogFact } from '../../tasks/ssh-bootstrap/watchdog.ts';
import { PERIODIC_FILE, POLICY_FILE } from '../../tasks/ssh-bootstrap/auto-upgrades.ts';
import { RemoteCommandError } from '../../lib/errors.ts';
import type { Settings } from '../../lib/config/settings.ts';
import type { FileChange, Probe, RemoteProbe, TaskInput } from '../../lib/engine/task.ts';
import { testHost } from '../harness/settings.ts';

type BootstrapPlan = ReturnType<typeof sshBootstrap.plan>;
type BootstrapStep = Extract<BootstrapPlan, { changes: true }>['steps'][number];
type Kind = BootstrapStep['kind'];

function remote<F>(p: Probe<F>): RemoteProbe<F> {
  if ('local' in p) throw new Error('ssh-bootstrap must probe the host');
  return p;
}

function inputFor(settings: Partial<Settings> = {}): TaskInput {
  return { host: testHost(settings), loginUser: 'root' };
}

function wantFor(settings: Partial<Settings> = {}): BootstrapWanted {
  const w = sshBootstrap.want(inputFor(settings));
  if (w instanceof Promise) throw new Error('ssh-bootstrap want() is expected to be synchronous');
  return w;
}

/** The error `fn` throws (fails the test if it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new assert.Assertion({ message: 'expected a throw', generated: false, operator: 'throws', expects: 'an error', actual: 'a return' });
}

function step<K extends Kind>(plan: BootstrapPlan, kind: K): Extract<BootstrapStep, { kind: K }> {
  if (!plan.changes) throw new Error(`no-op plan, expected a ${kind} step`);
  const found = plan.steps.find((s) => s.kind === kind);
  if (!found) throw new Error(`no ${kind} step in ${plan.steps.map((s) => s.kind).join(', ')}`);
  return found as Extract<BootstrapStep, { kind: K }>;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

const OURS = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJmYXJ0ZXN0a2V5Zm9ydW5pdHRlc3RzMDAwMDAw hoist'; // testSettings' key
const OURS_MATERIAL = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJmYXJ0ZXN0a2V5Zm9ydW5pdHRlc3RzMDAwMDAw';
const ALICE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIODUuROZj9IOyODS6AazRUyeFzw+qrYbxbIcmCgVndEw alice@laptop';
const BACKUP = 'command="/usr/local/bin/backup --pull",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICZ91mwTLQaKexRF/HBo09muHXlfPBgaSBb/ub1cFNJL backup';
const KEYS_PATH = '/home/deploy/.ssh/authorized_keys';
const SUDOERS_PATH = '/etc/sudoers.d/hoist-deploy';
const HARDENED = { passwordauthentication: 'no', kbdinteractiveauthentication: 'no', permitrootlogin: 'no', pubkeyauthentication: 'yes' };

// --------------------------------------------------------------------- recorded probe outputs

/** A fresh Debian 12 VPS probed as root: no deploy user, none of hoist's files, no Docker yet. */
const FRESH_DEBIAN_12 = [
  'os=debian 12',
  'user=absent',
  'file:authorized_keys=-',
  'file:sudoers=-',
  'file:sshd_drop_in=-',
  'pkg ca-certificates installed',
  'pkg curl installed',
  'pkg cron installed',
  'pkg git not-installed',
  'tool docker no',
  'tool caddy no',
  'tool git no',
  'tool crontab yes',
  'compose=none',
  'tool compose no',
  'service docker stopped',
  'service caddy stopped',
  'service cron running',
  'include=yes',
  'sshd permitrootlogin without-password',
  'sshd pubkeyauthentication yes',
  'sshd passwordauthentication yes',
  'sshd kbdinteractiveauthentication no',
  'firewall=absent',
  'sshd_ports=2222 22 ',
  '',
].join('\n');

const HALF_DONE_SUDOERS = 'deploy ALL=(ALL) NOPASSWD:ALL\n'; // an older hand-written rule
const HALF_DONE_KEYS = `${ALICE}\n${OURS}\n`;

/** A host where an earlier run stopped halfway through apt: user and keys done, Caddy broken. */
const HALF_DONE = [
  'os=ubuntu 24.04',
  'user=present',
  'home=/home/deploy',
  'groups=deploy users',
  `file:authorized_keys=${b64(HALF_DONE_KEYS)}`,
  'file:sudoers=ZGVwbG95IEFMTD0oQUxMKSBOT1BBU1NXRDpBTEwK',
  'file:sshd_drop_in=-',
  'pkg docker.io installed',
  'pkg caddy half-configured',
  'pkg git installed',
  'pkg cron installed',
  'pkg ca-certificates installed',
  'pkg curl installed',
  'tool docker yes',
  'tool caddy yes',
  'tool git yes',
  'tool crontab yes',
  'compose=v1',
  'tool compose yes',
  'service docker running',
  'service caddy stopped',
  'service cron running',
  'include=yes',
  'sshd passwordauthentication yes',
  'sshd kbdinteractiveauthentication no',
  'sshd permitrootlogin yes',
  'sshd pubkeyauthentication yes',
  'firewall=inactive',
  '',
].join('\n');

/** What a fact has of the health parts (docker-logs, swap, auto-upgrades) when the probe printed none of their lines. */
const NO_HEALTH_LINES = {
  daemonJson: null,
  dockerdStale: false,
  otherLocks: [],
  swap: { memTotal: 0, memLimit: null, swapTotal: 0, file: null, active: false, fstab: '', diskFree: 0 },
  autoUpgradeFiles: { [PERIODIC_FILE]: null, [POLICY_FILE]: null },
} satisfies Partial<BootstrapFact>;

/** hoist's log rotation at the defaults, as bootstrap writes it. */
const READY_DAEMON_JSON = '{\n  "log-opts": {\n    "max-size": "10m",\n    "max-file": "3"\n  }\n}\n';

/** A host hoist already bootstrapped. */
const READY = [
  'os=debian 12',
  'user=present',
  'home=/home/deploy',
  'groups=deploy sudo docker',
  'file:authorized_keys=c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUdKbVlYSjBaWE4wYTJWNVptOXlkVzVwZEhSbGMzUnpNREF3TURBdyBob2lzdAo=',
  `file:sudoers=${b64(sudoersContent('deploy'))}`,
  `file:sshd_drop_in=${b64(sshdDropIn([]))}`,
  'pkg docker.io installed',
  'pkg caddy installed',
  'pkg git installed',
  'pkg cron installed',
  'pkg ca-certificates installed',
  'pkg curl installed',
  'tool docker yes',
  'tool caddy yes',
  'tool git yes',
  'tool crontab yes',
  'compose=v2',
  'tool compose yes',
  'service docker running',
  'service caddy running',
  'service cron running',
  'include=yes',
  'sshd passwordauthentication no',
  'sshd kbdinteractiveauthentication no',
  'sshd permitrootlogin no',
  'sshd pubkeyauthentication yes',
  'firewall=absent',
  `file:daemon_json=${b64(READY_DAEMON_JSON)}`,
  'dockerd_stale=no',
  'mem_total_kb=4194304',
  'swap_total_kb=0',
  'mem_limit=',
  'swapfile=-',
  'swap_active=no',
  'file:fstab=',
  'disk_free_kb=20971520',
  'file:auto_upgrades_0=-',
  'file:auto_upgrades_1=-',
  '',
].join('\n');

const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' });

test('probe: one sudo round trip whose script is valid sh, asking dpkg about every wanted package', () => {
  const w = wantFor({ extraPackages: ['htop'] });
  const p = remote(sshBootstrap.probe(w, inputFor({ extraPackages: ['htop'] })));
  assert.is(p.sudo, true);
  assert.is(p.parse, parseBootstrapFact);
  assert.match(p.command.line, "dpkg-query -W -f='pkg ${Package} ${db:Status-Status}\\n' docker.io caddy git cron ca-certificates curl htop 2>/dev/null || true");
  const syntax = spawnSync('/bin/sh', ['-n', '-c', p.command.line], { encoding: 'utf8' });
  assert.is(syntax.status, 0, syntax.stderr);
});

test('parse: a fresh Debian 12 host', () => {
  assert.equal(parseBootstrapFact(ok(FRESH_DEBIAN_12)), {
    os: 'debian 12',
    user: { exists: false, home: '', groups: [] },
    authorizedKeys: null,
    sudoers: null,
    sshdDropIn: null,
    installed: ['ca-certificates', 'curl', 'cron'],
    compose: 'none',
    missingTools: ['docker', 'compose', 'caddy', 'git'],
    services: { docker: 'stopped', caddy: 'stopped', cron: 'running' },
    sshdIncludesDropIns: true,
    sshd: { permitrootlogin: 'without-password', pubkeyauthentication: 'yes', passwordauthentication: 'yes', kbdinteractiveauthentication: 'no' },
    firewall: 'absent',
    sshdPorts: [2222, 22],
    watchdog: emptyWatchdogFact(),
    ...NO_HEALTH_LINES,
  } satisfies BootstrapFact);
});

test('parse: a half-done host (only "installed" packages count; files decoded byte for byte)', () => {
  assert.equal(parseBootstrapFact(ok(HALF_DONE)), {
    os: 'ubuntu 24.04',
    user: { exists: true, home: '/home/deploy', groups: ['deploy', 'users'] },
    authorizedKeys: HALF_DONE_KEYS,
    sudoers: HALF_DONE_SUDOERS,
    sshdDropIn: null,
    installed: ['docker.io', 'git', 'cron', 'ca-certificates', 'curl'],
    compose: 'v1',
    missingTools: [],
    services: { docker: 'running', caddy: 'stopped', cron: 'running' },
    sshdIncludesDropIns: true,
    sshd: { passwordauthentication: 'yes', kbdinteractiveauthentication: 'no', permitrootlogin: 'yes', pubkeyauthentication: 'yes' },
    firewall: 'inactive',
    sshdPorts: [],
    watchdog: emptyWatchdogFact(),
    ...NO_HEALTH_LINES,
  } satisfies BootstrapFact);
});

test('parse: a ready host', () => {
  assert.equal(parseBootstrapFact(ok(READY)), {
    os: 'debian 12',
    user: { exists: true, home: '/home/deploy', groups: ['deploy', 'sudo', 'docker'] },
    authorizedKeys: `${OURS}\n`,
    sudoers: sudoersContent('deploy'),
    sshdDropIn: sshdDropIn([]),
    installed: ['docker.io', 'caddy', 'git', 'cron', 'ca-certificates', 'curl'],
    compose: 'v2',
    missingTools: [],
    services: { docker: 'running', caddy: 'running', cron: 'running' },
    sshdIncludesDropIns: true,
    sshd: HARDENED,
    firewall: 'absent',
    sshdPorts: [],
    watchdog: emptyWatchdogFact(),
    daemonJson: READY_DAEMON_JSON,
    dockerdStale: false,
    otherLocks: [],
    swap: { memTotal: 4 * 1024 ** 3, memLimit: null, swapTotal: 0, file: null, active: false, fstab: '', diskFree: 20 * 1024 ** 3 },
    autoUpgradeFiles: { [PERIODIC_FILE]: null, [POLICY_FILE]: null },
  } satisfies BootstrapFact);
});

test('parse: an empty file is "" (not absent), base64 padding survives, ufw states, include=no', () => {
  const f = parseBootstrapFact(
    ok(['os=debian 12', 'user=present', 'home=/srv/app home', 'groups=', 'file:authorized_keys=', `file:sudoers=${b64('x\n')}`, 'include=no', 'firewall=active', 'pkg caddy config-files', ''].join('\n')),
  );
  assert.is(f.authorizedKeys, '');
  assert.is(f.sudoers, 'x\n');
  assert.is(b64('x\n'), 'eAo=');
  assert.is(f.user.home, '/srv/app home');
  assert.equal(f.user.groups, []);
  assert.is(f.sshdIncludesDropIns, false);
  assert.is(f.firewall, 'active');
  assert.equal(f.installed, []);
  assert.is(parseBootstrapFact(ok('firewall=inactive\n')).firewall, 'inactive');
});

test('parse: a non-zero exit is a RemoteCommandError carrying the code and stderr', () => {
  const e = thrown(() => parseBootstrapFact({ code: 2, stdout: '', stderr: 'sh: 1: .: cannot open /etc/os-release: No such file\n' }));
  assert.instance(e, RemoteCommandError);
  const r = e as RemoteCommandError;
  assert.is(r.code, 2);
  assert.match(r.message, /probing the host for ssh-bootstrap failed \(exit 2\)/);
  assert.match(r.message, /cannot open \/etc\/os-release/);
  assert.is(r.transient, false);
});

test('parse + plan: the recorded fresh host needs every step; the half-done one only what is left', () => {
  const w = wantFor();
  const fresh = sshBootstrap.plan(w, parseBootstrapFact(ok(FRESH_DEBIAN_12)));
  assert.equal(fresh.changes && fresh.steps.map((s) => s.kind), ['create-user', 'authorized-keys', 'sudoers', 'install-packages', 'docker-group', 'start-services', 'docker-logs', 'harden-sshd', 'watchdog']);
  assert.equal(step(fresh, 'install-packages').packages, ['docker.io', 'caddy', 'git']);
  const half = sshBootstrap.plan(w, parseBootstrapFact(ok(HALF_DONE)));
  assert.equal(half.changes && half.steps.map((s) => s.kind), ['sudoers', 'install-packages', 'docker-group', 'start-services', 'docker-logs', 'harden-sshd', 'watchdog']);
  assert.equal(step(half, 'install-packages').packages, ['caddy']);
  assert.is(step(half, 'install-packages').compose, false); // v1 is a compose
  assert.equal(step(half, 'start-services').services, ['caddy']);
  // The recorded ready host predates the watchdog: it is all that is left to do there.
  const ready = sshBootstrap.plan(w, parseBootstrapFact(ok(READY)));
  assert.equal(ready.changes && ready.steps.map((s) => s.kind), ['watchdog']);
});

// -------------------------------------------------------------------------------- plan table

/** What a host hoist bootstrapped with `w` looks like. */
function readyFact(w: BootstrapWanted): BootstrapFact {
  return {
    os: 'debian 12',
    user: { exists: true, home: `/home/${w.user}`, groups: [w.user, 'sudo', 'docker'] },
    authorizedKeys: w.keys.map((k) => `${k}\n`).join(''),
    sudoers: w.sudoers,
    sshdDropIn: w.sshdDropIn,
    installed: [...w.packages],
    compose: 'v2',
    missingTools: [],
    services: { docker: 'running', caddy: 'running', cron: 'running' },
    sshdIncludesDropIns: true,
    sshd: { ...HARDENED },
    firewall: w.firewall === 'ufw' ? 'active' : 'absent',
    sshdPorts: [22],
    watchdog: installedWatchdogFact(w.watchdog, false),
    daemonJson: READY_DAEMON_JSON,
    dockerdStale: false,
    otherLocks: [],
    swap: { memTotal: 4 * 1024 ** 3, memLimit: null, swapTotal: 0, file: null, active: false, fstab: '', diskFree: 20 * 1024 ** 3 },
    autoUpgradeFiles: { [PERIODIC_FILE]: null, [POLICY_FILE]: null },
  };
}

const fresh = (f: BootstrapFact) => {
  f.user = { exists: false, home: '', groups: [] };
  f.authorizedKeys = null;
  f.sudoers = null;
  f.sshdDropIn = null;
  f.installed = ['ca-certificates', 'curl', 'cron'];
  f.compose = 'none';
  f.missingTools = ['docker', 'compose', 'caddy', 'git'];
  f.services = { docker: 'stopped', caddy: 'stopped', cron: 'running' };
  f.sshd = { passwordauthentication: 'yes', kbdinteractiveauthentication: 'no', permitrootlogin: 'without-password', pubkeyauthentication: 'yes' };
};

const OLD_DROP_IN = '# Managed by hoist\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n';
const OTHERS = `# people who may log in\n${ALICE}\n\n${BACKUP}`; // no final newline

interface Case {
  name: string;
  settings?: Partial<Settings>;
  change?: (f: BootstrapFact, w: BootstrapWanted) => void;
  steps?: Kind[];
  reason?: RegExp;
  /** Paths of `files`, in order: only the files that change. */
  files?: string[];
  check?: (plan: BootstrapPlan, w: BootstrapWanted, f: BootstrapFact) => void;
}

const cases: Case[] = [
  {
    name: 'fresh host: every step, in order',
    change: fresh,
    steps: ['create-user', 'authorized-keys', 'sudoers', 'install-packages', 'docker-group', 'start-services', 'harden-sshd'],
    files: [KEYS_PATH, SUDOERS_PATH, SSHD_DROP_IN],
    check: (plan, w) => {
      assert.equal(step(plan, 'install-packages').packages, ['docker.io', 'caddy', 'git']);
      assert.is(step(plan, 'install-packages').compose, true);
      assert.match(step(plan, 'install-packages').describe, 'apt-get install docker.io, caddy, git, docker compose');
      assert.equal(step(plan, 'start-services').services, ['docker', 'caddy']);
      assert.is(step(plan, 'authorized-keys').content, `${OURS}\n`);
      assert.is(step(plan, 'sudoers').content, w.sudoers);
      assert.is(step(plan, 'harden-sshd').content, w.sshdDropIn);
      assert.equal(plan.changes && plan.files, [
        { path: KEYS_PATH, before: null, after: `${OURS}\n` },
        { path: SUDOERS_PATH, before: null, after: w.sudoers },
        { path: SSHD_DROP_IN, before: null, after: w.sshdDropIn },
      ] satisfies FileChange[]);
    },
  },
  {
    name: 'fresh host with FIREWALL=ufw and SSH on 2222: the firewall step too, before sshd',
    settings: { firewall: 'ufw', sshPort: 2222 },
    change: (f) => {
      fresh(f);
      f.firewall = 'absent';
      f.sshdPorts = [2222];
    },
    steps: ['create-user', 'authorized-keys', 'sudoers', 'install-packages', 'docker-group', 'start-services', 'firewall', 'harden-sshd'],
    files: [KEYS_PATH, SUDOERS_PATH, SSHD_DROP_IN],
    check: (plan) => {
      assert.equal(step(plan, 'install-packages').packages, ['docker.io', 'caddy', 'git', 'ufw']);
      assert.match(step(plan, 'firewall').describe, 'allow 2222/tcp (sshd), 80/tcp, 443/tcp');
    },
  },
  {
    name: 'FIREWALL=ufw with SSHD_OPTIONS "Port 2222": the port the hardening adds is allowed before ufw goes on',
    settings: { firewall: 'ufw', sshdOptions: ['Port 2222'] },
    change: (f) => {
      fresh(f);
      f.firewall = 'absent';
      f.sshdPorts = [22];
    },
    steps: ['create-user', 'authorized-keys', 'sudoers', 'install-packages', 'docker-group', 'start-services', 'firewall', 'harden-sshd'],
    files: [KEYS_PATH, SUDOERS_PATH, SSHD_DROP_IN],
    check: (plan) => {
      assert.equal(step(plan, 'firewall').sshPorts, [22, 2222]);
    },
  },
  {
    name: 'FIREWALL=ufw behind a port forward (SSH_PORT 2222 outside, sshd on 22 inside): ufw allows sshd\'s own port',
    settings: { firewall: 'ufw', sshPort: 2222 },
    change: (f) => (f.firewall = 'inactive'),
    steps: ['firewall'],
    files: [],
    check: (plan) => assert.equal(step(plan, 'firewall').sshPorts, [22]),
  },
  {
    name: 'FIREWALL=ufw, sshd -T unreadable: SSH_PORT',
    settings: { firewall: 'ufw', sshPort: 2222 },
    change: (f) => {
      f.firewall = 'inactive';
      f.sshdPorts = [];
    },
    steps: ['firewall'],
    files: [],
    check: (plan) => assert.equal(step(plan, 'firewall').sshPorts, [2222]),
  },
  { name: 'ready host: nothing to do, and why', reason: /^deploy ready, 6 packages installed, docker\/caddy\/cron running, sshd hardened; Docker logs rotated \(json-file max-size 10m, max-file 3\); no swapfile needed \(4.00 GiB of memory\)$/ },
  { name: 'ready host with compose v1: still ready', change: (f) => (f.compose = 'v1'), reason: /deploy ready/ },
  { name: 'ready host with FIREWALL=ufw active: ready, counting ufw', settings: { firewall: 'ufw' }, reason: /7 packages installed/ },
  {
    name: 'only the sshd drop-in differs (an older hoist wrote it): only harden-sshd',
    change: (f) => (f.sshdDropIn = OLD_DROP_IN),
    steps: ['harden-sshd'],
    files: [SSHD_DROP_IN],
    check: (plan, w) => {
      assert.is(step(plan, 'harden-sshd').content, w.sshdDropIn);
      assert.match(step(plan, 'harden-sshd').describe, /prove a new login as deploy/);
      assert.equal(plan.changes && plan.files, [{ path: SSHD_DROP_IN, before: OLD_DROP_IN, after: w.sshdDropIn }]);
    },
  },
  {
    name: 'SSHD_OPTIONS added since the last run: only harden-sshd, with the options',
    settings: { sshdOptions: ['MaxAuthTries 3'] },
    change: (f) => (f.sshdDropIn = sshdDropIn([])),
    steps: ['harden-sshd'],
    files: [SSHD_DROP_IN],
    check: (plan) => assert.match(step(plan, 'harden-sshd').content, /\nMaxAuthTries 3\n$/),
  },
  {
    name: 'an extra package missing: install only it, no compose',
    settings: { extraPackages: ['htop', 'tmux'] },
    change: (f) => (f.installed = f.installed.filter((p) => p !== 'htop')),
    steps: ['install-packages'],
    files: [],
    check: (plan) => {
      assert.equal(step(plan, 'install-packages').packages, ['htop']);
      assert.is(step(plan, 'install-packages').compose, false);
      assert.is(step(plan, 'install-packages').describe, 'apt-get install htop; check that docker, docker compose, caddy, git and crontab run');
      assert.is(step(plan, 'install-packages').dockerCli, false);
    },
  },
  {
    name: 'compose missing but every package present: install-packages with compose (and docker.io to pair it with)',
    change: (f) => (f.compose = 'none'),
    steps: ['install-packages'],
    files: [],
    check: (plan) => {
      assert.equal(step(plan, 'install-packages').packages, ['docker.io']);
      assert.is(step(plan, 'install-packages').compose, true);
      assert.is(step(plan, 'install-packages').describe, 'apt-get install docker compose; check that docker, docker compose, caddy, git and crontab run');
    },
  },
  {
    // The first hoist run on Debian 13 met exactly this: docker.io installed, its docker-cli only
    // recommended and left out, so `docker` is not found and the compose plugin cannot run.
    name: 'Debian 13: every package installed but no docker CLI (and so no compose): install the CLI docker.io names, then check',
    change: (f) => {
      f.os = 'debian 13';
      f.missingTools = ['docker', 'compose'];
      f.compose = 'none';
    },
    steps: ['install-packages'],
    files: [],
    check: (plan) => {
      const s = step(plan, 'install-packages');
      assert.equal(s.packages, ['docker.io']);
      assert.is(s.dockerCli, true);
      assert.is(s.compose, true);
      assert.is(s.os, 'debian 13');
      assert.is(s.describe, 'apt-get install the docker CLI, docker compose; check that docker, docker compose, caddy, git and crontab run');
    },
  },
  {
    name: 'a tool missing whose package is installed (git removed by hand): an install step that checks it',
    change: (f) => (f.missingTools = ['git']),
    steps: ['install-packages'],
    files: [],
    check: (plan) => {
      assert.is(step(plan, 'install-packages').dockerCli, false);
      assert.match(step(plan, 'install-packages').describe, /^apt-get install git; check/);
    },
  },
  {
    name: 'services stopped (and one the probe did not report): start just those, in order',
    change: (f) => (f.services = { docker: 'running', caddy: 'stopped' }),
    steps: ['start-services'],
    files: [],
    check: (plan) => {
      assert.equal(step(plan, 'start-services').services, ['caddy', 'cron']);
      assert.is(step(plan, 'start-services').describe, 'start and enable caddy, cron');
    },
  },
  {
    name: 'FIREWALL=ufw wanted, ufw installed but inactive: only the firewall step',
    settings: { firewall: 'ufw' },
    change: (f) => (f.firewall = 'inactive'),
    steps: ['firewall'],
    files: [],
    check: (plan) => assert.is(step(plan, 'firewall').describe, 'ufw: allow 22/tcp (sshd), 80/tcp, 443/tcp; deny the rest; enable'),
  },
  {
    name: 'FIREWALL=ufw wanted, ufw not installed: install it, then the firewall step',
    settings: { firewall: 'ufw' },
    change: (f) => {
      f.installed = f.installed.filter((p) => p !== 'ufw');
      f.firewall = 'absent';
    },
    steps: ['install-packages', 'firewall'],
    files: [],
    check: (plan) => assert.equal(step(plan, 'install-packages').packages, ['ufw']),
  },
  {
    name: 'FIREWALL=none and ufw inactive on the host: left alone',
    change: (f) => (f.firewall = 'inactive'),
    reason: /deploy ready/,
  },
  {
    name: 'authorized_keys with other people\'s keys: kept byte for byte, ours added once',
    change: (f) => (f.authorizedKeys = OTHERS),
    steps: ['authorized-keys'],
    files: [KEYS_PATH],
    check: (plan) => {
      const content = step(plan, 'authorized-keys').content;
      assert.is(content, `${OTHERS}\n${OURS}\n`);
      assert.ok(content.startsWith(OTHERS));
      assert.is(content.split(OURS_MATERIAL).length - 1, 1);
      assert.match(step(plan, 'authorized-keys').describe, `add 1 key(s) to ${KEYS_PATH}`);
      assert.equal(plan.changes && plan.files, [{ path: KEYS_PATH, before: OTHERS, after: `${OTHERS}\n${OURS}\n` }]);
    },
  },
  {
    name: 'our key already there with another comment, among others: ready',
    change: (f) => (f.authorizedKeys = `${ALICE}\n${OURS_MATERIAL} operator@laptop\n${BACKUP}\n`),
    reason: /deploy ready/,
  },
  {
    name: 'a home folder elsewhere: the keys file is planned there',
    change: (f) => {
      f.user.home = '/srv/deploy';
      f.authorizedKeys = null;
    },
    steps: ['authorized-keys'],
    files: ['/srv/deploy/.ssh/authorized_keys'],
  },
  {
    name: 'sudoers rule edited by hand: put back',
    change: (f) => (f.sudoers = 'deploy ALL=(ALL) ALL\n'),
    steps: ['sudoers'],
    files: [SUDOERS_PATH],
    check: (plan) => assert.match(step(plan, 'sudoers').describe, `install ${SUDOERS_PATH} (checked with visudo -cf)`),
  },
  {
    name: 'deploy user not in the docker group: only docker-group',
    change: (f) => (f.user.groups = ['deploy', 'sudo']),
    steps: ['docker-group'],
    files: [],
  },
];

test('plan: drop-in in place but sshd -T shows passwords still allowed (a file read before ours): refused, naming the settings', () => {
  const w = wantFor();
  const f = readyFact(w);
  f.sshd = { ...HARDENED, passwordauthentication: 'yes', permitrootlogin: 'yes' };
  assert.throws(() => sshBootstrap.plan(w, f), (e: unknown) => e instanceof BootstrapError && /passwordauthentication yes, permitrootlogin yes/.test((e as Error).message));
});

test('plan: sshd -T printing nothing (no /run/sshd) is not taken for "not hardened"', () => {
  const w = wantFor();
  const f = readyFact(w);
  f.sshd = {};
  assert.is(sshBootstrap.plan(w, f).changes, false);
});

for (const c of cases) {
  test(`plan: ${c.name}`, () => {
    const w = wantFor(c.settings);
    const f = readyFact(w);
    c.change?.(f, w);
    const before = structuredClone(f);
    const plan = sshBootstrap.plan(w, f);
    assert.equal(f, before, 'plan must not modify the fact');
    if (c.reason) {
      assert.is(plan.changes, false, plan.changes ? `unexpected steps: ${plan.steps.map((s) => s.kind).join(', ')}` : '');
      if (!plan.changes) assert.match(plan.reason, c.reason);
    }
    if (c.steps) {
      assert.ok(plan.changes, 'expected steps, got a no-op');
      if (!plan.changes) return;
      assert.equal(plan.steps.map((s) => s.kind), c.steps);
      for (const s of plan.steps) assert.ok(s.describe.length > 0);
    }
    if (c.files) {
      assert.ok(plan.changes);
      if (!plan.changes) return;
      const files = plan.files ?? [];
      assert.equal(files.map((x) => x.path), c.files);
      for (const file of files) assert.is.not(file.before, file.after, `${file.path} listed but unchanged`);
    }
    c.check?.(plan, w, f);
  });
}

test('plan: an unsupported system is refused with a BootstrapError naming it', () => {
  const w = wantFor();
  for (const os of ['centos 9', 'fedora 40', 'alpine 3.19.1', 'arch ', 'debianish 12', ' ', 'debian 11', 'debian 14', 'ubuntu 20.04', 'debian 13.1']) {
    const f = readyFact(w);
    f.os = os;
    const e = thrown(() => sshBootstrap.plan(w, f));
    assert.instance(e, BootstrapError, os);
    assert.ok(e.message.includes(`"${os}"`), `${os}: ${e.message}`);
    assert.match(e.message, /hoist bootstraps Debian 12 and Debian 13 \(tested on real hosts\) and Ubuntu 22\.04 and Ubuntu 24\.04 \(accepted, but no test host runs them\)/);
  }
});

test('plan: the supported systems are accepted', () => {
  const w = wantFor();
  for (const os of ['debian 12', 'debian 13', 'ubuntu 22.04', 'ubuntu 24.04']) {
    const f = readyFact(w);
    f.os = os;
    assert.is(sshBootstrap.plan(w, f).changes, false, os);
  }
});

test('plan: Ubuntu is accepted with a note that no test host runs it (24.04: its ssh.socket reload reasoned, not run); Debian without one', () => {
  const w = wantFor();
  const planFor = (os: string, ready: boolean) => {
    const f = ready ? readyFact(w) : parseBootstrapFact(ok(FRESH_DEBIAN_12));
    f.os = os;
    return sshBootstrap.plan(w, f);
  };
  for (const os of ['ubuntu 22.04', 'ubuntu 24.04']) {
    const name = os === 'ubuntu 22.04' ? 'Ubuntu 22.04' : 'Ubuntu 24.04';
    const unchanged = planFor(os, true);
    assert.ok(!unchanged.changes && unchanged.reason.includes(`Note: ${name} is accepted, but no test host runs it (Ubuntu's archive cannot be reached from hoist's test machines)`), JSON.stringify(unchanged));
    const fresh = planFor(os, false);
    assert.ok(fresh.changes && fresh.steps[0]!.describe.includes(`(note: ${name} is accepted, but no test host runs it`), JSON.stringify(fresh));
    assert.is(JSON.stringify(fresh).includes('ssh.socket'), os === 'ubuntu 24.04', os);
  }
  for (const os of ['debian 12', 'debian 13']) {
    const plan = planFor(os, false);
    assert.ok(plan.changes && !JSON.stringify(plan).includes('no test host'), os);
    const unchanged = planFor(os, true);
    assert.ok(!unchanged.changes && !unchanged.reason.includes('Note'), os);
  }
});

test('plan: Debian/Ubuntu releases outside the supported ones are refused too', () => {
  const w = wantFor();
  for (const os of ['debian 10', 'debian 11', 'ubuntu 18.04', 'ubuntu 20.04']) {
    const f = readyFact(w);
    f.os = os;
    const e = thrown(() => sshBootstrap.plan(w, f));
    assert.instance(e, BootstrapError, os);
    assert.ok(e.message.includes(`"${os}"`), e.message);
  }
});

test('plan: sshd_config without the Include is refused, explaining the fix', () => {
  const w = wantFor();
  const f = readyFact(w);
  f.sshdIncludesDropIns = false;
  const e = thrown(() => sshBootstrap.plan(w, f));
  assert.instance(e, BootstrapError);
  assert.match(e.message, /does not include sshd_config\.d\/\*\.conf/);
  assert.ok(e.message.includes('add "Include /etc/ssh/sshd_config.d/*.conf" at its top'), e.message);
  // Refused even on a fresh host: nothing is planned that would be half-useful.
  fresh(f);
  assert.instance(thrown(() => sshBootstrap.plan(w, f)), BootstrapError);
});

test.run();
