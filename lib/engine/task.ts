// The contract every task follows, built-in or written by a user: probe -> plan -> apply ->
// verify, with rollback to undo apply. Probe and plan are separate so that a dry run and a
// second run can show, without changing anything, what would happen and why nothing would.
import type { ConnectableExecutor } from '../exec/executor-pool.ts';
import type { ExecResult, Executor } from '../exec/executor.ts';
import type { HostConfig } from '../config/load-config.ts';
import type { Cmd } from '../shell-quote.ts';
import type { SharedReads } from '../exec/shared-reads.ts';

/** What the host looks like, read in one round trip and parsed into a typed fact. */
export interface RemoteProbe<Fact> {
  command: Cmd;
  sudo?: boolean;
  /**
   * What the command reads through the round trip's shared stat and sha256sum (lib/exec/shared-reads.ts):
   * carried in the lock's round trip, those are made once for every probe there.
   */
  reads?: SharedReads;
  parse(result: ExecResult): Fact;
}

/** A fact found from here, not on the host (DNS records as the world sees them, a forge's API). */
export interface LocalProbe<Fact> {
  local(): Promise<Fact>;
}

export type Probe<Fact> = RemoteProbe<Fact> | LocalProbe<Fact>;

/** One change a plan would make, described for people (dry run, reports). */
export interface Step {
  describe: string;
}

/** A file the plan would change, for the dry run's diff. */
export interface FileChange {
  path: string;
  before: string | null;
  after: string | null;
  /** Show that it changes, never what it holds. */
  secret?: boolean;
}

export type Plan<S extends Step = Step> =
  | { changes: false; reason: string }
  | { changes: true; steps: S[]; files?: FileChange[] };

/** 'deploy': DEPLOY_USER. 'admin': DEPLOY_USER if it can already log in, else SSH_USER (bootstrap). */
export type Login = 'deploy' | 'admin';

export interface TaskInput {
  host: HostConfig;
  /** The account the pipeline is logged in as (SSH_USER or DEPLOY_USER). */
  loginUser: string;
  /** What the pipeline's `prepare` found for the whole run (empty without one). */
  shared?: Readonly<Record<string, unknown>>;
}

export interface Task<Wanted = unknown, Fact = unknown, S extends Step = Step> {
  /** kebab-case, as in reports: 'cron-install'. */
  name: string;
  /**
   * Local work only (read files, validate, render): runs for every host before any connection,
   * so a bad input stops the run before it touches anything. Throw ConfigError on bad input.
   */
  want(input: TaskInput): Wanted | Promise<Wanted>;
  probe(wanted: Wanted, input: TaskInput): Probe<Fact>;
  /** Pure: what must change to get from `fact` to `wanted`, or why nothing must. */
  plan(wanted: Wanted, fact: Fact, input?: TaskInput): Plan<S>;
  apply(exec: Executor, steps: S[], ctx: ApplyContext<Wanted, Fact>): Promise<void>;
  /**
   * Puts back what `fact` described. Called when this task or a later one fails, so it must
   * work after a partial apply too.
   */
  rollback?(exec: Executor, ctx: ApplyContext<Wanted, Fact>): Promise<void>;
  /** Checks the result; the default probes again and expects an empty plan. */
  verify?(exec: Executor, ctx: ApplyContext<Wanted, Fact>): Promise<void>;
  /** Runs entirely here (its probe is local): needs no connection. */
  local?: boolean;
  /** Which account the task works as: the pipeline's by default (see Pipeline.login). */
  login?: Login;
  /**
   * Apply can be run again after a transient failure halfway (it converges rather than
   * repeats). Otherwise a failed apply is rolled back instead of retried.
   */
  retrySafe?: boolean;
  /**
   * Once applied and verified, the change stands on its own (a machine's setup: the deploy user,
   * sshd hardening): a later task that fails for its own reasons does not undo it, nor does a
   * fleet rollback. Its rollback still runs when this task itself fails.
   */
  keptOnceVerified?: boolean;
}

export interface ApplyContext<Wanted, Fact> {
  wanted: Wanted;
  /** The host as probed before apply: what rollback restores. */
  before: Fact;
  input: TaskInput;
  /** Tells the operator what a long step is doing now (shown under the task in the live list). */
  progress(message: string): void;
  /**
   * Something the operator must know after the run, not only while it scrolls by (a volume taken
   * over, a copy left behind): kept in the host's warnings of the report. Optional for tasks'
   * hand-made contexts in tests.
   */
  warn?(message: string): void;
  /**
   * A line of a remote command's output the run keeps (the release phase's): shown as progress
   * and kept in the task's result (`output` in the report). The caller hides secrets first.
   * Optional for tasks' hand-made contexts in tests.
   */
  log?(line: string): void;
  /**
   * What the apply did, counted, for the report's task entry (e.g. the bytes and layers an image
   * ship sent): kept in the task's `notes`. Optional for tasks' hand-made contexts in tests.
   */
  note?(message: string): void;
  /** A new connection, apart from the shared one: proves a login works (caller closes it). */
  freshConnection(login: Login): ConnectableExecutor;
}

/** Identity function that gives a task literal its types; for user-written tasks too. */
export function defineTask<W, F, S extends Step = Step>(task: Task<W, F, S>): Task<W, F, S> {
  return task;
}
