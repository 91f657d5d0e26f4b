// Which images are the app's (tasks/app-remove/images.ts), as a table: hoist/APP/SERVICE names the
// app exactly; the old name hoist-APP-SERVICE is the app's only on exact evidence (app web with
// service api-x and app web-api with service x both named hoist-web-api-x); pulled images are
// nobody's alone, and an image another container needs keeps its last name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appImages } from '../../tasks/app-remove/images.ts';
import type { Container, Image } from '../../tasks/app-remove/types.ts';

const R1 = '20240101000000-0123456789ab';
const R2 = '20240102000000-abcdef012345';
const R3 = '20240103000000-abcdef012345';
const id = (c: string) => `sha256:${c.repeat(64)}`;
const img = (c: string, ref: string): Image => ({ id: id(c), ref, size: '1MB' });
const ctr = (c: Partial<Container>): Container => ({ id: '1'.repeat(64), name: 'x', image: id('a'), state: 'running', project: 'web-blue', service: 'web', release: R2, ...c });
type Host = { releases?: string[]; hostReleases?: Record<string, string[]> };
const pickFor = (app: string, service: string, containers: Container[], images: Image[], h: Host = {}) => {
  const p = appImages({ app, service }, { containers, images, releases: h.releases ?? [], hostReleases: h.hostReleases ?? {} });
  return { remove: p.remove.map((i) => i.ref), kept: p.kept.map((k) => `${k.image.ref} <- ${k.usedBy}`) };
};
const pick = (containers: Container[], images: Image[], h?: Host) => pickFor('web', 'web', containers, images, h);

test('hoist/APP/* with a release tag, whatever the service; not web-api\'s, not a pulled one, not an odd tag', () => {
  const images = [img('a', `hoist/web/web:${R2}`), img('f', `hoist/web/old-service:${R1}`), img('b', `hoist/web-api/web:${R1}`), img('c', 'redis:7'), img('d', 'hoist/web/web:latest'), img('e', 'hoist-test-base:latest')];
  assert.equal(pick([], images), { remove: [`hoist/web/web:${R2}`, `hoist/web/old-service:${R1}`], kept: [] });
});

test('app web (service api-x) and app web-api (service x) on one host: removing either leaves the other\'s images', () => {
  const hostReleases = { web: [R1], 'web-api': [R2] };
  const containers = [ctr({ project: 'web-blue', service: 'api-x', image: id('a'), release: R1 }), ctr({ id: '2'.repeat(64), name: 'web-api-blue_x_1', project: 'web-api-blue', service: 'x', image: id('b'), release: R2 })];
  // Under hoist's name: exact.
  const named = [img('a', `hoist/web/api-x:${R1}`), img('b', `hoist/web-api/x:${R2}`)];
  assert.equal(pickFor('web', 'api-x', containers, named, { releases: [R1], hostReleases }).remove, [`hoist/web/api-x:${R1}`]);
  assert.equal(pickFor('web-api', 'x', containers, named, { releases: [R2], hostReleases }).remove, [`hoist/web-api/x:${R2}`]);
  // Under the old name both are hoist-web-api-x: the container running each, or the release folders, say whose.
  const old = [img('a', `hoist-web-api-x:${R1}`), img('b', `hoist-web-api-x:${R2}`), img('c', `hoist-web-api-x:${R3}`)];
  assert.equal(pickFor('web', 'api-x', containers, old, { releases: [R1], hostReleases }).remove, [`hoist-web-api-x:${R1}`]);
  assert.equal(pickFor('web-api', 'x', containers, old, { releases: [R2], hostReleases }).remove, [`hoist-web-api-x:${R2}`]);
  // Neither runs it: the release folder; a release both apps have (one repository, same second), or neither: nobody's for sure, kept.
  const both = { web: [R1, R3], 'web-api': [R2, R3] };
  assert.equal(pickFor('web', 'api-x', [], old, { releases: [R1, R3], hostReleases: both }).remove, [`hoist-web-api-x:${R1}`]);
  assert.equal(pickFor('web-api', 'x', [], old, { releases: [R2, R3], hostReleases: both }).remove, [`hoist-web-api-x:${R2}`]);
  // Alone on the host, the old name can only be the app's.
  assert.equal(pickFor('web', 'api-x', [], old, { releases: [R1], hostReleases: { web: [R1] } }).remove, old.map((i) => i.ref));
});

test('the old name: exactly hoist-APP-SERVICE, not another service\'s or another app\'s', () => {
  const images = [img('a', `hoist-web-web:${R2}`), img('b', `hoist-web-api-web:${R1}`), img('d', 'hoist-web-web:latest')];
  assert.equal(pick([], images, { releases: [R2], hostReleases: { web: [R2], 'web-api': [R1] } }), { remove: [`hoist-web-web:${R2}`], kept: [] });
  assert.equal(pick([], [img('a', `hoist-web-site:${R1}`), img('c', `hoist-web-api-web:${R1}`)], { releases: [R1], hostReleases: { web: [R1], 'web-api': [R1] } }), { remove: [], kept: [] });
});

test('images compose built for the app\'s containers (v1 and v2 names), not those of other projects', () => {
  const containers = [ctr({ image: id('a'), service: 'worker' }), ctr({ image: id('b'), project: 'web-api-blue', service: 'worker', name: 'web-api-blue_worker_1' })];
  const images = [img('a', 'web-blue_worker:latest'), img('a', 'web-blue-worker:latest'), img('b', 'web-api-blue_worker:latest'), img('a', 'myorg/worker:1')];
  assert.equal(pick(containers, images), { remove: ['web-blue_worker:latest', 'web-blue-worker:latest'], kept: [] });
});

test('an image another container uses: untagged when it has another name, kept when it would lose its last', () => {
  const theirs = ctr({ project: 'mine', name: 'mine_1', image: id('a') });
  assert.equal(pick([theirs], [img('a', `hoist/web/web:${R2}`)]), { remove: [], kept: [`hoist/web/web:${R2} <- mine_1`] });
  assert.equal(pick([theirs], [img('a', `hoist/web/web:${R2}`), img('a', 'mine:1')]), { remove: [`hoist/web/web:${R2}`], kept: [] });
});

test.run();
