// Issue #18 item 1: one copy of an app's data whatever slot runs. The pure parts: reading
// compose's resolved configuration (v1's and v2's shapes), choosing the Docker volume per key
// (record, per-slot migration, new), and the override lines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { HoistError } from '../../lib/errors.ts';
import { overrideYaml } from '../../tasks/docker-up/slots.ts';
import { appNetwork, networkOverrideYaml, planStateful, stateOverrideYaml } from '../../tasks/docker-up/stateful.ts';
import { applyVolumesCommand, parseDriverOpts, parseVolumesRecord, planVolumes, readComposeConfig, volumesOverrideYaml, volumesRecordText } from '../../tasks/docker-up/volumes.ts';

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
    { key: 'nfs', ownDriver: true, options: { driver: 'local', driver_opts: { type: 'nfs', o: 'addr=10.0.0.1', device: ':/models' } } },
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
    { key: 'nfs', name: 'hoist.api.nfs', external: false, create: false, options: { driver: 'local', driver_opts: { type: 'nfs', o: 'addr=10.0.0.1', device: ':/models' } } },
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
    // Its options repeated: compose v1 replaces the whole entry with the override's (the device would be lost).
    nfs: { name: 'hoist.api.nfs', driver: 'local', driver_opts: { type: 'nfs', o: 'addr=10.0.0.1', device: ':/models' } },
  });
  assert.equal(volumesOverrideYaml([]), []);
});

test('driver: local or labels alone are options of compose\'s own too (compose refuses external beside them); a $ in them stays a $', () => {
  const release = readComposeConfig(parse(`services:\n  web: {build: .}\nvolumes:\n  a: {driver: local}\n  b: {labels: {team: ml}}\n  c: {driver: local, driver_opts: {type: none, o: bind, device: '/mnt/$$x'}}\n`.replace('$$x', '$x')), 'api-blue', DIR);
  const plan = planVolumes({ app: 'api', active: null, release, record: new Map(), existing: new Set() });
  assert.equal(plan.pins.map((p) => [p.key, p.external, p.create]), [['a', false, false], ['b', false, false], ['c', false, false]]);
  assert.equal(parse(volumesOverrideYaml(plan.pins).join('\n')), {
    volumes: {
      a: { name: 'hoist.api.a', driver: 'local' },
      b: { name: 'hoist.api.b', labels: { team: 'ml' } },
      c: { name: 'hoist.api.c', driver: 'local', driver_opts: { type: 'none', o: 'bind', device: '/mnt/$$x' } },
    },
  });
});

test('a volume made before hoist repeated its driver_opts (compose v1 dropped them) is used as it is, with a note; one made with them keeps them', () => {
  const release = readComposeConfig(parse(`services:\n  web: {build: .}\nvolumes:\n  c: {driver: local, driver_opts: {type: tmpfs, device: tmpfs, o: "size=1m"}}\n`), 'api-blue', DIR);
  const record = new Map([['c', 'hoist.api.c']]);
  const existing = new Set(['hoist.api.c']);
  const legacy = planVolumes({ app: 'api', active: 'blue', release, record, existing, driverOpts: parseDriverOpts('hoist.api.c null\n') });
  assert.equal(legacy.pins[0]!.options, { driver: 'local' }, 'no driver_opts: compose v1 would refuse and advise removing the volume');
  assert.match(legacy.notes.join('\n'), /^volume c \(hoist\.api\.c\) was made without the driver_opts your compose file gives it .*it is used as it is, with its data/);
  const made = planVolumes({ app: 'api', active: 'blue', release, record, existing, driverOpts: parseDriverOpts('hoist.api.c {"device":"tmpfs","o":"size=1m","type":"tmpfs"}\nnot json {\n') });
  assert.equal(made.pins[0]!.options, { driver: 'local', driver_opts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } });
  assert.equal(made.notes, []);
  assert.equal([...parseDriverOpts('$(x) {}\nhoist.a.b {"k":1}\n')], [['hoist.a.b', { k: '1' }]]);
});

