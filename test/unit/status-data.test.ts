// `hoist status` after a start and for apps with data, from the answer recorded on a Docker
// 20.10 host (test/fixtures/docker-api/apps-probe.txt) with what such a host adds: a container
// whose health check has not passed yet ("starting", as in the first seconds after a reboot), a
// stateful service (project APP-state), and volumes as /system/df lists them with their sizes:
// the app's own (apps/APP/volumes), the other slot's per-slot copy a migration kept, and another
// app's. The table and the host's state say "starting", not NO; the exit code of `hoist status`
// follows the state (lib/cli/status.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appStatuses } from '../../lib/status/app-status.ts';
import { parseAppsFact } from '../../lib/status/apps-probe.ts';
import { diskUse } from '../../lib/status/disk-use.ts';
import { healthState, worstState } from '../../lib/status/health-state.ts';
import { statusTable } from '../../lib/render/status-table.ts';
import type { HostStatus } from '../../lib/status/host-status.ts';

const recorded = readFileSync(join(import.meta.dirname, '../fixtures/docker-api/apps-probe.txt'), 'utf8');
const vol = (name: string, labels: Record<string, string>, size: number) => ({ CreatedAt: '2026-12-07T04:00:00Z', Driver: 'local', Labels: labels, Mountpoint: `/var/lib/docker/volumes/${name}/_data`, Name: name, Options: null, Scope: 'local', UsageData: { RefCount: 1, Size: size } });
const VOLUMES = [
  vol('a-blue_data', { 'com.docker.compose.project': 'a-blue', 'com.docker.compose.volume': 'data' }, 4096),
  vol('a-green_data', { 'com.docker.compose.project': 'a-green', 'com.docker.compose.volume': 'data' }, 2048),
  vol('hoist.a.cache', { 'hoist.app': 'a', 'hoist.volume': 'cache' }, -1),
  vol('hoist.b.data', { 'hoist.app': 'b', 'hoist.volume': 'data' }, 1024),
  // Another project's, named like a key of a's: not a's (its project label says whose it is).
  vol('a-green_other', { 'com.docker.compose.project': 'elsewhere' }, 1),
];
const DB = { Id: 'f'.repeat(64), Names: ['/a-state_db_1'], ImageID: `sha256:${'e'.repeat(64)}`, Labels: { 'com.docker.compose.project': 'a-state', 'com.docker.compose.service': 'db' }, State: 'running', Status: 'Up 2 seconds (health: starting)' };

/** The recorded answer, a's web container in `webStatus`, its db in `dbStatus`, a's port answering `http`. */
function fact(o: { webStatus?: string; dbStatus?: string; dbState?: string; http?: number }) {
  let text = recorded.replace('"Volumes":[]', `"Volumes":${JSON.stringify(VOLUMES)}`);
  text = text.replace('"Mounts":[]}]', `"Mounts":[]},${JSON.stringify({ ...DB, Status: o.dbStatus ?? DB.Status, State: o.dbState ?? 'running' })}]`);
  if (o.webStatus) text = text.replace('"Status":"Up 3 minutes"', `"Status":${JSON.stringify(o.webStatus)}`);
  text = text.replace('app-http a 000', `app-http a ${o.http ?? 200}`);
  text = text.replace('app-ports a blue 18001;green 18002;\n', 'app-ports a blue 18001;green 18002;\napp-volumes a cache hoist.a.cache;data a-blue_data;\n');
  text = text.replace('app-ports b \n', 'app-ports b \napp-volumes b data hoist.b.data;\n');
  const f = parseAppsFact({ stdout: text, stderr: '', code: 0 });
  return appStatuses(f, diskUse(f), { app: 'a', service: 'web', healthPath: '/health', docker: null });
}

test('a stateful service whose health check has not passed yet: the app is "starting", not unhealthy; once it passes, healthy with the service listed', () => {
  const starting = fact({})[0]!;
  assert.equal(starting.stateful, [{ name: 'a-state_db_1', service: 'db', state: 'running', health: 'starting' }]);
  assert.equal(starting.health, { ok: false, state: 'starting', detail: 'starting: db (stateful) running/starting' });
  const up = fact({ dbStatus: 'Up 40 seconds (healthy)' })[0]!;
  assert.equal(up.health, { ok: true, state: 'healthy', detail: '1 running in the blue slot, /health answers 200; db healthy' });
  // The web container itself starting, its port not answering yet: starting too.
  assert.equal(fact({ webStatus: 'Up 1 second (health: starting)', dbStatus: 'Up 1 second (healthy)', http: 0 })[0]!.health.state, 'starting');
});

test('starting is only a start: a stopped or unhealthy container beside a starting one is unhealthy', () => {
  assert.equal(fact({ dbState: 'exited', dbStatus: 'Exited (1) 3 seconds ago' })[0]!.health, { ok: false, state: 'unhealthy', detail: 'db (stateful) exited' });
  assert.equal(fact({ webStatus: 'Up 1 minute (unhealthy)' })[0]!.health.state, 'unhealthy');
  assert.is(healthState([{ state: 'running', health: 'none' }]), 'unhealthy', 'nothing starting: a port that does not answer is a fault');
  assert.is(worstState(['healthy', 'starting']), 'starting');
  assert.is(worstState(['starting', 'unhealthy']), 'unhealthy');
});

test('volumes: the app\'s recorded ones with their sizes (null when Docker did not count), then the other slot\'s copy a migration kept; another app\'s and another project\'s are not listed', () => {
  const [a, b] = fact({});
  assert.equal(a!.volumes, [
    { name: 'hoist.a.cache', key: 'cache', bytes: null, kept: false },
    { name: 'a-blue_data', key: 'data', bytes: 4096, kept: false },
    { name: 'a-green_data', key: 'data', bytes: 2048, kept: true },
  ]);
  assert.equal(b!.volumes, [{ name: 'hoist.b.data', key: 'data', bytes: 1024, kept: false }]);
  assert.equal(b!.stateful, []);
});

test('the table says "starting" where a check is, lists stateful services and volumes, and counts the starting hosts', () => {
  const apps = fact({});
  const ok = { ok: true, detail: 'fine' };
  const host: HostStatus = { name: 'web1', address: '127.0.0.1:22', reachable: ok, release: null, commit: null, containers: { ok: false, detail: 'starting: web running/starting', state: 'starting' }, dns: ok, caddy: ok, lock: { held: false, detail: 'free' }, apps, disk: null, healthy: false, state: 'starting' };
  const text = statusTable([host]);
  assert.match(text, /\nweb1\s+ok\s+-\s+starting\s+ok\s+ok\s+free/);
  assert.match(text, /\nweb1\s+a\s+\S+\s+blue\s+18001\/18002\s+starting\s/);
  assert.ok(text.includes('\nweb1: a stateful: db running/starting\n'), text);
  assert.ok(text.includes('\nweb1: a volumes: hoist.a.cache, a-blue_data 4.00 KiB\n'), text);
  assert.ok(text.includes('\nweb1: a kept volume a-green_data 2.00 KiB: the other slot\'s copy of data from before one volume per app, no longer used; docker volume rm it once checked\n'), text);
  assert.ok(text.includes('\nweb1: b volumes: hoist.b.data 1.00 KiB\n'), text);
  assert.ok(text.endsWith('\n0 of 1 hosts healthy, 1 starting'), text);
});

test.run();
