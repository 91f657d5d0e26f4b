// The release phase as data (tasks/docker-up/release-phase.ts): when docker-up's plan runs
// RELEASE_COMMAND (a new release; not the one it ran for already, not an older one, never in the
// rollback pipeline), what the dry run says, the record read by the probe, the command line (one
// argument, quoted; --no-deps only beside stateful services), and the setting's validation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dockerUp, dockerUpOfRollback, type DockerUpWanted } from '../../tasks/docker-up.ts';
import { dockerUpProbe, parseDockerUpFact } from '../../tasks/docker-up/probe.ts';
import { releasePhaseRun } from '../../tasks/docker-up/commands.ts';
import { releasePhaseDue } from '../../tasks/docker-up/release-phase.ts';
import { KEYS } from '../../lib/config/keys.ts';
import { testHost } from '../harness/settings.ts';

const R1 = '20261125000000-def000000001';
const R2 = '20261126000000-def000000002';
const MIGRATE = 'python manage.py migrate --noinput && echo "done; $(date)"';

function answer(o: { pending?: string; ran?: string; live?: boolean } = {}) {
  const containers = o.live === false ? [] : [{ Names: ['/api-blue_web_1'], Labels: { 'com.docker.compose.project': 'api-blue', 'com.docker.compose.service': 'web', 'hoist.release': R1 }, State: 'running', Status: 'Up 2 minutes', Ports: [{ PublicPort: 18001 }] }];
  const lines = [
    'home=/home/deploy',
    'systemd=no',
    'docker=running',
    `pending=${o.pending ?? ''}`,
    `current=releases/${R1}`,
    'active=blue',
    `release-ran=${o.ran ?? ''}`,
    'compose=v2',
    'project blue api-blue',
    'project green api-green',
    'app-ports api blue 18001;green 18002;',
    JSON.stringify(containers),
    '@docker containers 200 0',
    JSON.stringify([{ RepoTags: [`hoist/api/web:${R1}`] }]),
    '@docker images 200 0',
    '@http blue 200',
    '@http green 0',
    `release ${R1}`,
    `release ${R2}`,
  ];
  return parseDockerUpFact({ stdout: lines.join('\n'), stderr: '', code: 0 }, 'api');
}

const input = (s: Parameters<typeof testHost>[0] = {}) => ({ host: testHost({ appName: 'api', appService: 'web', ...s }), loginUser: 'deploy' });
const want = (s: Parameters<typeof testHost>[0] = {}) => dockerUp.want(input(s)) as DockerUpWanted;

test('a new release runs RELEASE_COMMAND between its build and its start; the dry run says so, naming the command', () => {
  const plan = dockerUp.plan(want({ releaseCommand: MIGRATE }), answer({ pending: R2 }));
  assert.ok(plan.changes);
  const step = plan.steps[0]!;
  assert.equal([step.start, step.slot, step.build, step.releaseCommand], [true, 'green', true, MIGRATE]);
  assert.match(step.describe, `build ${R2}, run the release command (RELEASE_COMMAND: ${MIGRATE}) in a one-off container of ${R2}, then start it on the green slot`);
  // Without the setting: nothing runs, the describe is as before.
  const none = dockerUp.plan(want(), answer({ pending: R2 }));
  assert.ok(none.changes);
  assert.is(none.steps[0]!.releaseCommand, null);
  assert.match(none.steps[0]!.describe, `build and start ${R2} on the green slot`);
});

test('once per release: not again for the release it ran for, not for an older one; a newer one runs it', () => {
  assert.is(releasePhaseDue(MIGRATE, R2, null), true);
  assert.is(releasePhaseDue(MIGRATE, R2, R1), true);
  assert.is(releasePhaseDue(MIGRATE, R2, R2), false);
  assert.is(releasePhaseDue(MIGRATE, R1, R2), false);
  assert.is(releasePhaseDue(null, R2, null), false);
  const again = dockerUp.plan(want({ releaseCommand: MIGRATE }), answer({ pending: R2, ran: R2 }));
  assert.ok(again.changes);
  assert.is(again.steps[0]!.releaseCommand, null);
  assert.match(again.steps[0]!.describe, 'the release command is not run: it ran for this release already');
  // The record is read by the probe with shell builtins only (a no-op release pays no process for it).
  assert.match(dockerUpProbe({ app: 'api', service: 'web', healthPath: '/', ports: null }).line, "IFS= read -r ran < apps/api/release-ran");
});

test('the rollback pipeline never runs it, whatever the record says', async () => {
  const w = await dockerUpOfRollback.want(input({ releaseCommand: MIGRATE }));
  assert.is(w.releaseCommand, null);
  // Back to R1 with nothing recorded (the command was set after R2 went live): still not run.
  const plan = dockerUpOfRollback.plan(w, answer({ pending: R1, live: false }), input({ releaseCommand: MIGRATE }));
  assert.ok(plan.changes);
  assert.is(plan.steps[0]!.releaseCommand, null);
  assert.match(plan.steps[0]!.describe, /\(a rollback does not run RELEASE_COMMAND\)$/);
});

test('a dry run of the release pipeline (git-sync has not prepared the commit yet) shows the start and the release phase to come', () => {
  const sha = '0123456789abcdef0123456789abcdef01234567';
  const dry = { ...input({ releaseCommand: MIGRATE }), shared: { release: { sha, ref: 'main' } } };
  const plan = dockerUp.plan(want({ releaseCommand: MIGRATE }), answer(), dry);
  assert.ok(plan.changes, 'not "live already"');
  assert.match(plan.steps[0]!.describe, `build the release of 0123456789ab (main) git-sync prepares, run the release command (RELEASE_COMMAND: ${MIGRATE}) in a one-off container of it, start it on the green slot (127.0.0.1:18002)`);
  // The commit live already (R1 is def000000001...): nothing to do, as before.
  const same = { ...dry, shared: { release: { sha: `def000000001${'0'.repeat(28)}`, ref: 'main' } } };
  assert.is(dockerUp.plan(want({ releaseCommand: MIGRATE }), answer(), same).changes, false);
});

test('the one-off container: the slot project and override, the command one quoted argument to sh -c, --no-deps only beside stateful services', () => {
  const c = { app: 'api', slot: 'green' as const, release: R2, composeFile: null, compose: 'v2' as const };
  const plain = releasePhaseRun(c, 'web', MIGRATE, false).line;
  assert.match(plain, `docker compose $e -p api-green -f "$f" -f ../../../../apps/api/slots/green.yaml run --rm -T web sh -c 'python manage.py migrate --noinput && echo "done; $(date)"' 2>&1`);
  assert.not.match(plain, '--no-deps');
  assert.match(releasePhaseRun({ ...c, compose: 'v1' }, 'web', MIGRATE, true).line, 'docker-compose $e -p api-green -f "$f" -f ../../../../apps/api/slots/green.yaml run --rm -T --no-deps web sh -c');
});

test('RELEASE_COMMAND: one line; a line break is refused, naming the fix', () => {
  const key = KEYS.find((k) => k.key === 'RELEASE_COMMAND')!;
  assert.is(key.problem!(MIGRATE), null);
  assert.match(key.problem!('migrate\nrm -rf /')!, 'line break');
  assert.match(key.fix, 'RELEASE_COMMAND=');
  assert.ok(!key.secret);
});

test.run();
