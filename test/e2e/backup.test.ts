// Issue #18 item 4: backups that restore. The app has a web volume (data), a stateful service
// copied while briefly stopped (store) and one dumped by its own command (kv, x-hoist.backup).
// `hoist backup` downloads an archive (mode 600) with its sha256 checked and leaves the app and
// its volumes as they were; `hoist restore` puts the data back as at the backup, keeping what it
// replaced as NAME-before-restore-STAMP; a cut archive and one with a flipped byte are refused
// with nothing changed; a freshly bootstrapped second host gets the same data; BACKUP_KEEP
// archives stay on the host; the app's env values never show.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import type { PipelineRun, TestHost } from '../harness/testbed.ts';

const test = suite('hoist backup / hoist restore');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const SECRET = `app-secret-${randomBytes(8).toString('hex')}`;
const DOMAIN = 'backup.hoist.test';
let git: GitServer;
let web1: TestHost;
let web2: TestHost;

const COMPOSE = `services:
  web:
    build: .
    depends_on: [store, kv]
    volumes:
      - data:/www/data
  store:
    image: hoist-test-base
    x-hoist: {stateful: true}
    command: ["sh", "-c", "mkdir -p /store; trap 'exit 0' TERM; httpd -f -p 8080 -h /store & wait"]
    volumes:
      - store:/store
  kv:
    image: hoist-test-base
    x-hoist:
      stateful: true
      backup: {dump: "cd /kv && tar -cf - .", restore: "cd /kv && rm -rf ./* && tar -xf -"}
    command: ["sh", "-c", "mkdir -p /kv; trap 'exit 0' TERM; sleep 1000000 & wait"]
    volumes:
      - kv:/kv
volumes:
  data:
  store:
  kv:
`;

// Each service's shell ends on SIGTERM (httpd as PID 1 would ignore it and be killed only after
// docker stop's bound): a backup stops the store, a restore the whole app.
const appFiles = (version: string) => ({
  Dockerfile: `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["sh", "-c", "mkdir -p /www/data; trap 'exit 0' TERM; httpd -f -p 8000 -h /www & wait"]\n`,
  'compose.yaml': COMPOSE,
  'index.html': `${version}\n`,
});

