// docker-up's probe from recorded answers: Docker's API answers become the fact, whether Docker
// answers at all becomes words (docker-up refuses with them before any compose command; `hoist
// status` shows the same), and the values read back from the host (pending-release, current,
// active-slot, the release label) are checked before anything uses them.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostStateError } from '../../lib/release/host-value.ts';
import { statusTable } from '../../lib/render/status-table.ts';
import type { HostStatus } from '../../lib/status/host-status.ts';
import { dockerUp, type DockerUpWanted } from '../../tasks/docker-up.ts';
import { DockerUnavailableError, dockerProblem } from '../../tasks/docker-up/docker-daemon.ts';
import { dockerUpProbe, parseDockerUpFact } from '../../tasks/docker-up/probe.ts';
import { testHost } from '../harness/settings.ts';

const R1 = '20261125000000-def000000001';
const R2 = '20261126000000-abc000000002';
const containers = JSON.stringify([
  { Names: ['/api-green_web_1'], Labels: { 'com.docker.compose.project': 'api-green', 'com.docker.compose.service': 'web', 'hoist.release': R2 }, State: 'running', Status: 'Up 3 minutes (healthy)' },
  { Names: ['/api-green_worker_1'], Labels: { 'com.docker.compose.project': 'api-green', 'com.docker.compose.service': 'worker' }, State: 'running', Status: 'Up 3 minutes' },
  { Names: ['/api-blue_web_1'], Labels: { 'com.docker.compose.project': 'api-blue', 'com.docker.compose.service': 'web', 'hoist.release': R1 }, State: 'exited', Status: 'Exited (0) 1 hour ago' },
  { Labels: { 'com.docker.compose.project': 'api-bluex', 'com.docker.compose.service': 'web', 'hoist.release': '../../etc' }, State: 'running', Status: 'Up 1 second (health: starting)' },
  { Labels: { 'com.docker.compose.project': 'other-green' }, State: 'running', Status: 'Up' },
]);
const images = JSON.stringify([{ RepoTags: [`hoist-api-web:${R2}`, `hoist-api-web:${R1}`, 'hoist-api-web:latest'] }, { RepoTags: null }]);

/** The probe's answer as a host gives it (see dockerUpProbe), with `over` replacing whole lines by key. */
function answer(over: Record<string, string> = {}): { stdout: string; stderr: string; code: number } {
  const lines: [string, string][] = [
    ['home', 'home=/home/deploy'],
    ['systemd', 'systemd=no'],
    ['docker', 'docker=running'],
    ['pending', 'pending='],
    ['current', `current=releases/${R2} `],
    ['active', 'active=green '],
    ['compose', 'compose=v1'],
    ['project blue', 'project blue api-blue'],
    ['project green', 'project green api-green'],
    ['containers-json', `containers-json ${containers}`],
    ['images-json', `images-json ${images}`],
    ['http blue', 'http blue 000'],
    ['http green', 'http green 200'],
    ['release 1', `release ${R1}`],
    ['release 2', `release ${R2}`],
    ['release 3', 'release .staging'],
    ['release 4', 'release notes'],
  ];
  return { stdout: lines.map(([k, l]) => (k in over ? over[k]! : l)).filter(Boolean).join('\n'), stderr: '', code: 0 };
}

test('the Docker API answers become the fact: only this app\'s two projects, health from the status line', () => {
  const f = parseDockerUpFact(answer(), 'api');
  assert.equal(f.containers, [
    { slot: 'green', service: 'web', release: R2, state: 'running', health: 'healthy' },
    { slot: 'green', service: 'worker', release: '', state: 'running', health: 'none' },
    { slot: 'blue', service: 'web', release: R1, state: 'exited', health: 'none' },
  ]);
  assert.equal(f.images, [R2, R1], 'only tags hoist made (release names): :latest is not ours to prune');
  assert.equal([f.docker, f.systemd, f.active, f.current, f.pending, f.compose, f.http], ['running', false, 'green', R2, null, 'v1', { blue: 0, green: 200 }]);
  assert.equal(f.releases, [R1, R2]);
});

