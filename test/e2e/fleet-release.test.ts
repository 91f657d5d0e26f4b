// Fleet rollouts of the real release pipeline on four real VPS hosts (Docker and Caddy inside
// each; two with systemd and compose v2, two without systemd and with compose v1): rolling batches, a canary that stops a bad release, a failure budget with fleet
// rollback, `hoist status` noticing containers stopped by hand, and Ctrl-C in the middle of a
// release. Every pipeline is run a second time and must give the same outcome.
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import type { HostStatus } from '../../lib/status/host-status.ts';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase, NEVER_ANSWERS } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { assertNothingChanged, runTwice } from '../harness/run-twice.ts';
import type { PipelineRun, TestHost } from '../harness/testbed.ts';

const test = suite('fleet rollouts of the release pipeline, end to end');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'fleet.hoist.test';
let git: GitServer;

/**
 * A busybox web app. Hosts with /opt/hoist-flag/broken (made by a test) run a release that
 * never answers: the same commit failing on some hosts only, as a host-specific problem would.
 */
const appFiles = (version: string, healthy = true) => ({
  'Dockerfile': `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["sh", "-c", "${healthy ? `test -e /flag/broken && { ${NEVER_ANSWERS}; }; exec httpd -f -p 8000 -h /www` : NEVER_ANSWERS}"]\n`,
  'compose.yaml': 'services:\n  web:\n    build: .\n    volumes:\n      - /opt/hoist-flag:/flag:ro\n',
  'index.html': `${version}\n`,
});

// A mixed fleet, as real ones are, interleaved so that each batch of --batch 2, the rolled-back
// pair and the failing pair of --fleet-rollback each cross both kinds: Debian 13 with systemd and
// compose v2 (web1, web3), Debian 12 without systemd and compose v1 (web2, web4).
const KINDS = ['debian13', 'debian12-no-systemd', 'debian13', 'debian12-no-systemd'] as const;

test.before(async () => {
  ({ git } = await bed.start({ domain: DOMAIN, token: TOKEN, host: [...KINDS] }));
  // The fleet is what it says: PID 1 and the compose the host has, read on each host.
  const seen = await Promise.all(tb.hosts.map(async (h) => (await h.sh('echo $(cat /proc/1/comm) $(docker compose version >/dev/null 2>&1 && echo v2 || echo v1)')).stdout.trim()));
  assert.equal(seen, ['systemd v2', 'sshd v1', 'systemd v2', 'sshd v1']);
  await git.commit('app', appFiles('v1'), 'v1');
  bed.env({ HEALTH_TIMEOUT: '10' });
  const boot = await runTwice('bootstrap', () => run(['bootstrap', '--concurrency', '4']));
  assert.is(boot.code, 0, boot.out);
  await Promise.all(tb.hosts.map(async (h) => {
    await loadAppBase(h.container);
    await h.sh('mkdir -p /opt/hoist-flag && rm -f /opt/hoist-flag/broken');
  }));
  const v1 = await runTwice('release v1', () => run(['release', '--concurrency', '4']));
  assert.is(v1.code, 0, v1.out);
});
test.after(async () => {
  await bed.stop();
});

function run([pipeline, ...args]: string[], onSpawn?: (c: ChildProcess) => void): Promise<PipelineRun> {
  return tb.runPipeline(pipeline!, { args, env: { GITHUB_TOKEN: TOKEN }, ...(onSpawn ? { onSpawn } : {}) });
}

