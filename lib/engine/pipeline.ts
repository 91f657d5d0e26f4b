// A pipeline is data: a name, the account it logs in as, and the tasks in order. Users write
// their own as a short TypeScript file; the engine treats them exactly like ours.
import type { HostConfig } from '../config/load-config.ts';
import type { Executor } from '../exec/executor.ts';
import type { Login, Task, TaskInput } from './task.ts';

export interface Pipeline {
  name: string;
  description: string;
  /** The account tasks work as unless they say otherwise (Task.login). */
  login: Login;
  // Tasks of a pipeline have different Wanted/Fact types; the engine only passes them through.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  tasks: Task<any, any, any>[];
  /**
   * Runs once per run, after every task's `want` and before any task on any host: for facts
   * that must be the same on every host (GIT_REF resolved to one commit). Read-only on hosts.
   * What it returns is `input.shared` in every task.
   */
  prepare?(ctx: PrepareContext): Promise<Readonly<Record<string, unknown>>>;
  /**
   * The symlink (relative to the login's home) that names the live release, read before and
   * after the run for the summary's "release before -> after". None: the column stays empty.
   */
  releaseLink?(input: TaskInput): string;
  /** What this run deploys, in words for the lock and the audit log (a sha, "back to X"). */
  revision?(shared: Readonly<Record<string, unknown>>): string | null;
  /**
   * Destructive (remove): a real run needs the operator's yes, by typing this word (the app's
   * name) on a terminal after the dry run is shown, or by --yes without one. Dry runs need neither.
   */
  confirmWord?(hosts: readonly HostConfig[]): string;
}

export interface PrepareContext {
  hosts: readonly TaskInput[];
  /** The run's shared connection to `host` as `login` (its tasks reuse it; the engine closes it). */
  executor(host: TaskInput, login: Login): Executor;
}

export function definePipeline(p: Pipeline): Pipeline {
  const names = new Set<string>();
  for (const t of p.tasks) {
    if (names.has(t.name)) throw new Error(`pipeline ${p.name} lists task ${t.name} twice`);
    names.add(t.name);
  }
  return p;
}
