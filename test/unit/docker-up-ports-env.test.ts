// docker-up on a host several apps share, as data: the ports it reads (its record, other apps',
// what listens and who), the pair it plans on, the port conflict it refuses before anything
// starts, and the .env: in the container through the override, its hash a label, so a changed
// value of the same commit is a blue/green restart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PortConflictError } from '../../lib/release/app-ports.ts';
import { dockerUp, type DockerUpWanted } from '../../tasks/docker-up.ts';
import { dockerUpProbe, parseDockerUpFact, type DockerUpFact } from '../../tasks/docker-up/probe.ts';
import { overrideYaml } from '../../tasks/docker-up/slots.ts';
import { testHost } from '../harness/settings.ts';

const R1 = '20261125000000-def000000001';
const ENV_A = 'a'.repeat(64);
const ENV_B = 'b'.repeat(64);

function answer(o: { containers?: object[]; extra?: string[]; active?: string; pending?: string; http?: [number, number] } = {}) {
  const lines = [
    'home=/home/deploy',
    'systemd=no',
    'docker=running',
    `pending=${o.pending ?? ''}`,
    `current=releases/${R1}`,
    `active=${o.active ?? ''}`,
    'compose=v1',
    'project blue api-blue',
    'project green api-green',
    ...(o.extra ?? []),
    JSON.stringify(o.containers ?? []),
    '@docker containers 200 0',
    JSON.stringify([{ RepoTags: [`hoist/api/web:${R1}`] }]),
    '@docker images 200 0',
    `@http blue ${o.http?.[0] ?? 0}`,
    `@http green ${o.http?.[1] ?? 0}`,
    `release ${R1}`,
  ];
  return { stdout: lines.join('\n'), stderr: '', code: 0 };
}

const container = (project: string, name: string, port: number, labels: Record<string, string> = {}) => ({
  Names: [`/${name}`],
  Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': 'web', ...labels },
  State: 'running',
  Status: 'Up 2 minutes',
  Ports: [{ IP: '127.0.0.1', PrivatePort: 8000, PublicPort: port, Type: 'tcp' }],
});

const fact = (a: ReturnType<typeof answer>): DockerUpFact => parseDockerUpFact(a, 'api');
const want = (s: Parameters<typeof testHost>[0] = {}) => dockerUp.want({ host: testHost({ appName: 'api', appService: 'web', ...s }), loginUser: 'deploy' }) as DockerUpWanted;

test('the probe reads every app\'s record, what listens (hex ports, uids and their names), published ports and the .env hash', () => {
  const f = fact(
    answer({
      containers: [container('web-blue', 'web-blue_web_1', 18001), container('api-blue', 'api-blue_web_1', 18003, { 'hoist.release': R1, 'hoist.env': ENV_A })],
      active: 'blue',
      extra: ['app-ports web blue 18001;green 18002;', 'app-ports api blue 18003;green 18004;', 'app-ports Bad..name blue 1;green 2;', 'listen 4651 0', 'listen 4653 0', 'listen 1F90 1000', 'user 0 root', 'user 1000 alice', `env-sha256 ${ENV_A}`],
    }),
  );
  assert.equal(f.recordedPorts, { blue: 18003, green: 18004 });
  assert.equal(f.otherPorts, { web: { blue: 18001, green: 18002 } }, 'a folder that is no app name is ignored');
  assert.equal(f.listening.get(18001), { kind: 'container', name: 'web-blue_web_1' }, "a published port is the container's, not docker-proxy's");
  assert.equal(f.listening.get(8080), { kind: 'process', uid: 1000, user: 'alice' });
  assert.equal([...f.ownPorts], [[18003, 'api-blue']]);
  assert.is(f.envSha256, ENV_A);
  assert.is(f.containers[0]!.env, ENV_A);
});

test('the probe command: explicit ports are used as given, else the record is read on the host', () => {
  const auto = dockerUpProbe({ app: 'api', service: 'web', healthPath: '/health', ports: null }).line;
  assert.match(auto, /blue=''; green=''/);
  assert.match(auto, /if \[ "\$a" = api \]; then set -f; set -- \$l; set \+f; case "\$1" in blue\) rb=\$2;; green\) rg=\$2;; esac; fi/);
  assert.match(auto, /--next -s -o \/dev\/null --max-time 5 -w '\n@http blue %\{http_code\}\n' "http:\/\/127\.0\.0\.1:\$blue"\/health/);
  assert.match(dockerUpProbe({ app: 'api', service: 'web', healthPath: '/', ports: { blue: 19001, green: 19002 } }).line, /blue=19001; green=19002/);
});

