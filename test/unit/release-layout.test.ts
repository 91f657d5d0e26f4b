// Release naming and layout: UTC stamps that sort as text, names from stamp and sha, what
// counts as a release directory, and the paths every release task shares.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appLayout, byAge, isReleaseName, parseReleaseName, releaseName, releaseStamp } from '../../lib/release/layout.ts';
import { releasesToPrune } from '../../lib/release/prune.ts';

const SHA = '0123456789abcdef0123456789abcdef01234567';

test('stamp: UTC yyyymmddHHMMSS whatever the local zone', () => {
  assert.is(releaseStamp(new Date('2024-01-31T23:59:59.999Z')), '20240131235959');
  assert.is(releaseStamp(new Date('2024-02-01T01:02:03+05:00')), '20240131200203');
  assert.is(releaseStamp(new Date(Date.UTC(2030, 11, 9, 8, 7, 6))), '20301209080706');
});

test('name: stamp and 12-char sha; only full shas and 14-digit stamps', () => {
  assert.is(releaseName('20240131235959', SHA), '20240131235959-0123456789ab');
  assert.throws(() => releaseName('20240131', SHA), /not a release stamp/);
  assert.throws(() => releaseName('20240131235959', '0123456'), /not a full commit sha/);
  assert.throws(() => releaseName('20240131235959', SHA.toUpperCase()), /not a full commit sha/);
});

test('parse: ours only; text order is age order', () => {
  assert.equal(parseReleaseName('20240131235959-0123456789ab'), { stamp: '20240131235959', shortSha: '0123456789ab' });
  for (const n of ['current', '.20240131235959-0123456789ab.tmp', '20240131235959-0123456789abc', '2024013123595-0123456789ab', 'x20240131235959-0123456789ab', '20240131235959-0123456789AB'])
    assert.not.ok(isReleaseName(n), n);
  assert.equal(byAge(['20240201000000-bbbbbbbbbbbb', '20231231235959-cccccccccccc', '20240131235959-aaaaaaaaaaaa']), [
    '20231231235959-cccccccccccc',
    '20240131235959-aaaaaaaaaaaa',
    '20240201000000-bbbbbbbbbbbb',
  ]);
});

test('layout: every path under ~/apps/APP', () => {
  const L = appLayout('sentiment-api');
  assert.equal(
    [L.root, L.cache, L.releases, L.release('R'), L.staging('R'), L.shared, L.env, L.envBackup, L.pending, L.current],
    [
      'apps/sentiment-api',
      'apps/sentiment-api/repo.git',
      'apps/sentiment-api/releases',
      'apps/sentiment-api/releases/R',
      'apps/sentiment-api/releases/.R.tmp',
      'apps/sentiment-api/shared',
      'apps/sentiment-api/shared/.env',
      'apps/sentiment-api/shared/.env.prev',
      'apps/sentiment-api/pending-release',
      'apps/sentiment-api/current',
    ],
  );
  assert.throws(() => appLayout('../etc'), /not an app name/);
  assert.throws(() => appLayout(''), /not an app name/);
});

const r = (n: number) => `2024010100000${n}-${String(n).repeat(12)}`;

test('prune: oldest first down to KEEP, never current nor pending, foreign names untouched', () => {
  assert.equal(releasesToPrune([r(1), r(2), r(3)], 5, [null, r(3)]), []);
  assert.equal(releasesToPrune([r(3), r(1), r(2)], 2, [r(2), r(3)]), [r(1)]);
  assert.equal(releasesToPrune([r(1), r(2), r(3), r(4)], 2, [r(1), r(4)]), [r(2), r(3)], 'an old current stays; the next oldest go');
  assert.equal(releasesToPrune([r(1), r(2), r(3)], 1, [r(2), r(3)]), [r(1)], 'keep=1: current and pending both stay until the switch');
  assert.equal(releasesToPrune([r(1), r(2)], 1, [r(1), r(2)]), []);
  assert.equal(releasesToPrune([r(1), 'my-notes', r(2), r(2)], 1, [null, r(2)]), [r(1)]);
});

test.run();
