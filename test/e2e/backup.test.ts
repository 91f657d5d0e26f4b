// Issue #18 item 4: backups that restore. The app has a web volume (data), a stateful service
// copied while briefly stopped (store) and one dumped by its own command (kv, x-hoist.backup).
// `hoist backup` downloads an archive (mode 600) with its sha256 checked and leaves the app and
// its volumes as they were; `hoist restore` puts the data back as at the backup, keeping what it
// replaced as NAME-before-restore-STAMP; a cut archive and one with a flipped byte are refused
// with nothing changed; a freshly bootstrapped second host gets the same data; BACKUP_KEEP
// archives stay on the host; the app's env values never show. A second app (notes) with plain
// volumes only is restored onto web2 before its first release there: a cut archive and one
// failing half way leave nothing of it behind; the release then serves web1's data.
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

// A second app with plain named volumes only (no x-hoist.backup.dump): its web volume and a
// stateful service copied while stopped. Its restore onto web2 comes before any app ran there.
const NOTES = 'notes.hoist.test';
const NOTES_COMPOSE = `services:
  web:
    build: .
    depends_on: [store]
    volumes:
      - data:/www/data
  store:
    image: hoist-test-base
    x-hoist: {stateful: true}
    command: ["sh", "-c", "mkdir -p /store; trap 'exit 0' TERM; httpd -f -p 8080 -h /store & wait"]
    volumes:
      - store:/store
volumes:
  data:
  store:
`;
let notesEnv = '';

