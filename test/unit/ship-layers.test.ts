// BUILD=local as data: chain IDs as Docker computes them (checked against a layer store on this
// machine's Docker 20.10), which layers a host lacks (a prefix it has, the containerd store,
// staged and partial files), the probe's answer parsed, the commands exact, APP_SERVICE's build
// read from compose, docker-up planning a ship (never a build) when the image is built here, and
// the BUILD settings refused with the key named.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dockerUp, type DockerUpWanted } from '../../tasks/docker-up.ts';
import { parseDockerUpFact } from '../../tasks/docker-up/probe.ts';
import { chainIds, loadManifest, planShip, type HostLayers, type ShipImage } from '../../lib/ship/layers.ts';
import { parseShipProbe, receiveLayer } from '../../lib/ship/host-commands.ts';
import { appBuildOf } from '../../lib/ship/local-build.ts';
import { buildSettings } from '../../lib/config/settings.ts';
import { testHost } from '../harness/settings.ts';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const image: ShipImage = {
  id: d('f'),
  config: Buffer.from('{}'),
  layers: [
    { diffId: d('1'), size: 100, file: '/x/1' },
    { diffId: d('2'), size: 200, file: '/x/2' },
    { diffId: d('3'), size: 300, file: '/x/3' },
  ],
};
const host = (o: Partial<HostLayers> = {}): HostLayers => ({ images: [], chains: new Set(), staged: new Set(), partial: new Map(), containerdStore: false, ...o });

test('chain IDs: the first is the diff ID, each next sha256 of "parent diff" (a pair from a real layer store)', () => {
  // /var/lib/docker/image/overlay2/layerdb/sha256/1bc72b74…: parent 342977da…, diff e751c23a….
  const parent = 'sha256:342977da36fd1992992baf7c0f298b683d8233f0cd309be98dd36abd8457ee5f';
  const diff = 'sha256:e751c23abaa169039d2c12a0eaae82d0b793f8f79adc775cf9ea3fe75e2fc371';
  const [, chain] = chainIds([parent, diff]);
  assert.is(chain, 'sha256:1bc72b744585591ba1b08a8c1bc8b777d07b37a72228dab08f37c61a31ec26e9');
  assert.equal(chainIds([]), []);
});

test('plan: nothing on the host sends all; a prefix it has is skipped; the image by ID sends nothing', () => {
  const all = planShip(image, host());
  assert.equal(all.sends.map((s) => s.index), [0, 1, 2]);
  assert.is(all.bytesToSend, 600);
  assert.is(all.missingBytes, 600);
  const chains = chainIds(image.layers.map((l) => l.diffId));
  const prefix = planShip(image, host({ chains: new Set(chains.slice(0, 2)) }));
  assert.equal(prefix.missing.map((l) => l.diffId), [d('3')]);
  assert.is(prefix.bytesToSend, 300);
  // Layer 3's diff ID alone on another chain is not layer 3 here: the chain decides.
  const elsewhere = planShip(image, host({ chains: new Set([chains[0]!, d('3')]) }));
  assert.equal(elsewhere.missing.map((l) => l.diffId), [d('2'), d('3')]);
  const every = planShip(image, host({ chains: new Set(chains) }));
  assert.is(every.present, false);
  assert.equal(every.missing, []);
  assert.is(every.bytesToSend, 0, 'every layer there: only the config travels');
  const present = planShip(image, host({ images: [image.id] }));
  assert.is(present.present, true);
  assert.is(present.bytesToSend, 0);
});

test('plan: the containerd store gets every layer; staged ones are not sent again; a partial one resumes from its size', () => {
  const chains = chainIds(image.layers.map((l) => l.diffId));
  assert.is(planShip(image, host({ chains: new Set(chains), containerdStore: true })).missing.length, 3);
  const p = planShip(image, host({ staged: new Set(['1'.repeat(64)]), partial: new Map([['2'.repeat(64), 50]]) }));
  assert.equal(p.sends.map((s) => [s.index, s.offset]), [[1, 50], [2, 0]]);
  assert.is(p.missing.length, 3, 'the staged layer is still in the load');
  assert.is(p.bytesToSend, 150 + 300);
  const over = planShip(image, host({ partial: new Map([['1'.repeat(64), 999]]) }));
  assert.is(over.sends[0]!.offset, 0, 'a part longer than the layer starts over');
});

