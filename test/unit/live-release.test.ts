// Which release is live, from docker-up's fact, and the words logs, exec and ssh say when none is.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { liveRelease, notRunning, unknownService, type LiveFact } from '../../lib/live/live-release.ts';


const R1 = '20261125000000-def000000001';
const R2 = '20261126000000-abc000000002';

function fact(over: Partial<LiveFact> = {}): LiveFact {
  return {
    docker: 'running',
    systemd: false,
    current: R2,
    active: 'green',
    compose: 'v1',
    containers: [
      { slot: 'green', service: 'web', release: R2, state: 'running' },
      { slot: 'green', service: 'worker', release: '', state: 'running' },
      { slot: 'blue', service: 'web', release: R1, state: 'exited' },
    ],
    ...over,
  };
}

test('the live slot, its release (from the app container\'s label), its services and how many run', () => {
  assert.equal(liveRelease(fact(), 'api', 'web', 'deploy'), { live: { release: R2, slot: 'green', compose: 'v1', services: ['web', 'worker'], running: 2, states: ['running', 'running'] } });
});

test('mid-release (active slot switched, current not yet): the release the live containers run', () => {
  const v = liveRelease(fact({ current: R1 }), 'api', 'web', 'deploy');
  assert.is(v.live?.release, R2);
  assert.is(liveRelease(fact({ containers: [{ slot: 'green', service: 'worker', release: '', state: 'running'}] }), 'api', 'web', 'deploy').live?.release, R2, 'no label: current');
});

test('no current, no active-slot, no containers: no release live, and run the release first', () => {
  const FIX = 'Fix: run `hoist run release` first';
  assert.is(liveRelease(fact({ current: null, active: null }), 'api', 'web', 'deploy').problem, `no release of api is live (there is no ~/apps/api/current). ${FIX}`);
  assert.is(liveRelease(fact({ active: null }), 'api', 'web', 'deploy').problem, `no release of api is live (~/apps/api/active-slot is missing). ${FIX}`);
  assert.is(liveRelease(fact({ active: 'blue', containers: [] }), 'api', 'web', 'deploy').problem, `no release of api is live: the blue slot (compose project api-blue) has no containers. ${FIX}`);
});

test('Docker not answering is said in docker-up\'s words', () => {
  assert.match(liveRelease(fact({ docker: 'stopped' }), 'api', 'web', 'deploy').problem ?? '', /^Docker is not running on this host/);
  assert.match(liveRelease(fact({ docker: 'denied' }), 'api', 'web', 'deploy').problem ?? '', /^deploy may not use Docker/);
});

test('stopped containers: still live for logs (their last lines), not for exec', () => {
  const stopped = fact({ containers: [{ slot: 'green', service: 'web', release: R2, state: 'exited'}] });
  const v = liveRelease(stopped, 'api', 'web', 'deploy');
  assert.is(v.live?.running, 0);
  assert.is(notRunning(v.live!, 'api'), 'no release of api is live: the containers of the green slot (compose project api-green) are not running (exited). Fix: run `hoist run release` first (hoist status shows more)');
  assert.is(notRunning(liveRelease(fact(), 'api', 'web', 'deploy').live!, 'api'), null);
});

test('a service the live slot does not run is named with the ones it does', () => {
  const live = liveRelease(fact(), 'api', 'web', 'deploy').live!;
  assert.is(unknownService(live, 'worker'), null);
  assert.is(unknownService(live, 'db'), 'the live slot (green) has no container of service "db"; it runs: web, worker. Fix: --service web (or set APP_SERVICE)');
});

test.run();
