// `npm run bench`: times a no-op release (everything already live) on N test hosts with hoist,
// with the equivalent Ansible playbook, and with the in-process ssh2 floor, all in one run on
// one fleet (the machine's speed drifts between runs; only ratios from one run compare), then
// writes BENCHMARKS.md. Besides wall clock, every timed run has its CPU measured: on this
// machine (the tool's process and everything it started) and on each host (the host container's
// CPU counter, see host-cpu.ts). See scripts/bench/args.ts for flags; the fleet is removed at the
// end, also when something fails or the run is interrupted.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ansibleRun, prepareAnsible } from './ansible.ts';
import { parseArgs } from './args.ts';
import { diagnose, probePieces, startup } from './diagnose.ts';
import { DEPLOY_USER, Fleet, HOIST_ROOT, useHoistAt } from './fleet.ts';
import { floorRun } from './floor.ts';
import { hoistNoop } from './hoist-noop.ts';
import { traceExecs } from './exec-trace.ts';
import { HostCpu, idleRate } from './host-cpu.ts';
import { created, HostPids, idlePids } from './host-pids.ts';
import type { PidsInfo } from './report-procs.ts';
import { busyness, cpuTimes, loadBetween, machineInfo, type HoistFrom } from './machine.ts';
import { localCpuMethod, measure, memoryMethodText, type RunCpu } from './measure.ts';
import { shipSectionOf } from './ship-report.ts';
import { renderReport, type HostCpuInfo, type ReportInput, type RunSample } from './report.ts';
import { median } from './stats.ts';

const BLUE_PORT = 18001;
const GREEN_PORT = 18002;
/** How long the hosts' idle CPU is read before each fleet size's timed runs. */
const IDLE_MS = 3000;

