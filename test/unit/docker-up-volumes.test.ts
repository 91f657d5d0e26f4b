// Issue #18 item 1: one copy of an app's data whatever slot runs. The pure parts: reading
// compose's resolved configuration (v1's and v2's shapes), choosing the Docker volume per key
// (record, per-slot migration, new), and the override lines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { HoistError } from '../../lib/errors.ts';
import { overrideYaml } from '../../tasks/docker-up/slots.ts';
import { appNetwork, networkOverrideYaml, planStateful, stateOverrideYaml } from '../../tasks/docker-up/stateful.ts';
import { applyVolumesCommand, parseVolumesRecord, planVolumes, readComposeConfig, volumesOverrideYaml, volumesRecordText } from '../../tasks/docker-up/volumes.ts';

const DIR = '/home/deploy/apps/api/releases/20261207-aaa';

// What `docker compose -p api-blue config` (v2) prints: every volume named, mounts in long form.
const V2 = `name: api-blue
services:
  web:
    build: {context: ${DIR}}
    volumes:
      - {type: volume, source: data, target: /data}
      - {type: bind, source: ${DIR}/settings.toml, target: /etc/app.toml, read_only: true}
  db:
    image: store
    volumes:
      - {type: volume, source: store, target: /var/lib/store}
volumes:
  data: {name: api-blue_data}
  store: {name: api-blue_store}
  mine: {name: my-own-volume}
  outside: {name: shared-models, external: true}
  nfs: {name: api-blue_nfs, driver: local, driver_opts: {type: nfs, o: addr=10.0.0.1, device: ":/models"}}
`;

// What `docker-compose -p api-blue config` (v1, Debian 12) prints: no default names, mounts as strings.
const V1 = `services:
  web:
    build: {context: ${DIR}}
    volumes:
    - data:/data:rw
    - ${DIR}/cache:/cache:rw
    - /srv/models:/models:rw
volumes:
  data: {}
  store: null
`;

test('v2: default-named volumes are pinned, the user\'s own named, external ones are not; one with driver options is pinned by name', () => {
  const r = readComposeConfig(parse(V2), 'api-blue', DIR);
  assert.equal(r.volumes, [
    { key: 'data', ownDriver: false },
    { key: 'store', ownDriver: false },
    { key: 'nfs', ownDriver: true },
  ]);
  assert.equal(r.binds, [], 'a read-only bind of a file in the release is part of the release');
});

test('v1: volumes without a name are pinned; a read-write bind inside the release is found, one outside is not', () => {
  const r = readComposeConfig(parse(V1), 'api-blue', DIR);
  assert.equal(r.volumes.map((v) => v.key), ['data', 'store']);
  assert.equal(r.binds, [{ service: 'web', source: `${DIR}/cache`, target: '/cache' }]);
});

test('a read-write bind inside the release is refused with the fix, before anything is made', () => {
  const release = readComposeConfig(parse(V1), 'api-blue', DIR);
  try {
    planVolumes({ app: 'api', active: null, release, record: new Map(), existing: new Set() });
    assert.unreachable('planned');
  } catch (e) {
    assert.instance(e, HoistError);
    assert.match((e as Error).message, /service web mounts .*\/cache \(inside the release folder\) read-write on \/cache/);
    assert.match((e as Error).message, /Fix: use a named volume/);
  }
});

test('a new app: one volume per key named for the app, made by hoist, recorded', () => {
  const plan = planVolumes({ app: 'api', active: null, release: readComposeConfig(parse(V2), 'api-blue', DIR), record: new Map(), existing: new Set() });
  assert.equal(plan.pins, [
    { key: 'data', name: 'hoist.api.data', external: true, create: true },
    { key: 'store', name: 'hoist.api.store', external: true, create: true },
    { key: 'nfs', name: 'hoist.api.nfs', external: false, create: false },
  ]);
  assert.is(volumesRecordText(plan.record!), 'data hoist.api.data\nnfs hoist.api.nfs\nstore hoist.api.store\n');
  assert.equal(plan.notes, []);
});

test('the next release (either slot) finds the recorded volumes: nothing made, nothing recorded', () => {
  const record = parseVolumesRecord('data hoist.api.data\nstore hoist.api.store\nnfs hoist.api.nfs\n');
  for (const project of ['api-blue', 'api-green']) {
    const plan = planVolumes({ app: 'api', active: 'blue', release: readComposeConfig(parse(V2.replaceAll('api-blue', project)), project, DIR), record, existing: new Set(['hoist.api.data', 'hoist.api.store']) });
    assert.equal(plan.pins.map((p) => [p.name, p.create]), [['hoist.api.data', false], ['hoist.api.store', false], ['hoist.api.nfs', false]]);
    assert.is(plan.record, null);
  }
});

