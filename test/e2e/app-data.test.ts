// Issue #18 items 1 and 2: one copy of an app's data, and stateful services run once. The app's
// compose file names its volumes the usual way (`volumes: [data:/www/data]`, no `name:`), with a
// second service holding a volume of its own (a stand-in for a database), marked
// `x-hoist: {stateful: true}` and depended on by the web service. Its container is the same one
// across releases, a refused release, a rollback and `hoist exec`, and only ever one; it is
// replaced when its own definition changes, with its data. Records written through v1 are there after v2, after an
// unhealthy v3 was refused, after a rollback, through `hoist exec`; every slot and release uses
// the same Docker volume, made by hoist for the app. An app live from before (per-slot volumes,
// made here by hand the way compose made them) keeps the live slot's data; the other slot's
// copy stays untouched. A read-write bind into the release folder is refused with the fix.
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import type { PipelineRun, TestHost } from '../harness/testbed.ts';

const test = suite('apps with data: one copy per app');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'data.hoist.test';
const APP = '/home/deploy/apps/app';
let git: GitServer;
let host: TestHost;

const COMPOSE = `services:
  web:
    build: .
    depends_on: [store]
    volumes:
      - data:/www/data
  store:
    image: hoist-test-base
    x-hoist: {stateful: true}
    command: ["sh", "-c", "mkdir -p /store; echo started >> /store/boots; exec httpd -f -p 8080 -h /store"]
    volumes:
      - store:/store
volumes:
  data:
  store: {}
`;

const appFiles = (version: string, cmd = 'mkdir -p /www/data; exec httpd -f -p 8000 -h /www', compose = COMPOSE) => ({
  Dockerfile: `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["sh", "-c", ${JSON.stringify(cmd)}]\n`,
  'compose.yaml': compose,
  'index.html': `${version}\n`,
});

test.before(async () => {
  // Debian 12: this file makes a pre-pinning app by hand with compose v1 (`docker-compose`).
  ({ git, host } = await bed.start({ domain: DOMAIN, token: TOKEN, host: 'debian12-no-systemd' }));
  bed.env({ HEALTH_TIMEOUT: '15' });
  const boot = await run('bootstrap');
  assert.is(boot.code, 0, boot.out);
  await loadAppBase(host.container);
});
test.after(async () => {
  await bed.stop();
});

const run = (pipeline: string, args: string[] = []): Promise<PipelineRun> => tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN }, args });
const statuses = (r: PipelineRun) => r.report.hosts[0]!.tasks.map((t) => t.status);
const served = async (path: string) => (await host.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}${path}`)).stdout.trim();
const volumes = async () => (await host.sh('docker volume ls -q')).stdout.split('\n').filter(Boolean).sort();
/** Every container of the store service on the host, whatever project: "id project" lines. */
const stores = async () => (await host.sh("docker ps -a --filter label=com.docker.compose.service=store --format '{{.ID}} {{.Label \"com.docker.compose.project\"}}'")).stdout.trim().split('\n').filter(Boolean);
let storeId = '';
const live = async (service = 'web') => (await host.sh(`docker ps -q --filter label=com.docker.compose.project=app-$(cat ${APP}/active-slot) --filter label=com.docker.compose.service=${service}`)).stdout.trim();

async function releaseTwice(label: string): Promise<PipelineRun> {
  const r = await run('release');
  assert.is(r.code, 0, `${label}: ${r.out}`);
  const again = await run('release');
  assert.is(again.code, 0, again.out);
  assert.ok(statuses(again).every((s) => s === 'unchanged'), `${label} again: ${JSON.stringify(statuses(again))}`);
  return r;
}

test('v1: the app\'s volumes are made once for the app (not per slot) and recorded', async () => {
  await git.commit('app', appFiles('v1'), 'v1');
  await releaseTwice('v1');
  assert.is(await served('/'), 'v1');
  assert.equal(await volumes(), ['hoist.app.data', 'hoist.app.store']);
  assert.is((await host.sh(`cat ${APP}/volumes`)).stdout, 'data hoist.app.data\nstore hoist.app.store\n');
  assert.is((await host.sh("docker volume inspect -f '{{index .Labels \"hoist.app\"}} {{index .Labels \"hoist.volume\"}}' hoist.app.data")).stdout.trim(), 'app data');
  const w = await live();
  assert.ok(w, 'a live web container');
  for (const n of [1, 2, 3]) assert.is((await host.sh(`docker exec ${w} sh -c 'echo record-${n} >> /www/data/records'`)).code, 0);
  assert.is(await served('/data/records'), 'record-1\nrecord-2\nrecord-3');
  const s = await stores();
  assert.is(s.length, 1, `one store container: ${s}`);
  assert.match(s[0]!, / app-state$/, 'in the app\'s state project, not a slot');
  storeId = s[0]!.split(' ')[0]!;
  assert.is((await host.sh(`docker exec ${storeId} sh -c 'echo kept > /store/value'`)).code, 0);
  assert.is((await host.sh(`docker exec ${w} wget -q -O - http://store:8080/value`)).stdout.trim(), 'kept', 'the slot reaches the store by its service name');
});

