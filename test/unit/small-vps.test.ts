// A small VPS's health as data (issue #19 item 4): daemon.json merged, the swap decision, the
// bootstrap plan's steps and diff for them, published ports refused, "out of memory" told from a
// build's output, the build's memory bound. No host involved (test/e2e/vps-small.test.ts runs them).
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DaemonJsonError, mergeDaemonJson, parseOtherLocks, restartDockerUnlessLocked, installDaemonJson } from '../../tasks/ssh-bootstrap/docker-logs.ts';
import { ensureSwapCommand, planSwap, swapProbe, type SwapFact } from '../../tasks/ssh-bootstrap/swap.ts';
import { checkPublishedPorts, publishedPorts } from '../../tasks/docker-up/published-ports.ts';
import { buildOutOfMemory, oomKilledServices } from '../../tasks/docker-up/out-of-memory.ts';
import { slotCommands } from '../../tasks/docker-up/commands.ts';
import { readComposeConfig } from '../../tasks/docker-up/volumes.ts';
import { sshBootstrap, BootstrapError, type BootstrapWanted } from '../../tasks/ssh-bootstrap.ts';
import { parseBootstrapFact, type BootstrapFact } from '../../tasks/ssh-bootstrap/probe.ts';
import { PERIODIC_FILE, POLICY_FILE, POLICY_CONTENT } from '../../tasks/ssh-bootstrap/auto-upgrades.ts';
import { installedWatchdogFact } from '../../tasks/ssh-bootstrap/watchdog.ts';
import { sshdDropIn, sudoersContent } from '../../tasks/ssh-bootstrap/files.ts';
import type { Settings } from '../../lib/config/settings.ts';
import { testHost } from '../harness/settings.ts';

const GiB = 1024 ** 3;
const LOGS = { maxSize: '10m', maxFile: 3 };
const syntaxOk = (line: string) => spawnSync('/bin/sh', ['-n', '-c', line], { encoding: 'utf8' }).status === 0;

// ----------------------------------------------------------------------------------- daemon.json

test('daemon.json: none yet gets the log options; a user file keeps every key and its order; ours again is the same', () => {
  const none = mergeDaemonJson(null, LOGS);
  assert.equal(none, { kind: 'write', content: '{\n  "log-opts": {\n    "max-size": "10m",\n    "max-file": "3"\n  }\n}\n' });
  const user = '{"dns": ["1.1.1.1"], "log-opts": {"labels": "app"}, "data-root": "/srv/docker"}';
  const merged = mergeDaemonJson(user, LOGS);
  assert.is(merged.kind, 'write');
  const doc = JSON.parse((merged as { content: string }).content);
  assert.equal(Object.keys(doc), ['dns', 'log-opts', 'data-root']);
  assert.equal(doc, { dns: ['1.1.1.1'], 'log-opts': { labels: 'app', 'max-size': '10m', 'max-file': '3' }, 'data-root': '/srv/docker' });
  assert.equal(mergeDaemonJson((merged as { content: string }).content, LOGS), { kind: 'same' });
  // A user's own max-file as a number (dockerd wants strings) is rewritten; another size replaces ours.
  assert.is(mergeDaemonJson('{"log-opts": {"max-size": "10m", "max-file": 3}}', LOGS).kind, 'write');
  assert.is(mergeDaemonJson('{"log-opts": {"max-size": "10m", "max-file": "3"}}', { maxSize: '20m', maxFile: 3 }).kind, 'write');
  // An empty file is no file.
  assert.is(mergeDaemonJson('', LOGS).kind, 'write');
});

test('daemon.json: another log driver is the user\'s choice (left alone); local takes the same options', () => {
  assert.equal(mergeDaemonJson('{"log-driver": "journald"}', LOGS), { kind: 'other-driver', driver: 'journald' });
  assert.is(mergeDaemonJson('{"log-driver": "local"}', LOGS).kind, 'write');
});

test('daemon.json: not JSON, or not an object, is refused with the fix (never overwritten)', () => {
  assert.throws(() => mergeDaemonJson('{"dns": ["1.1.1.1",]}', LOGS), (e: Error) => e instanceof DaemonJsonError && /is not valid JSON/.test(e.message) && /DOCKER_LOG_MAX_SIZE=off/.test(e.message));
  assert.throws(() => mergeDaemonJson('[1]', LOGS), (e: Error) => e instanceof DaemonJsonError && /not an object/.test(e.message));
});

