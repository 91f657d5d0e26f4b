// Which images are the app's (tasks/app-remove/images.ts), as a table: names alone would take
// another app's (hoist-web-* matches web-api's), pulled images are nobody's alone, and an image
// another container needs keeps its last name.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appImages } from '../../tasks/app-remove/images.ts';
import type { Container, Image } from '../../tasks/app-remove/types.ts';

const R1 = '20240101000000-0123456789ab';
const R2 = '20240102000000-abcdef012345';
const id = (c: string) => `sha256:${c.repeat(64)}`;
const img = (c: string, ref: string): Image => ({ id: id(c), ref, size: '1MB' });
const ctr = (c: Partial<Container>): Container => ({ id: '1'.repeat(64), name: 'x', image: id('a'), state: 'running', project: 'web-blue', service: 'web', release: R2, ...c });
const pick = (containers: Container[], images: Image[]) => {
  const p = appImages({ app: 'web', service: 'web' }, { containers, images });
  return { remove: p.remove.map((i) => i.ref), kept: p.kept.map((k) => `${k.image.ref} <- ${k.usedBy}`) };
};

test('hoist-APP-SERVICE with a release tag; not web-api\'s, not a pulled one, not an odd tag', () => {
  const images = [img('a', `hoist-web-web:${R2}`), img('b', `hoist-web-api-web:${R1}`), img('c', 'redis:7'), img('d', 'hoist-web-web:latest'), img('e', 'hoist-test-base:latest')];
  assert.equal(pick([], images), { remove: [`hoist-web-web:${R2}`], kept: [] });
});

test('not hoist-APP-* by release name: web-api\'s image of the same release (one repository, same second) stays', () => {
  const images = [img('a', `hoist-web-site:${R1}`), img('c', `hoist-web-api-web:${R1}`)];
  assert.equal(pick([], images), { remove: [], kept: [] });
});

test('images compose built for the app\'s containers (v1 and v2 names), not those of other projects', () => {
  const containers = [ctr({ image: id('a'), service: 'worker' }), ctr({ image: id('b'), project: 'web-api-blue', service: 'worker', name: 'web-api-blue_worker_1' })];
  const images = [img('a', 'web-blue_worker:latest'), img('a', 'web-blue-worker:latest'), img('b', 'web-api-blue_worker:latest'), img('a', 'myorg/worker:1')];
  assert.equal(pick(containers, images), { remove: ['web-blue_worker:latest', 'web-blue-worker:latest'], kept: [] });
});

test('an image another container uses: untagged when it has another name, kept when it would lose its last', () => {
  const theirs = ctr({ project: 'mine', name: 'mine_1', image: id('a') });
  assert.equal(pick([theirs], [img('a', `hoist-web-web:${R2}`)]), { remove: [], kept: [`hoist-web-web:${R2} <- mine_1`] });
  assert.equal(pick([theirs], [img('a', `hoist-web-web:${R2}`), img('a', 'mine:1')]), { remove: [`hoist-web-web:${R2}`], kept: [] });
});

test.run();