test('an app live with per-slot volumes: the live slot\'s volume becomes the app\'s, the other slot\'s copy is named and kept', () => {
  const existing = new Set(['api-blue_data', 'api-green_data', 'api-green_store', 'other-green_data']);
  const plan = planVolumes({ app: 'api', active: 'green', release: readComposeConfig(parse(V1), 'api-blue', `${DIR}x`), record: new Map(), existing });
  assert.equal(plan.pins, [
    { key: 'data', name: 'api-green_data', external: true, create: false },
    { key: 'store', name: 'api-green_store', external: true, create: false },
  ]);
  assert.is(volumesRecordText(plan.record!), 'data api-green_data\nstore api-green_store\n');
  assert.is(plan.notes.length, 2);
  assert.match(plan.notes[0]!, /api-green_data is now api's only copy/);
  assert.match(plan.notes[0]!, /the other slot's copy api-blue_data is kept as it was and no longer used/);
  assert.not.match(plan.notes[1]!, /other slot's copy/, 'store had no copy in the idle slot');
  const cmd = applyVolumesCommand('api', plan)!.toString();
  assert.not.match(cmd, /volume (rm|prune)|volume create/, 'nothing is made or removed; only the record is written');
});

test('released again after hoist remove (no record, no live slot): a kept per-slot copy is taken again; two copies are refused with the choice; hoist.APP.KEY kept wins', () => {
  const release = readComposeConfig(parse(V1.replace(/ {4}- \/home\S+\n/, '')), 'api-blue', DIR);
  const one = planVolumes({ app: 'api', active: null, release, record: new Map(), existing: new Set(['api-green_data', 'other-blue_data']) });
  assert.equal(one.pins[0], { key: 'data', name: 'api-green_data', external: true, create: false });
  assert.is(volumesRecordText(one.record!), 'data api-green_data\nstore hoist.api.store\n');
  assert.match(one.notes[0]!, /^volume data: api-green_data \(kept from before, e\.g\. by hoist remove\) is api's data again/);
  assert.not.match(applyVolumesCommand('api', one)!.toString(), /volume create [^;]*api-green_data/, 'not made again');
  assert.throws(
    () => planVolumes({ app: 'api', active: null, release, record: new Map(), existing: new Set(['api-blue_data', 'api-green_data']) }),
    (e: Error) =>
      e instanceof HoistError &&
      e.message.startsWith("volume data: this host keeps two copies of api's data from before (api-blue_data and api-green_data: per-slot volumes, kept by hoist remove), and nothing says which one api used last") &&
      e.message.includes(`Fix: look at both`) &&
      e.message.includes(`hoist ssh -- sh -c 'mkdir -p ~/apps/api && echo "data api-blue_data" >> ~/apps/api/volumes'`),
  );
  const own = planVolumes({ app: 'api', active: null, release, record: new Map(), existing: new Set(['hoist.api.data', 'api-blue_data', 'api-green_data']) });
  assert.equal(own.pins[0], { key: 'data', name: 'hoist.api.data', external: true, create: false });
  // The user's choice, written as the fix says, is the record: taken as it is.
  const chosen = planVolumes({ app: 'api', active: null, release, record: parseVolumesRecord('data api-blue_data\n'), existing: new Set(['api-blue_data', 'api-green_data']) });
  assert.equal(chosen.pins[0], { key: 'data', name: 'api-blue_data', external: true, create: false });
});

test('a volume removed by hand is made again under its recorded name (empty: the data was the user\'s to delete)', () => {
  const plan = planVolumes({ app: 'api', active: 'blue', release: readComposeConfig(parse(V1.replace(/ {4}- \/home\S+\n/, '')), 'api-blue', DIR), record: parseVolumesRecord('data api-blue_data\n'), existing: new Set() });
  assert.equal(plan.pins[0], { key: 'data', name: 'api-blue_data', external: true, create: true });
});

test('the override pins each key and compose reads it as one document with the services', () => {
  const plan = planVolumes({ app: 'api', active: null, release: readComposeConfig(parse(V2), 'api-blue', DIR), record: new Map(), existing: new Set() });
  const doc = parse(overrideYaml({ service: 'web', port: 18001, appPort: 8000, app: 'api', release: 'r', volumes: volumesOverrideYaml(plan.pins) })) as { volumes: unknown; services: Record<string, unknown> };
  assert.ok(doc.services.web);
  assert.equal(doc.volumes, {
    data: { external: true, name: 'hoist.api.data' },
    store: { external: true, name: 'hoist.api.store' },
    nfs: { name: 'hoist.api.nfs' },
  });
  assert.equal(volumesOverrideYaml([]), []);
});

test('the commands quote every name and label; a record line that is not a name is ignored', () => {
  const cmd = applyVolumesCommand('api', { pins: [{ key: 'data', name: 'hoist.api.data', external: true, create: true }], record: new Map([['data', 'hoist.api.data']]), notes: [] })!.toString();
  assert.match(cmd, /docker volume create --label 'hoist\.app=api' --label 'hoist\.volume=data' hoist\.api\.data/);
  assert.equal([...parseVolumesRecord('data $(rm -rf ~)\nok hoist.api.ok\n')], [['ok', 'hoist.api.ok']]);
  assert.is(applyVolumesCommand('api', { pins: [{ key: 'data', name: 'x', external: true, create: false }], record: null, notes: [] }), null);
});


// Issue #18 item 2: stateful services run once, outside the blue/green pair.
const WITH_DB = (mark: string) => parse(`services:
  web:
    build: .
    depends_on: [db]
  db:
    image: docker.io/library/postgres:16
${mark}    volumes: [pgdata:/var/lib/postgresql/data]
  worker:
    image: ghcr.io/acme/worker:1
    volumes: [cache:/cache]
volumes:
  pgdata: {}
  cache: {}
`);

test('a service marked x-hoist stateful runs once; the rest run in each slot', () => {
  const plan = planStateful(readComposeConfig(WITH_DB('    x-hoist: {stateful: true}\n'), 'api-blue', DIR), 'web');
  assert.equal(plan, { stateful: ['db'], slotServices: ['web', 'worker'] });
  assert.equal(networkOverrideYaml('api', plan), ['networks:', '  default:', '    external: true', '    name: "hoist.api"']);
  assert.is(appNetwork('api'), 'hoist.api');
  assert.equal(networkOverrideYaml('api', { stateful: [], slotServices: ['web'] }), [], 'no shared network without stateful services');
});

test('the state override gives a stateful service without a policy of its own restart: unless-stopped, and keeps one the file sets', () => {
  const release = readComposeConfig(WITH_DB('    x-hoist: {stateful: true}\n'), 'api-blue', DIR);
  const plan = planStateful(release, 'web');
  const doc = parse(stateOverrideYaml(networkOverrideYaml('api', plan), release, plan)) as { services: Record<string, unknown>; networks: unknown };
  assert.equal(doc.services, { db: { restart: 'unless-stopped' } });
  assert.ok(doc.networks);
  const own = readComposeConfig(WITH_DB('    x-hoist: {stateful: true}\n    restart: always\n'), 'api-blue', DIR);
  assert.not.ok(((parse(stateOverrideYaml(networkOverrideYaml('api', planStateful(own, 'web')), own, planStateful(own, 'web'))) ?? {}) as { services?: unknown }).services);
});

test('an unmarked database with a named volume is refused with the fix; stateful: false says two copies are meant', () => {
  try {
    planStateful(readComposeConfig(WITH_DB(''), 'api-blue', DIR), 'web');
    assert.unreachable('planned');
  } catch (e) {
    assert.instance(e, HoistError);
    assert.match((e as Error).message, /service db \(image docker\.io\/library\/postgres:16\) keeps its data in volume pgdata/);
    assert.match((e as Error).message, /Fix: .*x-hoist: \{stateful: true\}. under services\.db/);
  }
  assert.equal(planStateful(readComposeConfig(WITH_DB('    x-hoist: {stateful: false}\n'), 'api-blue', DIR), 'web').stateful, []);
});

test('APP_SERVICE marked stateful is refused: the service Caddy serves runs blue/green', () => {
  assert.throws(() => planStateful(readComposeConfig(parse('services:\n  web:\n    image: x\n    x-hoist: {stateful: true}\n'), 'api-blue', DIR), 'web'), /is APP_SERVICE and is marked/);
});

test.run();