test('daemon.json: installed only once dockerd --validate accepts it (where dockerd has it); restart waits for other locks', () => {
  const install = installDaemonJson('/etc/docker/daemon.json.hoist-new').line;
  assert.ok(syntaxOk(install), install);
  assert.match(install, /dockerd --validate --config-file \/etc\/docker\/daemon\.json\.hoist-new/);
  assert.ok(install.indexOf('--validate') < install.indexOf('mv -f'));
  const restart = restartDockerUnlessLocked().line;
  assert.ok(syntaxOk(restart), restart);
  assert.ok(restart.indexOf('echo postponed') < restart.indexOf('systemctl restart docker'), 'the lock check comes first');
  assert.equal(parseOtherLocks('x\nlock /home/other/.hoist/lock {"run":"r1"}\n'), [{ path: '/home/other/.hoist/lock', record: '{"run":"r1"}' }]);
});

// ----------------------------------------------------------------------------------------- swap

const swapFact = (over: Partial<SwapFact> = {}): SwapFact => ({ memTotal: 24 * GiB, memLimit: null, swapTotal: 0, file: null, active: false, fstab: 'UUID=1 / ext4 defaults 0 1\n', diskFree: 20 * GiB, ...over });

test('swap, automatic: a swapfile only under 2 GiB of memory (a cgroup bound counts) with no swap at all', () => {
  assert.equal(planSwap('auto', swapFact()), { kind: 'none', why: 'no swapfile needed (24.0 GiB of memory)' });
  const small = planSwap('auto', swapFact({ memTotal: 24 * GiB, memLimit: 1.5 * GiB }));
  assert.equal(small, { kind: 'ensure', size: 2 * GiB, recreate: true, fstab: 'UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n', chmod: false, why: '1.50 GiB of memory and no swap' });
  assert.equal(planSwap('auto', swapFact({ memTotal: GiB, swapTotal: 512 * 1024 ** 2 })), { kind: 'none', why: 'swap already there (512 MiB)' });
  assert.is((planSwap('auto', swapFact({ memTotal: GiB, diskFree: 3 * GiB })) as { size: number }).size, GiB, 'a short disk gets 1 GiB');
  assert.is(planSwap('auto', swapFact({ memTotal: GiB, diskFree: GiB })).kind, 'none');
  // Made before (on or refused by the kernel): kept, nothing to do.
  const made = swapFact({ memTotal: GiB, file: { size: 2 * GiB, mode: '600' }, fstab: '/swapfile none swap sw 0 0\n', swapTotal: 2 * GiB, active: true });
  assert.equal(planSwap('auto', made), { kind: 'none', why: '/swapfile (2.00 GiB) in fstab' });
  assert.equal(planSwap('auto', { ...made, active: false, swapTotal: 0 }), { kind: 'none', why: '/swapfile (2.00 GiB) in fstab, not active (swapon was refused)' });
});

test('swap, SWAP_SIZE: that size, a different one replaced, mode and fstab put right; off touches nothing', () => {
  assert.equal(planSwap('off', swapFact({ memTotal: GiB })), { kind: 'none', why: 'swap left alone (SWAP_SIZE=off)' });
  const p = planSwap(GiB, swapFact());
  assert.equal(p.kind === 'ensure' && [p.size, p.recreate, p.fstab !== null], [GiB, true, true]);
  const resized = planSwap(GiB, swapFact({ file: { size: 2 * GiB, mode: '600' }, fstab: '/swapfile none swap sw 0 0\n' }));
  assert.equal(resized.kind === 'ensure' && [resized.recreate, resized.fstab], [true, null]);
  const loose = planSwap(GiB, swapFact({ file: { size: GiB, mode: '644' }, fstab: '/swapfile none swap sw 0 0\n' }));
  assert.equal(loose.kind === 'ensure' && [loose.recreate, loose.chmod], [false, true]);
  assert.is(planSwap(GiB, swapFact({ file: { size: GiB, mode: '600' }, fstab: '/swapfile none swap sw 0 0' })).kind, 'none');
  assert.match((planSwap(8 * GiB, swapFact({ diskFree: 4 * GiB })) as { why: string }).why, /^no swapfile of 8\.00 GiB: only 4\.00 GiB free/);
});

test('swap: the commands are valid sh; the file is made aside, mode 600, then moved; the fstab line added once', () => {
  const p = planSwap('auto', swapFact({ memTotal: GiB }));
  if (p.kind !== 'ensure') throw new Error('expected a swapfile');
  const line = ensureSwapCommand(p).line;
  assert.ok(syntaxOk(line), line);
  assert.ok(line.indexOf('mkswap /swapfile.hoist-new') < line.indexOf('mv -f /swapfile.hoist-new /swapfile'));
  assert.match(line, /umask 077; fallocate -l 2147483648 \/swapfile\.hoist-new/);
  assert.match(line, /grep -Eq '\^\[\[:space:\]\]\*\/swapfile\[\[:space:\]\]' \/etc\/fstab/);
  assert.ok(syntaxOk(swapProbe().line));
});

