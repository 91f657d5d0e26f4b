// Issue #10 items 7 and 8: know the disk, and see every app on a host. One host whose Docker root
// (/var/lib/docker) is a real, small filesystem: a 400 MiB tmpfs mounted there before dockerd
// first starts (overlay2 works on it), so "too little room" and "full during a build" are real
// and bounded, and nothing fills the machine running the tests. Two apps from two repos:
// - `hoist status` (table and --json) lists both with their release, slot, ports, health and
//   sizes that match `docker image inspect` and `du` on the host (and the free space `df`);
// - with the disk nearly full (a file made with fallocate), a v2 that needs a build stops before
//   it, with the numbers and what could be pruned, twice; v1 keeps answering;
// - a build that fills the disk (a Dockerfile step writing 600 MiB with dd) fails the release, the
//   live release keeps answering (a client loop counts no failure) and the room comes back; a good
//   release then converges, and again is unchanged.
import { randomBytes } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { HostStatus } from '../../lib/status/host-status.ts';
import { loadAppBase } from '../harness/images.ts';
import { underLoad as clientLoops } from '../harness/client-loops.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { assertNothingChanged, runTwice } from '../harness/run-twice.ts';
import type { PipelineRun, TestHost } from '../harness/testbed.ts';

const test = suite('disk and status: two apps on a host with a small Docker disk');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const APPS = ['alpha', 'beta'] as const;
type App = (typeof APPS)[number];
const domain = (app: App) => `${app}.hoist.test`;
const HOME = '/home/deploy';
const MiB = 1024 ** 2;
/** The Docker root's size: room for the test apps (a few MiB), not for the 600 MiB step. */
const DOCKER_DISK = '400m';
const FILLER = '/var/lib/docker/hoist-test-filler';
let host: TestHost;

const appFiles = (app: App, version: string, extraStep = '') => ({
  Dockerfile: `FROM hoist-test-base\nCOPY index.html /www/index.html\n${extraStep}CMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n`,
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': `${app} ${version}\n`,
});

/** Each app's settings: the bed's with its name, domain and repo. The tmpfs has < 1 GiB: BUILD_MIN_FREE says how much a build needs. */
function settings(app: App, extra: Record<string, string> = {}): string {
  bed.env({ APP_NAME: app, APP_DOMAIN: domain(app), APP_REPO: bed.git.repoUrl(app), HEALTH_TIMEOUT: '20', BUILD_MIN_FREE: '64M', ...extra });
  const path = join(tb.dir, `${app}.env`);
  copyFileSync(tb.envPath, path);
  return path;
}

function run(app: App, pipeline: string, extra: Record<string, string> = {}): Promise<PipelineRun> {
  return tb.runPipeline(pipeline, { envFile: settings(app, extra), env: { GITHUB_TOKEN: TOKEN } });
}

const status = (app: App, json: boolean) => tb.hoist(['status', '--env-file', settings(app), '--inventory', tb.inventoryPath, ...(json ? ['--json', '-'] : [])]);
const statuses = (r: PipelineRun) => r.report.hosts[0]!.tasks.map((t) => `${t.task}:${t.status}`);
const taskOf = (r: PipelineRun, name: string) => r.report.hosts[0]!.tasks.find((t) => t.task === name)!;
const get = async (app: App) => (await host.sh(`curl -s --max-time 5 --resolve ${domain(app)}:80:127.0.0.1 http://${domain(app)}/`)).stdout.trim();
const sh = async (script: string, user = 'root') => {
  const r = await host.sh(script, user);
  assert.is(r.code, 0, `${script}\n${r.stderr}`);
  return r.stdout.trim();
};
/** df -Pk on Docker's root: [total, available] in bytes. */
const df = async () => (await sh("df -Pk /var/lib/docker | awk 'NR==2 {print $2, $4}'")).split(' ').map((k) => Number(k) * 1024) as [number, number];
const imageSize = async (ref: string) => Number(await sh(`docker image inspect --format '{{.Size}}' ${ref}`));
/** The image of the release live for `app` now. */
const liveImage = async (app: App) => `hoist/${app}/web:${(await sh(`readlink ${HOME}/apps/${app}/current`)).replace(/^releases\//, '')}`;
/** Every container (and with `images`, every image) on the host: what a failed or refused release must leave as it was. */
const dockerState = (images = true) => sh(`docker ps -a --format '{{.ID}} {{.Names}} {{.Image}} {{.Status}}' | sed 's/ Up .*/ Up/' | sort${images ? "; docker images -a --format '{{.ID}} {{.Repository}}:{{.Tag}}' | sort" : ''}`);

/** Runs `during` while a client asks each app 10 times a second; the answers by app. */
const underLoad = (during: () => Promise<void>) => clientLoops(host, Object.fromEntries(APPS.map((a) => [a, domain(a)])) as Record<App, string>, during);

/** Only `want` answers, and enough of them to mean the loop ran the whole time. */
function onlyAnswered(counts: Record<string, number>, want: string): void {
  assert.ok(Object.keys(counts).every((k) => k === want) && (counts[want] ?? 0) > 10, JSON.stringify(counts));
}

