// BUILD=local end to end (issue #20): the release's image is built once on this machine (its
// Docker) from the release's commit and shipped into two real hosts over hoist's SSH connection;
// the hosts never build (the image each runs has the ID of the one built here, and Docker's
// events show one `load` and no container made by a build). web1 has the app's base image,
// web2 does not: web1 receives only the app's layer, web2 both. v1 -> v2 under a client loop
// with 0 failed requests (only the changed layer travels), a rollback sends nothing, a commit
// whose image layers every host has sends nothing, a connection cut while a layer streams fails
// the release cleanly (the live release keeps serving) and the next run resumes and converges.
// BUILD=registry against Debian's docker-registry with a login: pushed once, each host pulls.
// Every pipeline runs twice; the second changes nothing.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { buildHere, savedImage } from '../../lib/ship/local-build.ts';
import type { ShipImage } from '../../lib/ship/layers.ts';
import { underLoad } from '../harness/client-loops.ts';
import { dockerSh } from '../harness/docker.ts';
import { watchFor } from '../harness/faults.ts';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { TestRegistry } from '../harness/registry.ts';
import { runTwice } from '../harness/run-twice.ts';
import type { PipelineRun, TestHost } from '../harness/testbed.ts';

const test = suite('BUILD=local: build here, ship layers over SSH, end to end');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'ship.hoist.test';
let git: GitServer;
let web1: TestHost;
let web2: TestHost;
let source: string;
let registry: TestRegistry | undefined;

const appFiles = (version: string, extra = '') => ({
  'Dockerfile': `FROM hoist-test-base\nCOPY index.html /www/index.html\n${extra}CMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n`,
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': `${version}\n`,
});

/** The checkout hoist builds from (BUILD_SOURCE): a copy of the git server's bare repo, made again after each commit. */
async function syncSource(): Promise<void> {
  const tar = execFileSync('docker', ['exec', git.container, 'tar', '-C', '/home/git/acme/app.git', '-c', '.'], { maxBuffer: 256 * 1024 * 1024 });
  execFileSync('sh', ['-c', `rm -rf "$1" && mkdir -p "$1" && tar -x --no-same-owner -C "$1"`, 'sh', source], { input: tar });
}

async function commit(files: Record<string, string>, message: string): Promise<string> {
  const sha = await git.commit('app', files, message);
  await syncSource();
  return sha;
}

const run = (pipeline: string, args: string[] = [], env: Record<string, string> = {}) => tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN, ...env }, args });
const byHost = (report: RunReport, name: string) => report.hosts.find((h) => h.name === name)!;
const notesOf = (report: RunReport, name: string) => byHost(report, name).tasks.find((t) => t.task === 'docker-up')?.notes ?? [];
const page = async (h: TestHost) => (await h.sh(`curl -s --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`)).stdout;
const liveImageId = async (h: TestHost) => (await h.sh(`docker inspect -f '{{.Image}}' $(docker ps -q --filter label=com.docker.compose.service=web | head -n 1)`)).stdout.trim();
const localId = (sha: string) => execFileSync('docker', ['image', 'inspect', '-f', '{{.Id}}', `hoist-build/app/web:${sha.slice(0, 12)}`], { encoding: 'utf8' }).trim();
/** Docker's events on the host since `since` (unix seconds): loads and containers made. */
async function events(h: TestHost, since: number): Promise<{ loads: number; creates: string[] }> {
  const r = await h.sh(`docker events --since ${since} --until $(date +%s) --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'`);
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  return { loads: lines.filter((l) => /^image load/.test(l)).length, creates: lines.filter((l) => /^container create/.test(l)) };
}
const now = async (h: TestHost) => Number((await h.sh('date +%s')).stdout.trim());
const sent = (note: string) => Number(/, (\d+) bytes/.exec(note)?.[1] ?? NaN);

