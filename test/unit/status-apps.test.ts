// `hoist status`'s view of every app on a host and of Docker's disk, from an answer recorded on a
// Docker 20.10 host (test/fixtures/docker-api/apps-probe.txt: two apps, a's two releases built by
// compose v1's classic builder, b's by BuildKit, one dangling image, a build cache): which image
// is whose, layers shared by releases counted once, what only the app uses, the build cache the
// host's; each app's release, slot, ports and health; values from the host checked.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appStatuses } from '../../lib/status/app-status.ts';
import { appsProbe, parseAppsFact, parseHistory, parseSystemDf } from '../../lib/status/apps-probe.ts';
import { diskUse } from '../../lib/status/disk-use.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/docker-api');
const recorded = readFileSync(join(FIXTURES, 'apps-probe.txt'), 'utf8');
const A1 = '20240101000000-0123456789ab';
const A2 = '20240101000000-ba9876543210';
const B1 = '20240102000000-aaaaaaaaaaaa';
// The layers as built: the imported base; a's v1 adds 3 bytes and a 20 MiB file, v2 other 3
// bytes; b adds 200 KiB; the dangling image (b's earlier build) 300 KiB.
const BASE = 1982326;
const answer = (text = recorded) => ({ stdout: text, stderr: '', code: 0 });

test('/system/df as Docker 20.10 answers it: images with sizes and how many containers use them, containers, build cache', () => {
  const df = parseSystemDf(readFileSync(join(FIXTURES, 'system-df.json'), 'utf8'))!;
  assert.is(df.layersSize, 23465852);
  assert.equal(df.images.map((i) => [i.refs, i.size, i.containers]), [
    [[`hoist-b-api:${B1}`], 2187126, 0],
    [[], 2289526, 0],
    [[`hoist-a-web:${A2}`], 1982329, 0],
    [[`hoist-a-web:${A1}`], 22953849, 1],
    [['hoist-test-base:latest'], BASE, 0],
  ]);
  assert.equal(df.containers.map((c) => [c.name, c.project, c.service, c.state, c.health]), [['a-blue_web_1', 'a-blue', 'web', 'running', 'none']]);
  // BuildKit's entries for steps whose output became an image's layer are `Shared`: those bytes are the images'.
  assert.equal(df.buildCache.map((b) => [b.size, b.inUse, b.shared]).slice(0, 3), [[204800, false, true], [110, false, false], [0, false, false]]);
  assert.is(parseSystemDf(''), null, 'Docker did not answer');
  assert.is(parseSystemDf('{"Images":[{"Id'), null, 'cut short');
});

test('an image\'s history becomes its layers, keyed by everything below them: the base is the same layer in every image built on it', () => {
  const fact = parseAppsFact(answer());
  const [a1, base, b1] = [`hoist-a-web:${A1}`, 'hoist-test-base:latest', `hoist-b-api:${B1}`].map((ref) => fact.layers.get(fact.df!.images.find((i) => i.refs.includes(ref))!.id)!);
  assert.equal(a1!.map((l) => l.size), [BASE, 3, 20971520, 0]);
  assert.equal(a1!.reduce((n, l) => n + l.size, 0), 22953849, 'the layers add up to the image');
  assert.is(a1![0]!.key, base![0]!.key, 'classic builder on the base');
  assert.is(b1![0]!.key, base![0]!.key, 'BuildKit on the base');
  assert.is.not(a1![1]!.key, b1![1]!.key);
  assert.is(parseHistory('nonsense'), null);
});

test('disk use per app: its images (shared layers once), what only it uses, its releases; the host: free space, every image, dangling, build cache', () => {
  const use = diskUse(parseAppsFact(answer()));
  assert.equal(use.host, {
    dockerRoot: '/var/lib/docker',
    freeBytes: 283580 * 1024,
    totalBytes: 307200 * 1024,
    imagesBytes: 23465852,
    buildCache: { bytes: 110, reclaimableBytes: 110, entries: 5, perApp: false },
    dangling: { count: 1, bytes: 307200 },
  });
  const a = use.apps.a!;
  assert.equal(a.images.map((i) => [i.ref, i.bytes, i.release, i.releaseOnHost, i.live]), [
    [`hoist-a-web:${A2}`, 1982329, A2, true, false],
    [`hoist-a-web:${A1}`, 22953849, A1, true, true],
  ]);
  assert.equal([a.imagesBytes, a.ownBytes, a.releasesBytes, a.repoBytes], [BASE + 3 + 20971520 + 3, 3 + 20971520 + 3, 16 * 1024, 4 * 1024]);
  const b = use.apps.b!;
  assert.equal([b.images.map((i) => i.ref), b.imagesBytes, b.ownBytes, b.releasesBytes, b.repoBytes], [[`hoist-b-api:${B1}`], BASE + 204800, 204800, 8 * 1024, null]);
  assert.is(use.host.imagesBytes, BASE + 3 + 20971520 + 3 + 204800 + 307200, "Docker's own total: every layer once");
});