test('the load manifest names every layer under layers/HEX and the tag', () => {
  assert.equal(JSON.parse(loadManifest(image, 'hoist/app/web:R')), [{ Config: 'config.json', RepoTags: ['hoist/app/web:R'], Layers: ['1', '2', '3'].map((c) => `layers/${c.repeat(64)}`) }]);
});

test('the probe answer: images with their chains, staged and partial files, the store kind, room', () => {
  const f = parseShipProbe(
    [
      'info /var/lib/docker|[["Backing Filesystem","extfs"],["Supports d_type","true"]]',
      `image ${d('a')} ${d('1')},${d('2')},`,
      `image ${d('b')} `,
      `staged ${'3'.repeat(64)} 300`,
      `staged ${'4'.repeat(64)}.part 12`,
      'staged junk 5',
      'stage-df /dev/sda1 10000 4000 6000 40% /',
      'root-df /dev/sda1 10000 4000 6000 40% /',
    ].join('\n'),
  );
  assert.equal(f.images, [d('a'), d('b')]);
  assert.equal([...f.chains], chainIds([d('1'), d('2')]));
  assert.equal([...f.staged], ['3'.repeat(64)]);
  assert.equal([...f.partial], [['4'.repeat(64), 12]]);
  assert.is(f.containerdStore, false);
  assert.equal(f.stage, { device: '/dev/sda1', free: 6000 * 1024 });
  assert.is(parseShipProbe('info /var/lib/docker|[["driver-type","io.containerd.snapshotter.v1"]]').containerdStore, true);
});

test('receiving a layer: a fresh one truncates, a resumed one checks the part first and appends; checked by sha256 before it is named', () => {
  const h = 'a'.repeat(64);
  const fresh = receiveLayer('app', h, 300, 0).line;
  assert.match(fresh, `cat > apps/app/ship/layers/${h}.part || exit 1`);
  assert.match(fresh, `sha256sum -c --status`);
  assert.match(fresh, `mv -f apps/app/ship/layers/${h}.part apps/app/ship/layers/${h}`);
  const resumed = receiveLayer('app', h, 300, 120).line;
  assert.match(resumed, `[ "$(stat -c %s apps/app/ship/layers/${h}.part 2>/dev/null)" = 120 ]`);
  assert.match(resumed, `cat >> apps/app/ship/layers/${h}.part`);
});

test("compose: APP_SERVICE's build (string, object with dockerfile/args/target); another built service or none is refused", () => {
  assert.equal(appBuildOf('services:\n  web:\n    build: .\n', '/r', '/r', 'web', 'compose.yaml'), { context: '/r', dockerfile: null, args: {}, target: null });
  assert.equal(appBuildOf('services:\n  web:\n    build:\n      context: app\n      dockerfile: Dockerfile.prod\n      args:\n        A: "1"\n      target: run\n  db:\n    image: postgres\n', '/r', '/r', 'web', 'c.yaml'), {
    context: '/r/app',
    dockerfile: 'Dockerfile.prod',
    args: { A: '1' },
    target: 'run',
  });
  assert.equal(appBuildOf('services:\n  web:\n    build:\n      context: .\n      args: ["A=1", "B"]\n', '/r', '/r', 'web', 'c.yaml').args, { A: '1', B: '' });
  assert.throws(() => appBuildOf('services:\n  web:\n    build: .\n  worker:\n    build: ./w\n', '/r', '/r', 'web', 'compose.yaml'), /also builds worker/);
  assert.throws(() => appBuildOf('services:\n  web:\n    image: nginx\n', '/r', '/r', 'web', 'compose.yaml'), /no build for APP_SERVICE \(web\)/);
  assert.throws(() => appBuildOf('services:\n  web:\n    build: ../..\n', '/r', '/r', 'web', 'compose.yaml'), /outside the repository/);
});

