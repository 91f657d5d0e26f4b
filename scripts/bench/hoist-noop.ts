// One timed no-op release with hoist, exactly as a user runs it: the whole CLI process
// (`node bin/hoist.mjs run release`), so Node's and hoist's startup, config loading and the JSON
// report all count. A run in which anything was not `unchanged` is not a no-op: it throws, and
// the benchmark stops rather than report a number for the wrong thing.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RunReport } from '../../lib/report/run-report.ts';
import { HOIST_BIN } from './fleet.ts';
import type { HostCpuReader } from './host-cpu.ts';
import { measure, runCpu, type RunCpu } from './measure.ts';
import { median } from './stats.ts';

export interface HoistSample {
  wallMs: number;
  /** The report's own durationMs: from the pipeline's start to its end, inside the process. */
  pipelineMs: number;
  peakMiB: number | null;
  /** Median over hosts of each task's durationMs (probe + plan, as nothing is applied). */
  taskMs: Record<string, number>;
  /** Median over hosts of the host's durationMs (connect + every task). */
  hostMs: number;
  tasks: number;
  /** CPU here and on each host (absent in runs saved before it was measured). */
  cpu?: RunCpu;
}

export async function hoistNoop(o: { dir: string; envPath: string; inventoryPath: string; hosts: number; tag: string; hostCpu?: HostCpuReader }): Promise<HoistSample> {
  const json = join(o.dir, `noop-${o.tag}.json`);
  rmSync(json, { force: true });
  const args = [HOIST_BIN, 'run', 'release', '--env-file', o.envPath, '--inventory', o.inventoryPath, '--concurrency', String(o.hosts), '--json', json];
  const r = await measure(process.execPath, args, { cwd: o.dir, timeoutMs: 5 * 60_000, memory: true, hosts: o.hostCpu });
  let report: RunReport;
  try {
    report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
  } catch {
    throw new Error(`hoist wrote no report (exit ${r.code}):\n${(r.stdout + r.stderr).slice(-3000)}`);
  }
  const notNoop = report.hosts.flatMap((h) => h.tasks.filter((t) => t.status !== 'unchanged').map((t) => `${h.name} ${t.task}: ${t.status}${t.error ? ` (${t.error})` : ''}`));
  if (r.code !== 0 || report.hosts.length !== o.hosts || notNoop.length) {
    throw new Error(`the hoist run was not a no-op on ${o.hosts} host(s) (exit ${r.code}, ${report.hosts.length} hosts):\n${notNoop.join('\n')}\n${r.stderr.slice(-2000)}`);
  }
  const names = report.hosts[0]!.tasks.map((t) => t.task);
  const taskMs = Object.fromEntries(names.map((n) => [n, median(report.hosts.map((h) => h.tasks.find((t) => t.task === n)!.durationMs))]));
  return {
    wallMs: r.wallMs,
    pipelineMs: report.durationMs,
    peakMiB: r.peakMiB,
    taskMs,
    hostMs: median(report.hosts.map((h) => h.durationMs)),
    tasks: names.length,
    cpu: runCpu(r),
  };
}