const args = parseArgs(process.argv.slice(2));
const t0 = Date.now();
const log = (line: string) => console.log(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
/** Every measurement of the last run, kept so the report can be rendered again (--from-json). */
const SAVED = join(tmpdir(), 'hoist-bench-last.json');

if (args.fromJson) {
  const saved = JSON.parse(readFileSync(args.fromJson, 'utf8')) as ReportInput;
  writeFileSync(args.out, keepShipSection(args.out, renderReport({ ...saved, date: new Date(saved.date) })));
  log(`wrote ${args.out} from ${args.fromJson}`);
  process.exit(0);
}

// hoist as users run it after `npm ci`: compiled (bin/hoist.mjs falls back to the TypeScript
// sources through tsx when dist/ is stale, which would time a different, slower start). With
// --from-source (or HOIST_FROM_SOURCE=1) the sources are timed on purpose, and the report says so.
// @ts-expect-error: plain JavaScript without type declarations
const { distIsFresh } = (await import('../../bin/dist-fresh.mjs')) as { distIsFresh: (root: string) => boolean };
if (args.hoistRoot) useHoistAt(args.hoistRoot);
const hoistFrom: HoistFrom = args.fromSource || process.env.HOIST_FROM_SOURCE === '1' ? 'sources' : 'dist';
if (hoistFrom === 'sources') process.env.HOIST_FROM_SOURCE = '1';
else if (!distIsFresh(HOIST_ROOT)) {
  console.error('bench: dist/ is missing or older than the sources. Fix: npm run build (npm run bench does it first), or time the sources with --from-source');
  process.exit(1);
}
/** A source edited during the run would make bin/hoist.mjs switch to the sources without a word: stop instead. */
const distStillFresh = () => {
  if (hoistFrom === 'dist' && !distIsFresh(HOIST_ROOT)) {
    throw new Error('dist/ became older than the sources during the run (a file under lib/, tasks/ or pipelines/ changed), so bin/hoist.mjs would now run the sources. Fix: npm run build and run again, or --from-source');
  }
};

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
  const machine = await machineInfo(fleet.hosts[0]!, hoistFrom, HOIST_ROOT);
  const busyBefore = await busyness(maxN + 1);
  const ansible = prepareAnsible({ dir: tb.dir, keyPath: tb.keyPath, knownHostsPath: tb.knownHostsPath, live: fleet.live, bluePort: BLUE_PORT, greenPort: GREEN_PORT });
  const inventoryFor = (n: number) => {
    const path = join(tb.dir, `inventory-${n}.json`);
    const hosts = Object.fromEntries(fleet.hosts.slice(0, n).map((h) => [h.name, { host: '127.0.0.1', port: h.port }]));
    writeFileSync(path, JSON.stringify({ hosts }, null, 2));
    return path;
  };
  const inventories = new Map(args.hosts.map((n) => [n, inventoryFor(n)]));

  // Warm-up, not counted: the first run of each tool after setup pays for cold caches (tsx's
  // transform cache, Python's imports, the hosts' page cache). It also proves hoist is a no-op
  // and gives the number of tasks the floor runs one command for.
  const minN = args.hosts[0]!;
  log(`warm-up at ${minN} host(s) (not counted)`);
  distStillFresh();
  const tasks = (await hoistNoop({ dir: tb.dir, envPath: tb.envPath, inventoryPath: inventories.get(minN)!, hosts: minN, tag: 'warmup' })).tasks;
  await ansibleRun(ansible, { hosts: fleet.hosts.slice(0, minN), tag: 'warmup' });
  await floorRun({ dir: tb.dir, hosts: fleet.hosts.slice(0, minN), user: DEPLOY_USER, keyPath: tb.keyPath, commands: tasks, tag: 'warmup' });

  // The hosts' CPU counters: found once the app's containers run (they do not change in a no-op).
  const found = await HostCpu.find(fleet.hosts);
  const hostCpu = found instanceof HostCpu ? found : null;
  log(hostCpu ? `host CPU: ${hostCpu.method}; host 1: ${hostCpu.hosts[0]!.paths.join(' + ')}` : `host CPU not measured: ${(found as { error: string }).error}`);
  // The hosts' PID counters (host-pids.ts): read around the same runs as the CPU counters.
  const pidsFound = await HostPids.find(fleet.hosts);
  const hostPids = pidsFound instanceof HostPids ? pidsFound : null;
  const pids: PidsInfo = { idle: [], traces: [], ...(hostPids ? {} : { error: (pidsFound as { error: string }).error }) };
  log(hostPids ? 'processes: counted by each host\'s PID counter (nsenter -p)' : `processes not counted: ${pids.error}`);
  const localMethod = localCpuMethod();
  const sshCheck = hostCpu ? await sshTrue(hostCpu) : undefined;
  if (sshCheck) log(`one ssh … true: host 1 +${sshCheck.hostMs.toFixed(1)} ms CPU by exit, +${sshCheck.tailMs.toFixed(1)} ms in the second after (idle ${sshCheck.idleMsPerS.toFixed(1)} ms/s)`);

  const samples: RunSample[] = [];
  const idle: { hosts: number; msPerS: number[] }[] = [];
  const timedFrom = cpuTimes();
  for (const n of args.hosts) {
    if (hostCpu) {
      const rate = await idleRate(hostCpu.first(n), IDLE_MS);
      if (rate) idle.push({ hosts: n, msPerS: rate });
    }
    if (hostPids) {
      const quiet = await idlePids(hostPids.first(n), IDLE_MS);
      if (quiet) pids.idle.push({ hosts: n, ...quiet });
    }
    for (let run = 1; run <= args.runs; run++) {
      // The order rotates between runs, so a slow phase of the machine does not always hit the same tool.
      const order = (['hoist', 'ansible', 'floor'] as const).map((_, i, all) => all[(i + run - 1) % all.length]!);
      const s: Partial<RunSample> = { hosts: n, run, order: [...order] };
      const counters = hostCpu ? { ...hostCpu.first(n), ...(hostPids ? { pids: hostPids.first(n) } : {}) } : undefined;
      for (const tool of order) {
        const tag = `${n}-${run}`;
        if (tool === 'hoist') {
          distStillFresh();
          s.hoist = await hoistNoop({ dir: tb.dir, envPath: tb.envPath, inventoryPath: inventories.get(n)!, hosts: n, tag, hostCpu: counters });
        } else if (tool === 'ansible') s.ansible = await ansibleRun(ansible, { hosts: fleet.hosts.slice(0, n), tag, hostCpu: counters });
        else s.floor = await floorRun({ dir: tb.dir, hosts: fleet.hosts.slice(0, n), user: DEPLOY_USER, keyPath: tb.keyPath, commands: tasks, tag, hostCpu: counters });
      }
      const full = s as RunSample;
      samples.push(full);
      const cpu = (x: { cpu?: RunCpu }) => {
        const hosts = x.cpu?.hostMs?.filter((v): v is number => v !== null) ?? [];
        const local = x.cpu?.local.cgroupMs ?? x.cpu?.local.rusageMs;
        const procs = x.cpu?.hostPids?.filter((v): v is number => v !== null) ?? [];
        return `host CPU/host ${hosts.length ? (hosts.reduce((a, b) => a + b, 0) / hosts.length).toFixed(0) : '?'} ms, here ${local?.toFixed(0) ?? '?'} ms, processes/host ${procs.length ? (procs.reduce((a, b) => a + b, 0) / procs.length).toFixed(1) : '?'}`;
      };
      log(
        `N=${n} run ${run}: hoist ${(full.hoist.wallMs / 1000).toFixed(2)} s (pipeline ${(full.hoist.pipelineMs / 1000).toFixed(2)} s, peak ${full.hoist.peakMiB?.toFixed(0) ?? '?'} MiB, ${cpu(full.hoist)}), ` +
          `ansible ${(full.ansible.wallMs / 1000).toFixed(2)} s (${cpu(full.ansible)}), floor ${(full.floor.wallMs / 1000).toFixed(2)} s (${cpu(full.floor)})`,
      );
    }
  }
  const timedLoad = loadBetween(timedFrom, cpuTimes());
  let hostCpuInfo: HostCpuInfo;
  if (hostCpu) {
    const again = await HostCpu.find(fleet.hosts);
    hostCpuInfo = {
      method: hostCpu.method,
      example: hostCpu.hosts[0]!.paths,
      nestedOutside: median(hostCpu.hosts.map((g) => g.nestedOutside)),
      nestedInside: median(hostCpu.hosts.map((g) => g.nestedInside)),
      stable: again instanceof HostCpu && again.sameAs(hostCpu),
      localMethod,
    };
  } else hostCpuInfo = { error: (found as { error: string }).error, localMethod };

  log('start-up of node and of hoist commands that contact no host');
  distStillFresh();
  const start = await startup(Math.max(3, args.runs));
  const diagnoses = [];
  for (const n of [...new Set([minN, maxN])]) {
    log(`traced hoist run at ${n} host(s) (not counted): commands and round trips`);
    diagnoses.push(await diagnose({ dir: tb.dir, envPath: tb.envPath, inventoryPath: inventories.get(n)!, hosts: n }));
  }
  if (hostPids) {
    // Which processes: one run per tool at 1 host with host 1's sshd traced (exec-trace.ts); not timed.
    log('tracing the processes of one no-op run per tool on host 1 (not counted)');
    const one = hostPids.first(1);
    const inventory1 = inventories.get(1) ?? inventoryFor(1);
    const traced = async (tool: string, run: () => Promise<unknown>) => {
      const before = one.read()[0];
      const trace = await traceExecs(fleet.hosts[0]!, tb.dir, run);
      const after = one.read()[0];
      pids.traces.push({ tool, trace, counted: before == null || after == null ? null : created(before, after) });
    };
    await traced('hoist', () => hoistNoop({ dir: tb.dir, envPath: tb.envPath, inventoryPath: inventory1, hosts: 1, tag: 'traced' }));
    await traced('Ansible', () => ansibleRun(ansible, { hosts: fleet.hosts.slice(0, 1), tag: 'traced' }));
    await traced('floor', () => floorRun({ dir: tb.dir, hosts: fleet.hosts.slice(0, 1), user: DEPLOY_USER, keyPath: tb.keyPath, commands: tasks, tag: 'traced' }));
  }
  log('timing the pieces of hoist\'s probes on one host');
  const pieces = await probePieces(fleet.hosts[0]!, DEPLOY_USER);
  const busyAfter = await busyness(maxN + 1);
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const input: ReportInput = {
    args,
    command,
    machine,
    samples,
    tasks,
    startup: start,
    diagnoses,
    pieces,
    memoryMethod: memoryMethodText,
    busyBefore,
    busyAfter,
    date: new Date(),
    hoistFrom,
    hostCpu: hostCpuInfo,
    idle,
    ...(sshCheck ? { sshCheck } : {}),
    ...(timedLoad ? { timedLoad } : {}),
    pids,
  };
  writeFileSync(SAVED, JSON.stringify(input));
  writeFileSync(args.out, keepShipSection(args.out, renderReport(input)));
  log(`wrote ${args.out} (measurements: ${SAVED})`);

  /**
   * Scale for the host counters: one plain OpenSSH login running `true` on host 1 (median of 3),
   * its counter read around it, and again a second after its exit (what sshd still does after
   * the client is gone: the timed runs stop reading at exit), against the idle rate.
   */
  async function sshTrue(counters: HostCpu): Promise<ReportInput['sshCheck']> {
    const h = fleet.hosts[0]!;
    const reader = counters.first(1);
    const byExit: number[] = [];
    const tail: number[] = [];
    const local: number[] = [];
    for (let k = 0; k < 3; k++) {
      const r = await measure(
        'ssh',
        ['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'ControlMaster=no', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${tb.knownHostsPath}`, '-i', tb.keyPath, '-p', String(h.port), `${DEPLOY_USER}@127.0.0.1`, 'true'],
        { timeoutMs: 60_000, hosts: reader },
      );
      if (r.code !== 0 || r.hostCpuMs?.[0] == null) return undefined;
      const atExit = reader.read()[0];
      await new Promise((res) => setTimeout(res, 1000));
      const later = reader.read()[0];
      if (atExit == null || later == null) return undefined;
      byExit.push(r.hostCpuMs[0]);
      tail.push((later.total - atExit.total) / 1e6);
      local.push(r.cpu.cgroupMs ?? r.cpu.rusageMs ?? NaN);
    }
    const rate = await idleRate(reader, IDLE_MS);
    return { hostMs: median(byExit), tailMs: median(tail), idleMsPerS: rate?.[0] ?? NaN, localMs: median(local) };
  }
} catch (e) {
  console.error(`bench failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  log('removing the fleet');
  await stop();
}

/** The report, followed by the ship benchmark's section the file had (scripts/bench/ship.ts writes it, this run does not measure it). */
function keepShipSection(path: string, report: string): string {
  let old = '';
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    return report;
  }
  const ship = shipSectionOf(old);
  return ship ? `${report.trimEnd()}\n\n${ship}` : report;
}