test('a volume named after the slot\'s project (${COMPOSE_PROJECT_NAME}-data) is refused with the fix; a name that only starts alike is the user\'s', () => {
  const named = (name: string) => readComposeConfig(parse(`services:\n  web: {build: .}\nvolumes:\n  data: {name: ${name}}\n`), 'api-blue', DIR);
  assert.throws(
    () => planVolumes({ app: 'api', active: null, release: named('api-blue-data'), record: new Map(), existing: new Set() }),
    /volume data is named api-blue-data, after the slot's compose project: each blue\/green slot would get its own copy.*Fix: remove its name: \(hoist names it once for the app, hoist\.api\.data\)/,
  );
  assert.throws(() => planVolumes({ app: 'api', active: null, release: named('data_api-blue'), record: new Map(), existing: new Set() }), /after the slot's compose project/);
  const own = planVolumes({ app: 'api', active: null, release: named('api-blueprint-data'), record: new Map(), existing: new Set() });
  assert.equal(own.pins, [], 'the user\'s own name: left as it is');
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
  assert.equal(plan, { stateful: ['db'], slotServices: ['web', 'worker'], notes: [] });
  assert.equal(networkOverrideYaml('api', plan), ['networks:', '  default:', '    external: true', '    name: "hoist.api"']);
  assert.is(appNetwork('api'), 'hoist.api');
  assert.equal(networkOverrideYaml('api', { stateful: [], slotServices: ['web'], notes: [] }), [], 'no shared network without stateful services');
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

/** The message planStateful refuses `compose` with (as compose config prints it), else null. */
function refusal(compose: string, appService = 'web'): string | null {
  try {
    planStateful(readComposeConfig(parse(compose), 'api-blue', DIR), appService);
    return null;
  } catch (e) {
    assert.instance(e, HoistError);
    return (e as Error).message;
  }
}

test('an unmarked database with no named volume is refused too: each release would start it on empty storage; memcached keeps nothing and passes', () => {
  for (const db of ['postgres:16', 'bitnami/postgresql:16', 'mysql/mysql-server:8.0', 'mcr.microsoft.com/mssql/server:2022-latest', 'cockroachdb/cockroach:v24.1', 'redis:7']) {
    const m = refusal(`services:\n  web: {build: .}\n  db:\n    image: ${db}\n`);
    assert.ok(m, db);
    assert.match(m!, new RegExp(`service db \\(image ${db.replace(/[./]/g, '\\$&')}\\) is a database with no named volume`));
    assert.match(m!, /Fix: .*x-hoist: \{stateful: true\}. under services\.db, and give its data a named volume \(volumes: \[db-data:/);
  }
  // Its data in an unnamed volume (as compose config prints v2's and v1's forms): the same.
  assert.match(refusal('services:\n  web: {build: .}\n  db:\n    image: postgres:16\n    volumes: [{type: volume, target: /var/lib/postgresql/data}]\n')!, /is a database with no named volume/);
  assert.is(refusal('services:\n  web: {build: .}\n  cache: {image: "memcached:1.6"}\n'), null);
  assert.is(refusal('services:\n  web: {build: .}\n  db: {image: "postgres:16", x-hoist: {stateful: false}}\n'), null, 'stateful: false: two copies meant');
});

test('a stateful service whose data no name finds again is run, with a warning naming the fix', () => {
  const plan = planStateful(readComposeConfig(parse('services:\n  web: {build: .}\n  db:\n    image: postgres:16\n    x-hoist: {stateful: true}\n    volumes: ["/var/lib/postgresql/data"]\n'), 'api-blue', DIR), 'web');
  assert.equal(plan.stateful, ['db']);
  assert.equal(plan.notes, ['service db runs once (stateful) but keeps its data in an unnamed volume (/var/lib/postgresql/data): hoist backup does not archive it and hoist status does not count it. Give it a named volume (volumes: [db-data:/var/lib/postgresql/data] and a top-level volumes: {db-data: {}})']);
  // A stateful service of no known database image and no volume (a broker, a singleton): nothing to say.
  assert.equal(planStateful(readComposeConfig(parse('services:\n  web: {build: .}\n  mqtt: {image: eclipse-mosquitto, x-hoist: {stateful: true}}\n'), 'api-blue', DIR), 'web').notes, []);
});

test('x-hoist with a key hoist does not read, or a quoted boolean, is refused (a typo must not mean "not marked")', () => {
  assert.match(refusal('services:\n  web: {build: .}\n  db: {image: "bitnami/postgresql:16", x-hoist: {statefull: true}}\n')!, /service db: its x-hoist has the key "statefull", which hoist does not read \(it reads stateful, public, backup\)\. Fix: under services\.db/);
  assert.match(refusal('services:\n  web: {build: .}\n  db: {image: "postgres:16", x-hoist: {stateful: "true"}}\n')!, /its x-hoist stateful is "true" \(string\); it takes true or false, unquoted/);
  assert.match(refusal('services:\n  web: {build: .}\n  side: {image: x, x-hoist: {public: 1}}\n')!, /public is 1 \(number\)/);
  assert.match(refusal('services:\n  web: {build: .}\n  side: {image: x, x-hoist: stateful}\n')!, /its x-hoist is "stateful", not a mapping/);
});

test('a service of the pair that only one container per host can have is refused before anything starts; run once (stateful) it is fine', () => {
  const cases: [string, RegExp][] = [
    ['  web: {build: ., container_name: myapp}\n', /service web has container_name "myapp": a release starts the new blue\/green slot while the old one still runs.*Fix: drop it: hoist runs web in the blue and green slots/],
    ['  web: {build: .}\n  worker: {image: w, container_name: jobs}\n', /service worker has container_name "jobs".*Fix: mark it to run once per app, outside the pair, with .x-hoist: \{stateful: true\}. under services\.worker, or drop it/],
    ['  web: {build: .}\n  proxy: {image: p, network_mode: host}\n', /service proxy uses the host's network \(network_mode: host\)/],
    // compose v2's long form (published as a string), and v1's short one.
    ['  web: {build: .}\n  cache: {image: c, ports: [{mode: ingress, host_ip: 127.0.0.1, target: 6379, published: "6379", protocol: tcp}]}\n', /service cache publishes the fixed host port 127\.0\.0\.1:6379/],
    ['  web:\n    build: .\n    ports: ["127.0.0.1:8000:8000"]\n', /service web publishes the fixed host port 127\.0\.0\.1:8000.*Fix: drop it/],
    ['  web: {build: .}\n  mqtt: {image: m, ports: ["1883:1883"], x-hoist: {public: true}}\n', /service mqtt publishes the fixed host port 1883/],
  ];
  for (const [services, want] of cases) assert.match(refusal(`services:\n${services}`) ?? 'not refused', want, services);
  // Docker picks the host port (no clash), a service run once, network_mode of another service: fine.
  assert.is(refusal('services:\n  web: {build: .}\n  side: {image: s, ports: ["127.0.0.1::80", "9000"]}\n'), null);
  assert.is(refusal('services:\n  web: {build: .}\n  mqtt: {image: m, container_name: broker, ports: ["1883:1883"], x-hoist: {public: true, stateful: true}}\n'), null);
  assert.is(refusal('services:\n  web: {build: .}\n  sidecar: {image: s, network_mode: "service:web"}\n'), null);
});

test('networks of the file\'s own beside stateful services are refused (one per project: the slot could not reach the database); default, external ones, or no stateful service: fine', () => {
  // As compose v2's config prints it: default is always there, named for the slot's project.
  const compose = (networks: string, mark = '    x-hoist: {stateful: true}\n') => `name: api-blue
services:
  web: {build: ., networks: [backend]}
  db:
    image: postgres:16
${mark}    networks: [backend]
    volumes: [pg:/var/lib/postgresql/data]
networks:
  default: {name: api-blue_default}
${networks}volumes:
  pg: {}
`;
  assert.match(refusal(compose('  backend: {name: api-blue_backend}\n'))!, /^the compose file has networks of its own \(backend\) and stateful services \(db\): .*Fix: remove the networks: sections/);
  assert.is(refusal(compose('  backend: {name: shared-backend, external: true}\n')), null);
  assert.is(refusal(compose('  backend: {name: api-blue_backend}\n', '    x-hoist: {stateful: false}\n')), null, 'no stateful service: every service is in the slot\'s project');
});

test('APP_SERVICE marked stateful is refused: the service Caddy serves runs blue/green', () => {
  assert.throws(() => planStateful(readComposeConfig(parse('services:\n  web:\n    image: x\n    x-hoist: {stateful: true}\n'), 'api-blue', DIR), 'web'), /is APP_SERVICE and is marked/);
});

test.run();
