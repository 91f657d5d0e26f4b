// Issue #18 item 3, the release phase: RELEASE_COMMAND (here a "migration" script in the app's
// image) runs once per release in a one-off container of the new release, after its build and
// before its slot starts. It has what the app's containers have: the app's .env, its volume (it
// writes a line per release into /www/data/migrations) and the stateful service by its name
// (it asks `store` over the app's shared network). Its output is in the run's report, the .env
// value it prints hidden. The dry run says it would run. Run again, a release runs nothing again.
// A failing one stops the release: a client loop sees only the old version, 0 failed requests,
// and the data is as it was. A rollback never runs it. Last, hoist remove's flow: an app migrated
// from per-slot volumes, removed (volumes kept, the record gone) and released again, is refused
// rather than started empty beside its two kept copies; the copy chosen as the refusal says is
// its data.
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { underLoad } from '../harness/client-loops.ts';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { runTwice } from '../harness/run-twice.ts';
import type { RunReport } from '../../lib/report/run-report.ts';
import type { PipelineRun, TestHost } from '../harness/testbed.ts';

const test = suite('release phase: RELEASE_COMMAND once per release, before traffic moves');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DB_PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const DOMAIN = 'phase.hoist.test';
const APP = '/home/deploy/apps/app';
const COMMAND = 'sh /app/migrate.sh && echo migrate-done';
let git: GitServer;
let host: TestHost;

const COMPOSE = `services:
  web:
    build: .
    depends_on: [store]
    volumes:
      - data:/www/data
  store:
    image: hoist-test-base
    x-hoist: {stateful: true}
    command: ["sh", "-c", "mkdir -p /store; echo started >> /store/boots; exec httpd -f -p 8080 -h /store"]
    volumes:
      - store:/store
volumes:
  data:
  store: {}
`;

/** The migration of a good release: says who it is, reaches the store, appends its version. */
const MIGRATE = `set -e
v=$(cat /www/index.html)
echo "migrating to $v with DB_PASSWORD=$DB_PASSWORD"
i=0; until wget -q -O /tmp/boots http://store:8080/boots; do i=$((i + 1)); [ $i -lt 20 ] || exit 9; sleep 1; done
echo "store answered: $(cat /tmp/boots)"
mkdir -p /www/data
echo "$v" >> /www/data/migrations
`;
const FAILING = `echo "v3 migration fails, connected with $DB_PASSWORD" >&2
exit 3
`;

const appFiles = (version: string, migrate = MIGRATE) => ({
  Dockerfile: `FROM hoist-test-base\nCOPY index.html /www/index.html\nCOPY migrate.sh /app/migrate.sh\nCMD ["sh", "-c", "mkdir -p /www/data; exec httpd -f -p 8000 -h /www"]\n`,
  'compose.yaml': COMPOSE,
  'index.html': `${version}\n`,
  'migrate.sh': migrate,
});

test.before(async () => {
  ({ git, host } = await bed.start({ domain: DOMAIN, token: TOKEN }));
  bed.env({ HEALTH_TIMEOUT: '20', RELEASE_COMMAND: COMMAND, APP_ENV_FILE: tb.file('app.env', `DB_PASSWORD=${DB_PASSWORD}\n`) });
  const boot = await run('bootstrap');
  assert.is(boot.code, 0, boot.out);
  await loadAppBase(host.container);
});
test.after(async () => {
  await bed.stop();
});