// ------------------------------------------------------------------- the bootstrap plan and diff

function wantFor(settings: Partial<Settings> = {}): BootstrapWanted {
  return sshBootstrap.want({ host: testHost(settings), loginUser: 'deploy' }) as BootstrapWanted;
}

const OURS_JSON = '{\n  "log-opts": {\n    "max-size": "10m",\n    "max-file": "3"\n  }\n}\n';

function readyFact(w: BootstrapWanted): BootstrapFact {
  return {
    os: 'debian 13',
    user: { exists: true, home: `/home/${w.user}`, groups: [w.user, 'docker'] },
    authorizedKeys: w.keys.map((k) => `${k}\n`).join(''),
    sudoers: sudoersContent(w.user),
    sshdDropIn: sshdDropIn([]),
    installed: [...w.packages],
    compose: 'v2',
    missingTools: [],
    services: { docker: 'running', caddy: 'running', cron: 'running' },
    sshdIncludesDropIns: true,
    sshd: { passwordauthentication: 'no', kbdinteractiveauthentication: 'no', permitrootlogin: 'no', pubkeyauthentication: 'yes' },
    firewall: 'absent',
    sshdPorts: [22],
    watchdog: installedWatchdogFact(w.watchdog, false),
    daemonJson: OURS_JSON,
    dockerdStale: false,
    otherLocks: [],
    swap: swapFact(),
    autoUpgradeFiles: { [PERIODIC_FILE]: null, [POLICY_FILE]: null },
  };
}

const kinds = (p: ReturnType<typeof sshBootstrap.plan>) => (p.changes ? p.steps.map((s) => s.kind) : []);