const NEXT = '20240103000000-cccccccccccc';
const A1 = '20240101000000-0123456789ab';
const answer = {
  stdout: ['home=/home/deploy', 'systemd=no', 'docker=running', `pending=${NEXT}`, `current=releases/${A1}`, 'active=blue', 'compose=v1', 'project blue a-blue', 'project green a-green',
    'app-ports a blue 18001;green 18002;',
    JSON.stringify([{ Names: ['/a-blue_web_1'], Labels: { 'com.docker.compose.project': 'a-blue', 'com.docker.compose.service': 'web', 'hoist.release': A1 }, State: 'running', Status: 'Up 1 hour' }]),
    '@docker containers 200 0', JSON.stringify([{ RepoTags: [`hoist/a/web:${A1}`] }]), '@docker images 200 0', '@http blue 200', '@http green 0', `release ${A1}`, `release ${NEXT}`,
    // Room for no build at all: a ship is not held to the build's rule (its own check counts the missing layers).
    'disk-root /var/lib/docker', 'disk-fs 307200 100'].join('\n'),
  stderr: '',
  code: 0,
};
const input = (build: 'host' | 'local', shared: Record<string, unknown> = {}) => ({ host: testHost({ appName: 'a', appService: 'web', build }), loginUser: 'deploy', shared });
const want = (build: 'host' | 'local') => dockerUp.want(input(build)) as DockerUpWanted;

test('docker-up: with the image built here (BUILD=local) a missing image is shipped, never built; a kept one is started', () => {
  const f = parseDockerUpFact(answer, 'a');
  assert.throws(() => dockerUp.plan(want('host'), f, input('host')), /not enough free disk to build/, 'BUILD=host: builds, and the build rule holds');
  assert.throws(() => dockerUp.plan(want('local'), f, input('local')), /not on the host, and BUILD=local does not build on hosts: release it with the release pipeline/, 'no image built here (a rollback pipeline)');
  const plan = dockerUp.plan(want('local'), f, input('local', { ship: image }));
  assert.ok(plan.changes);
  if (!plan.changes) return;
  assert.is(plan.steps[0]!.ship, true);
  assert.is(plan.steps[0]!.build, false);
  assert.match(plan.steps[0]!.describe, /^ship the image built here, then start 20240103000000-cccccccccccc on the green slot/);
  f.images.push(NEXT);
  const kept = dockerUp.plan(want('local'), f, input('local', { ship: image }));
  assert.ok(kept.changes && !kept.steps[0]!.ship && !kept.steps[0]!.build, 'the image is on the host: neither');
});

test('settings: BUILD must be host, local or registry; registry needs REGISTRY; a user needs a password', () => {
  const here = mkdtempSync(join(tmpdir(), 'hoist-ship-settings-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(here, 'id')]);
  const key = join(here, 'id');
  const raw = (o: Record<string, string>) => new Map(Object.entries({ SSH_KEY: key, APP_NAME: 'a', ...o }).map(([k, v]) => [k, { value: v, source: '.env', baseDir: here }]));
  assert.throws(() => buildSettings(raw({ BUILD: 'laptop' })), (e: Error) => /BUILD/.test(e.message) && /not host, local or registry/.test(e.message));
  assert.throws(() => buildSettings(raw({ BUILD: 'registry' })), /REGISTRY is empty/);
  assert.throws(() => buildSettings(raw({ BUILD: 'registry', REGISTRY: 'reg.example:5000', REGISTRY_USER: 'ci' })), /REGISTRY_USER.*without REGISTRY_PASSWORD/);
  assert.throws(() => buildSettings(raw({ BUILD: 'local', BUILD_SOURCE: 'app\nx' })), /BUILD_SOURCE.*line break/);
  const s = buildSettings(raw({ BUILD: 'local', BUILD_SOURCE: 'app' }));
  assert.is(s.build, 'local');
  assert.is(s.buildSource, join(here, 'app'));
  assert.is(buildSettings(raw({})).build, 'host');
  rmSync(here, { recursive: true, force: true });
});

test.run();
