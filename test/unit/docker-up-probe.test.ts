import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dockerUpProbe, parseDockerUpFact } from '../../tasks/docker-up/probe.ts';

const containers = JSON.stringify([
  { Labels: { 'com.docker.compose.project': 'api-green', 'com.docker.compose.service': 'web', 'hoist.release': '20261126-abc' }, State: 'running', Status: 'Up 3 minutes (healthy)' },
  { Labels: { 'com.docker.compose.project': 'api-green', 'com.docker.compose.service': 'worker' }, State: 'running', Status: 'Up 3 minutes' },
  { Labels: { 'com.docker.compose.project': 'api-blue', 'com.docker.compose.service': 'web', 'hoist.release': '20261125-def' }, State: 'exited', Status: 'Exited (0) 1 hour ago' },
  { Labels: { 'com.docker.compose.project': 'api-bluex', 'com.docker.compose.service': 'web' }, State: 'running', Status: 'Up 1 second (health: starting)' },
  { Labels: { 'com.docker.compose.project': 'other-green' }, State: 'running', Status: 'Up' },
]);
const images = JSON.stringify([{ RepoTags: ['hoist-api-web:20261126-abc', 'hoist-api-web:20261125-def'] }, { RepoTags: null }]);
const stdout = (c: string, i: string) =>
  ['home=/home/deploy', 'pending=', 'current=20261126-abc', 'active=green', 'compose=v1', 'project blue api-blue', 'project green api-green', `containers-json ${c}`, `images-json ${i}`, 'http blue 000', 'http green 200', 'release 20261125-def', 'release 20261126-abc', 'release .staging'].join('\n');

test('the Docker API answers become the fact: only this app\'s two projects, health from the status line', () => {
  const f = parseDockerUpFact({ stdout: stdout(containers, images), stderr: '', code: 0 });
  assert.equal(f.containers, [
    { slot: 'green', service: 'web', release: '20261126-abc', state: 'running', health: 'healthy' },
    { slot: 'green', service: 'worker', release: '', state: 'running', health: 'none' },
    { slot: 'blue', service: 'web', release: '20261125-def', state: 'exited', health: 'none' },
  ]);
  assert.equal(f.images, ['20261126-abc', '20261125-def']);
  assert.equal([f.active, f.current, f.pending, f.compose, f.http], ['green', '20261126-abc', null, 'v1', { blue: 0, green: 200 }]);
  assert.equal(f.releases, ['20261125-def', '20261126-abc']);
});

test('Docker not answering means no containers and no images; garbage is an error naming the probe', () => {
  const quiet = parseDockerUpFact({ stdout: stdout('', ''), stderr: '', code: 0 });
  assert.equal([quiet.containers, quiet.images], [[], []]);
  assert.throws(() => parseDockerUpFact({ stdout: stdout('{not json', images), stderr: '', code: 0 }), /reading Docker's answer/);
});

test('the probe asks the socket with the filters quoted, and no docker CLI for containers or images', () => {
  const line = dockerUpProbe({ app: 'api', service: 'web', healthPath: '/health', ports: { blue: 8101, green: 8102 } }).line;
  assert.match(line, /--unix-socket \/var\/run\/docker\.sock/);
  assert.match(line, /'filters=\{"reference":\["hoist-api-web"\]\}'/);
  assert.not.match(line, /docker (ps|inspect|images)/);
});

test.run();
