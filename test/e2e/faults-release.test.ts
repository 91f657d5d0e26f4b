// Issue #6, the release's faults on a real host: the SSH connection cut in the middle of each
// task's apply (git-sync, docker-up, caddy-reload, release-switch, cron-install), a release
// directory with no room left, and the operator's machine vanishing after `current` switched.
// Each fault: the run is retried (retrySafe tasks: `changed`, attempts > 1) or rolled back (the
// host exactly as before, the live release answering through Caddy the whole time); then a run
// without the fault converges, and a third run changes nothing.
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { clientLoop } from '../harness/client-loops.ts';
import { cutSession, sshSessions, watchFor, type ProcessMatch, type WatchOptions } from '../harness/faults.ts';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { assertNothingChanged, runTwice } from '../harness/run-twice.ts';
import type { PipelineRun as Run, TestHost } from '../harness/testbed.ts';

const test = suite('faults during a release');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'app.hoist.test';
const APP = '/home/deploy/apps/app';
let git: GitServer;
let host: TestHost;
const timings: string[] = [];

const appFiles = (version: string, extra: Record<string, string> = {}) => ({
  'Dockerfile': 'FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n',
  '.dockerignore': 'assets\n',
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': `${version}\n`,
  'deploy/crontab': `# jobs of the app\n*/10 * * * * cd ~/apps/app/current && cat index.html >/dev/null # ${version}\n`,
  ...extra,
});

test.before(async () => {
  ({ git, host } = await bed.start({ domain: DOMAIN, token: TOKEN }));
  await git.commit('app', appFiles('v1'), 'v1');
  bed.env({
    APP_ENV_FILE: tb.file('app.env', 'GREETING=hello\n'),
    APP_CRONTAB: 'deploy/crontab',
    HEALTH_TIMEOUT: '30',
  });
  const boot = await runTwice('bootstrap', () => run('bootstrap'));
  assert.is(boot.code, 0, boot.out);
  await loadAppBase(host.container);
  const v1 = await runTwice('release v1', () => run('release'));
  assert.is(v1.code, 0, v1.out);
  assert.is(await throughCaddy(), 'v1');
});

test.after(async () => {
  if (timings.length) console.log(`\n    ${timings.join('\n    ')}`);
  await bed.stop();
});

function run(pipeline: string, onSpawn?: (child: ChildProcess) => void): Promise<Run> {
  return tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN }, ...(onSpawn ? { onSpawn } : {}) });
}

/**
 * A release with the connection cut when `watch.pattern` runs; fails the test if it never ran.
 * Run once: the fault is made for this one run. Each test then runs the release again without
 * it, which converges (a retried fault: unchanged; a rolled-back one: changed, the new release
 * live), and a third time, which must change nothing (assertUnchanged).
 */
async function releaseWithCut(watch: Omit<WatchOptions, 'timeoutMs'>): Promise<Run & { match: ProcessMatch }> {
  const w = await watchFor(host, { timeoutMs: 240_000, ...watch });
  const r = await run('release');
  await w.stop();
  const match = await w.fired;
  assert.ok(match, `the fault never fired: nothing matched ${watch.pattern} (exit ${r.code})\n${r.out}`);
  return { ...r, match: match! };
}

