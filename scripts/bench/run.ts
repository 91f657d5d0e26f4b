// `npm run bench`: times a no-op release (everything already live) on N test hosts with hoist,
// with the equivalent Ansible playbook, and with the in-process ssh2 floor, all in one run on
// one fleet (the machine's speed drifts between runs; only ratios from one run compare), then
// writes BENCHMARKS.md. See scripts/bench/args.ts for flags; the fleet is removed at the end,
// also when something fails or the run is interrupted.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ansibleRun, prepareAnsible } from './ansible.ts';
import { parseArgs } from './args.ts';
import { diagnose, probePieces, startup } from './diagnose.ts';
import { DEPLOY_USER, Fleet } from './fleet.ts';
import { REPO_ROOT } from '../../test/harness/testbed.ts';
import { floorRun } from './floor.ts';
import { hoistNoop } from './hoist-noop.ts';
import { busyness, machineInfo } from './machine.ts';
import { memoryMethodText } from './measure.ts';
import { renderReport, type ReportInput, type RunSample } from './report.ts';

const BLUE_PORT = 18001;
const GREEN_PORT = 18002;

const args = parseArgs(process.argv.slice(2));
const t0 = Date.now();
const log = (line: string) => console.log(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
/** Every measurement of the last run, kept so the report can be rendered again (--from-json). */
const SAVED = join(tmpdir(), 'hoist-bench-last.json');

if (args.fromJson) {
  const saved = JSON.parse(readFileSync(args.fromJson, 'utf8')) as ReportInput;
  writeFileSync(args.out, renderReport({ ...saved, date: new Date(saved.date) }));
  log(`wrote ${args.out} from ${args.fromJson}`);
  process.exit(0);
}

// hoist as users run it after `npm ci`: compiled (bin/hoist.mjs falls back to the TypeScript
// sources through tsx when dist/ is stale, which would time a different, slower start).
// @ts-expect-error: plain JavaScript without type declarations
const { distIsFresh } = (await import('../../bin/dist-fresh.mjs')) as { distIsFresh: (root: string) => boolean };
if (!distIsFresh(REPO_ROOT)) {
  console.error('bench: dist/ is missing or older than the sources. Fix: npm run build (npm run bench does it first)');
  process.exit(1);
}

const prereqs = spawnSync('bash', [join(dirname(fileURLToPath(import.meta.url)), 'prereqs.sh')], { stdio: 'inherit', timeout: 15 * 60_000 });
if (prereqs.status !== 0) {
  console.error('bench: installing ansible-core failed');
  process.exit(1);
}

const fleet = new Fleet();
let stopped: Promise<void> | null = null;
const stop = () => (stopped ??= fleet.stop());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: removing the fleet`);
    void stop().finally(() => process.exit(130));
  });
}

try {
  const maxN = args.hosts[args.hosts.length - 1]!;
  log(`hosts ${args.hosts.join(', ')}; ${args.runs} run(s) each; setup concurrency ${args.setupConcurrency}`);
  await fleet.setUp(maxN, args.setupConcurrency, log);
  const tb = fleet.tb;
  const machine = await machineInfo(fleet.hosts[0]!);
  const busyBefore = await busyness(maxN + 1);
  const ansible = prepareAnsible({ dir: tb.dir, keyPath: tb.keyPath, knownHostsPath: tb.knownHostsPath, live: fleet.live, bluePort: BLUE_PORT, greenPort: GREEN_PORT });
  const inventoryFor = (n: number) => {
    const path = join(tb.dir, `inventory-${n}.json`);
    const hosts = Object.fromEntries(fleet.hosts.slice(0, n).map((h) => [h.name, { host: '127.0.0.1', port: h.port }]));
    writeFileSync(path, JSON.stringify({ hosts }, null, 2));
    return path;
  };
  const inventories = new Map(args.hosts.map((n) => [n, inventoryFor(n)]));

  const one = async (tool: 'hoist' | 'ansible' | 'floor', n: number, tag: string, tasks: number) => {
    const hosts = fleet.hosts.slice(0, n);
    if (tool === 'hoist') return hoistNoop({ dir: tb.dir, envPath: tb.envPath, inventoryPath: inventories.get(n)!, hosts: n, tag });
    if (tool === 'ansible') return ansibleRun(ansible, { hosts, tag });
    return floorRun({ dir: tb.dir, hosts, user: DEPLOY_USER, keyPath: tb.keyPath, commands: tasks, tag });
  };

  // Warm-up, not counted: the first run of each tool after setup pays for cold caches (tsx's
  // transform cache, Python's imports, the hosts' page cache). It also proves hoist is a no-op
  // and gives the number of tasks the floor runs one command for.
  const minN = args.hosts[0]!;
  log(`warm-up at ${minN} host(s) (not counted)`);
  const tasks = (await hoistNoop({ dir: tb.dir, envPath: tb.envPath, inventoryPath: inventories.get(minN)!, hosts: minN, tag: 'warmup' })).tasks;
  await one('ansible', minN, 'warmup', tasks);
  await one('floor', minN, 'warmup', tasks);

  const samples: RunSample[] = [];
  for (const n of args.hosts) {
    for (let run = 1; run <= args.runs; run++) {
      // The order rotates between runs, so a slow phase of the machine does not always hit the same tool.
      const order = (['hoist', 'ansible', 'floor'] as const).map((_, i, all) => all[(i + run - 1) % all.length]!);
      const s: Partial<RunSample> = { hosts: n, run, order: [...order] };
      for (const tool of order) {
        const tag = `${n}-${run}`;
        if (tool === 'hoist') s.hoist = await hoistNoop({ dir: tb.dir, envPath: tb.envPath, inventoryPath: inventories.get(n)!, hosts: n, tag });
        else if (tool === 'ansible') s.ansible = await ansibleRun(ansible, { hosts: fleet.hosts.slice(0, n), tag });
        else s.floor = await floorRun({ dir: tb.dir, hosts: fleet.hosts.slice(0, n), user: DEPLOY_USER, keyPath: tb.keyPath, commands: tasks, tag });
      }
      const full = s as RunSample;
      samples.push(full);
      log(
        `N=${n} run ${run}: hoist ${(full.hoist.wallMs / 1000).toFixed(2)} s (pipeline ${(full.hoist.pipelineMs / 1000).toFixed(2)} s, peak ${full.hoist.peakMiB?.toFixed(0) ?? '?'} MiB), ` +
          `ansible ${(full.ansible.wallMs / 1000).toFixed(2)} s, floor ${(full.floor.wallMs / 1000).toFixed(2)} s`,
      );
    }
  }

  log('startup of node and of hoist --version');
  const start = await startup(Math.max(3, args.runs));
  const diagnoses = [];
  for (const n of [...new Set([minN, maxN])]) {
    log(`traced hoist run at ${n} host(s) (not counted): commands and round trips`);
    diagnoses.push(await diagnose({ dir: tb.dir, envPath: tb.envPath, inventoryPath: inventories.get(n)!, hosts: n }));
  }
  log('timing the pieces of hoist\'s probes on one host');
  const pieces = await probePieces(fleet.hosts[0]!, DEPLOY_USER);
  const busyAfter = await busyness(maxN + 1);
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const input: ReportInput = { args, command, machine, samples, tasks, startup: start, diagnoses, pieces, memoryMethod: memoryMethodText, busyBefore, busyAfter, date: new Date() };
  writeFileSync(SAVED, JSON.stringify(input));
  writeFileSync(args.out, renderReport(input));
  log(`wrote ${args.out} (measurements: ${SAVED})`);
} catch (e) {
  console.error(`bench failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  log('removing the fleet');
  await stop();
}
