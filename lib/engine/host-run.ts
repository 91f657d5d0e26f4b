// Runs one pipeline on one host: takes the host's deploy lock, then for each task probe -> plan
// -> apply -> verify, pushing the task's undo on this host's own rollback stack before its apply
// starts. When a task fails the stack is unwound in reverse, so the host ends as it was (listr2
// would only undo the failing task). The stack is kept after success too: a fleet rollback
// unwinds hosts that finished. Every phase that fails for a passing reason is retried.
import { randomBytes } from 'node:crypto';
import type { HostConfig } from '../config/load-config.ts';
import type { ConnectableExecutor, ExecutorPool } from '../exec/executor-pool.ts';
import type { ExecResult, Executor } from '../exec/executor.ts';
import { mergeReads, type SharedReads } from '../exec/shared-reads.ts';
import { ConfigError, HostKeyError, InterruptedError, VerifyError } from '../errors.ts';
import { redact } from '../secrets/redact.ts';
import type { Cmd } from '../shell-quote.ts';
import { auditLine, type AuditResult } from './audit-log.ts';
import type { EventListener, TaskResult } from './events.ts';
import { acquireCommand, describeHolder, formatAge, lockHeldError, lockPollDelayMs, newLockInfo, parseLockProbe, peekCommand, releaseCommand, type CarriedCommands, type LockInfo, type LockProbe } from './host-lock.ts';
import type { Interrupt } from './interrupt.ts';
import { holderGoneHere } from './lock-takeover.ts';
import type { Pipeline } from './pipeline.ts';
import { withRetry } from './retry.ts';
import type { ApplyContext, Login, Plan, RemoteProbe, Task, TaskInput } from './task.ts';

export interface HostRunOptions {
  dryRun: boolean;
  retries: number;
  /** Names this run in locks and audit lines. */
  runId: string;
  interrupt: Interrupt;
  /** --lock-wait: how long a held deploy lock is waited for (polled with backoff); 0: fail at once. */
  lockWaitMs?: number;
}

/** Told while a run waits for a held deploy lock (shown in the host's connect line). */
export type LockWaitListener = (message: string) => void;

/** pending: not started yet; skipped: never started (budget spent, interrupted). */
export type HostState = 'pending' | 'running' | 'ok' | 'failed' | 'rolled-back' | 'skipped';

interface Undo {
  taskIndex: number;
  run(): Promise<void>;
}

