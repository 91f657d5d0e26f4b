// Room for a build, as data: docker-up's probe lines recorded on a Docker 20.10 host (Docker's
// root, `df -Pk` on it, /images/json, every app's releases), the free-space rule, the refusal
// with the numbers and what could be pruned (before any compose command: the plan throws), and
// the sizes as BUILD_MIN_FREE takes them and hoist prints them.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { byteSizeProblem, formatBytes, parseByteSize } from '../../lib/byte-size.ts';
import { dockerUp, type DockerUpWanted } from '../../tasks/docker-up.ts';
import { slotCommands } from '../../tasks/docker-up/commands.ts';
import { appOfImage, appVolumes, buildNeeds, buildRoomProbe, checkBuildRoom, dockerRootFree, NotEnoughRoomError, parseBuildRoom, ranOutOfRoom, type BuildRoom } from '../../tasks/docker-up/disk.ts';
import { parseDockerUpFact } from '../../tasks/docker-up/probe.ts';
import { testHost } from '../harness/settings.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/docker-api');
const recorded = readFileSync(join(FIXTURES, 'build-room.txt'), 'utf8');
const A1 = '20240101000000-0123456789ab';
const A2 = '20240101000000-ba9876543210';
const B1 = '20240102000000-aaaaaaaaaaaa';
const NEXT = '20240103000000-cccccccccccc';
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** The recorded room with A2's release folder gone (its image outlived it) and `free` bytes free. */
function room(free?: number): BuildRoom {
  const r = parseBuildRoom(recorded.split('\n').filter((l) => !l.includes(`${A2}/`)));
  return free === undefined ? r : { ...r, freeBytes: free };
}

test('the recorded probe lines: Docker\'s root, its filesystem\'s size and room, every image with its size, every app\'s releases', () => {
  const r = parseBuildRoom(recorded.split('\n'));
  assert.equal([r.root, r.totalBytes, r.freeBytes], ['/var/lib/docker', 307200 * 1024, 283580 * 1024]);
  assert.equal(
    r.images.map((i) => [i.refs, i.size]),
    [
      [[`hoist-b-api:${B1}`], 2187126],
      [[], 2289526],
      [[`hoist-a-web:${A2}`], 1982329],
      [[`hoist-a-web:${A1}`], 22953849],
      [['hoist-test-base:latest'], 1982326],
    ],
  );
  assert.equal(r.releases, { a: [A1, A2], b: [B1] });
});

test('names from the host are checked; Docker not answering or an answer cut short leaves the check nothing to go by', () => {
  const r = parseBuildRoom(['disk-root ', 'disk-fs 12 x', 'disk-images-json ', 'disk-app apps/Bad/', 'disk-app apps/ok/', 'disk-release apps/ok/releases/.tmp/', `disk-release apps/../releases/${A1}/`]);
  assert.equal(r, { root: null, freeBytes: null, totalBytes: null, images: [], releases: { ok: [] } });
  assert.equal(parseBuildRoom(['disk-images-json [{"Id":"sha256:1", "RepoTa']).images, []);
  assert.not.throws(() => checkBuildRoom(r, { app: 'ok', service: 'web', release: NEXT, live: null, minFree: 10 * GiB }), 'no df answer: the build goes on as before');
});

test('the probe lines run on any sh: DockerRootDir read from /info, df -Pk on it (fake curl and df answering as recorded)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-disk-'));
  try {
    writeFileSync(join(dir, 'info.json'), readFileSync(join(FIXTURES, 'info.json')));
    writeFileSync(join(dir, 'curl'), `#!/bin/sh\ncase "$*" in *http://docker/info*) tr -d '\\n' < ${dir}/info.json;; *) echo '[]';; esac\n`);
    writeFileSync(join(dir, 'df'), `#!/bin/sh\n[ "$1 $2" = "-Pk /var/lib/docker" ] || exit 1\nprintf 'Filesystem     1024-blocks  Used Available Capacity Mounted on\\n/dev/vda1         25671908 21000000   3359100      87%% /\\n'\n`);
    for (const f of ['curl', 'df']) chmodSync(join(dir, f), 0o755);
    const r = spawnSync('/bin/sh', ['-c', dockerRootFree().line], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });
    assert.is(r.stdout, 'disk-root /var/lib/docker\ndisk-fs 25671908 3359100\n', r.stderr);
    assert.is(spawnSync('/bin/sh', ['-n', '-c', buildRoomProbe().line]).status, 0, 'valid sh');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the rule: the larger of 1 GiB and 1.5 × the live image; BUILD_MIN_FREE replaces it (0: no check)', () => {
  const table: [number, number | null, number][] = [
    [0, null, GiB],
    [22953849, null, GiB],
    [GiB, null, 1.5 * GiB],
    [4 * GiB, null, 6 * GiB],
    [4 * GiB, 2 * GiB, 2 * GiB],
    [4 * GiB, 0, 0],
  ];
  for (const [live, setting, needed] of table) assert.is(buildNeeds(live, setting).bytes, needed, `${live} ${setting}`);
  assert.is(buildNeeds(4 * GiB, null).why, "1.5 × the live image's 4.00 GiB; BUILD_MIN_FREE sets another amount");
});

