// `npm run bench:ship` (issue #20): what shipping an image built here costs, on real test hosts
// (Debian 13 with systemd and Docker inside, as the release tests run), in one run:
//   1. a first ship of an image with a large layer of random (incompressible) bytes to 1 and to
//      N hosts: the floor (`docker save | ssh HOST docker load`), hoist's ship step, a registry
//      (push once, every host pulls), then one whole `hoist run release` with BUILD=local;
//   2. a second release that changes one small layer: the bytes each host received on its
//      network interface, against the image's size;
//   3. a changed release end to end with the build on the host (BUILD=host, the default): hoist
//      vs the seed's manual steps (ssh, git pull, docker compose up -d --build, then waiting until
//      the new version answers) on the same host.
// Writes its section of BENCHMARKS.md (between markers; the rest of the file is left as it is)
// and the raw measurements next to it. Everything started is removed at the end, also on failure.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { RunReport } from '../../lib/report/run-report.ts';
import { buildHere, savedImage } from '../../lib/ship/local-build.ts';
import { loadAppBase } from '../../test/harness/images.ts';
import { ReleaseBed } from '../../test/harness/release-bed.ts';
import { TestRegistry } from '../../test/harness/registry.ts';
import type { TestHost } from '../../test/harness/testbed.ts';
import { busyness, cpuTimes, loadBetween, type MachineLoad } from './machine.ts';
import { emptyImages, floorFromTar, floorShip, hasImage, hoistShip, received, registryShip, runHere, sshTo, type Run } from './ship-paths.ts';
import { renderShipSection, replaceSection, type ShipBench } from './ship-report.ts';

const USAGE = 'node --import tsx scripts/bench/ship.ts [--hosts 1,10] [--layer-mb 500] [--out BENCHMARKS.md]';
const DOMAIN = 'ship.hoist.test';
const TOKEN = `ghp_bench${randomBytes(12).toString('hex')}`;
/** The port the manual steps publish their app on (hoist picks its own slot ports). */
const MANUAL_PORT = 18080;

function parseArgs(argv: string[]): { hosts: number[]; layerMb: number; out: string } {
  const a = { hosts: [1, 10], layerMb: 500, out: 'BENCHMARKS.md' };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value\n${USAGE}`);
    const int = (x: string) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${argv[i]} ${x}: not a positive whole number\n${USAGE}`);
      return n;
    };
    if (argv[i] === '--hosts') a.hosts = [...new Set(v.split(',').map(int))].sort((x, y) => x - y);
    else if (argv[i] === '--layer-mb') a.layerMb = int(v);
    else if (argv[i] === '--out') a.out = v;
    else throw new Error(`unknown flag ${argv[i]}\n${USAGE}`);
  }
  return { ...a, out: resolve(a.out) };
}