test('each app: release, slot, ports and health; a\'s live slot publishes no port here, b has nothing live', () => {
  const f = parseAppsFact(answer());
  const apps = appStatuses(f, diskUse(f), { app: 'a', service: 'web', healthPath: '/health', docker: null });
  assert.equal(apps.map((a) => [a.name, a.release, a.slot, a.ports, a.health]), [
    ['a', A1, 'blue', { blue: 18001, green: 18002 }, { ok: false, state: 'unhealthy', detail: '1 running, but /health answers nothing' }],
    ['b', null, null, null, { ok: false, state: 'unhealthy', detail: 'no release is live' }],
  ]);
  assert.equal(apps[0]!.containers, [{ name: 'a-blue_web_1', slot: 'blue', service: 'web', release: '', state: 'running', health: 'none' }]);
  // Answering: the settings' app on its HEALTH_PATH with 2xx/3xx; another app on / with anything below 500.
  const answering = (code: number, app: string) => {
    const g = parseAppsFact(answer(recorded.replace('app-http a 000', `app-http a ${code}`)));
    return appStatuses(g, diskUse(g), { app, service: 'web', healthPath: '/health', docker: null })[0]!.health;
  };
  assert.equal(answering(200, 'a'), { ok: true, state: 'healthy', detail: '1 running in the blue slot, /health answers 200' });
  assert.equal(answering(404, 'a'), { ok: false, state: 'unhealthy', detail: '1 running, but /health answers 404' });
  assert.equal(answering(404, 'b'), { ok: true, state: 'healthy', detail: '1 running in the blue slot, / answers 404' });
  assert.equal(answering(502, 'b'), { ok: false, state: 'unhealthy', detail: '1 running, but / answers 502' });
  const down = appStatuses(f, diskUse(f), { app: 'a', service: 'web', healthPath: '/', docker: 'Docker is not running on this host' });
  assert.ok(down.every((a) => a.health.detail === 'Docker is not running on this host'));
});

test('values from the host are checked: a bad current or active-slot is said, not used; a folder that is no app name is skipped', () => {
  const text = recorded
    .replace(`app-current a releases/${A1} `, 'app-current a ../../etc/passwd')
    .replace('app-active b ', 'app-active b purple')
    .replace('app-image a blue hoist-a-web', 'app-image a blue hoist-zz-web')
    .replace('end\n', 'app Bad.Name\napp-current Bad.Name x\nend\n');
  const f = parseAppsFact(answer(text));
  assert.equal(f.apps.map((a) => a.name), ['a', 'b']);
  assert.is(f.apps[0]!.current, null);
  assert.match(f.apps[0]!.stateProblem!, /^~\/apps\/a\/current points at "?\.\.\/\.\.\/etc\/passwd"?, which is not a release name/);
  assert.match(f.apps[1]!.stateProblem!, /^~\/apps\/b\/active-slot holds "?purple"?, which is not blue or green/);
  assert.equal(f.apps[0]!.slotImages, {}, 'an override naming another app\'s image is not believed');
  assert.throws(() => parseAppsFact(answer(recorded.replace('end\n', ''))), /reading the apps and Docker's disk use failed/);
});

test('the command: one sh script (valid), every app folder, the settings\' app asked on its HEALTH_PATH, others on /', () => {
  const line = appsProbe({ app: 'a', healthPath: '/health?x=1' }).line;
  assert.is(spawnSync('/bin/sh', ['-n', '-c', line]).status, 0);
  assert.ok(line.includes("if [ \"$a\" = a ]; then hp='/health?x=1'; else hp=/; fi"), line);
  assert.match(line, /http:\/\/docker\/system\/df/);
  assert.match(line, /"http:\/\/docker\/images\/\$id\/history"/);
  assert.not.match(line, /docker (ps|inspect|images|system)/, 'no docker CLI');
});

test.run();