test('bootstrap plan: a user daemon.json gets a docker-logs step with a restart, and its diff', () => {
  const w = wantFor();
  const f = { ...readyFact(w), daemonJson: '{"dns": ["1.1.1.1"]}\n' };
  const p = sshBootstrap.plan(w, f);
  assert.equal(kinds(p), ['docker-logs']);
  const step = p.changes ? (p.steps[0] as { content: string | null; restart: boolean; describe: string }) : null;
  assert.is(step!.restart, true);
  assert.match(step!.describe, /restart dockerd .*each app's next release/);
  assert.equal(p.changes && p.files, [{ path: '/etc/docker/daemon.json', before: '{"dns": ["1.1.1.1"]}\n', after: step!.content }]);
});

test('bootstrap plan: a change dockerd has not read is restarted, unless another run holds a lock (then said, no step)', () => {
  const w = wantFor();
  assert.equal(kinds(sshBootstrap.plan(w, { ...readyFact(w), dockerdStale: true })), ['docker-logs']);
  const locked = { ...readyFact(w), dockerdStale: true, otherLocks: [{ path: '/home/other/.hoist/lock', record: '{"run":"r1"}' }] };
  const p = sshBootstrap.plan(w, locked);
  assert.is(p.changes, false);
  assert.match(!p.changes ? p.reason : '', /dockerd has not read \/etc\/docker\/daemon\.json yet and is not restarted: another hoist run holds \/home\/other\/\.hoist\/lock/);
  // A new size under a held lock: written, not restarted.
  const writeOnly = sshBootstrap.plan(wantFor({ dockerLog: { maxSize: '20m', maxFile: 3 } }), { ...locked, dockerdStale: false });
  const step = writeOnly.changes ? (writeOnly.steps[0] as { kind: string; restart: boolean; describe: string }) : null;
  assert.equal([step?.kind, step?.restart], ['docker-logs', false]);
  assert.match(step!.describe, /dockerd NOT restarted/);
});

test('bootstrap plan: DOCKER_LOG_MAX_SIZE=off leaves daemon.json alone; a broken one is refused only when hoist would merge', () => {
  const off = wantFor({ dockerLog: null });
  assert.is(sshBootstrap.plan(off, { ...readyFact(off), daemonJson: '{broken' }).changes, false);
  const w = wantFor();
  assert.throws(() => sshBootstrap.plan(w, { ...readyFact(w), daemonJson: '{broken' }), (e: Error) => e instanceof BootstrapError && /not valid JSON/.test(e.message));
});

test('bootstrap plan: swap by memory, with the fstab diff; AUTO_UPGRADES=security: package and both files, then nothing', () => {
  const w = wantFor();
  const small = { ...readyFact(w), swap: swapFact({ memLimit: GiB }) };
  const p = sshBootstrap.plan(w, small);
  assert.equal(kinds(p), ['swap']);
  assert.equal(p.changes && p.files?.map((f) => f.path), ['/etc/fstab']);

  const sec = wantFor({ autoUpgrades: 'security' });
  assert.ok(sec.packages.includes('unattended-upgrades'));
  const fresh = sshBootstrap.plan(sec, readyFact(sec));
  assert.equal(kinds(fresh), ['auto-upgrades']);
  assert.equal(fresh.changes && fresh.files?.map((f) => f.path), [PERIODIC_FILE, POLICY_FILE]);
  assert.match(POLICY_CONTENT, /Unattended-Upgrade::Automatic-Reboot "false";/);
  assert.match(POLICY_CONTENT, /#clear Unattended-Upgrade::Origins-Pattern;/);
  const done = { ...readyFact(sec), autoUpgradeFiles: Object.fromEntries(fresh.changes ? fresh.files!.map((f) => [f.path, f.after]) : []) };
  assert.is(sshBootstrap.plan(sec, done).changes, false);
  // off: an existing setup is not touched (no step even if the files differ from hoist's).
  const off = wantFor({ autoUpgrades: 'off' });
  assert.ok(!off.packages.includes('unattended-upgrades'));
  assert.is(sshBootstrap.plan(off, { ...readyFact(off), autoUpgradeFiles: { [PERIODIC_FILE]: 'theirs', [POLICY_FILE]: null } }).changes, false);
});

test('bootstrap probe: parses the health lines (sizes in KiB, the tightest cgroup bound, other locks)', () => {
  const f = parseBootstrapFact({
    code: 0,
    stderr: '',
    stdout: ['os=debian 13', `file:daemon_json=${Buffer.from('{}').toString('base64')}`, 'dockerd_stale=yes', 'lock /home/o/.hoist/lock {"run":"x"}', 'mem_total_kb=25165824', 'swap_total_kb=0', 'mem_limit=1610612736', 'swapfile=2147483648 600', 'swap_active=no', `file:fstab=${Buffer.from('/swapfile none swap sw 0 0\n').toString('base64')}`, 'disk_free_kb=1048576', 'file:auto_upgrades_1=-', ''].join('\n'),
  });
  assert.is(f.daemonJson, '{}');
  assert.is(f.dockerdStale, true);
  assert.equal(f.otherLocks, [{ path: '/home/o/.hoist/lock', record: '{"run":"x"}' }]);
  assert.equal(f.swap, { memTotal: 24 * GiB, memLimit: 1.5 * GiB, swapTotal: 0, file: { size: 2 * GiB, mode: '600' }, active: false, fstab: '/swapfile none swap sw 0 0\n', diskFree: GiB });
  const probe = sshBootstrap.probe(wantFor(), { host: testHost(), loginUser: 'deploy' }) as { command: { line: string } };
  assert.ok(syntaxOk(probe.command.line));
});

// ------------------------------------------------------------------------------- published ports

const releaseOf = (services: Record<string, unknown>) => readComposeConfig({ services }, 'app-blue', '/home/deploy/apps/app/releases/r1');

test('ports: compose v2 long form and v1 short form, with or without an address', () => {
  assert.equal(publishedPorts(['5432:5432', '8000', '127.0.0.1:6379:6379', '[::1]:8080:80', '0.0.0.0:9000:9000/udp', '[::]:53:53']), [
    { hostIp: '', published: '5432', target: '5432' },
    { hostIp: '', published: '', target: '8000' },
    { hostIp: '127.0.0.1', published: '6379', target: '6379' },
    { hostIp: '::1', published: '8080', target: '80' },
    { hostIp: '0.0.0.0', published: '9000', target: '9000' },
    { hostIp: '::', published: '53', target: '53' },
  ]);
  assert.equal(publishedPorts([{ mode: 'ingress', target: 5432, published: '5432', protocol: 'tcp' }, { target: 8000 }, { host_ip: '127.0.0.1', target: 80, published: 8080 }]), [
    { hostIp: '', published: '5432', target: '5432' },
    { hostIp: '', published: '', target: '8000' },
    { hostIp: '127.0.0.1', published: '8080', target: '80' },
  ]);
});

test('ports: every address refused with the fix (APP_SERVICE: hoist publishes it already); loopback and marked public pass', () => {
  const db = releaseOf({ web: {}, db: { image: 'postgres:16', ports: [{ target: 5432, published: '5432' }] } });
  assert.throws(
    () => checkPublishedPorts(db.services, 'web'),
    (e: Error) => e.message.startsWith('service db publishes 5432:5432 on every address of the host: Docker opens it past the firewall') && e.message.includes('Fix: publish it on loopback only ("127.0.0.1:5432:5432") and run it once per app (`x-hoist: {stateful: true}`: the blue/green pair cannot share a fixed port)') && e.message.includes('`x-hoist: {public: true, stateful: true}` under services.db'),
  );
  // Already run once: loopback is the whole fix, and public the whole mark.
  const once = releaseOf({ web: {}, db: { image: 'postgres:16', ports: ['5432:5432'], 'x-hoist': { stateful: true } } });
  assert.throws(
    () => checkPublishedPorts(once.services, 'web'),
    (e: Error) => e.message.includes('Fix: publish it on loopback only ("127.0.0.1:5432:5432"), or not at all') && e.message.includes('`x-hoist: {public: true}` under services.db'),
  );
  for (const spec of ['8000', '0.0.0.0:8000:8000', '[::]:8000:8000', { target: 8000 }]) {
    assert.throws(() => checkPublishedPorts(releaseOf({ web: { ports: [spec] } }).services, 'web'), /Fix: remove its ports: hoist already publishes web on 127\.0\.0\.1/, JSON.stringify(spec));
  }
  assert.equal(checkPublishedPorts(releaseOf({ web: {}, db: { ports: ['127.0.0.1:5432:5432', { host_ip: '::1', target: 5432, published: '5433' }] } }).services, 'web'), []);
  const marked = checkPublishedPorts(releaseOf({ web: {}, mqtt: { ports: ['1883:1883'], 'x-hoist': { public: true } } }).services, 'web');
  assert.equal(marked, ["service mqtt publishes 1883:1883 on every address of the host (x-hoist: {public: true}): Docker's rules let it past the firewall"]);
});

// ---------------------------------------------------------------------------------- out of memory

test('out of memory: exit 137 of BuildKit, the classic builder or compose v1 is said in words with the fix; other failures are not', () => {
  const outputs = [
    ' > [2/3] RUN python -c "x"*10**10:\nERROR: failed to solve: process "/bin/sh -c python train.py" did not complete successfully: exit code: 137',
    "The command '/bin/sh -c pip install torch' returned a non-zero code: 137",
    'ERROR: Service \'web\' failed to build: The command \'/bin/sh -c make\' returned a non-zero code: 137',
  ];
  for (const out of outputs) {
    const e = buildOutOfMemory({ stdout: '', stderr: out }, 'r2', undefined);
    assert.ok(e, out);
    assert.match(e!.message, /^building r2 ran out of memory: the kernel killed a build step \(/);
    assert.match(e!.message, /Fix: give the host swap \(SWAP_SIZE=2G.*or bound the build with BUILD_MEMORY/);
  }
  assert.match(buildOutOfMemory({ stdout: '', stderr: outputs[1]! }, 'r2', 32 * 1024 ** 2)!.message, /BUILD_MEMORY bounds each build step to 32\.0 MiB.*or a larger BUILD_MEMORY \(now 32\.0 MiB\)/);
  assert.is(buildOutOfMemory({ stdout: '', stderr: "The command '/bin/sh -c false' returned a non-zero code: 1" }, 'r2', undefined), null);
  assert.is(buildOutOfMemory({ stdout: '', stderr: 'exit code: 1370' }, 'r2', undefined), null);
  assert.equal(oomKilledServices('web true 137\nworker false 0\nside false 137\n'), ['web', 'side']);
});

test('BUILD_MEMORY: compose v1 builds with --memory; v2 too, with the classic builder (BuildKit ignores it); none: as before', () => {
  const c = { app: 'app', slot: 'blue' as const, release: 'r1', composeFile: null };
  const v1 = slotCommands({ ...c, compose: 'v1', buildMemory: 768 * 1024 ** 2 }).up.line;
  assert.match(v1, / build --force-rm --memory 768m\)/);
  const v2 = slotCommands({ ...c, compose: 'v2', buildMemory: GiB }).up.line;
  assert.match(v2, /^\(export DOCKER_BUILDKIT=0; cd && .* build --memory 1024m\) && \(.* up -d --no-build --remove-orphans\)$/);
  assert.ok(syntaxOk(v2));
  assert.match(slotCommands({ ...c, compose: 'v2' }).up.line, / up -d --build --remove-orphans$/);
});

test.run();
