// Docker not running on one host of a fleet (issue #14), with the real CLI on two real VPS hosts
// (Docker and Caddy inside each, no systemd): the release fails on that host in words (what is
// wrong, the command that starts Docker there, that bootstrap does it) before any compose command,
// so no Python traceback from docker-compose; the other host releases; `hoist status` says the
// same. Started again with the command the message gives, the host releases; a further run
// changes nothing. Every pipeline runs twice and must give the same outcome.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import type { HostStatus } from '../../lib/status/host-status.ts';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { assertNothingChanged, runTwice } from '../harness/run-twice.ts';
import type { PipelineRun, TestHost } from '../harness/testbed.ts';

const test = suite('Docker stopped on one host of a fleet, end to end');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'dockerd.hoist.test';
let git: GitServer;

const appFiles = (version: string) => ({
  'Dockerfile': 'FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n',
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': `${version}\n`,
});

test.before(async () => {
  // The host without systemd: hoist itself starts Docker again (start-stop-daemon), which this file asserts.
  ({ git } = await bed.start({ domain: DOMAIN, token: TOKEN, count: 2, host: 'debian12-no-systemd' }));
  await git.commit('app', appFiles('v1'), 'v1');
  bed.env({ HEALTH_TIMEOUT: '20' });
  const boot = await runTwice('bootstrap', () => run(['bootstrap', '--concurrency', '2']));
  assert.is(boot.code, 0, boot.out);
  await Promise.all(tb.hosts.map((h) => loadAppBase(h.container)));
  const v1 = await runTwice('release v1', () => run(['release', '--concurrency', '2']));
  assert.is(v1.code, 0, v1.out);
});
test.after(async () => {
  await bed.stop();
});