const hoist = (args: string[]) => tb.hoist([...args, '--env-file', tb.envPath, '--inventory', tb.inventoryPath], { GITHUB_TOKEN: TOKEN });
const run = (pipeline: string, args: string[] = []): Promise<PipelineRun> => tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN }, args });
const served = async (h: TestHost, path: string) => (await h.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}${path}`)).stdout.trim();
const inside = async (h: TestHost, service: string, cmd: string) => {
  const r = await h.sh(`docker exec $(docker ps -q --filter label=com.docker.compose.service=${service} | head -n 1) sh -c ${JSON.stringify(cmd)}`);
  assert.is(r.code, 0, `${service}: ${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
/** What the app holds: the web volume's records, the store's value, the kv's value. */
const data = async (h: TestHost) => [await inside(h, 'web', 'cat /www/data/records'), await inside(h, 'store', 'cat /store/value'), await inside(h, 'kv', 'cat /kv/value')];
const write = async (h: TestHost, records: string, store: string, kv: string) => {
  await inside(h, 'web', `printf '%s\\n' ${records} > /www/data/records`);
  await inside(h, 'store', `echo ${store} > /store/value`);
  await inside(h, 'kv', `echo ${kv} > /kv/value`);
};
const volumes = async (h: TestHost) => (await h.sh('docker volume ls -q')).stdout.split('\n').filter(Boolean).sort();
/** Every container of the app with its state: unchanged ids and states say the app was left as it was. */
const containers = async (h: TestHost) => (await h.sh("docker ps -a --filter label=com.docker.compose.project --format '{{.ID}} {{.Label \"com.docker.compose.service\"}} {{.State}}' | sort")).stdout.trim();
const archivesOnHost = async (h: TestHost) => (await h.sh('ls /home/deploy/apps/app/backups')).stdout.split('\n').filter(Boolean).sort();
const noSecret = (text: string) => assert.not.ok(text.includes(SECRET) || text.includes(TOKEN), 'no env value or token in the output');

let archive = '';

test.before(async () => {
  ({ git } = await bed.start({ domain: DOMAIN, token: TOKEN, count: 2 }));
  [web1, web2] = tb.hosts as [TestHost, TestHost];
  bed.env({ HEALTH_TIMEOUT: '20', BACKUP_IMAGE: 'hoist-test-base', BACKUP_KEEP: '2', APP_ENV_FILE: tb.file('app.env', `SECRET_VALUE=${SECRET}\n`), CRON_FILE: tb.file('crontab', '17 3 * * * hoist-backup\n') });
  const boot = await run('bootstrap');
  assert.is(boot.code, 0, boot.out);
  await Promise.all([loadAppBase(web1.container), loadAppBase(web2.container)]);
  await git.commit('app', appFiles('v1'), 'v1');
  for (const n of [1, 2]) {
    const r = await run('release', ['--hosts', 'web1']);
    assert.is(r.code, 0, `release ${n}: ${r.out}`);
  }
  assert.is(await served(web1, '/'), 'v1');
  await write(web1, 'record-a', 'store-1', 'kv-1');
});
test.after(async () => {
  await bed.stop();
});

test('backup: an archive downloaded (mode 600, sha256 checked); the app and its volumes are as they were, twice', async () => {
  const before = { c: await containers(web1), v: await volumes(web1) };
  archive = tb.file('app-backup.tar', '');
  for (const n of [1, 2]) {
    const r = await hoist(['backup', '--hosts', 'web1', '--output', archive]);
    assert.is(r.code, 0, `backup ${n}: ${r.stderr}`);
    noSecret(r.stdout + r.stderr);
    assert.match(r.stderr, /web1: downloading: .* of .* \(100%\), .*\/s/, 'progress: bytes and rate');
    assert.match(r.stderr, /web1: dumping kv/);
    assert.match(r.stderr, /web1: stopping the stateful services on store for the copy/);
    assert.match(r.stderr, /web1: backup saved to .*app-backup\.tar \(sha256 [0-9a-f]{64}\)/);
    assert.is(statSync(archive).mode & 0o777, 0o600);
    // The second backup is a new archive by nature: what must not change is the app.
    assert.is(await containers(web1), before.c, `backup ${n}: the same containers, all running again`);
    assert.equal(await volumes(web1), before.v, `backup ${n}: no volume made or removed`);
    assert.equal(await data(web1), ['record-a', 'store-1', 'kv-1']);
    assert.is(await served(web1, '/'), 'v1');
  }
  assert.ok(readFileSync(archive).includes('record-a'), 'the web volume is in the archive');
  assert.is((await web1.sh('readlink /home/deploy/.hoist/lock || echo free')).stdout.trim(), 'free', 'the deploy lock was freed');
});

test('restore: the data as at the backup, what it replaced kept; run again the same', async () => {
  await write(web1, 'record-a record-b', 'store-2', 'kv-2');
  for (const n of [1, 2]) {
    const r = await hoist(['restore', archive, '--hosts', 'web1']);
    assert.is(r.code, 0, `restore ${n}: ${r.stderr}`);
    noSecret(r.stdout + r.stderr);
    assert.match(r.stderr, /web1: sending .*: .* \(100%\)/);
    assert.match(r.stderr, /archive checked: every part matches its sha256/);
    assert.equal(await data(web1), ['record-a', 'store-1', 'kv-1'], `restore ${n}`);
    assert.is(await served(web1, '/'), 'v1', 'the app serves again');
    assert.is(await served(web1, '/data/records'), 'record-a');
  }
  const kept = (await volumes(web1)).filter((v) => v.includes('-before-restore-'));
  assert.is(kept.length, 6, `three volumes kept per restore: ${kept}`);
  const first = kept.filter((v) => v.startsWith('hoist.app.store-before-restore-')).sort()[0]!;
  assert.is((await web1.sh(`docker run --rm -v ${first}:/d hoist-test-base cat /d/value`)).stdout.trim(), 'store-2', 'what the first restore replaced is kept');
  assert.is((await web1.sh('ls /home/deploy/apps/app/backups | grep -c incoming || true')).stdout.trim(), '0', 'the uploaded copy is gone');
});

test('a cut archive and one with a flipped byte are refused, nothing changed', async () => {
  await write(web1, 'record-c', 'store-3', 'kv-3');
  const whole = readFileSync(archive);
  const cut = tb.file('cut.tar', '');
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
  const flipped = tb.file('flipped.tar', '');
  copyFileSync(archive, flipped);
  const bytes = readFileSync(flipped);
  const at = bytes.indexOf('record-a');
  assert.ok(at > 0);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(flipped, bytes);
  for (const bad of [cut, flipped]) {
    const before = { c: await containers(web1), v: await volumes(web1) };
    for (const n of [1, 2]) {
      const r = await hoist(['restore', bad, '--hosts', 'web1']);
      assert.is(r.code, 1, `${bad} ${n}: ${r.stderr}`);
      assert.match(r.stderr, /refused, nothing changed: (the archive is not a whole tar file|part volume-data\.tar does not match its sha256|the archive has no manifest)/);
      assert.equal(await data(web1), ['record-c', 'store-3', 'kv-3']);
      assert.is(await containers(web1), before.c, 'no container stopped or started');
      assert.equal(await volumes(web1), before.v, 'no volume made');
    }
  }
});

test('the deploy lock held (a release runs): backup and restore refused, nothing changed', async () => {
  const holder = JSON.stringify({ who: 'ci@runner', run: 'r1', pipeline: 'release', revision: 'abc', since: new Date().toISOString() });
  assert.is((await web1.sh(`ln -s '${holder}' /home/deploy/.hoist/lock`, 'deploy')).code, 0);
  const before = { c: await containers(web1), v: await volumes(web1), a: await archivesOnHost(web1) };
  for (const n of [1, 2]) {
    const b = await hoist(['backup', '--hosts', 'web1']);
    assert.is(b.code, 1, `backup ${n}: ${b.stderr}`);
    assert.match(b.stderr, /deploy lock held by .*ci@runner.*release/);
    const r = await hoist(['restore', archive, '--hosts', 'web1']);
    assert.is(r.code, 1, `restore ${n}: ${r.stderr}`);
    assert.match(r.stderr, /not restored: the deploy lock is held/);
    assert.equal(await data(web1), ['record-c', 'store-3', 'kv-3']);
    assert.equal({ c: await containers(web1), v: await volumes(web1), a: await archivesOnHost(web1) }, before);
    assert.is((await web1.sh('readlink /home/deploy/.hoist/lock')).stdout.trim(), holder, 'the holder\'s lock stays');
  }
  assert.is((await web1.sh('rm /home/deploy/.hoist/lock')).code, 0);
});

test('a restore that fails half way (a dump its restore command cannot read) puts every volume back and starts the app', async () => {
  // A well-formed archive (every checksum right) whose kv dump is not a tar: the restore gets as
  // far as kv's restore command, after data and store were already overwritten.
  const forged = tb.file('forged.tar', '');
  const dir = join(dirname(forged), 'forged');
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-C', dir, '-xf', archive]);
  writeFileSync(join(dir, 'parts/dump-kv'), 'not a tar archive\n');
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const body = readFileSync(join(dir, 'manifest'), 'utf8').split('\n').slice(0, -2).map((l) => {
    const [kind, what, file] = l.split(' ');
    if (kind !== 'dump' && kind !== 'volume') return l;
    const part = readFileSync(join(dir, 'parts', file!));
    return `${kind} ${what} ${file} ${part.length} ${sha(part)}`;
  }).join('\n') + '\n';
  writeFileSync(join(dir, 'manifest'), `${body}manifest-sha256 ${sha(body)}\n`);
  execFileSync('tar', ['-C', dir, '-cf', forged, 'parts', 'manifest']);
  const volumesBefore = await volumes(web1);
  for (const n of [1, 2]) {
    const r = await hoist(['restore', forged, '--hosts', 'web1']);
    assert.is(r.code, 1, `${n}: ${r.stderr}`);
    assert.match(r.stderr, /archive checked: every part matches its sha256/);
    assert.match(r.stderr, /the restore command of kv failed/);
    assert.match(r.stderr, /put back hoist\.app\.data as it was/);
    assert.equal(await data(web1), ['record-c', 'store-3', 'kv-3'], `${n}: every volume as before the restore`);
    assert.is(await served(web1, '/data/records'), 'record-c', 'the app serves again');
    const made = (await volumes(web1)).filter((v) => !volumesBefore.includes(v));
    assert.is(made.length, 3 * n, `the copies are kept: ${made}`);
    assert.ok(made.every((v) => v.includes('-before-restore-')));
  }
  assert.is((await web1.sh('readlink /home/deploy/.hoist/lock || echo free')).stdout.trim(), 'free');
});

test('a hoist-backup job (hoist run cron, twice) and BACKUP_KEEP=2: the host keeps the newest two archives', async () => {
  const cron = await run('cron', ['--hosts', 'web1']);
  assert.is(cron.code, 0, cron.out);
  const again = await run('cron', ['--hosts', 'web1']);
  assert.ok(again.report.hosts[0]!.tasks.every((t) => t.status === 'unchanged'), again.out);
  const line = (await web1.sh('crontab -l', 'deploy')).stdout.split('\n').find((l) => l.includes('hoist-backup'))!;
  assert.is(line, '17 3 * * * mkdir -p "$HOME"/apps/app/logs && "$HOME"/apps/app/bin/hoist-backup create >> "$HOME"/apps/app/logs/cron.log 2>&1');
  const before = await containers(web1);
  // What cron runs, as cron runs it (its sh, the deploy user's HOME), twice; and hoist backup --host-only.
  for (const n of [1, 2]) {
    const job = await web1.sh(`cd /home/deploy && HOME=/home/deploy sh -c ${JSON.stringify(line.slice('17 3 * * * '.length))}`, 'deploy');
    assert.is(job.code, 0, `job ${n}: ${job.stderr}`);
  }
  assert.match((await web1.sh('cat /home/deploy/apps/app/logs/cron.log')).stdout, /archive app-\d{8}T\d{6}Z\.tar \d+ [0-9a-f]{64}/);
  assert.is(await containers(web1), before, 'the job left the app as it was');
  const r = await hoist(['backup', '--hosts', 'web1', '--host-only']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /kept on the host/);
  const kept = await archivesOnHost(web1);
  assert.is(kept.length, 2, `${kept}`);
  assert.ok(kept.every((k) => /^app-\d{8}T\d{6}Z\.tar$/.test(k)), `${kept}`);
});

test('a freshly bootstrapped host: refused until the dumped service runs, then the same data', async () => {
  const early = await hoist(['restore', archive, '--hosts', 'web2']);
  assert.is(early.code, 1, early.stderr);
  assert.match(early.stderr, /the stateful service kv is restored by its restore command.*Fix: hoist run release first/);
  assert.equal((await volumes(web2)).filter((v) => v.startsWith('hoist.app')), [], 'no volume made');
  const rel = await run('release', ['--hosts', 'web2']);
  assert.is(rel.code, 0, rel.out);
  for (const n of [1, 2]) {
    const r = await hoist(['restore', archive, '--hosts', 'web2']);
    assert.is(r.code, 0, `restore ${n}: ${r.stderr}`);
    assert.equal(await data(web2), ['record-a', 'store-1', 'kv-1'], `restore ${n}`);
    assert.is(await served(web2, '/data/records'), 'record-a');
  }
});

test.run();