test('a first release next to another app: the next free pair, recorded before the slot starts', () => {
  const f = fact(answer({ pending: R1, extra: ['app-ports web blue 18001;green 18002;', 'listen 4651 0', 'listen 4652 0'] }));
  const plan = dockerUp.plan(want(), f);
  assert.ok(plan.changes);
  const [step] = plan.steps;
  assert.equal([step!.start, step!.slot, step!.ports, step!.record], [true, 'blue', { blue: 18003, green: 18004 }, true]);
  assert.match(step!.describe, /^record ports blue 18003 \/ green 18004, then start \(image already built\) .* on the blue slot \(127\.0\.0\.1:18003\)/);
});

test('BLUE_PORT/GREEN_PORT are honoured; the idle slot\'s port held by something else is refused, naming it', () => {
  const held = fact(answer({ pending: R1, containers: [container('legacy', 'legacy_app_1', 19001)] }));
  const err = (() => {
    try {
      dockerUp.plan(want({ bluePort: 19001, greenPort: 19002 }), held);
    } catch (e) {
      return e as Error;
    }
    return null;
  })();
  assert.instance(err, PortConflictError);
  assert.match(err!.message, /127\.0\.0\.1:19001, the blue slot's port, is already held by the container legacy_app_1; nothing was started/);
  const free = dockerUp.plan(want({ bluePort: 19005, greenPort: 19006 }), held);
  assert.ok(free.changes && free.steps[0]!.ports.blue === 19005);
});

test('live, healthy, same .env, ports recorded: nothing to do; a changed .env restarts on the other slot; no record yet: only recorded', () => {
  const live = (env: string, record = true) =>
    fact(
      answer({
        active: 'blue',
        http: [200, 0],
        containers: [container('api-blue', 'api-blue_web_1', 18001, { 'hoist.release': R1, 'hoist.env': env })],
        extra: [...(record ? ['app-ports api blue 18001;green 18002;'] : []), `env-sha256 ${ENV_A}`, 'listen 4651 0'],
      }),
    );
  const w = want({ appEnvFile: '/dev/null' });
  const same = dockerUp.plan(w, live(ENV_A));
  assert.is(same.changes, false);
  const changed = dockerUp.plan(w, live(ENV_B));
  assert.ok(changed.changes);
  assert.equal([changed.steps[0]!.start, changed.steps[0]!.slot, changed.steps[0]!.envSha256, changed.steps[0]!.record], [true, 'green', ENV_A, false]);
  assert.match(changed.steps[0]!.describe, /\(its \.env changed\) on the green slot \(127\.0\.0\.1:18002\)/);
  const unrecorded = dockerUp.plan(w, live(ENV_A, false));
  assert.ok(unrecorded.changes);
  assert.equal([unrecorded.steps[0]!.start, unrecorded.steps[0]!.record, unrecorded.steps[0]!.ports], [false, true, { blue: 18001, green: 18002 }]);
  // Without APP_ENV_FILE the label is not asked for.
  assert.is(dockerUp.plan(want(), live(ENV_B)).changes, false);
});

test('the override hands the app its .env (absolute path) and labels its hash; without one, neither', () => {
  const yaml = overrideYaml({ service: 'web', port: 18003, appPort: 8000, app: 'api', release: R1, env: { path: '/home/deploy/apps/api/shared/.env', sha256: ENV_A } });
  assert.is(
    yaml,
    [
      '# Written by hoist for one blue/green slot; do not edit (it is rewritten on every release).',
      'services:',
      '  "web":',
      `    image: "hoist/api/web:${R1}"`,
      '    restart: "unless-stopped"',
      '    env_file:',
      '      - "/home/deploy/apps/api/shared/.env"',
      '    ports:',
      '      - "127.0.0.1:18003:8000"',
      '    labels:',
      `      hoist.release: "${R1}"`,
      `      hoist.env: "${ENV_A}"`,
      '',
    ].join('\n'),
  );
  assert.not.match(overrideYaml({ service: 'web', port: 18003, appPort: 8000, app: 'api', release: R1 }), /env/);
});

test.run();
