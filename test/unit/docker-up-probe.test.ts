// docker-up's probe from recorded answers: Docker's API answers become the fact, whether Docker
// answers at all becomes words (docker-up refuses with them before any compose command; `hoist
// status` shows the same), and the values read back from the host (pending-release, current,
// active-slot, the release label) are checked before anything uses them.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HostStateError, readOneLine } from '../../lib/release/host-value.ts';
import { statusTable } from '../../lib/render/status-table.ts';
import type { HostStatus } from '../../lib/status/host-status.ts';
import { dockerUp, type DockerUpWanted } from '../../tasks/docker-up.ts';
import { DockerUnavailableError, dockerProblem } from '../../tasks/docker-up/docker-daemon.ts';
import { retagImages } from '../../tasks/docker-up/commands.ts';
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
const images = JSON.stringify([{ RepoTags: [`hoist/api/web:${R2}`, `hoist/api/web:${R1}`, 'hoist/api/web:latest'] }, { RepoTags: null }]);

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
    ['containers-json', `${containers}\n@docker containers 200 0`],
    ['images-json', `${images}\n@docker images 200 0`],
    ['http blue', '\n@http blue 000'],
    ['http green', '\n@http green 200'],
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
    const f = parseDockerUpFact(answer({ docker: `docker=${state}`, 'containers-json': '\n@docker containers 000 7', 'images-json': '\n@docker images 000 7' }), 'api');
    assert.equal([f.docker, f.containers, f.images], [state, [], []]);
  }
  assert.throws(() => parseDockerUpFact(answer({ 'containers-json': '{not json\n@docker containers 200 0' }), 'api'), /reading Docker's answer/);
  // An answer that is not 200 (Docker's error object) is no list of containers.
  assert.equal(parseDockerUpFact(answer({ 'containers-json': '{"message":"client version too new"}\n@docker containers 400 0' }), 'api').containers, []);
  assert.throws(() => parseDockerUpFact(answer({ docker: '' }), 'api'), /the answer is cut short/);
});

test('the probe asks the socket with the filters encoded, in ONE curl with the slots\' health, and runs no docker CLI for containers or images', () => {
  const line = dockerUpProbe({ app: 'api', service: 'web', healthPath: '/health', ports: { blue: 8101, green: 8102 } }).line;
  assert.match(line, /--unix-socket \/var\/run\/docker\.sock/);
  assert.ok(line.includes(`http://docker/images/json?filters=${encodeURIComponent('{"reference":["hoist/api/web","hoist-api-web"]}')}`), line);
  assert.not.match(line, /(?<!@)docker (ps|inspect|images)/);
  const always = line.slice(0, line.indexOf('if [ -n "$room" ]; then'));
  assert.is(always.match(/\bcurl\b/g)?.length, 1, 'one curl process (the disk is read only when a build may come)');
  assert.ok(line.includes(`${readOneLine('active', 'apps/api/active-slot').line}; printf 'active=%.256s\\n' "$active"`), line);
  assert.is(spawnSync('/bin/sh', ['-n', '-c', line]).status, 0, 'valid sh');
});

/**
 * A stand-in for curl as the probe calls it (`--next` groups, each with its `-w` line): each Docker
 * request answers `docker` ("200": a JSON list; else that code and exit status), each slot's port `http`.
 */
const curlStandIn = (docker: string, http: string) => `curl() {
  w=; for a in "$@"; do
    case "$prev" in -w) w=$a;; esac; prev=$a
    case "$a" in
      http://docker/images/json\?filters=*) if [ "${docker}" = 200 ]; then echo "\${IMAGES:-[]}"; printf '%s' "$w" | sed 's/%{http_code}/200/; s/%{exitcode}/0/'; else printf '%s' "$w" | sed "s/%{http_code}/000/; s/%{exitcode}/${docker}/"; fi;;
      http://docker/*) if [ "${docker}" = 200 ]; then echo '[]'; printf '%s' "$w" | sed 's/%{http_code}/200/; s/%{exitcode}/0/'; else printf '%s' "$w" | sed "s/%{http_code}/000/; s/%{exitcode}/${docker}/"; fi;;
      http://127.0.0.1:*) printf '%s' "$w" | sed 's/%{http_code}/${http}/';;
    esac
  done
}`;