/** The app whose image has the large layer first (random bytes: no compression can shrink it), then the small one that changes. */
const bigApp = (version: string, mb: number) => ({
  Dockerfile: `FROM hoist-test-base\nRUN ["busybox", "dd", "if=/dev/urandom", "of=/blob", "bs=1048576", "count=${mb}"]\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n`,
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': `${version}\n`,
});
/** The app of the changed-release comparison (built on the host): a one-line change is a new index.html. */
const smallApp = (version: string) => ({
  Dockerfile: 'FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n',
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': `${version}\n`,
});

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (line: string) => console.error(`[bench:ship ${new Date().toISOString().slice(11, 19)}] ${line}`);
  const max = args.hosts.at(-1)!;
  log(`disk here: ${execFileSync('df', ['-h', '/'], { encoding: 'utf8' }).trim().split('\n')[1]}`);
  const bed = new ReleaseBed();
  const tb = bed.tb;
  tb.hoistTimeoutMs = 40 * 60_000;
  const localTags: string[] = [];
  try {
    log(`starting ${max} host(s), a git server, DNS and the fake GitHub`);
    const { git } = await bed.start({ domain: DOMAIN, token: TOKEN, count: max });
    const hosts = tb.hosts;
    const source = join(tb.dir, 'source.git');
    mkdirSync(source, { recursive: true });
    const syncSource = () => {
      const tar = execFileSync('docker', ['exec', git.container, 'tar', '-C', '/home/git/acme/app.git', '-c', '.'], { maxBuffer: 256 * 1024 * 1024 });
      execFileSync('sh', ['-c', `rm -rf "$1" && mkdir -p "$1" && tar -x --no-same-owner -C "$1"`, 'sh', source], { input: tar });
    };
    const commit = async (files: Record<string, string>, message: string) => {
      const sha = await git.commit('app', files, message);
      syncSource();
      return sha;
    };
    const local = { HEALTH_TIMEOUT: '120', BUILD: 'local', BUILD_SOURCE: source, SSH_COMMAND_TIMEOUT: '1800' };
    bed.env(local);
    const hoist = async (what: string, extra: string[] = []) => {
      const r = await tb.runPipeline('release', { env: { GITHUB_TOKEN: TOKEN }, args: extra });
      if (r.code !== 0) throw new Error(`${what}: hoist exit ${r.code}\n${r.out.slice(-4000)}`);
      return r;
    };
    const boot = await tb.runPipeline('bootstrap', { env: { GITHUB_TOKEN: TOKEN }, args: ['--concurrency', String(max)] });
    if (boot.code !== 0) throw new Error(`bootstrap: exit ${boot.code}\n${boot.out.slice(-4000)}`);

    log(`building the image here (a ${args.layerMb} MB layer of random bytes) and saving its layers (not timed: every path starts from it)`);
    const sha1 = await commit(bigApp('v1', args.layerMb), 'v1');
    const tag = await buildHere({ appName: 'app', appService: 'web', composeFile: undefined, buildSource: source }, sha1);
    localTags.push(tag);
    const image = await savedImage(tag);
    const imageBytes = image.layers.reduce((n, l) => n + l.size, 0);
    log(`image ${image.id.slice(7, 19)}: ${image.layers.length} layers, ${imageBytes} bytes`);
    const savedTar = join(tb.dir, 'image.tar');
    const save = await runHere('sh', ['-c', 'docker save "$1" > "$2"', 'sh', tag, savedTar]);
    if (save.code !== 0) throw new Error(`docker save ${tag}: ${save.out}`);

    const bench: ShipBench = {
      date: new Date().toISOString(),
      layerMb: args.layerMb,
      imageBytes,
      layers: image.layers.map((l) => l.size),
      machine: { before: await busyness(max), after: '' },
      first: [],
      release: null,
      second: null,
      changed: [],
    };

    for (const n of args.hosts) {
      const hs = hosts.slice(0, n);
      await Promise.all(hs.map(emptyImages));
      const t0 = cpuTimes();
      log(`${n} host(s): the floor (docker save | ssh docker load), one stream per host, all at once`);
      const floor = await received(hs, () => floorShip(tb, hs, tag));
      await expectImage(hs, image.id, 'the floor');
      log(`  ${(floor.result / 1000).toFixed(1)} s`);
      await Promise.all(hs.map(emptyImages));
      log(`${n} host(s): the floor from a tar saved here before (ssh docker load < TAR), one stream per host, all at once`);
      const floorTar = await received(hs, () => floorFromTar(tb, hs, savedTar));
      await expectImage(hs, image.id, 'the floor from a saved tar');
      log(`  ${(floorTar.result / 1000).toFixed(1)} s`);
      await Promise.all(hs.map(emptyImages));
      log(`${n} host(s): hoist's ship step (only missing layers; here: all), all at once`);
      const ship = await received(hs, () => hoistShip(tb, hs, image, tag));
      await expectImage(hs, image.id, "hoist's ship");
      log(`  ${(ship.result.ms / 1000).toFixed(1)} s`);
      await Promise.all(hs.map(emptyImages));
      log(`${n} host(s): a registry (push once from here, every host pulls at once)`);
      const password = randomBytes(12).toString('hex');
      const registry = await TestRegistry.start('bench', password);
      let reg;
      try {
        for (const h of hs) await registry.reachFrom(h);
        reg = await received(hs, () => registryShip(tb, hs, tag, { address: registry.address, user: 'bench', password }, sha1));
        await expectImage(hs, image.id, 'the registry');
        localTags.push(`${registry.address}/hoist/app/web:${sha1.slice(0, 12)}`);
      } finally {
        await registry.stop();
      }
      log(`  push ${(reg.result.pushMs / 1000).toFixed(1)} s, pulls ${(reg.result.pullMs / 1000).toFixed(1)} s`);
      await Promise.all(hs.map(emptyImages));
      const load = loadBetween(t0, cpuTimes());
      bench.first.push({
        hosts: n,
        floorMs: floor.result,
        floorRx: floor.bytes,
        floorTarMs: floorTar.result,
        floorTarRx: floorTar.bytes,
        hoistMs: ship.result.ms,
        hoistRx: ship.bytes,
        hoistClaim: ship.result.reports.map((r) => r.bytesSent),
        pushMs: reg.result.pushMs,
        pullMs: reg.result.pullMs,
        registryRx: reg.bytes,
        load: load as MachineLoad,
        loadavg: await busyness(max),
      });
    }

    log(`${max} host(s): one whole hoist run release (BUILD=local; the hosts have none of the image)`);
    const t1 = cpuTimes();
    const rel = await received(hosts, () => hoist('release v1'));
    bench.release = { hosts: max, ms: rel.result.ms, pipelineMs: rel.result.report.durationMs, dockerUpMs: taskMs(rel.result.report, 'docker-up'), rx: rel.bytes, load: loadBetween(t1, cpuTimes()) as MachineLoad };
    log(`  ${(rel.result.ms / 1000).toFixed(1)} s (docker-up ${bench.release.dockerUpMs.map((m) => (m / 1000).toFixed(1)).join(', ')} s)`);

    log(`${max} host(s): a second release changing one small layer`);
    const sha2 = await commit(bigApp('v2', args.layerMb), 'v2: one small layer changes');
    // The release builds it here: its tag goes at the end too.
    localTags.push(`hoist-build/app/web:${sha2.slice(0, 12)}`);
    const second = await received(hosts, () => hoist('release v2'));
    bench.second = { hosts: max, ms: second.result.ms, rx: second.bytes, claim: notesOf(second.result.report) };
    log(`  received per host: ${second.bytes.join(', ')} bytes`);

    log(`web1: a changed release with the build on the host, hoist vs the manual steps`);
    bench.changed = await changedRelease(bed, hosts[0]!, commit, hoist, log);
    bench.machine.after = await busyness(max);

    const json = args.out.replace(/\.md$/, '') + '-ship.json';
    writeFileSync(json, JSON.stringify(bench, null, 2) + '\n');
    const md = renderShipSection(bench, `npm run bench:ship -- --hosts ${args.hosts.join(',')} --layer-mb ${args.layerMb}`);
    let old = '';
    try {
      old = readFileSync(args.out, 'utf8');
    } catch {
      // a new file
    }
    writeFileSync(args.out, replaceSection(old, md));
    log(`wrote ${args.out} (measurements: ${json})`);
  } finally {
    log('removing the hosts and everything else this run started');
    await bed.stop();
    for (const t of localTags) await runHere('docker', ['rmi', t]).catch(() => undefined);
  }
}