const run = (pipeline: string, args: string[] = []): Promise<PipelineRun> => tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN }, args });
const served = async (path: string) => (await host.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}${path}`)).stdout.trim();
const migrations = async () => (await host.sh(`docker run --rm -v hoist.app.data:/d hoist-test-base cat /d/migrations`, 'deploy')).stdout.trim();
const dockerUpOf = (r: PipelineRun) => r.report.hosts[0]!.tasks.find((t) => t.task === 'docker-up')!;
const releaseRan = async () => (await host.sh(`cat ${APP}/release-ran`)).stdout.trim();
/** What of the app runs: "project service" lines (slots and the state project). */
const running = async () => (await host.sh("docker ps --format '{{.Label \"com.docker.compose.project\"}} {{.Label \"com.docker.compose.service\"}} {{.Label \"hoist.release\"}}'")).stdout.trim().split('\n').filter(Boolean).sort();
const noSecret = (r: PipelineRun, label: string) => {
  assert.not.ok(r.out.includes(DB_PASSWORD), `${label}: the .env value is not in the output`);
  assert.not.ok(JSON.stringify(r.report).includes(DB_PASSWORD), `${label}: nor in the report`);
};

test('the dry run of the first release says the release command would run, and runs nothing', async () => {
  await git.commit('app', appFiles('v1'), 'v1');
  const dry = await run('release', ['--dry-run']);
  assert.is(dry.code, 0, dry.out);
  const steps = dockerUpOf(dry).steps.join('\n');
  assert.match(steps, `run the release command (RELEASE_COMMAND: ${COMMAND}) in a one-off container of it, start it on the blue slot`);
  assert.is((await host.sh(`ls ${APP}/release-ran 2>&1; docker volume ls -q | grep -c hoist.app || true`)).stdout.trim().split('\n').pop(), '0', 'no volume made, nothing recorded');
});

test('v1: the command runs once, with the .env, the volume and the stateful service; its output in the report, the value hidden; run again, not again', async () => {
  const r = await runTwice('release v1', () => run('release'));
  assert.is(r.code, 0, r.out);
  assert.is(await served('/'), 'v1');
  assert.is(await migrations(), 'v1', 'ran once, into the app\'s volume (the second run ran nothing)');
  // Compose's own lines (v1: "Creating app-blue_web_run_1 ... done") may come between; ours in order.
  const output = (dockerUpOf(r).output ?? []).filter((l) => /\| (migrating|store answered|migrate-done)/.test(l));
  assert.equal(output, ['release command | migrating to v1 with DB_PASSWORD=[secret APP_ENV_FILE DB_PASSWORD]', 'release command | store answered: started', 'release command | migrate-done']);
  assert.match(r.out, 'release command | store answered: started', 'and in the run\'s printed log');
  noSecret(r, 'v1');
  assert.match(await releaseRan(), /-[0-9a-f]{12}$/);
  assert.is(await releaseRan(), (await host.sh(`readlink ${APP}/current`)).stdout.trim().replace(/^releases\//, ''));
  assert.is((await host.sh('docker ps -aq --filter label=com.docker.compose.oneoff=True')).stdout.trim(), '', 'no one-off container left');
});

test('v2 under a client loop: the dry run shows the command, the release runs it once, 0 failed requests', async () => {
  await git.commit('app', appFiles('v2'), 'v2');
  const dry = await run('release', ['--dry-run']);
  assert.is(dry.code, 0, dry.out);
  assert.match(dockerUpOf(dry).steps.join('\n'), `run the release command (RELEASE_COMMAND: ${COMMAND})`);
  assert.is(await migrations(), 'v1', 'the dry run ran nothing');
  let r: PipelineRun | undefined;
  const seen = await underLoad(host, { app: DOMAIN }, async () => {
    r = await runTwice('release v2', () => run('release'));
  });
  assert.is(r!.code, 0, r!.out);
  const answers = Object.keys(seen.app);
  assert.ok(answers.every((a) => a === 'v1 200' || a === 'v2 200'), `only v1 then v2: ${JSON.stringify(seen.app)}`);
  assert.ok((seen.app['v1 200'] ?? 0) > 0 && (seen.app['v2 200'] ?? 0) > 0, JSON.stringify(seen.app));
  assert.is(await migrations(), 'v1\nv2');
  noSecret(r!, 'v2');
});

test('a failing release command stops v3 before anything of it starts: the loop sees only v2, 0 failed; the data as it was; twice', async () => {
  await git.commit('app', appFiles('v3', FAILING), 'v3 (failing migration)');
  const before = await running();
  const ran = await releaseRan();
  const failures: PipelineRun[] = [];
  const seen = await underLoad(host, { app: DOMAIN }, async () => {
    for (let i = 0; i < 2; i++) failures.push(await run('release'));
  });
  assert.equal(Object.keys(seen.app), ['v2 200'], `only the old release answered, nothing failed: ${JSON.stringify(seen.app)}`);
  for (const r of failures) {
    assert.is(r.code, 1, r.out);
    const error = r.report.hosts[0]!.error ?? '';
    assert.match(error, /the release command \(RELEASE_COMMAND\) of \S+ exited with 3: the release stops here, nothing of it was started and the live release keeps serving/);
    assert.match(error, 'v3 migration fails, connected with [secret APP_ENV_FILE DB_PASSWORD]');
    assert.equal(r.report.hosts[0]!.tasks.map((t) => t.status), ['rolled-back', 'failed', 'skipped', 'skipped', 'skipped']);
    noSecret(r, 'v3');
  }
  assert.is(await served('/'), 'v2');
  assert.is(await migrations(), 'v1\nv2', 'untouched');
  assert.equal(await running(), before, 'no container of v3 started, the store kept');
  assert.is(await releaseRan(), ran, 'a failed command is not recorded (the next try runs it again)');
});

test('a rollback (to v1) does not run it: the data stays as v2 migrated it; twice', async () => {
  const v1 = (await host.sh(`ls -1 ${APP}/releases | head -1`)).stdout.trim();
  const back = await runTwice('rollback to v1', () => run('rollback', ['--to', v1]));
  assert.is(back.code, 0, back.out);
  assert.is(await served('/'), 'v1');
  assert.is(await migrations(), 'v1\nv2', 'not run by the rollback');
  assert.is(dockerUpOf(back).output, undefined);
  assert.not.match(back.out, 'release command |');
});

test('released again after hoist remove of an app migrated from per-slot volumes: two kept copies are refused with the choice, never started empty; the chosen copy is its data', async () => {
  await git.commit('app', appFiles('v4'), 'v4');
  const removed = await runTwice('remove --yes --delete-data', async () => {
    const r = await tb.hoist(['remove', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--yes', '--delete-data', '--json', '-'], { GITHUB_TOKEN: TOKEN });
    assert.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as RunReport;
  }, (report) => report);
  assert.ok(removed.hosts[0]!.tasks.every((t) => t.status === 'changed'), 'removed');
  // What remove leaves of an app that was migrated from per-slot volumes (docker-up/volumes.ts):
  // both slots' copies, as compose made and labelled them, and no record of which was the app's.
  const legacy = await host.sh(`set -e; for s in blue green; do docker volume create --label com.docker.compose.project=app-$s --label com.docker.compose.volume=data app-\${s}_data >/dev/null; docker run --rm -v app-\${s}_data:/d hoist-test-base sh -c "echo data-of-$s > /d/records"; done`, 'deploy');
  assert.is(legacy.code, 0, legacy.stderr);
  const boot = await runTwice('bootstrap after remove (the deploy key again)', () => run('bootstrap'));
  assert.is(boot.code, 0, boot.out);
  for (let i = 0; i < 2; i++) {
    const refused = await run('release');
    assert.is(refused.code, 1, refused.out);
    const error = refused.report.hosts[0]!.error ?? '';
    assert.match(error, "volume data: this host keeps two copies of app's data from before (app-blue_data and app-green_data: per-slot volumes, kept by hoist remove)");
    assert.match(error, `hoist ssh -- sh -c 'mkdir -p ~/apps/app && echo "data app-blue_data" >> ~/apps/app/volumes'`);
    const vols = (await host.sh('docker volume ls -q')).stdout.split('\n').filter(Boolean).sort();
    assert.not.ok(vols.includes('hoist.app.data'), `no empty copy made: ${vols}`);
  }
  // The choice, as the refusal says (hoist ssh runs the same on the host as the deploy user).
  assert.is((await host.sh(`mkdir -p ${APP} && echo "data app-blue_data" >> ${APP}/volumes`, 'deploy')).code, 0);
  const r = await runTwice('release after the choice', () => run('release'));
  assert.is(r.code, 0, r.out);
  assert.is(await served('/data/records'), 'data-of-blue', 'the chosen copy is the app\'s data');
  const vols = (await host.sh('docker volume ls -q')).stdout.split('\n').filter(Boolean);
  assert.ok(vols.includes('app-green_data') && !vols.includes('hoist.app.data'), `the other copy kept, no new one: ${vols}`);
});

test.run();
