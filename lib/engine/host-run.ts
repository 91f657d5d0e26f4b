// Runs one pipeline on one host: for each task probe -> plan -> apply -> verify, pushing the
// task's undo on this host's own rollback stack before its apply starts. When a task fails the
// stack is unwound in reverse, so the host ends as it was (listr2 would only undo the failing
// task). Every phase that fails for a passing reason is retried.
import type { HostConfig } from '../config/load-config.ts';
import type { ExecutorPool } from '../exec/executor-pool.ts';
import type { Executor } from '../exec/executor.ts';
import { ConfigError, HostKeyError, VerifyError } from '../errors.ts';
import type { EventListener, TaskResult } from './events.ts';
import type { Pipeline } from './pipeline.ts';
import { withRetry } from './retry.ts';
import type { ApplyContext, Login, Plan, Task, TaskInput } from './task.ts';

export interface HostRunOptions {
  dryRun: boolean;
  retries: number;
}

interface Undo {
  taskIndex: number;
  run(): Promise<void>;
}

export class HostRun {
  readonly results: TaskResult[];
  startedAt = 0;
  endedAt = 0;
  error: string | undefined;
  private readonly undo: Undo[] = [];
  readonly host: HostConfig;

  constructor(
    private readonly input: TaskInput,
    private readonly pipeline: Pipeline,
    /** One `want` per task, computed before any host was contacted. */
    private readonly wanted: unknown[],
    readonly executors: ExecutorPool,
    private readonly opts: HostRunOptions,
    private readonly emit: EventListener,
  ) {
    this.host = input.host;
    this.results = pipeline.tasks.map((t) => ({ task: t.name, status: 'skipped', steps: [], attempts: 0, durationMs: 0 }));
  }

  get failed(): boolean {
    return this.error !== undefined;
  }

  /** The account the first remote task works as; null when every task runs locally. */
  get firstLogin(): Login | null {
    const first = this.pipeline.tasks.find((t) => !t.local);
    return first ? this.loginOf(first) : null;
  }

  private loginOf(task: Task): Login {
    return task.login ?? this.pipeline.login;
  }

  private execFor(task: Task): Executor {
    // A local task gets no way to reach the host: "touches nothing remote" is enforced here.
    return task.local ? NO_REMOTE : this.executors.get(this.loginOf(task));
  }

  async connect(onRetry: (attempt: number, of: number, error: Error) => void): Promise<void> {
    this.startedAt = Date.now();
    const login = this.firstLogin;
    if (!login) return;
    try {
      await withRetry(() => this.executors.get(login).connect(), { retries: this.opts.retries, onRetry });
    } catch (e) {
      this.error = (e as Error).message;
      this.endedAt = Date.now();
      throw e;
    }
  }

