import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DockerUpFact } from '../../tasks/docker-up/probe.ts';
import { NO_PORTS } from '../harness/docker-up-facts.ts';
import { slotProblem } from '../../tasks/docker-up/slot-health.ts';

type Container = DockerUpFact['containers'][number];
const web: Container = { slot: 'green', service: 'web', release: 'r2', state: 'running', health: 'healthy' };
const worker: Container = { slot: 'green', service: 'worker', release: '', state: 'running', health: 'none' };
const oldWeb: Container = { slot: 'blue', service: 'web', release: 'r1', state: 'exited', health: 'none' };

function fact(containers: Container[], green = 200): DockerUpFact {
  return { home: '/home/deploy', docker: 'running', systemd: true, pending: null, current: 'r2', active: 'green', compose: 'v1', containers, images: [], http: { blue: 0, green }, releases: [], ...NO_PORTS };
}

test('a slot serves when all its containers run (healthy where checked) and the health path answers 2xx/3xx', () => {
  assert.is(slotProblem(fact([web, worker, oldWeb]), 'green', 'web'), null, 'the other slot does not count');
  assert.is(slotProblem(fact([web, worker], 302), 'green', 'web'), null);
});

test('what is wrong, in words: no app container, a sick one, or the health path', () => {
  assert.is(slotProblem(fact([worker]), 'green', 'web'), 'no web container in the green slot');
  assert.is(slotProblem(fact([web, { ...worker, state: 'exited' }]), 'green', 'web'), 'worker exited');
  assert.is(slotProblem(fact([{ ...web, health: 'starting' }, worker]), 'green', 'web'), 'web running/starting');
  assert.is(slotProblem(fact([web, worker], 502), 'green', 'web'), '2 running, but the health path answers 502');
  assert.is(slotProblem(fact([web, worker], 0), 'green', 'web'), '2 running, but the health path answers nothing');
  assert.is(slotProblem(fact([web, worker, oldWeb]), 'blue', 'web'), 'web exited');
});

test.run();