const throughCaddy = async () => (await host.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`)).stdout.trim();
const statuses = (report: RunReport) => Object.fromEntries(report.hosts[0]!.tasks.map((t) => [t.task, t.status]));
const taskOf = (report: RunReport, name: string) => report.hosts[0]!.tasks.find((t) => t.task === name)!;

/**
 * Everything a release touches, except images: a failed release's image stays until the next
 * switch prunes it (release-switch), by design. Container ids are in: a live container that was
 * stopped and started again is a change.
 */
async function snapshot(): Promise<string> {
  const r = await host.sh(`cd ${APP} && {
echo "current $(readlink current)"; echo "pending $(cat pending-release 2>/dev/null)"; echo "active $(cat active-slot 2>/dev/null)"
ls -1A . | sed 's/^/app /'; ls -1A releases | sed 's/^/release /'; ls -1A shared | sed 's/^/shared /'
sha256sum shared/.env | sed 's/^/env /'
docker ps -a --format 'container {{.ID}} {{.Names}} {{.State}} {{.Label "hoist.release"}}' | sort
docker network ls --format 'network {{.Name}}' | sort
crontab -l -u deploy | sed 's/^/crontab /'
cat /etc/caddy/Caddyfile /etc/caddy/sites/hoist-app.caddy | sha256sum | sed 's/^/caddy /'
ls -1A /tmp | grep -v '^hoist-fault' | sed 's/^/tmp /'
}`);
  assert.is(r.code, 0, r.stderr);
  return r.stdout;
}

// A client asking Caddy 10 times a second (bounded: 4 minutes) while a faulted run goes on.
async function startClient(): Promise<void> {
  await host.sh(`rm -f /tmp/client.*; ${clientLoop({ domain: DOMAIN, log: '/tmp/client.log', stop: '/tmp/client.stop', seconds: 240 })}`);
  await new Promise((r) => setTimeout(r, 500));
}

/** Stops the client; every answer must have been one of `allowed` with 200. */
async function stopClient(allowed: string[]): Promise<Record<string, number>> {
  await host.sh('touch /tmp/client.stop; sleep 0.3');
  const lines = (await host.sh('cat /tmp/client.log; rm -f /tmp/client.*')).stdout.trim().split('\n');
  const counts: Record<string, number> = {};
  for (const l of lines) counts[l] = (counts[l] ?? 0) + 1;
  assert.ok(lines.length > 5, `the client ran (${lines.length} requests)`);
  const ok = new Set(allowed.map((v) => `${v} 200`));
  assert.ok(lines.every((l) => ok.has(l)), `every answer ${allowed.join(' or ')} with 200: ${JSON.stringify(counts)}`);
  return counts;
}

/** The third run of every fault: nothing to do anywhere. */
async function assertUnchanged(label: string): Promise<void> {
  const again = await run('release');
  assert.is(again.code, 0, again.out);
  assert.equal(Object.values(statuses(again.report)), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged'], `${label}: ${JSON.stringify(statuses(again.report))}`);
  assertNothingChanged(again.report, label);
}

/** SSH sessions still open once a run is over (sshd needs a moment to see a closed connection). */
async function sessionsAfterRun(): Promise<string[]> {
  let left = await sshSessions(host);
  for (let i = 0; left.length && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = await sshSessions(host);
  }
  return left;
}

const durations = (report: RunReport) => report.hosts[0]!.tasks.map((t) => `${t.task} ${t.durationMs} ms`).join(', ');

function note(line: string): void {
  timings.push(line);
}

test('git-sync: cut during git fetch, retried on a new connection; the release goes on', async () => {
  await git.commit('app', appFiles('v2'), 'v2');
  await startClient();
  const r = await releaseWithCut({ pattern: '^git --git-dir=apps/app/repo.git fetch ' });
  const counts = await stopClient(['v1', 'v2']);
  assert.is(r.code, 0, r.out);
  const sync = taskOf(r.report, 'git-sync');
  assert.is(sync.status, 'changed');
  assert.ok(sync.attempts > 1, `retried: ${JSON.stringify(sync)}`);
  assert.is(await throughCaddy(), 'v2');
  assert.equal(await sessionsAfterRun(), [], 'no session left open');
  note(`git-sync cut: exit ${r.code}, attempts ${sync.attempts}, ${durations(r.report)}, client ${JSON.stringify(counts)}`);
  const second = await run('release');
  assert.is(second.code, 0, second.out);
  assert.equal(Object.values(statuses(second.report)), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
  await assertUnchanged('git-sync, third run');
});

test('docker-up: cut during docker-compose up, rolled back; v2 keeps serving, the host as before', async () => {
  await git.commit('app', appFiles('v3'), 'v3');
  const before = await snapshot();
  await startClient();
  // compose v1 (Debian 12) is a Python script; v2 (Debian 13) the docker CLI's plugin, `docker compose`.
  const r = await releaseWithCut({ pattern: '(python3 [^ ]*docker-compose|^docker compose) -p app-(blue|green) .* up -d', pollMs: 50 });
  const counts = await stopClient(['v2']);
  assert.is(r.code, 1, r.out);
  assert.equal(statuses(r.report), { 'git-sync': 'rolled-back', 'docker-up': 'failed', 'caddy-reload': 'skipped', 'release-switch': 'skipped', 'cron-install': 'skipped' });
  assert.is(taskOf(r.report, 'docker-up').attempts, 1, 'not retrySafe: not retried');
  // The orphaned compose run may still be starting containers: give it time to show a trace.
  await new Promise((res) => setTimeout(res, 5000));
  assert.fixture(await snapshot(), before);
  assert.is(await throughCaddy(), 'v2');
  note(`docker-up cut: exit ${r.code}, ${JSON.stringify(statuses(r.report))}, client ${JSON.stringify(counts)}`);
  const second = await run('release');
  assert.is(second.code, 0, second.out);
  assert.is(await throughCaddy(), 'v3');
  assert.equal(Object.values(statuses(second.report)), ['changed', 'changed', 'changed', 'changed', 'changed']);
  await assertUnchanged('docker-up, third run');
});

test('caddy-reload: cut during caddy reload, retried; v4 goes live', async () => {
  await git.commit('app', appFiles('v4'), 'v4');
  // `caddy reload` can be over within the watcher's poll: a slow host (1 s before the real
  // reload) gives it a window, as for crontab below. Only the test host is changed, and put back.
  const shim = await host.sh(`printf '#!/bin/sh\\nif [ "$1" = reload ]; then sleep 1; fi\\nexec %s "$@"\\n' "$(command -v caddy)" >/usr/local/bin/caddy && chmod 755 /usr/local/bin/caddy`);
  assert.is(shim.code, 0, shim.stderr);
  await startClient();
  let r: Run & { match: ProcessMatch };
  try {
    r = await releaseWithCut({ pattern: '^/bin/sh /usr/local/bin/caddy reload ', pollMs: 50 });
  } finally {
    await host.sh('rm -f /usr/local/bin/caddy');
  }
  const counts = await stopClient(['v3', 'v4']);
  assert.is(r.code, 0, r.out);
  const caddy = taskOf(r.report, 'caddy-reload');
  assert.is(caddy.status, 'changed');
  assert.ok(caddy.attempts > 1, `retried: ${JSON.stringify(caddy)}`);
  assert.is(await throughCaddy(), 'v4');
  note(`caddy-reload cut: exit ${r.code}, attempts ${caddy.attempts}, client ${JSON.stringify(counts)}`);
  const second = await run('release');
  assert.equal(Object.values(statuses(second.report)), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
  await assertUnchanged('caddy-reload, third run');
});

/**
 * The drain ends at once when no request is in flight (tasks/release-switch/drain.ts): too short
 * for the watcher. An `ss` shim on the test host (first in the PATH) sleeps 2 s before the real
 * one, so each drain lasts at least that and runs `sleep 2` the watcher can find. Returns its removal.
 */
async function slowDrain(): Promise<() => Promise<void>> {
  const shim = await host.sh(`printf '#!/bin/sh\\nsleep 2\\nexec /usr/bin/ss "$@"\\n' >/usr/local/bin/ss && chmod 755 /usr/local/bin/ss`);
  assert.is(shim.code, 0, shim.stderr);
  return async () => void (await host.sh('rm -f /usr/local/bin/ss'));
}

test('release-switch: cut during the drain, rolled back; v4 keeps serving, the host as before', async () => {
  await git.commit('app', appFiles('v5'), 'v5');
  const before = await snapshot();
  const fast = await slowDrain();
  await startClient();
  // The drain (slowed: `sleep 2` in the ss shim) is under way before the old slot is stopped; the orphaned command goes on.
  const r = await releaseWithCut({ pattern: '^sleep 2$', pollMs: 50 }).finally(fast);
  // Past the orphan's drain: if it were to stop the old slot anyway, it has done so by now.
  await new Promise((res) => setTimeout(res, 4000));
  const counts = await stopClient(['v4', 'v5']);
  assert.is(r.code, 1, r.out);
  assert.equal(statuses(r.report), { 'git-sync': 'rolled-back', 'docker-up': 'rolled-back', 'caddy-reload': 'rolled-back', 'release-switch': 'failed', 'cron-install': 'skipped' });
  assert.is(taskOf(r.report, 'release-switch').attempts, 1, 'not retrySafe: not retried');
  assert.fixture(await snapshot(), before);
  assert.is(await throughCaddy(), 'v4');
  note(`release-switch cut: exit ${r.code}, ${JSON.stringify(statuses(r.report))}, client ${JSON.stringify(counts)}`);
  const second = await run('release');
  assert.is(second.code, 0, second.out);
  assert.is(await throughCaddy(), 'v5');
  await assertUnchanged('release-switch, third run');
});

test('cron-install: cut during crontab -, retried; the crontab is the release\'s', async () => {
  await git.commit('app', appFiles('v6'), 'v6');
  // `crontab -` takes a few ms: a slow host (a 1 s pause before the real crontab runs) gives the
  // watcher a window. Only the test host is changed, and put back after.
  const shim = await host.sh(`printf '#!/bin/sh\\nif [ "$1" = - ]; then sleep 1; fi\\nexec /usr/bin/crontab "$@"\\n' >/usr/local/bin/crontab && chmod 755 /usr/local/bin/crontab`);
  assert.is(shim.code, 0, shim.stderr);
  try {
    const r = await releaseWithCut({ pattern: '(^| )crontab -$', pollMs: 50 });
    assert.is(r.code, 0, r.out);
    const cron = taskOf(r.report, 'cron-install');
    assert.is(cron.status, 'changed');
    assert.ok(cron.attempts > 1, `retried: ${JSON.stringify(cron)}`);
    note(`cron-install cut: exit ${r.code}, attempts ${cron.attempts}`);
  } finally {
    await host.sh('rm -f /usr/local/bin/crontab');
  }
  const crontab = (await host.sh('crontab -l', 'deploy')).stdout;
  assert.match(crontab, /# BEGIN hoist:app[^\n]*\n# jobs of the app\n[^\n]* # v6\n# END hoist:app\n/, crontab);
  assert.is(await throughCaddy(), 'v6');
  const second = await run('release');
  assert.equal(Object.values(statuses(second.report)), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
  await assertUnchanged('cron-install, third run');
});

test('a full release directory: the release fails cleanly, v6 keeps serving; with room again it converges', async () => {
  // releases/ becomes a tmpfs holding what it holds now plus 256 KiB; v7 brings 2 MiB more.
  const mount = await host.sh(`set -e; cd ${APP}
used=$(du -sk releases | cut -f1)
mv releases releases.moving && mkdir releases
mount -t tmpfs -o size=$((used + 1024))k,mode=755,uid=$(id -u deploy),gid=$(id -g deploy) tmpfs releases
cp -a releases.moving/. releases/ && rm -rf releases.moving
mount -o remount,size=$(( $(du -sk releases | cut -f1) + 256 ))k releases
df -k releases | tail -1`);
  assert.is(mount.code, 0, mount.stderr);
  const blob = randomBytes(1536 * 1024).toString('base64');
  await git.commit('app', appFiles('v7', { 'assets/blob.txt': blob }), 'v7 with a 2 MiB asset');
  const before = await snapshot();
  await startClient();
  // Run once while the disk is full (the fault); with room again the next run converges, and a
  // third changes nothing.
  const r = await run('release');
  const counts = await stopClient(['v6']);
  assert.is(r.code, 1, r.out);
  assert.match(r.report.hosts[0]!.error ?? '', /No space left on device/);
  assert.equal(statuses(r.report), { 'git-sync': 'failed', 'docker-up': 'skipped', 'caddy-reload': 'skipped', 'release-switch': 'skipped', 'cron-install': 'skipped' });
  assert.fixture(await snapshot(), before);
  assert.is(await throughCaddy(), 'v6');
  note(`disk full: exit ${r.code}: …${(r.report.hosts[0]!.error ?? '').slice(-160)}; client ${JSON.stringify(counts)}`);

  const grow = await host.sh(`mount -o remount,size=512m ${APP}/releases`);
  assert.is(grow.code, 0, grow.stderr);
  const second = await run('release');
  assert.is(second.code, 0, second.out);
  assert.is(await throughCaddy(), 'v7');
  await assertUnchanged('disk full, third run');
});

test('the operator\'s hoist dies after current switched: the next run takes over its lock and stops the old release', async () => {
  await git.commit('app', appFiles('v8'), 'v8');
  // During the drain the hoist process is killed outright (no signal handler, no rollback) and
  // its session cut: current names v8 and the old slot has not been stopped.
  const fast = await slowDrain();
  const w = await watchFor(host, { pattern: '^sleep 2$', timeoutMs: 240_000, cut: false, pollMs: 50 });
  let child: ChildProcess | undefined;
  // Run once: this run is killed on purpose; the next one takes over and converges, a third
  // changes nothing.
  const running = run('release', (c) => (child = c)).catch((e: Error) => e);
  const match = await w.fired;
  assert.ok(match, 'the drain was seen');
  child!.kill('SIGKILL');
  await cutSession(host, match!, false);
  const killed = await running;
  await fast();
  assert.instance(killed, Error, 'the killed run wrote no report');
  // Past the drain of the orphaned command: it must not have stopped the old slot on its own.
  await new Promise((res) => setTimeout(res, 4000));
  const current = (await host.sh(`readlink ${APP}/current`)).stdout.trim();
  const active = (await host.sh(`cat ${APP}/active-slot`)).stdout.trim();
  const slots = (await host.sh(`docker ps --format '{{.Label "com.docker.compose.project"}} {{.Label "hoist.release"}}' | sort`)).stdout.trim().split('\n');
  assert.is(slots.length, 2, `both slots run: ${slots.join(', ')}`);
  assert.ok(slots.some((l) => l.startsWith(`app-${active} `) && current.endsWith(l.split(' ')[1]!)), `current (${current}) is the active slot's release: ${slots.join(', ')}`);
  assert.is(await throughCaddy(), 'v8');

  // The killed run still holds the host's deploy lock. Its process is gone from this machine, so
  // the next run takes the lock over, says so, and finishes the job. (Had the run been on another
  // machine, `hoist unlock` would free the lock: deploy-lock.test.ts.)
  const second = await run('release');
  assert.is(second.code, 0, second.out);
  assert.match(second.report.hosts[0]!.warnings.join('\n'), /took over the deploy lock of run \S+ \(release, since .*\): its process \d+ on this machine is gone/);
  assert.equal(statuses(second.report), { 'git-sync': 'unchanged', 'docker-up': 'unchanged', 'caddy-reload': 'unchanged', 'release-switch': 'changed', 'cron-install': 'changed' });
  assert.ok(taskOf(second.report, 'release-switch').steps.some((s) => /^stop the (blue|green) slot/.test(s)), JSON.stringify(taskOf(second.report, 'release-switch')));
  const after = (await host.sh(`docker ps --format '{{.Label "com.docker.compose.project"}}'`)).stdout.trim().split('\n');
  assert.equal(after, [`app-${active}`], 'only the live slot runs');
  assert.match((await host.sh('crontab -l', 'deploy')).stdout, / # v8\n/);
  note(`operator gone after switch: rerun ${JSON.stringify(statuses(second.report))}`);
  await assertUnchanged('operator gone, third run');
});

test.run();