test('the app\'s volumes count: a build leaves a tenth of what they hold free for them to grow; a refusal names them; other apps\' volumes do not count', () => {
  // Docker 20.10's /system/df (it ignores ?type=volume and answers whole): the Volumes part as it says them.
  const df = JSON.stringify({
    LayersSize: 1,
    Images: [],
    Volumes: [
      { Name: 'hoist.a.data', Labels: { 'hoist.app': 'a', 'hoist.volume': 'data' }, UsageData: { RefCount: 1, Size: 5 * GiB } },
      { Name: 'a-blue_cache', Labels: { 'com.docker.compose.project': 'a-blue', 'com.docker.compose.volume': 'cache' }, UsageData: { RefCount: 0, Size: GiB } },
      { Name: 'a-green_cache', Labels: { 'com.docker.compose.project': 'a-green' }, UsageData: { RefCount: 0, Size: -1 } },
      { Name: 'hoist.b.db', Labels: { 'hoist.app': 'b' }, UsageData: { RefCount: 1, Size: 40 * GiB } },
      { Name: 'ab-blue_x', Labels: { 'com.docker.compose.project': 'ab-blue' }, UsageData: { RefCount: 1, Size: 9 * GiB } },
      { Name: 'loose', Labels: null, UsageData: null },
    ],
  });
  const parsed = parseBuildRoom([...recorded.split('\n').filter((l) => !l.includes(`${A2}/`)), `disk-volumes-json ${df}`]);
  assert.equal(appVolumes(parsed, 'a').map((v) => [v.name, v.size]), [['hoist.a.data', 5 * GiB], ['a-blue_cache', GiB], ['a-green_cache', 0]]);
  assert.is(buildNeeds(0, null, 6 * GiB).bytes, GiB + Math.ceil(0.6 * GiB));
  assert.is(buildNeeds(0, 2 * GiB, 6 * GiB).bytes, 2 * GiB, 'BUILD_MIN_FREE is the amount, as set');
  const check = (free: number) => checkBuildRoom({ ...parsed, freeBytes: free }, { app: 'a', service: 'web', release: NEXT, live: A1, minFree: null });
  // 1.5 GiB free: enough for the build alone (1 GiB), not with room for a's 6 GiB of data to grow.
  assert.not.throws(() => checkBuildRoom({ ...room(1.5 * GiB) }, { app: 'a', service: 'web', release: NEXT, live: A1, minFree: null }), 'without volumes, 1.5 GiB is enough');
  assert.throws(
    () => check(1.5 * GiB),
    (e: Error) =>
      e.message.startsWith(`not enough free disk to build ${NEXT}: 1.50 GiB free under /var/lib/docker, 1.60 GiB needed (at least 1.00 GiB for a build + 614 MiB for the app's volumes to grow (a tenth of the 6.00 GiB they hold); BUILD_MIN_FREE sets another amount).`) &&
      e.message.includes("\na's volumes hold 6.00 GiB (hoist.a.data 5.00 GiB, a-blue_cache 1.00 GiB, a-green_cache 0 B): its data, never pruned by hoist.\n") &&
      !e.message.includes('docker volume rm'),
  );
  assert.not.throws(() => check(1.6 * GiB + 1));
  // The probe asks for it only where it asks for the images (a build may come), once.
  assert.is(buildRoomProbe().line.match(/system\/df\?type=volume/g)?.length, 1);
});

