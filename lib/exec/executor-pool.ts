// The executors of one host, by login: tasks of a pipeline may work as different accounts
// (bootstrap starts as the provider's user, later tasks work as the deploy user). Each login
// has one shared connection; `fresh` opens a separate one, to prove a login still works.
import type { Login } from '../engine/task.ts';
import type { Executor } from './executor.ts';

export interface ConnectableExecutor extends Executor {
  connect(): Promise<unknown>;
  /** Commands sent so far (each one SSH round trip), when the executor counts them. */
  readonly commandsSent?: number;
}

export interface ExecutorPool {
  get(login: Login): ConnectableExecutor;
  fresh(login: Login): ConnectableExecutor;
  closeAll(): Promise<void>;
  /** Commands sent to the host by every executor made here: the report's round trips. */
  commandsSent(): number;
}

export class LazyExecutorPool implements ExecutorPool {
  private readonly shared = new Map<Login, ConnectableExecutor>();
  private readonly made: ConnectableExecutor[] = [];

  constructor(private readonly make: (login: Login) => ConnectableExecutor) {}

  get(login: Login): ConnectableExecutor {
    let exec = this.shared.get(login);
    if (!exec) {
      exec = this.fresh(login);
      this.shared.set(login, exec);
    }
    return exec;
  }

  fresh(login: Login): ConnectableExecutor {
    const exec = this.make(login);
    this.made.push(exec);
    return exec;
  }

  commandsSent(): number {
    return this.made.reduce((sum, e) => sum + (e.commandsSent ?? 0), 0);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.shared.values()].map((e) => e.close()));
  }
}

/** One executor for every login: unit tests with a recording executor. */
export function singleExecutorPool(exec: ConnectableExecutor): ExecutorPool {
  return { get: () => exec, fresh: () => exec, closeAll: () => exec.close(), commandsSent: () => exec.commandsSent ?? 0 };
}
