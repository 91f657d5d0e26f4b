// The machine-readable account of a run (--json): per host, per task, what happened. Built from
// the engine's results only, and secrets never enter those (file changes marked secret carry
// no contents).
import type { HostRun } from '../engine/host-run.ts';
import type { TaskResult } from '../engine/events.ts';

export interface HostReport {
  name: string;
  address: string;
  status: 'ok' | 'failed';
  startedAt: string | null;
  durationMs: number;
  error: string | null;
  tasks: TaskReport[];
}

export type TaskReport = Omit<TaskResult, 'files'> & { files?: { path: string; secret: boolean; diff: string | null }[] };

export interface RunReport {
  hoist: 1;
  pipeline: string;
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  exitCode: number;
  hosts: HostReport[];
}

export function buildReport(
  pipeline: string,
  dryRun: boolean,
  startedAt: number,
  runs: HostRun[],
  exitCode: number,
  diffOf: (f: NonNullable<TaskResult['files']>[number]) => string | null,
): RunReport {
  return {
    hoist: 1,
    pipeline,
    dryRun,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Date.now() - startedAt,
    exitCode,
    hosts: runs.map((r) => ({
      name: r.host.name,
      address: `${r.host.address}:${r.host.settings.sshPort}`,
      status: r.failed ? 'failed' : 'ok',
      startedAt: r.startedAt ? new Date(r.startedAt).toISOString() : null,
      durationMs: r.startedAt ? (r.endedAt || Date.now()) - r.startedAt : 0,
      error: r.error ?? null,
      tasks: r.results.map(({ files, ...rest }) => ({
        ...rest,
        ...(files ? { files: files.map((f) => ({ path: f.path, secret: !!f.secret, diff: f.secret ? null : diffOf(f) })) } : {}),
      })),
    })),
  };
}
