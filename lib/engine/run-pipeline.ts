// Runs a pipeline over hosts on listr2: waves of hosts one after another (canary, batches), the
// hosts of a wave in parallel up to the concurrency, the tasks of one host in order. All local
// work (every task's `want` on every host, reading keys) happens first, so a bad input fails the
// run before any host is contacted. A failing host never stops the others unless the failure
// budget (--max-fail) is spent; then no new host starts, and with --fleet-rollback the hosts
// that finished are rolled back too. The report collects every host's outcome.
import { randomBytes } from 'node:crypto';
import { Listr, type ListrTask, type ListrTaskWrapper } from 'listr2';
import type { HostConfig, LoadedConfig } from '../config/load-config.ts';
import { EXIT } from '../errors.ts';
import { LazyExecutorPool } from '../exec/executor-pool.ts';
import { executorOptions } from '../exec/executor-options.ts';
import { SshExecutor } from '../exec/ssh-executor.ts';
import { printable, printableLines } from '../printable.ts';
import { fileDiff } from '../render/file-diff.ts';
import { buildReport, type RunReport } from '../report/run-report.ts';
import type { RunEvent } from './events.ts';
import { HostRun } from './host-run.ts';
import { Interrupt } from './interrupt.ts';
import type { Pipeline } from './pipeline.ts';
import { failureBudget, planWaves, type RolloutOptions } from './rollout.ts';
import type { TaskInput } from './task.ts';