test.before(async () => {
  // No systemd: Docker's disk is made small (a tmpfs) before hoist starts dockerd; under systemd it runs from boot.
  ({ host } = await bed.start({ domain: domain('alpha'), moreDomains: [domain('beta')], token: TOKEN, repos: [...APPS], host: 'debian12-no-systemd' }));
  // Before dockerd first starts (the bootstrap starts it): Docker's root becomes a small filesystem of its own.
  await sh(`! pidof dockerd >/dev/null && mount -t tmpfs -o size=${DOCKER_DISK} tmpfs /var/lib/docker && df -Pk /var/lib/docker`);
  for (const a of APPS) await bed.git.commit(a, appFiles(a, 'v1'), 'v1');
});
test.after(async () => {
  await host?.sh(`rm -f ${FILLER}`);
  await bed.stop();
});

test('two apps released; hoist status (table and --json) lists both: release, slot, ports, health, sizes as docker and du say', async () => {
  for (const a of APPS) {
    const boot = await runTwice(`${a} bootstrap`, () => run(a, 'bootstrap'));
    assert.is(boot.code, 0, boot.out);
    if (a === 'alpha') await loadAppBase(host.container);
  }
  // Without BUILD_MIN_FREE the rule asks for 1 GiB, more than this Docker disk has: refused before the build.
  // Twice: refused the same way both times (a run that fails by design).
  for (const round of [1, 2]) {
    const ruled = await run('alpha', 'release', { BUILD_MIN_FREE: '' });
    assert.is(ruled.code, 1, `round ${round}: ${ruled.out}`);
    assert.match(taskOf(ruled, 'docker-up').error ?? '', /^not enough free disk to build \S+: \d+ MiB free under \/var\/lib\/docker, 1\.00 GiB needed \(at least 1\.00 GiB for a build; BUILD_MIN_FREE sets another amount\)\./);
  }
  for (const a of APPS) {
    const r = await runTwice(`${a} release`, () => run(a, 'release'));
    assert.is(r.code, 0, r.out);
    assert.is(await get(a), `${a} v1`);
  }
  // Read from alpha's settings and from beta's: both list every app on the host; twice (read-only).
  for (const from of [...APPS, 'alpha'] as const) {
    const r = await status(from, true);
    assert.is(r.code, 0, r.stdout + r.stderr);
    const h = (JSON.parse(r.stdout) as { hosts: HostStatus[] }).hosts[0]!;
    assert.equal(h.apps!.map((a) => a.name), ['alpha', 'beta']);
    const [total, free] = await df();
    assert.is(h.disk!.dockerRoot, '/var/lib/docker');
    assert.is(h.disk!.totalBytes, total);
    assert.ok(Math.abs(h.disk!.freeBytes! - free) < 4 * MiB, `free ${h.disk!.freeBytes} vs df ${free}`);
    assert.equal(h.disk!.buildCache.perApp, false);
    for (const a of h.apps!) {
      const name = a.name as App;
      const ref = await liveImage(name);
      assert.is(a.release, ref.split(':')[1]);
      assert.is(a.slot, await sh(`cat ${HOME}/apps/${name}/active-slot`));
      assert.is(`blue ${a.ports!.blue}\ngreen ${a.ports!.green}`, await sh(`cat ${HOME}/apps/${name}/ports`));
      assert.ok(a.health.ok, JSON.stringify(a.health));
      assert.equal(a.disk.images.map((i) => [i.ref, i.live]), [[ref, true]]);
      assert.is(a.disk.images[0]!.bytes, await imageSize(ref), 'docker image inspect');
      assert.is(a.disk.imagesBytes, await imageSize(ref), 'one image: its size');
      assert.is(a.disk.imagesBytes - a.disk.ownBytes, await imageSize('hoist-test-base'), 'the base layer is shared with every image built on it');
      assert.is(a.disk.releasesBytes, Number(await sh(`du -sk ${HOME}/apps/${name}/releases | cut -f1`, 'deploy')) * 1024, 'du');
    }
  }
  const table = await status('beta', false);
  assert.is(table.code, 0, table.stdout + table.stderr);
  for (const a of APPS) {
    const release = (await liveImage(a)).split(':')[1];
    const ports = (await sh(`awk '{print $2}' ${HOME}/apps/${a}/ports`)).split('\n').join('/');
    const size = (await imageSize(await liveImage(a))) / MiB;
    assert.match(table.stdout, new RegExp(`\\nweb1 +${a} +${release} +(blue|green) +${ports} +ok +1, ${size.toFixed(2)} MiB +\\d+\\.\\d+ KiB\\n`), table.stdout);
  }
  assert.match(table.stdout, /\nweb1 +ok +\S+ +ok +ok +ok +free +\d+ MiB of 400 MiB\n/);
  assert.match(table.stdout, /\nweb1: all images \d+\.\d+ MiB; build cache .*not split by app/);
  console.log(`    ${table.stdout.split('\n').join('\n    ')}`);
});