test('short of room: refused with the numbers and what could be pruned, in words', () => {
  const room1 = room(300 * MiB);
  const err = (() => {
    try {
      checkBuildRoom(room1, { app: 'a', service: 'web', release: NEXT, live: A1, minFree: null });
    } catch (e) {
      return e as Error;
    }
    throw new Error('not refused');
  })();
  assert.instance(err, NotEnoughRoomError);
  assert.is(
    err.message,
    [
      `not enough free disk to build ${NEXT}: 300 MiB free under /var/lib/docker, 1.00 GiB needed (at least 1.00 GiB for a build; BUILD_MIN_FREE sets another amount). Nothing was built or started; the live release keeps serving.`,
      'What could be freed on this host:',
      `- images of releases no longer on the host (1, up to 1.89 MiB): docker image rm hoist-a-web:${A2}`,
      '- dangling images, left by earlier builds (1, up to 2.18 MiB): docker image prune',
      "- Docker's build cache, shared by every app on the host: docker builder prune",
      '- other apps on this host (b): `hoist remove` with an app\'s settings takes one you no longer use off the host, its images with it',
      "Then release again (`hoist status` shows what each app's images, releases and the build cache take).",
    ].join('\n'),
  );
  // b's live image is 2.09 MiB: 64 MiB set by BUILD_MIN_FREE is what counts; its rollback image is named.
  const kept = { ...room(10 * MiB), releases: { a: [A1, A2], b: [B1, '20240101000000-bbbbbbbbbbbb'] } };
  kept.images = [...kept.images, { id: 'sha256:old', refs: ['hoist-b-api:20240101000000-bbbbbbbbbbbb'], size: 5 * MiB }];
  assert.throws(
    () => checkBuildRoom(kept, { app: 'b', service: 'api', release: NEXT, live: B1, minFree: 64 * MiB }),
    (e: Error) => e.message.startsWith(`not enough free disk to build ${NEXT}: 10.0 MiB free under /var/lib/docker, 64.0 MiB needed (BUILD_MIN_FREE).`) && e.message.includes('\n- images b keeps for rollbacks (1, up to 5.00 MiB): a lower KEEP_RELEASES keeps fewer\n') && e.message.includes('other apps on this host (a)'),
  );
  assert.not.throws(() => checkBuildRoom(room(GiB), { app: 'a', service: 'web', release: NEXT, live: A1, minFree: null }), 'exactly enough');
  assert.not.throws(() => checkBuildRoom(room(0), { app: 'a', service: 'web', release: NEXT, live: A1, minFree: 0 }), 'BUILD_MIN_FREE=0');
});

test('an image belongs to the app its name says (hoist/APP/SERVICE); an old name to the one app the evidence settles, else nobody', () => {
  const apps = { web: ['20240101000000-000000000001'], 'web-api': ['20240101000000-000000000002'] };
  assert.is(appOfImage('hoist/web-api/web:20240101000000-000000000001', apps), 'web-api', 'exact, whatever the releases say');
  assert.is(appOfImage('hoist/web/api-web:20240101000000-000000000002', apps), 'web');
  assert.is(appOfImage('hoist/gone/web:20240101000000-000000000002', apps), null, 'no such app here');
  assert.is(appOfImage('hoist-web-api-web:20240101000000-000000000002', apps), 'web-api');
  assert.is(appOfImage('hoist-web-api-web:20240101000000-000000000001', apps), 'web', 'app web, service api-web');
  assert.is(appOfImage('hoist-web-api-web:20240101000000-000000000009', apps), null, 'both fit, neither has the release: nobody\'s for sure');
  assert.is(appOfImage('hoist-web-api-web:20240101000000-000000000009', apps, new Set(['web-api'])), 'web-api', 'a container of web-api runs it');
  assert.is(appOfImage('hoist-web-x:20240101000000-000000000009', apps), 'web', 'only web fits');
  assert.is(appOfImage('hoist-gone-web:20240101000000-000000000009', apps), null);
  assert.is(appOfImage('hoist-web-web:latest', apps), null, 'not a tag hoist made');
});

const answer = (lines: string[]) => ({
  stdout: ['home=/home/deploy', 'systemd=no', 'docker=running', `pending=${NEXT}`, `current=releases/${A1}`, 'active=blue', 'compose=v1', 'project blue a-blue', 'project green a-green',
    'app-ports a blue 18001;green 18002;',
    JSON.stringify([{ Names: ['/a-blue_web_1'], Labels: { 'com.docker.compose.project': 'a-blue', 'com.docker.compose.service': 'web', 'hoist.release': A1 }, State: 'running', Status: 'Up 1 hour' }]),
    '@docker containers 200 0',
    JSON.stringify([{ RepoTags: [`hoist-a-web:${A1}`] }]),
    '@docker images 200 0', '@http blue 200', '@http green 0', `release ${A1}`, `release ${NEXT}`, ...lines].join('\n'),
  stderr: '',
  code: 0,
});
const want = (s: Parameters<typeof testHost>[0] = {}) => dockerUp.want({ host: testHost({ appName: 'a', appService: 'web', ...s }), loginUser: 'deploy' }) as DockerUpWanted;