test.before(async () => {
  ({ git } = await bed.start({ domain: DOMAIN, token: TOKEN, count: 2 }));
  [web1, web2] = tb.hosts as [TestHost, TestHost];
  source = join(tb.dir, 'source.git');
  mkdirSync(source, { recursive: true });
  bed.env({ HEALTH_TIMEOUT: '30', BUILD: 'local', BUILD_SOURCE: source });
  const boot = await run('bootstrap');
  assert.is(boot.code, 0, boot.out);
  // web1 has the app's base image (as a host that ran an app on it before), web2 has none. This
  // machine gets the very same base (same layer), as a developer's Docker would pull it.
  await loadAppBase(web1.container);
  const saved = await dockerSh(web1.container, 'docker save hoist-test-base | base64 -w0');
  execFileSync('docker', ['load', '-q'], { input: Buffer.from(saved.stdout, 'base64') });
});
test.after(async () => {
  await registry?.stop();
  await bed.stop();
  // The images this run built and pushed here (this machine's Docker is shared): never fails the run.
  try {
    const refs = execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8' }).split('\n');
    const ours = refs.filter((r) => r.startsWith('hoist-build/app/web:') || (registry && r.startsWith(`${registry.address}/hoist/app/web:`)));
    if (ours.length) execFileSync('docker', ['rmi', ...ours], { stdio: 'ignore' });
  } catch {
    // left for docker image prune
  }
});

test('v1: built here once, web1 receives only the app layer, web2 both; the hosts never build; again: unchanged', async () => {
  const sha = await commit(appFiles('v1'), 'v1');
  const since = await now(web1);
  const first = await runTwice('release v1', () => run('release'));
  assert.is(first.code, 0, first.out);
  const n1 = notesOf(first.report, web1.name);
  const n2 = notesOf(first.report, web2.name);
  assert.match(n1.join('\n'), /1 of 2 layers sent, \d+ bytes, loaded as they arrived/, first.out);
  assert.match(n2.join('\n'), /2 of 2 layers sent, \d+ bytes, loaded as they arrived/, first.out);
  for (const h of [web1, web2]) {
    assert.is(await page(h), 'v1\n');
    assert.is(await liveImageId(h), localId(sha), `${h.name} runs the image built here`);
    const e = await events(h, since);
    assert.is(e.loads, 1, `${h.name}: one docker load`);
    // Only the slot's own container is created: a build on the host would create one per step.
    assert.is(e.creates.length, 1, `${h.name}: ${e.creates.join('; ')}`);
  }
});

test('v1 -> v2 under a client loop: 0 failed requests, only the changed layer travels; again: unchanged', async () => {
  await commit(appFiles('v2'), 'v2');
  let rel: PipelineRun | undefined;
  const seen = await underLoad(web1, { app: DOMAIN }, async () => {
    rel = await runTwice('release v2', () => run('release'));
  });
  assert.is(rel!.code, 0, rel!.out);
  const answers = Object.keys(seen.app);
  assert.ok(answers.every((a) => a === 'v1 200' || a === 'v2 200'), JSON.stringify(seen.app));
  assert.ok((seen.app['v2 200'] ?? 0) > 0, JSON.stringify(seen.app));
  for (const h of [web1, web2]) {
    assert.match(notesOf(rel!.report, h.name).join('\n'), /1 of 2 layers sent/, rel!.out);
    assert.is(await page(h), 'v2\n');
  }
});