/** What a host serves and runs: compared before and after a run that must not touch it. */
async function snapshot(h: TestHost): Promise<string> {
  const r = await h.sh(`readlink /home/deploy/apps/app/current; docker ps --format '{{.Names}} {{.Image}} {{.Status}}' | sed 's/Up [^(]*//' | sort; curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`);
  return r.stdout;
}
const serving = async (h: TestHost) => (await h.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`)).stdout.trim();
const current = async (h: TestHost) => (await h.sh('readlink /home/deploy/apps/app/current')).stdout.trim().replace(/^releases\//, '');
const byName = (report: RunReport) => Object.fromEntries(report.hosts.map((h) => [h.name, h]));

test('--batch 2 on 4 hosts: two batches, the second starting after the first finished healthy; again: all unchanged', async () => {
  await git.commit('app', appFiles('v2'), 'v2');
  const before = await Promise.all(tb.hosts.map(current));
  const r = await run(['release', '--batch', '2', '--concurrency', '4']);
  assert.is(r.code, 0, r.out);
  assert.is(r.report.rollout.batches, 2);
  const hosts = r.report.hosts;
  assert.equal(hosts.map((h) => h.batch), [1, 1, 2, 2]);
  const firstEnds = Math.max(...hosts.filter((h) => h.batch === 1).map((h) => Date.parse(h.endedAt!)));
  const secondStarts = Math.min(...hosts.filter((h) => h.batch === 2).map((h) => Date.parse(h.startedAt!)));
  assert.ok(secondStarts >= firstEnds, `batch 2 started ${secondStarts - firstEnds} ms after batch 1 ended`);
  assert.ok(hosts.every((h) => h.status === 'ok' && h.tasks.find((t) => t.task === 'docker-up')!.status === 'changed'), 'every host brought v2 up healthy');
  for (const [i, h] of tb.hosts.entries()) {
    assert.is(await serving(h), 'v2');
    assert.equal(hosts[i]!.release, { before: before[i]!, after: await current(h) });
  }

  const again = await run(['release', '--batch', '2', '--concurrency', '4']);
  assert.is(again.code, 0, again.out);
  assert.equal(again.report.hosts.map((h) => h.batch), [1, 1, 2, 2]);
  assert.ok(again.report.hosts.every((h) => h.tasks.every((t) => t.status === 'unchanged')), 'the second run changes nothing');
  assertNothingChanged(again.report, 'release --batch 2, run again');
});

test('hoist status --json: all healthy; a host whose containers were stopped by hand is unhealthy; a release heals it', async () => {
  const ok = await tb.hoist(['status', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', '-']);
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  const all = (JSON.parse(ok.stdout) as { hosts: HostStatus[] }).hosts;
  assert.ok(all.every((h) => h.healthy && h.reachable.ok && h.containers.ok && h.dns.ok && h.caddy.ok && !h.lock.held), JSON.stringify(all, null, 1));
  assert.is(all[0]!.release, await current(tb.hosts[0]!));

  const sick = tb.hosts[1]!;
  assert.is((await sick.sh('docker stop $(docker ps -q) >/dev/null')).code, 0);
  for (let round = 1; round <= 2; round++) {
    const r = await tb.hoist(['status', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', '-']);
    assert.is(r.code, 1, 'status exits 1 when a host is unhealthy');
    const hosts = (JSON.parse(r.stdout) as { hosts: HostStatus[] }).hosts;
    const bad = hosts.find((h) => h.name === sick.name)!;
    assert.equal([bad.healthy, bad.reachable.ok, bad.containers.ok], [false, true, false], JSON.stringify(bad));
    assert.match(bad.containers.detail, /exited/);
    assert.ok(hosts.filter((h) => h.name !== sick.name).every((h) => h.healthy), 'the others stay healthy');
  }
  const table = await tb.hoist(['status', '--env-file', tb.envPath, '--inventory', tb.inventoryPath]);
  assert.match(table.stdout, new RegExp(`${sick.name}: containers: .*exited`));
  assert.match(table.stdout, /3 of 4 hosts healthy/);

  const heal = await runTwice('the healing release', () => run(['release', '--hosts', sick.name]));
  assert.is(heal.code, 0, heal.out);
  assert.is(await serving(sick), 'v2');
  const after = await tb.hoist(['status', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', '-']);
  assert.is(after.code, 0, after.stdout);
});

test('--canary 1 --max-fail 0 with a release that fails on the canary: no other host is touched (twice)', async () => {
  const others = tb.hosts.slice(1);
  const before = await Promise.all(others.map(snapshot));
  const canaryBefore = await snapshot(tb.hosts[0]!);
  await git.commit('app', appFiles('v3', false), 'v3 (never healthy)');
  for (let round = 1; round <= 2; round++) {
    const r = await run(['release', '--canary', '1', '--max-fail', '0', '--concurrency', '4']);
    assert.is(r.code, 1, r.out);
    const hosts = byName(r.report);
    assert.is(hosts[tb.hosts[0]!.name]!.status, 'failed');
    assert.match(hosts[tb.hosts[0]!.name]!.error!, /did not turn healthy/);
    for (const h of others) {
      assert.is(hosts[h.name]!.status, 'skipped');
      assert.match(hosts[h.name]!.note!, /not started: 1 host\(s\) failed, more than --max-fail allows \(0\)/);
      assert.is(hosts[h.name]!.startedAt, null, 'never connected');
    }
    assert.equal(await Promise.all(others.map(snapshot)), before, `round ${round}: other hosts unchanged`);
    assert.is(await snapshot(tb.hosts[0]!), canaryBefore, 'the canary is back as it was');
  }
});

test('--max-fail 1 --fleet-rollback, 2 of 4 hosts fail: the released hosts go back to the previous release; exit 1 (twice)', async () => {
  await git.commit('app', appFiles('v4'), 'v4');
  const [a, b, c, d] = tb.hosts as [TestHost, TestHost, TestHost, TestHost];
  await Promise.all([c, d].map((h) => h.sh('touch /opt/hoist-flag/broken')));
  const before = await Promise.all(tb.hosts.map(current));
  try {
    for (let round = 1; round <= 2; round++) {
      const r = await run(['release', '--max-fail', '1', '--fleet-rollback', '--concurrency', '4']);
      assert.is(r.code, 1, r.out);
      const hosts = byName(r.report);
      for (const h of [a, b]) {
        assert.is(hosts[h.name]!.status, 'rolled-back', JSON.stringify(hosts[h.name]));
        assert.match(hosts[h.name]!.note!, /rolled back by --fleet-rollback: 2 host\(s\) failed, more than --max-fail allows \(1\)/);
        assert.ok(hosts[h.name]!.tasks.some((t) => t.status === 'rolled-back'));
      }
      for (const h of [c, d]) {
        assert.is(hosts[h.name]!.status, 'failed');
        assert.match(hosts[h.name]!.error!, /docker-up: .*did not turn healthy/);
      }
      assert.equal(await Promise.all(tb.hosts.map(current)), before, `round ${round}: every host back on the previous release`);
      for (const h of tb.hosts) assert.is(await serving(h), 'v2');
      // The summary (on stderr with --json -) names each host's outcome; a rolled-back host's
      // release is the same before and after.
      for (const h of [a, b]) assert.match(r.out, new RegExp(`\\n${h.name}\\s+\\S+ \\(same\\)\\s+rolled-back\\s`));
      for (const h of [c, d]) assert.match(r.out, new RegExp(`\\n${h.name}\\s+.*\\s+failed\\s+.*docker-up failed`));
      assert.match(r.out, /0 of 4 hosts ok, 2 failed, 2 rolled-back/);
    }
  } finally {
    await Promise.all([c, d].map((h) => h.sh('rm -f /opt/hoist-flag/broken')));
  }
});

test('Ctrl-C during docker-up: no new step, the host rolled back, lock freed, exit 130; a re-run releases, a third changes nothing', async () => {
  const h = tb.hosts[0]!;
  const before = await snapshot(h);
  let child: ChildProcess | undefined;
  let seen = '';
  // Run once: this run is interrupted on purpose; the re-run converges, a third changes nothing.
  const running = run(['release', '--hosts', h.name], (c) => {
    child = c;
    c.stderr!.on('data', (d) => (seen += d));
    c.stdout!.on('data', (d) => (seen += d));
  });
  // The build of v4 is the long step: interrupt once docker-up has started on the host.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !(await h.sh("pgrep -f '[d]ocker.*(compose|build)' >/dev/null && echo y")).stdout.includes('y')) {
    await new Promise((r) => setTimeout(r, 100));
  }
  child!.kill('SIGINT');
  const r = await running;
  assert.is(r.code, 130, `${r.out}\n${seen}`);
  assert.is(r.report.interrupted, 'SIGINT');
  const host = r.report.hosts[0]!;
  assert.is(host.status, 'failed');
  const later = host.tasks.slice(host.tasks.findIndex((t) => t.status === 'failed') + 1);
  assert.ok(later.every((t) => t.status === 'skipped'), 'no later task started');
  assert.is(await snapshot(h), before, 'serving and running exactly what it did before');
  assert.is((await h.sh('test -L /home/deploy/.hoist/lock && echo held || echo free')).stdout.trim(), 'free');

  const rerun = await run(['release', '--hosts', h.name]);
  assert.is(rerun.code, 0, rerun.out);
  assert.is(await serving(h), 'v4');
  const third = await run(['release', '--hosts', h.name]);
  assert.ok(third.report.hosts[0]!.tasks.every((t) => t.status === 'unchanged'));
  assertNothingChanged(third.report, 'release after Ctrl-C, a third run');
});

test.run();