test('the probe, run by /bin/sh in a scratch home with a stand-in curl: Docker states, records, slots\' health, releases', () => {
  const home = mkdtempSync(join(tmpdir(), 'hoist-docker-probe-'));
  try {
    mkdirSync(join(home, 'apps/api/releases', R1), { recursive: true });
    mkdirSync(join(home, 'apps/api/shared'), { recursive: true });
    mkdirSync(join(home, 'apps/web'), { recursive: true });
    writeFileSync(join(home, 'apps/api/ports'), 'blue 18003\ngreen 18004');
    writeFileSync(join(home, 'apps/web/ports'), 'blue 18001\ngreen 18002\n');
    writeFileSync(join(home, 'apps/api/shared/.env'), 'A=1\n');
    const line = dockerUpProbe({ app: 'api', service: 'web', healthPath: '/health', ports: null }).line;
    const run = (docker: string, images = '[]') => {
      const r = spawnSync('/bin/sh', ['-c', `${curlStandIn(docker, '204')}\n${line}`], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: home, IMAGES: images } });
      assert.is(r.status, 0, r.stderr);
      return parseDockerUpFact({ stdout: r.stdout, stderr: r.stderr, code: 0 }, 'api');
    };
    const f = run('200');
    assert.equal([f.docker, f.recordedPorts, f.otherPorts, f.http, f.releases, f.home], ['running', { blue: 18003, green: 18004 }, { web: { blue: 18001, green: 18002 } }, { blue: 204, green: 204 }, [R1], home]);
    assert.is(f.envSha256, createHash('sha256').update('A=1\n').digest('hex'));
    assert.ok(f.listening instanceof Map);
    assert.is(f.disk, undefined, 'no release pending, none live: the disk is not read');
    symlinkSync(`releases/${R1}`, join(home, 'apps/api/current'));
    assert.is(run('200', JSON.stringify([{ RepoTags: [`hoist/api/web:${R1}`] }])).disk, undefined, 'the live release\'s image is there: no build can come');
    // Under the old name (an older hoist released it): every app's releases are read to say whose it is; it is api's, to re-tag.
    const old = run('200', JSON.stringify([{ Id: 'sha256:1', RepoTags: [`hoist-api-web:${R1}`] }]));
    assert.equal([old.images, old.legacy], [[R1], [{ from: `hoist-api-web:${R1}`, to: `hoist/api/web:${R1}` }]]);
    const gone = run('200');
    assert.ok(gone.disk, 'the live release\'s image is gone (a repair would build): the room for it is read');
    assert.equal(gone.disk!.releases, { api: [R1], web: [] });
    assert.is(run('28').docker, 'no-answer');
    assert.match(run('7').docker, /^(stopped|missing|denied)$/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
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
    () => parseDockerUpFact(answer({ 'containers-json': `${hostile}\n@docker containers 200 0` }), 'api'),
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

@docker containers 000 7

@docker images 000 7
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
  const host: HostStatus = { name: 'web2', address: '127.0.0.1:22', reachable: ok, release: R1, commit: null, containers: { ok: false, detail }, dns: ok, caddy: ok, lock: { held: false, detail: 'free' }, healthy: false, state: 'unhealthy' };
  assert.ok(statusTable([host]).includes(`\nweb2: containers: ${detail}\n`), statusTable([host]));
});

test('old-named images of app web (service api-x) and app web-api (service x): each app counts and re-tags its own only', () => {
  const [W1, W2, A1] = ['20240101000000-000000000001', '20240102000000-000000000002', '20240101000000-00000000000a'];
  // Both apps' images were named hoist-web-api-x; web runs W2 (its container says so), W1 is its rollback.
  const ctrs = JSON.stringify([
    { Names: ['/web-blue_api-x_1'], ImageID: 'sha256:w2', Labels: { 'com.docker.compose.project': 'web-blue', 'com.docker.compose.service': 'api-x', 'hoist.release': W2 }, State: 'running', Status: 'Up' },
    { Names: ['/web-api-green_x_1'], ImageID: 'sha256:a1', Labels: { 'com.docker.compose.project': 'web-api-green', 'com.docker.compose.service': 'x', 'hoist.release': A1 }, State: 'running', Status: 'Up' },
  ]);
  const imgs = JSON.stringify([{ Id: 'sha256:w1', RepoTags: [`hoist-web-api-x:${W1}`] }, { Id: 'sha256:w2', RepoTags: [`hoist-web-api-x:${W2}`] }, { Id: 'sha256:a1', RepoTags: [`hoist-web-api-x:${A1}`] }]);
  const everyRelease = [`any-release apps/web/releases/${W1}/`, `any-release apps/web/releases/${W2}/`, `any-release apps/web-api/releases/${A1}/`].join('\n');
  const of = (app: string, service: string) =>
    parseDockerUpFact({ stdout: [`home=/home/deploy`, 'docker=running', `image-service ${service}`, `project blue ${app}-blue`, `project green ${app}-green`, ctrs, '@docker containers 200 0', imgs, '@docker images 200 0', everyRelease].join('\n'), stderr: '', code: 0 }, app);
  const web = of('web', 'api-x');
  assert.equal([web.images, web.legacy], [[W1, W2], [{ from: `hoist-web-api-x:${W1}`, to: `hoist/web/api-x:${W1}` }, { from: `hoist-web-api-x:${W2}`, to: `hoist/web/api-x:${W2}` }]]);
  const webApi = of('web-api', 'x');
  assert.equal([webApi.images, webApi.legacy], [[A1], [{ from: `hoist-web-api-x:${A1}`, to: `hoist/web-api/x:${A1}` }]]);
});

test('the re-tag: new tags first, then the slot overrides that name an old one, then the old tags', () => {
  assert.is(
    retagImages('web', [{ from: 'hoist-web-api-x:20240101000000-000000000001', to: 'hoist/web/api-x:20240101000000-000000000001' }]).line,
    `cd && set -- hoist-web-api-x:20240101000000-000000000001 hoist/web/api-x:20240101000000-000000000001
while [ $# -ge 2 ]; do docker tag "$1" "$2" || exit 1; shift 2; done
for f in apps/web/slots/blue.yaml apps/web/slots/green.yaml; do if [ -f "$f" ]; then sed -i -e 's|^    image: "hoist-web-api-x:20240101000000-000000000001"$|    image: "hoist/web/api-x:20240101000000-000000000001"|' "$f" || exit 1; fi; done
docker rmi hoist-web-api-x:20240101000000-000000000001 >/dev/null`,
  );
});

test.run();