export class HostRun {
  readonly results: TaskResult[];
  startedAt = 0;
  endedAt = 0;
  state: HostState = 'pending';
  error: string | undefined;
  /** Why the host was skipped or rolled back although its own tasks passed. */
  note: string | undefined;
  /** The live release before and after the run (the pipeline's releaseLink), when it has one. */
  release: { before: string | null; after: string | null } = { before: null, after: null };
  /** Problems that did not fail the host but need the operator (a lock left behind). */
  readonly warnings: string[] = [];
  private lock: LockInfo | null = null;
  /** The audit log's mode as the lock's round trip saw it: freeing the lock sets 600 only when it is not. */
  private auditMode: string | null = null;
  private readonly undo: Undo[] = [];
  /**
   * Probe results by command line since the last change: two tasks that look at the host the
   * same way (docker-up and release-switch) cost one round trip when nothing changed between.
   */
  private readonly probeCache = new Map<string, Promise<ExecResult>>();
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
    return this.state === 'failed';
  }

  /** Tasks that changed the host in this run (a dry run's would-be changes too). */
  get changedTasks(): string[] {
    return this.results.filter((r) => r.status === 'changed').map((r) => r.task);
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

  /** Marks a host that will not be started, and why. */
  skip(reason: string): void {
    this.state = 'skipped';
    this.note = reason;
  }

  /**
   * Connects and takes the deploy lock (a dry run only reads it). A held lock fails the host at
   * once, or after waiting up to `lockWaitMs` for it (onWait hears how that goes).
   */
  async start(onRetry: (attempt: number, of: number, error: Error) => void, onWait: LockWaitListener = () => {}): Promise<void> {
    this.startedAt = Date.now();
    this.state = 'running';
    const login = this.firstLogin;
    if (!login) return;
    try {
      this.opts.interrupt.check();
      const exec = this.executors.get(login);
      await withRetry(() => exec.connect(), { retries: this.opts.retries, onRetry });
      await this.takeLock(exec, onRetry, onWait);
    } catch (e) {
      this.fail((e as Error).message);
      throw e;
    }
  }

  private async takeLock(exec: ConnectableExecutor, onRetry: (attempt: number, of: number, error: Error) => void, onWait: LockWaitListener): Promise<void> {
    const link = this.pipeline.releaseLink?.(this.input) ?? null;
    const carry = this.carriedProbes();
    const ask = async (command: Cmd): Promise<LockProbe> => {
      const answer = parseLockProbe(await withRetry(() => exec.exec(command), { retries: this.opts.retries, onRetry }), carry ? { marker: carry.carried.marker, count: carry.keys.length } : undefined);
      // The tasks' probes rode along: each runTask finds its answer in the cache, unless a task
      // before it applied a change (which empties the cache: it then asks the host again).
      answer.then?.forEach((result, i) => this.probeCache.set(carry!.keys[i]!, Promise.resolve(result)));
      return answer;
    };
    if (this.opts.dryRun) {
      const peek = await ask(peekCommand(link, carry?.carried));
      this.release = { before: peek.current, after: peek.current };
      // A dry run changes nothing, so a held lock does not stop it; the plan may be outdated soon.
      if (peek.heldBy) this.warnings.push(`${lockHeldError(this.host.name, peek.heldBy).message.split('. Fix:')[0]}: the plan may change when that run ends`);
      return;
    }
    const info = newLockInfo(this.opts.runId, this.pipeline.name, this.pipeline.revision?.(this.input.shared ?? {}) ?? null);
    const othersLock = (p: LockProbe) => !!p.heldBy && !(p.heldBy.run === info.run && p.heldBy.who === info.who);
    // Retrying is safe: a second attempt finds our own record if the first one took it.
    const tryOnce = async (): Promise<LockProbe> => {
      let probe = await ask(acquireCommand(info, link, carry?.carried));
      if (othersLock(probe) && holderGoneHere(probe.heldBy!)) {
        const dead = probe.heldBy!;
        probe = await ask(acquireCommand(info, link, carry?.carried, probe.heldRaw!));
        if (!othersLock(probe)) {
          this.warnings.push(`took over the deploy lock of run ${dead.run} (${dead.pipeline}, since ${dead.since}): its process ${dead.pid} on this machine is gone; this run starts from where it stopped`);
        }
      }
      return probe;
    };
    let probe = await tryOnce();
    const waitMs = this.opts.lockWaitMs ?? 0;
    if (othersLock(probe) && waitMs > 0) {
      // Bounded: polled with backoff until the deadline; Ctrl-C ends the wait between polls.
      const began = Date.now();
      const deadline = began + waitMs;
      const firstHolder = describeHolder(probe.heldBy!);
      for (let poll = 1; othersLock(probe) && Date.now() < deadline; poll++) {
        const delay = lockPollDelayMs(poll, deadline - Date.now());
        onWait(`waiting for the deploy lock held by ${describeHolder(probe.heldBy!)}: ${formatAge(Date.now() - began)} of ${formatAge(waitMs)}, next look in ${formatAge(delay)}`);
        await sleepUnlessInterrupted(delay, this.opts.interrupt);
        probe = await tryOnce();
      }
      const waited = formatAge(Date.now() - began);
      if (!othersLock(probe)) this.warnings.push(`waited ${waited} for the deploy lock held by ${firstHolder}`);
      else onWait(`gave up waiting for the deploy lock after ${waited} (--lock-wait)`);
    }
    this.release.before = probe.current;
    if (othersLock(probe)) {
      const e = lockHeldError(this.host.name, probe.heldBy!);
      if (waitMs > 0) e.message = e.message.replace('. Fix: ', ` (waited ${formatAge(waitMs)}, --lock-wait). Fix: `);
      throw e;
    }
    this.lock = info;
    this.auditMode = probe.auditMode;
  }

  /**
   * Every task's probe that can be sent in the lock's round trip: remote, under the account the
   * lock is taken as, without sudo (the lock's command has none), and buildable now (a probe that
   * throws here is left to runTask, which reports it as the task's). Sent once per distinct
   * command (docker-up and release-switch share theirs). A later task's answer is used only while
   * no task before it has applied anything (the cache is emptied then): it is what the host looks
   * like after the lock was taken, and nothing but this run can change it under the lock. So a
   * run with nothing to do costs two round trips per host: lock and probes, then unlock and audit.
   */
  private carriedProbes(): { keys: string[]; carried: CarriedCommands } | null {
    const login = this.firstLogin;
    const keys: string[] = [];
    const commands: Cmd[] = [];
    const reads: SharedReads[] = [];
    this.pipeline.tasks.forEach((task, i) => {
      if (task.local || this.loginOf(task) !== login) return;
      let p: ReturnType<Task['probe']>;
      try {
        p = task.probe(this.wanted[i], this.input);
      } catch {
        return;
      }
      if ('local' in p || p.sudo) return;
      const key = this.probeKey(task, p);
      if (keys.includes(key)) return;
      keys.push(key);
      commands.push(p.command);
      if (p.reads) reads.push(p.reads);
    });
    if (!commands.length) return null;
    return { keys, carried: { commands, marker: `hoist-carried-${randomBytes(8).toString('hex')}`, reads: mergeReads(reads) } };
  }

  private probeKey(task: Task, p: RemoteProbe<unknown>): string {
    return `${this.loginOf(task)}\0${p.sudo ? 'sudo' : ''}\0${p.command.line}`;
  }

  /** Runs task `i`; on failure unwinds this host's stack and rethrows. */
  async runTask(i: number): Promise<TaskResult> {
    const task = this.pipeline.tasks[i]!;
    const result = this.results[i]!;
    if (this.state !== 'running') return result;
    const started = Date.now();
    result.attempts = 1;
    this.emit({ type: 'task-start', host: this.host.name, task: task.name });
    // Each phase (probe, apply, verify) has its own retry budget; `attempts` is the most any
    // phase needed, so it never exceeds the "of" shown in the retry events.
    const retrying = (attempt: number, of: number, error: Error) => {
      result.attempts = Math.max(result.attempts, attempt);
      this.emit({ type: 'task-retry', host: this.host.name, task: task.name, attempt, of, error: error.message });
    };
    try {
      this.opts.interrupt.check();
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
            warn: (message: string) => {
              this.warnings.push(message);
              progress(message);
            },
            log: (line: string) => {
              (result.output ??= []).push(redact(line));
              progress(line);
            },
            note: (message: string) => {
              (result.notes ??= []).push(message);
              progress(message);
            },
            freshConnection: (login: Login) => this.executors.fresh(login),
          };
          const exec = this.execFor(task);
          this.probeCache.clear();
          if (task.rollback) this.undo.push({ taskIndex: i, run: () => task.rollback!(exec, ctx) });
          // Apply and verify see an executor that refuses new commands once interrupted; the
          // rollback gets the plain one, it must run after an interrupt.
          const guarded = interruptible(exec, this.opts.interrupt);
          const apply = () => task.apply(guarded, plan.steps, ctx);
          await (task.retrySafe ? withRetry(apply, { retries: this.opts.retries, onRetry: retrying }) : apply());
          await withRetry(() => this.verify(task, guarded, ctx), { retries: this.opts.retries, onRetry: retrying });
          if (task.keptOnceVerified) this.keep(i);
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
      // HoistErrors are redacted when made; anything else (a bug, a library's error) is here.
      result.error = redact((e as Error).message);
      this.fail(`${task.name}: ${result.error}`);
      await this.unwind();
      throw e;
    } finally {
      result.durationMs = Date.now() - started;
      this.emit({ type: 'task-end', host: this.host.name, result });
      if (i === this.pipeline.tasks.length - 1 && this.state === 'running') {
        this.state = 'ok';
        this.endedAt = Date.now();
      }
    }
    return result;
  }

  /** Takes a verified task's undo off the stack: no later failure on this host undoes it. */
  private keep(taskIndex: number): void {
    const at = this.undo.findIndex((u) => u.taskIndex === taskIndex);
    if (at >= 0) this.undo.splice(at, 1);
    this.results[taskIndex]!.kept = true;
  }

  private fail(message: string): void {
    this.state = 'failed';
    this.error = message;
    this.endedAt = Date.now();
  }

  private async probe(task: Task, wanted: unknown, fresh = false): Promise<unknown> {
    const p = task.probe(wanted, this.input);
    if ('local' in p) return p.local();
    const key = this.probeKey(task, p);
    let pending = fresh ? undefined : this.probeCache.get(key);
    if (!pending) {
      pending = this.execFor(task).exec(p.command, { sudo: p.sudo ?? false });
      this.probeCache.set(key, pending);
      // A failed probe is not kept: the retry must ask the host again.
      pending.catch(() => this.probeCache.delete(key));
    }
    const answer = await pending;
    try {
      return p.parse(answer);
    } catch (e) {
      // Neither is an answer that does not parse (a dpkg lock, a command that failed for a passing
      // reason): kept, every retry would read the same failure.
      if (this.probeCache.get(key) === pending) this.probeCache.delete(key);
      throw e;
    }
  }

  private async verify(task: Task, exec: Executor, ctx: ApplyContext<unknown, unknown>): Promise<void> {
    if (task.verify) return task.verify(exec, ctx);
    const after = await this.probe(task, ctx.wanted, true);
    const again = task.plan(ctx.wanted, after, this.input);
    if (again.changes) {
      throw new VerifyError(`after applying, the host still differs: ${again.steps.map((s) => s.describe).join('; ')}`);
    }
  }

  /** Fleet rollback: undoes a host that finished, because others failed. */
  async rollBackFinished(reason: string): Promise<void> {
    if (this.state !== 'ok' || !this.undo.length) return;
    this.note = reason;
    await this.unwind();
    this.state = 'rolled-back';
    this.endedAt = Date.now();
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

  /** Frees the lock (if this run took it), logs the run on the host, reads the release after. */
  async finish(): Promise<void> {
    const lock = this.lock;
    if (!lock) return;
    const link = this.pipeline.releaseLink?.(this.input) ?? null;
    const line = auditLine(lock, this.auditResult(), { changed: this.changedTasks, ...(this.error ? { error: this.error } : {}) });
    try {
      const exec = this.executors.get(this.firstLogin!);
      const r = parseLockProbe(await withRetry(() => exec.exec(releaseCommand(lock, line, link, this.auditMode)), { retries: this.opts.retries }));
      this.release.after = r.current;
      this.lock = null;
    } catch (e) {
      this.warnings.push(`the deploy lock could not be freed (${(e as Error).message}). Fix: hoist unlock --hosts ${this.host.name}`);
    }
  }

  private auditResult(): AuditResult {
    if (this.state === 'failed' && this.opts.interrupt.signal) return 'interrupted';
    return this.state === 'ok' ? 'ok' : this.state === 'rolled-back' ? 'rolled-back' : 'failed';
  }

  async close(): Promise<void> {
    await this.executors.closeAll();
  }
}