test('v2 on the other slot sees the same three records and the store\'s value', async () => {
  const before = (await host.sh(`cat ${APP}/active-slot`)).stdout.trim();
  await git.commit('app', appFiles('v2'), 'v2');
  await releaseTwice('v2');
  assert.is(await served('/'), 'v2');
  assert.not.equal((await host.sh(`cat ${APP}/active-slot`)).stdout.trim(), before, 'v2 runs on the other slot');
  assert.is(await served('/data/records'), 'record-1\nrecord-2\nrecord-3');
  assert.equal(await stores(), [`${storeId} app-state`], 'the same store container, and only it');
  assert.is((await host.sh(`docker exec ${storeId} cat /store/value`)).stdout.trim(), 'kept');
  assert.is((await host.sh(`docker exec ${storeId} cat /store/boots`)).stdout.trim(), 'started', 'never restarted');
  assert.is((await host.sh(`docker exec ${await live()} wget -q -O - http://store:8080/value`)).stdout.trim(), 'kept', 'the other slot reaches it too');
  assert.equal(await volumes(), ['hoist.app.data', 'hoist.app.store'], 'no per-slot copy was made');
});

test('an unhealthy v3 is refused; the data is as it was', async () => {
  await git.commit('app', appFiles('v3', 'echo v3 fails to start; exit 1'), 'v3');
  const r = await run('release');
  assert.is(r.code, 1, r.out);
  assert.is(await served('/'), 'v2');
  assert.is(await served('/data/records'), 'record-1\nrecord-2\nrecord-3');
  assert.equal(await volumes(), ['hoist.app.data', 'hoist.app.store']);
  assert.equal(await stores(), [`${storeId} app-state`], 'the failed release did not touch the store');
});