async function expectImage(hs: TestHost[], id: string, what: string): Promise<void> {
  for (const h of hs) if (!(await hasImage(h, id))) throw new Error(`${what}: ${h.name} does not have image ${id} afterwards`);
}

const taskMs = (report: RunReport, task: string): number[] => report.hosts.map((h) => h.tasks.find((t) => t.task === task)?.durationMs ?? NaN);
const notesOf = (report: RunReport): string[] => report.hosts.map((h) => (h.tasks.find((t) => t.task === 'docker-up')?.notes ?? []).join(' '));

export interface ChangedPair {
  order: string;
  hoistMs: number;
  manualMs: number;
}

/**
 * BUILD=host on web1: the small app is released once by hoist and started once by hand (not
 * timed: both then have a warm build cache and a running app), then each takes a one-line change
 * it has never built (a new index.html each: the host's build cache, shared by both, cannot help
 * the second), in both orders.
 */
async function changedRelease(
  bed: ReleaseBed,
  web1: TestHost,
  commit: (files: Record<string, string>, message: string) => Promise<string>,
  hoist: (what: string, extra?: string[]) => Promise<{ ms: number }>,
  log: (line: string) => void,
): Promise<ChangedPair[]> {
  const tb = bed.tb;
  bed.env({ HEALTH_TIMEOUT: '120', SSH_COMMAND_TIMEOUT: '1800' });
  await loadAppBase(web1.container);
  const only = ['--hosts', web1.name, '--concurrency', '1'];
  await commit(smallApp('s1'), 's1');
  await hoist('release s1 (BUILD=host, not timed)', only);
  // The seed's setup, once: a clone of the same repository through the Host alias hoist's
  // deploy-key task wrote into ~/.ssh/config (its deploy key), the app's port published by an
  // override file.
  const setup = await sshTo(
    tb,
    web1,
    `set -e; cd; alias=$(sed -n '/^# BEGIN hoist:app /{n;s/^Host //p;}' .ssh/config); [ -n "$alias" ]; url="$alias:acme/app.git"; rm -rf manual; git clone -q "$url" manual; cd manual
printf 'services:\\n  web:\\n    ports: ["127.0.0.1:${MANUAL_PORT}:8000"]\\n' > compose.override.yaml
docker compose up -d --build -q 2>&1 | tail -n 3`,
  );
  if (setup.code !== 0) throw new Error(`the manual setup on ${web1.name}: ${setup.out}`);
  const manual = async (version: string): Promise<Run> => {
    // What the seed's user types, then waits for: the new version answering.
    const r = await sshTo(
      tb,
      web1,
      `cd ~/manual && git pull -q --ff-only && docker compose up -d --build 2>&1 | tail -n 3 && i=0; until [ "$(curl -s http://127.0.0.1:${MANUAL_PORT}/)" = ${version} ]; do i=$((i+1)); [ $i -gt 1200 ] && exit 9; sleep 0.1; done`,
    );
    if (r.code !== 0) throw new Error(`manual release of ${version}: exit ${r.code}: ${r.out}`);
    return r;
  };
  await manual('s1');
  const pairs: ChangedPair[] = [];
  let v = 2;
  for (const order of ['hoist first', 'manual first']) {
    const runs: Record<string, number> = {};
    for (const who of order === 'hoist first' ? ['hoist', 'manual'] : ['manual', 'hoist']) {
      const version = `s${v++}`;
      await commit(smallApp(version), `${version}: one line`);
      runs[who] = who === 'hoist' ? (await hoist(`release ${version}`, only)).ms : (await manual(version)).ms;
      const page = await sshTo(tb, web1, `curl -s --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`);
      if (who === 'hoist' && page.out.trim() !== version) throw new Error(`after hoist's release of ${version} the site answers ${page.out}`);
      log(`  ${who} (${version}): ${(runs[who]! / 1000).toFixed(1)} s`);
    }
    pairs.push({ order, hoistMs: runs.hoist!, manualMs: runs.manual! });
  }
  return pairs;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exitCode = 1;
});