  /** Runs task `i`; on failure unwinds this host's stack and rethrows. */
  async runTask(i: number): Promise<TaskResult> {
    const task = this.pipeline.tasks[i]!;
    const result = this.results[i]!;
    const started = Date.now();
    this.startedAt ||= started;
    result.attempts = 1;
    this.emit({ type: 'task-start', host: this.host.name, task: task.name });
    // Each phase (probe, apply, verify) has its own retry budget; `attempts` is the most any
    // phase needed, so it never exceeds the "of" shown in the retry events.
    const retrying = (attempt: number, of: number, error: Error) => {
      result.attempts = Math.max(result.attempts, attempt);
      this.emit({ type: 'task-retry', host: this.host.name, task: task.name, attempt, of, error: error.message });
    };
    try {
      const ctxBase = { wanted: this.wanted[i], input: this.input };
      const probe = () => this.probe(task, ctxBase.wanted);
      const before = await withRetry(probe, { retries: this.opts.retries, onRetry: retrying });
      const plan: Plan = task.plan(ctxBase.wanted, before, this.input);
      this.emit({
        type: 'task-planned',
        host: this.host.name,
        task: task.name,
        steps: plan.changes ? plan.steps.map((s) => s.describe) : [],
        ...(plan.changes ? {} : { reason: plan.reason }),
      });
      if (!plan.changes) {
        Object.assign(result, { status: 'unchanged', reason: plan.reason });
      } else {
        result.steps = plan.steps.map((s) => s.describe);
        if (plan.files) result.files = plan.files;
        result.status = 'changed';
        if (!this.opts.dryRun) {
          const progress = (message: string) => this.emit({ type: 'task-progress', host: this.host.name, task: task.name, message });
          const ctx: ApplyContext<unknown, unknown> = {
            ...ctxBase,
            before,
            progress,
            freshConnection: (login: Login) => this.executors.fresh(login),
          };
          const exec = this.execFor(task);
          if (task.rollback) this.undo.push({ taskIndex: i, run: () => task.rollback!(exec, ctx) });
          const apply = () => task.apply(exec, plan.steps, ctx);
          await (task.retrySafe ? withRetry(apply, { retries: this.opts.retries, onRetry: retrying }) : apply());
          await withRetry(() => this.verify(task, ctx), { retries: this.opts.retries, onRetry: retrying });
        }
      }
    } catch (e) {
      // In a dry run nothing is applied, so a task that needs an earlier task's change (git
      // that bootstrap would install, say) cannot be probed yet: that is not a failure.
      if (this.opts.dryRun && !isAccessError(e) && this.results.slice(0, i).some((r) => r.status === 'changed')) {
        result.status = 'skipped';
        result.reason = `planned after the changes above are made (now: ${(e as Error).message})`;
        return result;
      }
      result.status = 'failed';
      result.error = (e as Error).message;
      this.error = `${task.name}: ${result.error}`;
      await this.unwind();
      throw e;
    } finally {
      result.durationMs = Date.now() - started;
      this.emit({ type: 'task-end', host: this.host.name, result });
      if (i === this.pipeline.tasks.length - 1 || this.failed) this.endedAt = Date.now();
    }
    return result;
  }

  private async probe(task: Task, wanted: unknown): Promise<unknown> {
    const p = task.probe(wanted, this.input);
    if ('local' in p) return p.local();
    const r = await this.execFor(task).exec(p.command, { sudo: p.sudo ?? false });
    return p.parse(r);
  }

  private async verify(task: Task, ctx: ApplyContext<unknown, unknown>): Promise<void> {
    if (task.verify) return task.verify(this.execFor(task), ctx);
    const after = await this.probe(task, ctx.wanted);
    const again = task.plan(ctx.wanted, after, this.input);
    if (again.changes) {
      throw new VerifyError(`after applying, the host still differs: ${again.steps.map((s) => s.describe).join('; ')}`);
    }
  }

  /** Undoes completed (and the failing) tasks' changes, newest first. */
  private async unwind(): Promise<void> {
    while (this.undo.length) {
      const { taskIndex, run } = this.undo.pop()!;
      const result = this.results[taskIndex]!;
      const name = this.pipeline.tasks[taskIndex]!.name;
      try {
        await withRetry(run, { retries: this.opts.retries });
        if (result.status !== 'failed') result.status = 'rolled-back';
        this.emit({ type: 'rollback', host: this.host.name, task: name, ok: true });
      } catch (e) {
        result.rollbackError = (e as Error).message;
        this.emit({ type: 'rollback', host: this.host.name, task: name, ok: false, error: result.rollbackError });
      }
    }
  }

  async close(): Promise<void> {
    await this.executors.closeAll();
  }
}

const refuse = (): never => {
  throw new Error('a local task tried to reach the host');
};
const NO_REMOTE: Executor = { label: 'local', exec: refuse, upload: refuse, close: async () => undefined };

/**
 * Errors that earlier changes cannot explain: bad config, and a host key that does not match.
 * (A refused login can: the deploy user a later task logs in as may not exist before bootstrap.)
 */
function isAccessError(e: unknown): boolean {
  return e instanceof ConfigError || e instanceof HostKeyError;
}