test('a rollback (to v1, from its image) and hoist exec see the same data', async () => {
  const back = await run('rollback');
  assert.is(back.code, 0, back.out);
  assert.is(await served('/'), 'v1');
  assert.is(await served('/data/records'), 'record-1\nrecord-2\nrecord-3');
  const ex = await tb.hoist(['exec', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--', 'cat', '/www/data/records']);
  assert.is(ex.code, 0, ex.stderr);
  assert.match(ex.stdout, /record-1\nrecord-2\nrecord-3/);
  assert.equal(await volumes(), ['hoist.app.data', 'hoist.app.store']);
  assert.equal(await stores(), [`${storeId} app-state`], 'rollback and exec (web depends on store) started no second store');
  const again = await run('rollback', ['--to', (await host.sh(`readlink ${APP}/current`)).stdout.trim().replace(/^releases\//, '')]);
  assert.ok(statuses(again).every((st) => st === 'unchanged'), JSON.stringify(statuses(again)));
});

test('the store\'s own definition changed: it is replaced, once, with its data', async () => {
  await git.commit('app', appFiles('v3b', undefined, COMPOSE.replace('x-hoist: {stateful: true}', 'x-hoist: {stateful: true}\n    environment: {TUNING: "2"}')), 'v3b');
  await releaseTwice('v3b');
  const s = await stores();
  assert.is(s.length, 1, `${s}`);
  assert.not.equal(s[0]!.split(' ')[0], storeId, 'a new container for the new definition');
  storeId = s[0]!.split(' ')[0]!;
  assert.is((await host.sh(`docker exec ${storeId} cat /store/value`)).stdout.trim(), 'kept');
  assert.is((await host.sh(`docker exec ${storeId} cat /store/boots`)).stdout.trim(), 'started\nstarted');
  assert.is(await served('/data/records'), 'record-1\nrecord-2\nrecord-3');
});

test('a read-write bind into the release folder is refused with the fix; the live release keeps serving', async () => {
  await git.commit('app', { ...appFiles('v4'), 'compose.yaml': COMPOSE.replace('      - data:/www/data\n', '      - data:/www/data\n      - ./cache:/cache\n') }, 'v4 with a bind');
  const r = await run('release');
  assert.is(r.code, 1, r.out);
  assert.match(r.out, /mounts \S+\/cache \(inside the release folder\) read-write on \/cache/);
  assert.match(r.out, /Fix: use a named volume/);
  assert.is(await served('/'), 'v3b');
  assert.is(await served('/data/records'), 'record-1\nrecord-2\nrecord-3');
});

test('an app live with per-slot volumes keeps the live slot\'s data; the other slot\'s copy is kept untouched', async () => {
  // The way hoist left an app before volumes were pinned: each slot its own compose project's
  // volumes (app-blue_data, app-green_data), no record. Made by hand: the live slot restarted by
  // compose without the pins, its data written there; the idle slot's copy with older data.
  await git.commit('app', appFiles('v5'), 'v5');
  const slot = (await host.sh(`cat ${APP}/active-slot`)).stdout.trim();
  const idle = slot === 'blue' ? 'green' : 'blue';
  const legacy = `set -e
cd ${APP}/current
sed -i '/^volumes:/,$d' ../../slots/${slot}.yaml
rm -f ../../volumes ../../state-release
docker rm -f $(docker ps -aq --filter label=com.docker.compose.project=app-state) >/dev/null
docker-compose -p app-${slot} -f compose.yaml -f ../../slots/${slot}.yaml up -d --no-build >/dev/null 2>&1
docker volume create app-${idle}_data >/dev/null
w=$(docker ps -q --filter label=com.docker.compose.project=app-${slot} --filter label=com.docker.compose.service=web)
docker exec "$w" sh -c 'echo live-1 > /www/data/records; echo live-2 >> /www/data/records'
docker run --rm -v app-${idle}_data:/d hoist-test-base sh -c 'echo old-idle > /d/records'`;
  const made = await host.sh(legacy, 'deploy');
  assert.is(made.code, 0, made.stderr);
  assert.is(await served('/data/records'), 'live-1\nlive-2', 'the legacy slot serves its own volume');

  const r = await releaseTwice('v5');
  assert.is(await served('/'), 'v5');
  assert.is(await served('/data/records'), 'live-1\nlive-2', 'the live slot\'s data went on with the release');
  assert.is((await host.sh(`grep '^data ' ${APP}/volumes`)).stdout.trim(), `data app-${slot}_data`);
  const warnings = r.report.hosts[0]!.warnings.join('\n');
  assert.match(warnings, new RegExp(`app-${slot}_data is now app's only copy`));
  assert.match(warnings, new RegExp(`the other slot's copy app-${idle}_data is kept as it was and no longer used`));
  const idleData = await host.sh(`docker run --rm -v app-${idle}_data:/d hoist-test-base cat /d/records`, 'deploy');
  assert.is(idleData.stdout.trim(), 'old-idle', 'the other slot\'s copy is untouched');
  // And the next release (back on the first slot) still sees the live data.
  await git.commit('app', appFiles('v6'), 'v6');
  await releaseTwice('v6');
  assert.is(await served('/data/records'), 'live-1\nlive-2');
  assert.ok((await volumes()).includes(`app-${idle}_data`), 'nothing deleted a volume');
});

test('a volume with driver options of its own (compose v1 replaces a volume\'s whole entry with the override\'s): made with them, once for the app', async () => {
  // The shape of a volume on block storage or NFS; tmpfs here, which needs nothing outside the host.
  const compose = COMPOSE.replace('      - data:/www/data\n', '      - data:/www/data\n      - scratch:/www/scratch\n')
    .replace('volumes:\n  data:\n', 'volumes:\n  data:\n  scratch: {driver: local, driver_opts: {type: tmpfs, device: tmpfs, o: "size=1m"}}\n');
  await git.commit('app', appFiles('v7', undefined, compose), 'v7 with a tmpfs volume');
  await releaseTwice('v7');
  assert.is(await served('/'), 'v7');
  assert.is((await host.sh("docker volume inspect -f '{{json .Options}}' hoist.app.scratch")).stdout.trim(), '{"device":"tmpfs","o":"size=1m","type":"tmpfs"}');
  const mounts = (await host.sh(`docker exec ${await live()} cat /proc/mounts`)).stdout;
  assert.match(mounts, /^\S+ \/www\/scratch tmpfs /m, `the container has it as tmpfs: ${mounts}`);
  assert.is((await host.sh(`grep '^scratch ' ${APP}/volumes`)).stdout.trim(), 'scratch hoist.app.scratch');
  assert.not.ok((await volumes()).some((v) => v.endsWith('_scratch')), 'no per-slot copy');
  assert.is(await served('/data/records'), 'live-1\nlive-2', 'the app\'s data as it was');

  // One made by an earlier hoist on compose v1, which dropped the options (made here by hand, and
  // recorded as it was): compose v1 would refuse it and advise removing it. Used as it is, said.
  const made = await host.sh(`docker volume create hoist.app.legacy >/dev/null && echo 'legacy hoist.app.legacy' >> ${APP}/volumes`, 'deploy');
  assert.is(made.code, 0, made.stderr);
  const v8 = compose.replace('      - scratch:/www/scratch\n', '      - scratch:/www/scratch\n      - legacy:/www/legacy\n')
    .replace('  scratch: {', '  legacy: {driver: local, driver_opts: {type: tmpfs, device: tmpfs, o: "size=2m"}}\n  scratch: {');
  await git.commit('app', appFiles('v8', undefined, v8), 'v8 with a volume made without its options');
  const r = await releaseTwice('v8');
  assert.is(await served('/'), 'v8');
  assert.match(r.report.hosts[0]!.warnings.join('\n'), /volume legacy \(hoist\.app\.legacy\) was made without the driver_opts your compose file gives it .*it is used as it is, with its data/);
  assert.match((await host.sh("docker volume inspect -f '{{json .Options}}' hoist.app.legacy")).stdout.trim(), /^(null|\{\})$/, 'the volume as it was');
});

test.run();
