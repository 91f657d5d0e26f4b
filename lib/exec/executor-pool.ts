// The executors of one host, by login: tasks of a pipeline may work as different accounts
// (bootstrap starts as the provider's user, later tasks work as the deploy user). Each login
// has one shared connection; `fresh` opens a separate one, to prove a login still works.
import type { Login } from '../engine/task.ts';
import type { Executor } from './executor.ts';

export interface ConnectableExecutor extends Executor {
  connect(): Promise<unknown>;
}

export interface ExecutorPool {
  get(login: Login): ConnectableExecutor;
  fresh(login: Login): ConnectableExecutor;
  closeAll(): Promise<void>;
}

export class LazyExecutorPool implements ExecutorPool {
  private readonly shared = new Map<Login, ConnectableExecutor>();

  constructor(private readonly make: (login: Login) => ConnectableExecutor) {}

  get(login: Login): ConnectableExecutor {
    let exec = this.shared.get(login);
    if (!exec) {
      exec = this.make(login);
      this.shared.set(login, exec);
    }
    return exec;
  }

  fresh(login: Login): ConnectableExecutor {
    return this.make(login);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.shared.values()].map((e) => e.close()));
  }
}

/** One executor for every login: unit tests with a recording executor. */
export function singleExecutorPool(exec: ConnectableExecutor): ExecutorPool {
  return { get: () => exec, fresh: () => exec, closeAll: () => exec.close() };
}
