// The machine-readable account of a run (--json, and every run's copy under .hoist/runs/): the
// rollout's shape, then per host and per task what happened. Built from the engine's results
// only, and secrets never enter those (file changes marked secret carry no contents).
import type { HostRun, HostState } from '../engine/host-run.ts';
import type { TaskResult } from '../engine/events.ts';
import type { StopSignal } from '../engine/interrupt.ts';
import { formatCount, type RolloutOptions } from '../engine/rollout.ts';

export interface HostReport {
  name: string;
  address: string;
  status: Exclude<HostState, 'pending' | 'running'>;
  /** 1-based wave (canary or batch) the host was in. */
  batch: number;
  release: { before: string | null; after: string | null };
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number;
  error: string | null;
  /** Why a host was skipped or rolled back although its own tasks passed. */
  note: string | null;
  warnings: string[];
  /** Commands sent to the host (one SSH round trip each): a release with nothing to do sends 2. */
  commands: number;
  tasks: TaskReport[];
}

export type TaskReport = Omit<TaskResult, 'files'> & { files?: { path: string; secret: boolean; diff: string | null }[] };

export interface RunReport {
  hoist: 1;
  run: string;
  pipeline: string;
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  exitCode: number;
  interrupted: StopSignal | null;
  rollout: { concurrency: number; batch: string | null; canary: number | null; maxFail: number | null; fleetRollback: boolean; batches: number };
  /** Where each setting given for the whole run came from: a file's path or "the environment" ("(content)": a file's content, kept in a temporary file). Never a value. */
  settings?: Record<string, string>;
  hosts: HostReport[];
  /** What went wrong around the run, not on a host (the message to NOTIFY_URL not delivered). */
  warnings?: string[];
  /** NOTIFY_URL: how many receivers got the run's message (absent: none set, or a dry run). */
  notified?: number;
}

export interface ReportInput {
  pipeline: string;
  runId: string;
  dryRun: boolean;
  startedAt: number;
  runs: HostRun[];
  waves: HostRun[][];
  budget: number;
  opts: RolloutOptions;
  interrupted: StopSignal | null;
  exitCode: number;
  settings?: Record<string, string>;
}

export function buildReport(r: ReportInput, diffOf: (f: NonNullable<TaskResult['files']>[number]) => string | null): RunReport {
  const waveOf = new Map<HostRun, number>();
  r.waves.forEach((wave, i) => wave.forEach((run) => waveOf.set(run, i + 1)));
  const iso = (ms: number) => (ms ? new Date(ms).toISOString() : null);
  return {
    hoist: 1,
    run: r.runId,
    pipeline: r.pipeline,
    dryRun: r.dryRun,
    startedAt: new Date(r.startedAt).toISOString(),
    durationMs: Date.now() - r.startedAt,
    exitCode: r.exitCode,
    interrupted: r.interrupted,
    rollout: {
      concurrency: r.opts.concurrency,
      batch: r.opts.batch ? formatCount(r.opts.batch) : null,
      canary: r.opts.canary ?? null,
      maxFail: Number.isFinite(r.budget) ? r.budget : null,
      fleetRollback: r.opts.fleetRollback,
      batches: r.waves.length,
    },
    settings: { ...(r.settings ?? {}) },
    hosts: r.runs.map((run) => ({
      name: run.host.name,
      address: `${run.host.address}:${run.host.settings.sshPort}`,
      // A host still 'running' here was cut short by an error outside its tasks: call it failed.
      status: run.state === 'pending' ? 'skipped' : run.state === 'running' ? 'failed' : run.state,
      batch: waveOf.get(run) ?? 0,
      release: { ...run.release },
      startedAt: iso(run.startedAt),
      endedAt: iso(run.endedAt),
      durationMs: run.startedAt ? (run.endedAt || Date.now()) - run.startedAt : 0,
      error: run.error ?? null,
      note: run.note ?? null,
      warnings: [...run.warnings],
      commands: run.executors.commandsSent(),
      tasks: run.results.map(({ files, ...rest }) => ({
        ...rest,
        ...(files ? { files: files.map((f) => ({ path: f.path, secret: !!f.secret, diff: f.secret ? null : diffOf(f) })) } : {}),
      })),
    })),
  };
}