test('Docker not answering: no containers, no images, and the state says why; garbage is an error naming the probe', () => {
  for (const state of ['stopped', 'missing', 'no-answer', 'denied'] as const) {
    const f = parseDockerUpFact(answer({ docker: `docker=${state}`, 'containers-json': 'containers-json ', 'images-json': 'images-json ' }), 'api');
    assert.equal([f.docker, f.containers, f.images], [state, [], []]);
  }
  assert.throws(() => parseDockerUpFact(answer({ 'containers-json': 'containers-json {not json' }), 'api'), /reading Docker's answer/);
  assert.throws(() => parseDockerUpFact(answer({ docker: '' }), 'api'), /the answer is cut short/);
});

test('the probe asks the socket with the filters quoted, pings Docker first, and runs no docker CLI for containers or images', () => {
  const line = dockerUpProbe({ app: 'api', service: 'web', healthPath: '/health', ports: { blue: 8101, green: 8102 } }).line;
  assert.match(line, /--unix-socket \/var\/run\/docker\.sock/);
  assert.match(line, /'filters=\{"reference":\["hoist-api-web"\]\}'/);
  assert.not.match(line, /docker (ps|inspect|images)/);
  assert.ok(line.indexOf('http://docker/_ping') < line.indexOf('containers-json'));
  assert.ok(line.includes("printf 'pending=%s\\n' \"$(head -c 256 apps/api/pending-release 2>/dev/null | tr '\\n' ' ')\""), line);
  assert.ok(line.includes("printf 'active=%s\\n' \"$(head -c 256 apps/api/active-slot 2>/dev/null | tr '\\n' ' ')\""), line);
  assert.is(spawnSync('/bin/sh', ['-n', '-c', line]).status, 0, 'valid sh');
});

test('the Docker state lines, run by /bin/sh with a stand-in curl: OK is running; a timeout is no-answer', () => {
  const line = dockerUpProbe({ app: 'api', service: 'web', healthPath: '/health', ports: { blue: 8101, green: 8102 } }).line;
  const states = line.slice(line.indexOf('ping=$('), line.indexOf("printf 'pending="));
  const run = (curl: string) => spawnSync('/bin/sh', ['-c', `curl() { ${curl}; }\n${states}`], { encoding: 'utf8' }).stdout.trim();
  assert.is(run('echo OK'), 'docker=running');
  assert.is(run('return 28'), 'docker=no-answer');
  assert.match(run('return 7'), /^docker=(stopped|missing|denied)$/);
});

// ------------------------------------------------------------------ values read back from the host

test('pending-release, current, active-slot and a release label naming anything else stop the probe, the file and the value named (escaped)', () => {
  const cases: [Record<string, string>, string][] = [
    [{ pending: 'pending=../../../etc\x1b[2J ' }, '~/apps/api/pending-release holds "../../../etc\\u001b[2J", which is not a release name (YYYYMMDDHHMMSS-<12 hex digits>). Fix: remove it (rm ~/apps/api/pending-release); the next release writes it again'],
    // What a file of two lines reads as (the probe puts it on one line): not a release either.
    [{ pending: `pending=${R2} active=blue ` }, `~/apps/api/pending-release holds "${R2} active=blue", which is not a release name`],
    [{ current: 'current=/etc ' }, '~/apps/api/current points at "/etc", which is not a release name'],
    [{ active: 'active=purple\u202e ' }, '~/apps/api/active-slot holds "purple\\u202e", which is not blue or green. Fix: write blue or green into it'],
  ];
  for (const [over, message] of cases) {
    assert.throws(() => parseDockerUpFact(answer(over), 'api'), (e: Error) => e instanceof HostStateError && e.message.startsWith(message), JSON.stringify(over));
  }
  const hostile = JSON.stringify([{ Names: ['/api-blue_web_1'], Labels: { 'com.docker.compose.project': 'api-blue', 'com.docker.compose.service': 'web', 'hoist.release': `${R1}"\n    privileged: true` }, State: 'running', Status: 'Up' }]);
  assert.throws(
    () => parseDockerUpFact(answer({ 'containers-json': `containers-json ${hostile}` }), 'api'),
    (e: Error) => e instanceof HostStateError && e.message === `the label hoist.release of container api-blue_web_1 holds "${R1}\\"\\n    privileged: true", which is not a release name (YYYYMMDDHHMMSS-<12 hex digits>). Fix: remove that container (docker rm -f api-blue_web_1); the next release starts its slot again`,
  );
  assert.is(parseDockerUpFact(answer({ pending: `pending=${R1} ` }), 'api').pending, R1, 'the line break hoist writes after a name is fine');
});

// ------------------------------------------------------------------ Docker not running, in words

/** Recorded: the probe run by the deploy user on a Debian 12 host with docker.io whose dockerd is not running. */
const RECORDED_STOPPED = `home=/home/deploy
systemd=no
docker=stopped
pending=
current=
active=
compose=v1
project blue app-blue
project green app-green
containers-json 
images-json 
http blue 000
http green 000
`;

test('recorded answer of a host whose dockerd is not running: docker=stopped, no systemd, nothing else read as a problem', () => {
  const f = parseDockerUpFact({ stdout: RECORDED_STOPPED, stderr: '', code: 0 }, 'app');
  assert.equal([f.docker, f.systemd, f.compose, f.containers, f.images, f.pending, f.current, f.active], ['stopped', false, 'v1', [], [], null, null, null]);
  assert.match(dockerProblem(f, 'deploy')!, /^Docker is not running on this host .* `sudo start-stop-daemon --start .*--exec \/usr\/sbin\/dockerd`; `hoist run bootstrap` starts it too$/);
});

const input = { host: testHost({ appName: 'api', appService: 'web' }), loginUser: 'deploy' };
const w = dockerUp.want(input) as DockerUpWanted;

test('docker-up refuses a host whose Docker is stopped before any compose command: what, the command for that host, bootstrap', () => {
  const down = parseDockerUpFact(answer({ docker: 'docker=stopped', pending: `pending=${R1}` }), 'api');
  assert.throws(
    () => dockerUp.plan(w, down, input),
    (e: Error) =>
      e instanceof DockerUnavailableError &&
      e.message ===
        'Docker is not running on this host (nothing answers on /var/run/docker.sock). Fix: start it with `sudo start-stop-daemon --start --quiet --oknodo --background --make-pidfile --pidfile /run/hoist-docker.pid --chuid root --output /var/log/hoist-docker.log --exec /usr/sbin/dockerd`; `hoist run bootstrap` starts it too',
  );
  assert.throws(
    () => dockerUp.plan(w, { ...down, systemd: true }, input),
    (e: Error) => e.message === 'Docker is not running on this host (nothing answers on /var/run/docker.sock). Fix: start it with `sudo systemctl start docker`; `hoist run bootstrap` starts it and enables it at boot',
  );
});

test('dockerProblem: each state in words, null when Docker answers', () => {
  assert.is(dockerProblem({ docker: 'running', systemd: true }, 'deploy'), null);
  assert.is(dockerProblem({ docker: 'missing', systemd: true }, 'deploy'), 'Docker is not installed on this host. Fix: `hoist run bootstrap` installs and starts it');
  assert.is(dockerProblem({ docker: 'denied', systemd: true }, 'deploy'), 'deploy may not use Docker on this host (/var/run/docker.sock is not open to it). Fix: `hoist run bootstrap` adds deploy to the docker group');
  assert.match(dockerProblem({ docker: 'no-answer', systemd: true }, 'deploy')!, /^Docker does not answer on this host .*sudo systemctl status docker/);
});

test('hoist status shows the same words in its table (one message, not two)', () => {
  const detail = dockerProblem({ docker: 'stopped', systemd: true }, 'deploy')!;
  const ok = { ok: true, detail: 'fine' };
  const host: HostStatus = { name: 'web2', address: '127.0.0.1:22', reachable: ok, release: R1, commit: null, containers: { ok: false, detail }, dns: ok, caddy: ok, lock: { held: false, detail: 'free' }, healthy: false };
  assert.ok(statusTable([host]).includes(`\nweb2: containers: ${detail}\n`), statusTable([host]));
});

test.run();