function run([pipeline, ...args]: string[], env: Record<string, string> = {}): Promise<PipelineRun> {
  return tb.runPipeline(pipeline!, { args, env: { GITHUB_TOKEN: TOKEN, ...env } });
}
const status = (json: boolean) => tb.hoist(['status', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, ...(json ? ['--json', '-'] : [])]);
const serving = async (h: TestHost) => (await h.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`)).stdout.trim();
const current = async (h: TestHost) => (await h.sh('readlink /home/deploy/apps/app/current')).stdout.trim();
const byName = (report: RunReport) => Object.fromEntries(report.hosts.map((h) => [h.name, h]));
/** What docker-compose prints when the daemon is away: none of it may reach the operator. */
const TRACEBACK = /Traceback|DockerException|docker\.errors|Error while fetching server API version/;

test('dockerd stopped on web2: web2 fails in words, web1 releases (twice); status names it; started again as told, web2 releases; then unchanged', async () => {
  const [up, down] = tb.hosts as [TestHost, TestHost];
  await git.commit('app', appFiles('v2'), 'v2');
  const v1 = await current(down);
  // As a crash or an operator would leave it: dockerd gone (its containers stop with it).
  const stop = await down.sh('kill $(pidof dockerd) && i=0 && while pidof dockerd >/dev/null; do i=$((i+1)); [ $i -gt 300 ] && exit 1; sleep 0.2; done');
  assert.is(stop.code, 0, stop.stderr);

  let message = '';
  // As in a GitHub Actions job: the run appends its Markdown summary to GITHUB_STEP_SUMMARY.
  const summaryFile = tb.file('step-summary.md', '# earlier step\n');
  for (let round = 1; round <= 2; round++) {
    const r = await run(['release', '--concurrency', '2'], round === 1 ? { GITHUB_STEP_SUMMARY: summaryFile } : {});
    assert.is(r.code, 1, r.out);
    if (round === 1) {
      const md = readFileSync(summaryFile, 'utf8');
      assert.ok(md.startsWith('# earlier step\n### ❌ hoist run release\n'), md);
      assert.match(md, /^1 of 2 hosts ok, 1 failed in [\d.]+s; run /m);
      assert.match(md, new RegExp(`^\\| ${up.name} \\| .* \\| ✅ ok \\| [\\d.]+s \\| changed\\\\: git\\\\-sync`, 'm'));
      assert.match(md, new RegExp(`^\\| ${down.name} \\| .* \\| ❌ failed \\| [\\d.]+s \\| docker\\\\-up failed \\\\\\(rolled back\\\\\\)\\\\: Docker is not running on this host`, 'm'));
    }
    const hosts = byName(r.report);
    // The other host released (round 2: nothing left to do).
    assert.is(hosts[up.name]!.status, 'ok', r.out);
    const upTasks = Object.fromEntries(hosts[up.name]!.tasks.map((t) => [t.task, t.status]));
    assert.is(upTasks['docker-up'], round === 1 ? 'changed' : 'unchanged', JSON.stringify(upTasks));
    if (round === 2) assert.ok(hosts[up.name]!.tasks.every((t) => t.status === 'unchanged'), 'the second run changes nothing on web1');
    assert.is(await serving(up), 'v2');
    // web2: refused by docker-up's probe, git-sync's release undone, nothing later ran.
    const bad = hosts[down.name]!;
    assert.is(bad.status, 'failed');
    assert.equal(bad.tasks.map((t) => `${t.task}:${t.status}`), ['git-sync:rolled-back', 'docker-up:failed', 'caddy-reload:skipped', 'release-switch:skipped', 'cron-install:skipped']);
    const error = bad.tasks[1]!.error!;
    assert.ok(error.startsWith('Docker is not running on this host (nothing answers on /var/run/docker.sock). Fix: start it with `sudo start-stop-daemon '), error);
    assert.ok(error.endsWith('`; `hoist run bootstrap` starts it too'), error);
    assert.ok(bad.error!.includes(error), 'the host error in the report is the same');
    if (round === 2) assert.is(error, message, 'refused the same way');
    message = error;
    // The summary (stderr with --json -) names it on web2's line; nothing of compose's traceback anywhere.
    assert.ok(new RegExp(`\\n${down.name}\\s+.*\\s+failed\\s+.*docker-up failed \\(rolled back\\): Docker is not running on this host`).test(r.out), r.out);
    assert.not.match(r.out, TRACEBACK);
    assert.is(await current(down), v1, 'web2 keeps its release');
  }

  // hoist status says the same, in JSON and in its table (twice: it is read-only).
  for (let round = 1; round <= 2; round++) {
    const s = await status(true);
    assert.is(s.code, 1, s.stdout + s.stderr);
    const hosts = (JSON.parse(s.stdout) as { hosts: HostStatus[] }).hosts;
    const bad = hosts.find((h) => h.name === down.name)!;
    assert.equal([bad.reachable.ok, bad.containers.ok, bad.containers.detail], [true, false, message]);
    assert.ok(hosts.find((h) => h.name === up.name)!.healthy, JSON.stringify(hosts));
  }
  const table = await status(false);
  assert.ok(table.stdout.includes(`\n${down.name}: containers: ${message}\n`), table.stdout);
  assert.match(table.stdout, /1 of 2 hosts healthy/);

  // Started with the command the message gives (run as the deploy user, as an operator would).
  const start = /start it with `([^`]+)`/.exec(message)![1]!;
  const started = await down.sh(`${start} && i=0 && until docker info >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 300 ] && exit 1; sleep 0.2; done`, 'deploy');
  assert.is(started.code, 0, `${start}\n${started.stderr}`);

  const heal = await run(['release', '--concurrency', '2']);
  assert.is(heal.code, 0, heal.out);
  const healed = byName(heal.report)[down.name]!;
  assert.is(healed.tasks.find((t) => t.task === 'docker-up')!.status, 'changed');
  assert.ok(byName(heal.report)[up.name]!.tasks.every((t) => t.status === 'unchanged'));
  assert.is(await serving(down), 'v2');
  assert.not.match(heal.out, TRACEBACK);

  const again = await run(['release', '--concurrency', '2']);
  assert.is(again.code, 0, again.out);
  assert.ok(again.report.hosts.every((h) => h.tasks.every((t) => t.status === 'unchanged')), 'a further run changes nothing');
  assertNothingChanged(again.report, 'the healing release, run again');
  const after = await status(true);
  assert.is(after.code, 0, after.stdout);
});

test.run();