test('too little room: a v2 that needs a build stops before it with the numbers and what could be pruned, twice; v1 keeps answering', async () => {
  await bed.git.commit('alpha', appFiles('alpha', 'v2'), 'v2');
  const [, free] = await df();
  // A real shortage: all but 24 MiB of Docker's disk taken by a file, bounded by the tmpfs.
  await sh(`fallocate -l ${free - 24 * MiB} ${FILLER}`);
  try {
    const before = await dockerState();
    const counts = await underLoad(async () => {
      for (let attempt = 1; attempt <= 2; attempt++) {
        const r = await run('alpha', 'release');
        assert.is(r.code, 1, r.out);
        assert.equal(statuses(r), ['git-sync:rolled-back', 'docker-up:failed', 'caddy-reload:skipped', 'release-switch:skipped', 'cron-install:skipped']);
        const error = taskOf(r, 'docker-up').error ?? '';
        assert.match(error, /^not enough free disk to build \S+: 2\d\.\d MiB free under \/var\/lib\/docker, 64\.0 MiB needed \(BUILD_MIN_FREE\)\. Nothing was built or started; the live release keeps serving\.\n/);
        assert.ok(error.includes("\n- Docker's build cache, shared by every app on the host: docker builder prune\n"), error);
        assert.ok(error.includes('\n- other apps on this host (beta): `hoist remove` with an app\'s settings takes one you no longer use off the host'), error);
        assert.is(taskOf(r, 'docker-up').attempts, 1, 'not retried');
        if (attempt === 1) console.log(`    ${error.split('\n').join('\n    ')}`);
      }
    });
    console.log(`    client loops during the two refused releases: ${JSON.stringify(counts)}`);
    onlyAnswered(counts.alpha, 'alpha v1 200');
    onlyAnswered(counts.beta, 'beta v1 200');
    assert.is(await dockerState(), before, 'no build, no container: no compose command ran');
  } finally {
    await sh(`rm -f ${FILLER}`);
  }
});

test('a build that fills Docker\'s disk fails the release; the live release keeps answering; the room comes back; a good release converges, then unchanged', async () => {
  // 600 MiB into a 400 MiB filesystem: dd stops at "No space left on device", bounded either way.
  await bed.git.commit('alpha', appFiles('alpha', 'v3', 'RUN busybox dd if=/dev/zero of=/fill bs=1M count=600\n'), 'v3 (fills the disk)');
  const [, freeBefore] = await df();
  const before = await dockerState(false);
  const counts = await underLoad(async () => {
    // Run once: a second run would fill the disk the same way, a whole build again; what comes
    // after it is asserted instead: the room is back, and the next good release converges, twice.
    const r = await run('alpha', 'release');
    assert.is(r.code, 1, r.out);
    assert.equal(statuses(r), ['git-sync:rolled-back', 'docker-up:failed', 'caddy-reload:skipped', 'release-switch:skipped', 'cron-install:skipped']);
    const error = taskOf(r, 'docker-up').error ?? '';
    assert.match(error, /^building \S+ ran out of disk under \/var\/lib\/docker, which had \d+ MiB free before it \(dd: error writing '\/fill': No space left on device\)\. The build's containers are removed and the new slot did not start; the live release keeps serving\./);
    assert.ok(error.includes('\n- other apps on this host (beta)'), error);
    console.log(`    ${error.split('\n')[0]}`);
  });
  console.log(`    client loops during the release whose build filled the disk: ${JSON.stringify(counts)}`);
  onlyAnswered(counts.alpha, 'alpha v1 200');
  onlyAnswered(counts.beta, 'beta v1 200');
  // The failed step's container is removed with what it wrote (build --force-rm); the new slot never started.
  const [, freeAfter] = await df();
  assert.ok(Math.abs(freeAfter - freeBefore) < 8 * MiB, `free before ${freeBefore}, after ${freeAfter}`);
  console.log(`    Docker's disk free before the build ${freeBefore / MiB} MiB, after it failed ${freeAfter / MiB} MiB`);
  assert.is(await dockerState(false), before, 'the same containers as before: no build container left, no new slot');

  await bed.git.commit('alpha', appFiles('alpha', 'v4'), 'v4');
  const good = await run('alpha', 'release');
  assert.is(good.code, 0, good.out);
  assert.is(await get('alpha'), 'alpha v4');
  const again = await run('alpha', 'release');
  assert.is(again.code, 0, again.out);
  assert.ok(statuses(again).every((s) => s.endsWith(':unchanged')), JSON.stringify(statuses(again)));
  assertNothingChanged(again.report, 'alpha v4 release, run again');
  // Two releases' images: the base layer once, each release's own layer once.
  const s = await status('alpha', true);
  assert.is(s.code, 0, s.stdout + s.stderr);
  const alpha = (JSON.parse(s.stdout) as { hosts: HostStatus[] }).hosts[0]!.apps!.find((a) => a.name === 'alpha')!;
  const refs = alpha.disk.images.map((i) => i.ref!).sort();
  assert.is(refs.length, 2, JSON.stringify(refs));
  const [s1, s4, base] = [await imageSize(refs[0]!), await imageSize(refs[1]!), await imageSize('hoist-test-base')];
  assert.is(alpha.disk.imagesBytes, s1 + s4 - base);
});

test.run();