export interface RunOptions extends RolloutOptions {
  dryRun: boolean;
  acceptNew: boolean;
  /** 'auto': task list on a TTY, plain lines otherwise; 'silent' when stdout carries JSON. */
  output: 'auto' | 'silent';
  onEvent?: (e: RunEvent) => void;
  /** Run-wide values from the command line (rollback --to), seen by every task as input.shared. */
  shared?: Readonly<Record<string, unknown>>;
  /** Tripped by the CLI on SIGINT/SIGTERM. */
  interrupt?: Interrupt;
  /** --lock-wait: how long a host waits for a deploy lock another run holds. */
  lockWaitMs?: number;
  /** Called once every local check passed (each task's `want`), before the first connection. */
  beforeConnecting?: () => void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyTaskWrapper = ListrTaskWrapper<any, any, any>;

export async function runPipeline(pipeline: Pipeline, config: LoadedConfig, opts: RunOptions): Promise<RunReport> {
  const startedAt = Date.now();
  const runId = `${new Date(startedAt).toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const interrupt = opts.interrupt ?? new Interrupt();
  const inputs = config.hosts.map((host): TaskInput => ({ host, loginUser: loginUser(host, pipeline), shared: opts.shared ?? {} }));
  const wantedPerHost = await Promise.all(inputs.map((input) => Promise.all(pipeline.tasks.map((t) => t.want(input)))));
  opts.beforeConnecting?.();
  // One pool per host for the whole run: prepare's connection is the one the tasks then reuse.
  const pools = config.hosts.map((host) => new LazyExecutorPool((login) => new SshExecutor(executorOptions(host, login, opts))));
  if (pipeline.prepare) {
    try {
      const shared = await pipeline.prepare({ hosts: inputs, executor: (input, login) => pools[inputs.indexOf(input)]!.get(login) });
      for (const input of inputs) input.shared = { ...input.shared, ...shared };
    } catch (e) {
      await Promise.all(pools.map((p) => p.closeAll()));
      throw e;
    }
  }

  const views = new Map<string, AnyTaskWrapper>();
  // Plain lines (CI, make) lose the nesting of the task list, so each line names its host.
  const plain = !process.stdout.isTTY;
  const label = (host: string, task: string) => (plain ? `${host}: ${task}` : task);
  const onEvent = (e: RunEvent) => {
    opts.onEvent?.(e);
    const name = e.type === 'task-end' ? e.result.task : e.task;
    const view = views.get(`${e.host}\0${name}`);
    // listr2's terminal renderer throws when a finished task's output is set (a rollback's
    // progress): what is shown must never fail the work it shows.
    if (view) {
      try {
        updateView(view, label(e.host, name), e, opts.dryRun);
      } catch {
        // the view is gone; the report still has everything
      }
    }
  };
  const runs = config.hosts.map(
    (host, i) => new HostRun(inputs[i]!, pipeline, wantedPerHost[i]!, pools[i]!, { dryRun: opts.dryRun, retries: host.settings.retries, runId, interrupt, lockWaitMs: opts.lockWaitMs ?? 0 }, onEvent),
  );

  const waves = planWaves(runs, opts);
  const budget = failureBudget(opts, runs.length);
  const failures = () => runs.filter((r) => r.failed).length;
  const budgetSpent = () => failures() > budget;
  /** Why a host that has not started must not start now, if it must not. */
  const holdReason = (): string | null => {
    if (interrupt.signal) return `not started: the run was interrupted (${interrupt.signal})`;
    if (budgetSpent()) return `not started: ${failures()} host(s) failed, more than --max-fail allows (${budget})`;
    return null;
  };

  const hostTask = (run: HostRun): ListrTask => ({
    title: `${run.host.name} (${run.host.address}:${run.host.settings.sshPort})`,
    task: (_ctx, hostView) => {
      const held = holdReason();
      if (held) {
        run.skip(held);
        hostView.skip(held);
        return;
      }
      return hostView.newListr(
        [
          {
            title: label(run.host.name, 'connect'),
            task: async (_c, t) => {
              await shownByListr(run.start((attempt, of, error) => {
                t.title = `${label(run.host.name, 'connect')} [attempt ${attempt}/${of}: ${printable(error.message)}]`;
              }, (message) => {
                t.title = `${label(run.host.name, 'connect')} [${printable(message)}]`;
                // Plain lines show a title once: each look at the lock gets its own line there.
                if (plain && opts.output !== 'silent') t.output = printable(message);
              }));
              t.title = label(run.host.name, run.firstLogin ? 'connect' : 'connect: not needed, every task runs locally');
            },
          },
          ...pipeline.tasks.map(
            (task, i): ListrTask => ({
              title: label(run.host.name, task.name),
              // listr2 hands its parent's exitOnError down to subtasks, so a host's own
              // failure must stop its later tasks here, not by listr's option.
              skip: () => (run.state !== 'running' ? 'not run: an earlier step failed' : false),
              task: async (_c, t) => {
                views.set(`${run.host.name}\0${task.name}`, t);
                await shownByListr(run.runTask(i));
              },
            }),
          ),
        ],
        { concurrent: false, exitOnError: true },
      );
    },
  });

  const stages: ListrTask[] = waves.map((wave, w) => ({
    title: waves.length > 1 ? `batch ${w + 1}/${waves.length}: ${wave.map((r) => r.host.name).join(', ')}` : 'hosts',
    skip: () => {
      const held = holdReason();
      if (!held) return false;
      for (const r of wave) r.skip(held);
      return held;
    },
    task: (_ctx, waveView) => waveView.newListr(wave.map(hostTask), { concurrent: Math.max(1, opts.concurrency), exitOnError: false }),
  }));
  if (opts.fleetRollback && !opts.dryRun) {
    stages.push({
      title: 'fleet rollback',
      skip: () => (budgetSpent() ? false : 'fleet rollback: not needed'),
      task: (_ctx, view) => {
        const done = runs.filter((r) => r.state === 'ok');
        const reason = `rolled back by --fleet-rollback: ${failures()} host(s) failed, more than --max-fail allows (${budget})`;
        return view.newListr(
          done.map((r) => ({ title: `${r.host.name}: roll back`, task: () => r.rollBackFinished(reason) })),
          { concurrent: Math.max(1, opts.concurrency), exitOnError: false },
        );
      },
    });
  }

  const list = new Listr(stages, {
    concurrent: false,
    exitOnError: false,
    renderer: opts.output === 'silent' ? 'silent' : 'default',
    fallbackRenderer: 'simple',
    rendererOptions: { collapseSubtasks: false, collapseErrors: false },
    registerSignalListeners: false,
  });
  try {
    await list.run();
  } finally {
    // Locks are freed (and the audit lines written) after everything, rollbacks included: a
    // host stays locked as long as this run may still change it.
    await Promise.all(runs.map((r) => r.finish()));
    await Promise.all(runs.map((r) => r.close()));
  }
  const exitCode = interrupt.signal
    ? interrupt.signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm
    : runs.some((r) => r.state !== 'ok') ? EXIT.taskFailed : EXIT.ok;
  return buildReport({ pipeline: pipeline.name, runId, dryRun: opts.dryRun, startedAt, runs, waves, budget, opts, interrupted: interrupt.signal, exitCode, settings: config.sources ?? {} }, fileDiff);
}

/**
 * listr2 prints a failed task's error message itself, in the terminal and in plain lines: it gets
 * the message escaped (it often quotes the host: stderr, a log tail). The report keeps it whole.
 */
async function shownByListr(work: Promise<unknown>): Promise<void> {
  try {
    await work;
  } catch (e) {
    throw new Error(printableLines((e as Error).message));
  }
}

/** Titles are one line each, output may be several; what came from a host is escaped in both. */
function updateView(view: AnyTaskWrapper, name: string, e: RunEvent, dryRun: boolean): void {
  switch (e.type) {
    case 'task-retry':
      view.title = `${name} [attempt ${e.attempt}/${e.of}: ${printable(e.error)}]`;
      break;
    case 'task-end': {
      const r = e.result;
      const attempts = r.attempts > 1 ? `, ${r.attempts} attempts` : '';
      const status = dryRun && r.status === 'changed' ? 'would change' : r.status;
      view.title = r.status === 'unchanged' ? `${name}: unchanged (${printable(r.reason ?? '')}${attempts})` : `${name}: ${status}${attempts}`;
      break;
    }
    case 'task-progress':
      view.output = printableLines(e.message);
      break;
    case 'rollback':
      view.title = e.ok ? `${name}: rolled back` : `${name}: ROLLBACK FAILED (${printable(e.error ?? '')})`;
      break;
    default:
      break;
  }
}

function loginUser(host: HostConfig, pipeline: Pipeline): string {
  // Before connecting we cannot know whether 'admin' will be the deploy user: assume the
  // provider's account, which makes tasks use sudo -u where it matters (works for both).
  return pipeline.login === 'admin' ? host.settings.sshUser : host.settings.deployUser;
}