test('docker-up: a build short of room is refused by the plan, before any step; a start from a kept image is not checked', () => {
  const lines = recorded.split('\n').map((l) => (l.startsWith('disk-fs') ? 'disk-fs 307200 30000' : l));
  const f = parseDockerUpFact(answer(lines), 'a');
  assert.is(f.disk?.freeBytes, 30000 * 1024);
  assert.throws(() => dockerUp.plan(want(), f), (e: Error) => e instanceof NotEnoughRoomError && e.message.startsWith(`not enough free disk to build ${NEXT}: 29.3 MiB free under /var/lib/docker, 1.00 GiB needed`));
  assert.throws(() => dockerUp.plan(want({ buildMinFree: 64 * MiB }), f), /64\.0 MiB needed \(BUILD_MIN_FREE\)/);
  const plan = dockerUp.plan(want({ buildMinFree: 16 * MiB }), f);
  assert.ok(plan.changes && plan.steps[0]!.build, 'room enough for 16 MiB: builds');
  const rollback = parseDockerUpFact(answer([...lines, '']), 'a');
  rollback.images.push(NEXT);
  const start = dockerUp.plan(want(), rollback);
  assert.ok(start.changes && !start.steps[0]!.build, 'the image is there: no build, no check');
  assert.ok(dockerUp.plan(want(), parseDockerUpFact(answer([]), 'a')).changes, 'no disk lines (an older answer): the build goes on');
});

test('compose v1 builds with --force-rm before starting: a step that ran out of disk leaves no container holding what it wrote', () => {
  const c = { app: 'a', slot: 'green' as const, release: NEXT, composeFile: null, compose: 'v1' as const };
  const up = slotCommands(c).up.line;
  assert.match(up, /^\(cd && cd apps\/a\/releases\/20240103000000-cccccccccccc && .* docker-compose \$e -p a-green -f "\$f" -f \.\.\/\.\.\/\.\.\/\.\.\/apps\/a\/slots\/green\.yaml build --force-rm\) && \(cd && .* up -d --no-build --remove-orphans\)$/);
  assert.is(spawnSync('/bin/sh', ['-n', '-c', up]).status, 0);
  assert.match(slotCommands({ ...c, compose: 'v2' }).up.line, /docker compose \$e -p a-green .* up -d --build --remove-orphans$/);
});

test('a build that ran out of disk half way is said in those words, with the line that says it (compose v1 prints the step\'s output on stdout)', () => {
  // Recorded: docker-compose 1.29 `build --force-rm` of a step that wrote more than the disk had.
  const stdout = ["Step 3/4 : RUN dd if=/dev/zero of=/big2 bs=1M count=400", ' ---> Running in dec976bdd0a2', "\x1b[91mdd: error writing '/big2': No space left on device", '\x1b[0m\x1b[91m278+0 records in', '277+0 records out', '\x1b[0mRemoving intermediate container dec976bdd0a2'].join('\n');
  const stderr = "The command '/bin/sh -c dd if=/dev/zero of=/big2 bs=1M count=400' returned a non-zero code: 1\nService 'web' failed to build : Build failed\n";
  const e = ranOutOfRoom({ stdout, stderr }, room(300 * MiB), { app: 'a', release: NEXT, live: A1 })!;
  assert.instance(e, NotEnoughRoomError);
  assert.is(
    e.message.split('\n')[0],
    `building ${NEXT} ran out of disk under /var/lib/docker, which had 300 MiB free before it (dd: error writing '/big2': No space left on device). The build's containers are removed and the new slot did not start; the live release keeps serving. A BUILD_MIN_FREE above what the build writes stops such a build before it starts.`,
  );
  assert.ok(e.message.includes(`\n- images of releases no longer on the host (1, up to 1.89 MiB): docker image rm hoist-a-web:${A2}\n`) && e.message.endsWith('\nThen release again.'), e.message);
  assert.is(ranOutOfRoom({ stdout: 'Step 2/3 : RUN false', stderr }, room(), { app: 'a', release: NEXT, live: A1 }), null, 'another failure: compose\'s own words');
});

test('sizes: BUILD_MIN_FREE as written (binary units), and as hoist prints them', () => {
  assert.equal(['0', '512M', '1.5G', '2GiB', '300000000', '10k', '1 t'].map(parseByteSize), [0, 512 * MiB, 1.5 * GiB, 2 * GiB, 300000000, 10240, 1024 ** 4]);
  for (const bad of ['', 'lots', '-1G', '2 GB free', '1e9']) assert.ok(byteSizeProblem(bad), bad);
  assert.equal([0, 980, 1024, 12 * 1024, 1023.9 * 1024, 300 * MiB, 1.5 * GiB, 22953849].map(formatBytes), ['0 B', '980 B', '1.00 KiB', '12.0 KiB', '1.00 MiB', '300 MiB', '1.50 GiB', '21.9 MiB']);
});

test.run();