test('rollback: the kept image starts, nothing is shipped or loaded; again (--to): unchanged', async () => {
  const since = await now(web1);
  const back = await run('rollback');
  assert.is(back.code, 0, back.out);
  const to = (await web1.sh('readlink /home/deploy/apps/app/current')).stdout.trim().replace(/^releases\//, '');
  const again = await run('rollback', ['--to', to]);
  assert.is(again.code, 0, again.out);
  for (const h of [web1, web2]) {
    assert.equal(notesOf(back.report, h.name), [], 'no ship note');
    assert.is(await page(h), 'v1\n');
    assert.is((await events(h, since)).loads, 0, `${h.name}: no docker load`);
  }
  for (const h of again.report.hosts) for (const t of h.tasks) assert.is(t.status, 'unchanged', `${h.name}/${t.task}`);
});

test('a commit whose image every host already has in its layers: 0 bytes sent to either; again: unchanged', async () => {
  // Only the README changes: the build here reuses its cache, the image is v2's again.
  await git.commit('app', { ...appFiles('v2'), README: 'docs only\n' }, 'docs');
  await syncSource();
  const r = await runTwice('release docs', () => run('release'));
  assert.is(r.code, 0, r.out);
  for (const h of [web1, web2]) {
    const note = notesOf(r.report, h.name).join('\n');
    assert.match(note, /already on the host|0 of 2 layers sent, 0 bytes/, r.out);
    assert.is(await page(h), 'v2\n');
  }
});

test('a layer changed here after docker save (one byte): every host\'s docker load refuses it, the release fails cleanly, the forged bytes are not kept; with the true bytes the next run converges; again: unchanged', async () => {
  const sha = await commit(appFiles('v3f', 'RUN ["busybox", "dd", "if=/dev/urandom", "of=/www/blob", "bs=1048576", "count=2"]\n'), 'v3f');
  // hoist's cache of saved layers, private to this test: filled here, then one byte of the
  // largest layer is changed in the middle of its data (the tar's own structure stays valid).
  const env = { XDG_CACHE_HOME: join(tb.dir, 'forged-cache') };
  const kept = process.env.XDG_CACHE_HOME;
  let image: ShipImage;
  process.env.XDG_CACHE_HOME = env.XDG_CACHE_HOME;
  try {
    image = await savedImage(await buildHere({ appName: 'app', appService: 'web', buildSource: source }, sha));
  } finally {
    if (kept === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = kept;
  }
  assert.is(image.id, localId(sha));
  const big = image.layers.reduce((a, l) => (l.size > a.size ? l : a));
  const bigHex = big.diffId.slice(7);
  const flipByte = () => {
    const fd = openSync(big.file, 'r+');
    try {
      const b = Buffer.alloc(1);
      const at = Math.floor(big.size / 2);
      readSync(fd, b, 0, 1, at);
      b[0] = b[0]! ^ 0xff;
      writeSync(fd, b, 0, 1, at);
    } finally {
      closeSync(fd);
    }
  };
  flipByte();
  const forged = await run('release', [], env);
  assert.is(forged.code, 1, forged.out);
  for (const h of [web1, web2]) {
    const err = byHost(forged.report, h.name).error ?? '';
    assert.is(byHost(forged.report, h.name).status, 'failed', forged.out);
    // Docker's own refusal (the layer's digest is not the config's diff ID), then hoist's check of what was staged.
    assert.match(err, /invalid diffID/, err);
    assert.match(err, /docker load refused/, err);
    assert.match(err, new RegExp(`layer ${bigHex.slice(0, 12)}: content does not match its digest`), err);
    assert.is(await page(h), 'v2\n', `${h.name}: the live release keeps serving`);
    assert.is((await h.sh(`docker image inspect ${image.id} >/dev/null 2>&1 && echo has || echo none`)).stdout.trim(), 'none', `${h.name}: no image from forged bytes`);
    const staged = (await h.sh('ls /home/deploy/apps/app/ship/layers')).stdout.split('\n').filter(Boolean);
    assert.not.ok(staged.some((f) => f.startsWith(bigHex)), `${h.name}: the forged layer is not kept: ${staged.join(' ')}`);
  }
  flipByte();
  const next = await runTwice('release v3f with the true bytes', () => run('release', [], env));
  assert.is(next.code, 0, next.out);
  for (const h of [web1, web2]) {
    assert.is(await page(h), 'v3f\n');
    assert.is(await liveImageId(h), image.id);
    // The layer that arrived whole and true was kept as staged and is not sent again.
    assert.match(notesOf(next.report, h.name).join('\n'), /1 staged before/, next.out);
  }
});

test('a connection cut while a layer streams: the release fails cleanly, the next run resumes and converges; again: unchanged', async () => {
  // A 24 MiB layer made by the build here (busybox dd), so the stream is long enough to be cut.
  await commit(appFiles('v3', 'RUN ["busybox", "dd", "if=/dev/urandom", "of=/www/blob", "bs=1048576", "count=24"]\n'), 'v3');
  // Cut during the streamed first ship (`docker load` reads the tar through load.fifo while each
  // layer is staged), once a staged part holds at least 1 MiB: in the middle of the stream.
  const w = await watchFor(web2, {
    pattern: 'mkfifo load\\.fifo',
    fileAtLeast: { glob: '/home/deploy/apps/app/ship/layers/*.part', bytes: 1024 * 1024 },
    timeoutMs: 300_000,
  });
  const cut = await run('release');
  await w.stop();
  const match = await w.fired;
  assert.ok(match, `the layer transfer was seen and cut: exit ${cut.code}, ${JSON.stringify(notesOf(cut.report, web2.name))} ${byHost(cut.report, web2.name).error ?? ''}`);
  assert.match(match!.args, /docker load -q < load\.fifo/);
  assert.is(cut.code, 1, cut.out);
  assert.is(byHost(cut.report, web2.name).status, 'failed');
  assert.match(byHost(cut.report, web2.name).error ?? '', /lost the connection|connection closed|ended without an exit status/i);
  assert.is(await page(web2), 'v3f\n', 'the live release keeps serving on web2');
  const parts = (await web2.sh('stat -c %s /home/deploy/apps/app/ship/layers/*.part')).stdout.split('\n').filter(Boolean).map(Number);
  assert.ok(parts.some((n) => n >= 1024 * 1024 && n < 24 * 1024 * 1024), `a part cut in the middle of the layer: ${parts.join(' ')}`);
  const next = await runTwice('release v3 after the cut', () => run('release'));
  assert.is(next.code, 0, next.out);
  for (const h of [web1, web2]) assert.is(await page(h), 'v3\n');
  const note = notesOf(next.report, web2.name).join('\n');
  assert.match(note, /layers sent/, next.out);
  // The resume starts from what the cut stream had staged.
  assert.ok(Number(/resumed after (\d+) bytes/.exec(note)?.[1] ?? 0) >= 1024 * 1024, note);
  // What was staged before the cut is not sent again: less than the whole image's new layers.
  assert.ok(sent(note) <= 24 * 1024 * 1024 + 1024 * 1024, note);
  assert.is((await web2.sh('ls -A /home/deploy/apps/app/ship 2>/dev/null | wc -l')).stdout.trim(), '0', 'the staging folder is gone');
});

test('BUILD=registry: pushed once from here to a real registry (login on stdin), each host pulls; the password never shows; again: unchanged', async () => {
  const password = `pw-CANARY-${randomBytes(12).toString('hex')}`;
  registry = await TestRegistry.start('ci', password);
  for (const h of [web1, web2]) await registry.reachFrom(h);
  bed.env({ HEALTH_TIMEOUT: '30', BUILD: 'registry', BUILD_SOURCE: source, REGISTRY: registry.address, REGISTRY_USER: 'ci', REGISTRY_PASSWORD: password });
  const sha = await commit(appFiles('v4'), 'v4');
  const since = await now(web1);
  const r = await runTwice('release v4 through the registry', () => run('release'));
  assert.is(r.code, 0, r.out);
  for (const h of [web1, web2]) {
    assert.match(notesOf(r.report, h.name).join('\n'), new RegExp(`pulled from ${registry.address.replace(/[.]/g, '\\.')}`), r.out);
    assert.is(await page(h), 'v4\n');
    assert.is(await liveImageId(h), localId(sha), `${h.name} runs the image built here`);
    const e = await events(h, since);
    assert.is(e.loads, 0, `${h.name}: pulled, not loaded`);
    assert.is(e.creates.length, 1, `${h.name}: no build on the host: ${e.creates.join('; ')}`);
    // No Docker config with the login stays behind on the host.
    assert.is((await h.sh('grep -rl ci /home/deploy/.docker 2>/dev/null | wc -l')).stdout.trim(), '0');
  }
  assert.not.ok(r.out.includes(password) || JSON.stringify(r.report).includes(password), 'the password is not in the output or the report');
});

test.run();
