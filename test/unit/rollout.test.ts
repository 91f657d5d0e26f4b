import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchSize, failureBudget, parseCount, planWaves, type RolloutOptions } from '../../lib/engine/rollout.ts';

const hosts = ['a', 'b', 'c', 'd', 'e'];
const opts = (o: Partial<RolloutOptions>): RolloutOptions => ({ concurrency: 10, fleetRollback: false, ...o });

test('parseCount: whole numbers and shares, nothing else', () => {
  assert.equal(parseCount('3'), { hosts: 3 });
  assert.equal(parseCount('0'), { hosts: 0 });
  assert.equal(parseCount('25%'), { percent: 25 });
  for (const bad of ['', '-1', '1.5', '101%', 'two', '3 hosts', '%', '1e3']) assert.is(parseCount(bad), null, bad);
});

test('a plain run is one wave of every host', () => {
  assert.equal(planWaves(hosts, opts({})), [hosts]);
});

test('batches keep inventory order; a share rounds up and is never 0', () => {
  assert.equal(planWaves(hosts, opts({ batch: { hosts: 2 } })), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.equal(planWaves(hosts, opts({ batch: { percent: 40 } })), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.is(batchSize({ percent: 1 }, 5), 1);
});

test('canary hosts go alone first, then the rest (in batches if asked)', () => {
  assert.equal(planWaves(hosts, opts({ canary: 1 })), [['a'], ['b', 'c', 'd', 'e']]);
  assert.equal(planWaves(hosts, opts({ canary: 2, batch: { hosts: 2 } })), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.equal(planWaves(['a'], opts({ canary: 3 })), [['a']]);
});

test('failure budget: none without flags, 0 for staged rollouts, shares round down', () => {
  assert.is(failureBudget(opts({}), 5), Number.POSITIVE_INFINITY);
  assert.is(failureBudget(opts({ canary: 1 }), 5), 0);
  assert.is(failureBudget(opts({ batch: { hosts: 2 } }), 5), 0);
  assert.is(failureBudget(opts({ maxFail: { hosts: 1 } }), 5), 1);
  assert.is(failureBudget(opts({ maxFail: { percent: 10 } }), 5), 0);
  assert.is(failureBudget(opts({ maxFail: { percent: 50 } }), 5), 2);
});

test.run();