const hoist = (args: string[]) => tb.hoist([...args, '--env-file', tb.envPath, '--inventory', tb.inventoryPath], { GITHUB_TOKEN: TOKEN });
const run = (pipeline: string, args: string[] = []): Promise<PipelineRun> => tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN }, args });
const served = async (h: TestHost, path: string, domain = DOMAIN) => (await h.sh(`curl -s --max-time 5 --resolve ${domain}:80:127.0.0.1 http://${domain}${path}`)).stdout.trim();
/** Runs `cmd` in the running container of `service` of `app` (a slot's or the stateful project's). */
const inside = async (h: TestHost, service: string, cmd: string, app = 'app') => {
  const pick = `docker ps --filter label=com.docker.compose.service=${service} --format '{{.ID}} {{.Label "com.docker.compose.project"}}' | grep -E ' ${app}-(blue|green|state)$' | head -n 1 | cut -d' ' -f1`;
  const r = await h.sh(`docker exec $(${pick}) sh -c ${JSON.stringify(cmd)}`);
  assert.is(r.code, 0, `${service}: ${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
const notes = (args: string[]) => tb.hoist([...args, '--env-file', notesEnv, '--inventory', tb.inventoryPath], { GITHUB_TOKEN: TOKEN });
const runNotes = (pipeline: string, args: string[] = []): Promise<PipelineRun> => tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN }, args, envFile: notesEnv });
/** What notes holds: its web volume's records and its store's value. */
const notesData = async (h: TestHost) => [await inside(h, 'web', 'cat /www/data/records', 'notes'), await inside(h, 'store', 'cat /store/value', 'notes')];
/** What of notes is on a host: its volumes, its record of them, its containers (ids and states). */
const notesOn = async (h: TestHost) => ({
  volumes: (await volumes(h)).filter((v) => v.includes('notes')),
  record: (await h.sh('cat /home/deploy/apps/notes/volumes 2>/dev/null || echo none')).stdout.trim(),
  containers: (await h.sh("docker ps -a --format '{{.ID}} {{.Label \"com.docker.compose.project\"}} {{.Label \"com.docker.compose.service\"}} {{.State}}' | grep ' notes-' | sort || true")).stdout.trim(),
});
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

/**
 * A well-formed copy of `from` (every checksum right, the manifest's own too) whose `part` is not
 * a tar: a restore passes every check and fails only when it gets to that part.
 */
function forge(from: string, name: string, part: string): string {
  const forged = tb.file(`${name}.tar`, '');
  const dir = join(dirname(forged), name);
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-C', dir, '-xf', from]);
  writeFileSync(join(dir, 'parts', part), 'not a tar archive\n');
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const body = readFileSync(join(dir, 'manifest'), 'utf8').split('\n').slice(0, -2).map((l) => {
    const [kind, what, file] = l.split(' ');
    if (kind !== 'dump' && kind !== 'volume') return l;
    const bytes = readFileSync(join(dir, 'parts', file!));
    return `${kind} ${what} ${file} ${bytes.length} ${sha(bytes)}`;
  }).join('\n') + '\n';
  writeFileSync(join(dir, 'manifest'), `${body}manifest-sha256 ${sha(body)}\n`);
  execFileSync('tar', ['-C', dir, '-cf', forged, 'parts', 'manifest']);
  return forged;
}

let archive = '';

test.before(async () => {
  ({ git } = await bed.start({ domain: DOMAIN, token: TOKEN, count: 2, repos: ['app', 'notes'], moreDomains: [NOTES] }));
  [web1, web2] = tb.hosts as [TestHost, TestHost];
  notesEnv = tb.file('notes.env', readFileSync(bed.env({ APP_NAME: 'notes', APP_REPO: git.repoUrl('notes'), APP_DOMAIN: NOTES, BLUE_PORT: '18011', GREEN_PORT: '18012', HEALTH_TIMEOUT: '20', BACKUP_IMAGE: 'hoist-test-base' }), 'utf8'));
  bed.env({ HEALTH_TIMEOUT: '20', BACKUP_IMAGE: 'hoist-test-base', BACKUP_KEEP: '2', APP_ENV_FILE: tb.file('app.env', `SECRET_VALUE=${SECRET}\n`), CRON_FILE: tb.file('crontab', '17 3 * * * hoist-backup\n') });
  const boot = await run('bootstrap');
  assert.is(boot.code, 0, boot.out);
  const bootNotes = await runNotes('bootstrap');
  assert.is(bootNotes.code, 0, bootNotes.out);
  await Promise.all([loadAppBase(web1.container), loadAppBase(web2.container)]);
  await Promise.all([git.commit('app', appFiles('v1'), 'v1'), git.commit('notes', { ...appFiles('notes v1'), 'compose.yaml': NOTES_COMPOSE }, 'v1')]);
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
  const forged = forge(archive, 'forged', 'dump-kv');
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

let notesArchive = '';

test('plain volumes onto a freshly bootstrapped host: a cut archive, and one failing half way, leave nothing of notes behind', async () => {
  const rel = await runNotes('release', ['--hosts', 'web1']);
  assert.is(rel.code, 0, rel.out);
  await inside(web1, 'web', "printf '%s\\n' note-a note-b > /www/data/records", 'notes');
  await inside(web1, 'store', 'echo notes-store-1 > /store/value', 'notes');
  notesArchive = tb.file('notes-backup.tar', '');
  const b = await notes(['backup', '--hosts', 'web1', '--output', notesArchive]);
  assert.is(b.code, 0, b.stderr);
  assert.not.match(b.stderr, /dumping/, 'no dumped service: every volume copied');
  const fresh = await notesOn(web2);
  assert.equal(fresh, { volumes: [], record: 'none', containers: '' }, 'notes never ran on web2');
  const cut = tb.file('notes-cut.tar', '');
  writeFileSync(cut, readFileSync(notesArchive).subarray(0, 4000));
  // The store's part is not a tar: the data volume is made and filled before the restore fails.
  const halfWay = forge(notesArchive, 'notes-forged', 'volume-store.tar');
  for (const n of [1, 2]) {
    const r = await notes(['restore', cut, '--hosts', 'web2']);
    assert.is(r.code, 1, `cut ${n}: ${r.stderr}`);
    assert.match(r.stderr, /refused, nothing changed/);
    assert.equal(await notesOn(web2), fresh, `cut ${n}: no volume, record or container of notes`);
    const h = await notes(['restore', halfWay, '--hosts', 'web2']);
    assert.is(h.code, 1, `half way ${n}: ${h.stderr}`);
    assert.match(h.stderr, /archive checked: every part matches its sha256/);
    assert.match(h.stderr, /restoring volume store failed/);
    assert.equal(await notesOn(web2), fresh, `half way ${n}: the volumes it made are gone and nothing is recorded (a release would start on half the data)`);
  }
});

test('plain volumes onto a freshly bootstrapped host: restored before the first release, which serves the data of web1; again, nothing else changes', async () => {
  const r = await notes(['restore', notesArchive, '--hosts', 'web2']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /restored notes from the archive/);
  assert.equal(await notesOn(web2), { volumes: ['hoist.notes.data', 'hoist.notes.store'], record: 'data hoist.notes.data\nstore hoist.notes.store', containers: '' });
  const rel = await runNotes('release', ['--hosts', 'web2']);
  assert.is(rel.code, 0, rel.out);
  assert.equal(await notesData(web2), ['note-a\nnote-b', 'notes-store-1']);
  assert.is(await served(web2, '/data/records', NOTES), 'note-a\nnote-b');
  assert.is(await served(web2, '/', NOTES), 'notes v1');
  const live = await notesOn(web2);
  assert.equal(live.volumes, ['hoist.notes.data', 'hoist.notes.store'], 'the app\'s own volumes, none per slot');
  assert.is(live.record, 'data hoist.notes.data\nstore hoist.notes.store');
  // Run twice: the restore again, the release again unchanged. Before it, what `hoist remove`
  // leaves (it deletes ~/apps/notes with the record of the volumes and keeps the volumes; the
  // record alone removed here) and a changed value: the restore must still keep what it replaces.
  await inside(web2, 'store', 'echo notes-store-2 > /store/value', 'notes');
  assert.is((await web2.sh('rm /home/deploy/apps/notes/volumes', 'deploy')).code, 0);
  const again = await notes(['restore', notesArchive, '--hosts', 'web2']);
  assert.is(again.code, 0, again.stderr);
  const rel2 = await runNotes('release', ['--hosts', 'web2']);
  assert.is(rel2.code, 0, rel2.out);
  assert.ok(rel2.report.hosts[0]!.tasks.every((t) => t.status === 'unchanged'), rel2.out);
  const after = await notesOn(web2);
  assert.is(after.containers, live.containers, 'the same containers, running');
  assert.is(after.record, live.record, 'recorded again, the same');
  const kept = after.volumes.filter((v) => !live.volumes.includes(v));
  assert.is(kept.length, 2, `the volumes it replaced kept aside, recorded or not: ${kept}`);
  assert.ok(kept.every((v) => /^hoist\.notes\.(data|store)-before-restore-\d{8}T\d{6}Z$/.test(v)), `${kept}`);
  const store = kept.find((v) => v.startsWith('hoist.notes.store-'))!;
  assert.is((await web2.sh(`docker run --rm -v ${store}:/d hoist-test-base cat /d/value`)).stdout.trim(), 'notes-store-2', 'what it replaced is kept');
  assert.equal(await notesData(web2), ['note-a\nnote-b', 'notes-store-1']);
  assert.is(await served(web2, '/data/records', NOTES), 'note-a\nnote-b');
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