const refuse = (): never => {
  throw new Error('a local task tried to reach the host');
};
const NO_REMOTE: Executor = { label: 'local', exec: refuse, upload: refuse, close: async () => undefined };

/** The executor as apply sees it: after Ctrl-C, the next command is refused instead of run. */
function interruptible(exec: Executor, interrupt: Interrupt): Executor {
  return {
    label: exec.label,
    exec: (cmd, opts) => {
      interrupt.check();
      return exec.exec(cmd, opts);
    },
    upload: (...args) => {
      interrupt.check();
      return exec.upload(...args);
    },
    close: () => exec.close(),
  };
}

/**
 * Errors that earlier changes cannot explain: bad config, a host key that does not match, an
 * interrupt. (A refused login can: the deploy user a later task logs in as may not exist
 * before bootstrap.)
 */
function isAccessError(e: unknown): boolean {
  return e instanceof ConfigError || e instanceof HostKeyError || e instanceof InterruptedError;
}

/** Sleeps `ms`, looking at the interrupt every 250 ms; throws InterruptedError once it is tripped. */
async function sleepUnlessInterrupted(ms: number, interrupt: Interrupt): Promise<void> {
  const until = Date.now() + ms;
  while (!interrupt.signal && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(250, until - Date.now())));
  interrupt.check();
}
