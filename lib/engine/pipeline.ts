// A pipeline is data: a name, the account it logs in as, and the tasks in order. Users write
// their own as a short TypeScript file; the engine treats them exactly like ours.
import type { Login, Task } from './task.ts';

export interface Pipeline {
  name: string;
  description: string;
  /** The account tasks work as unless they say otherwise (Task.login). */
  login: Login;
  // Tasks of a pipeline have different Wanted/Fact types; the engine only passes them through.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  tasks: Task<any, any, any>[];
}

export function definePipeline(p: Pipeline): Pipeline {
  const names = new Set<string>();
  for (const t of p.tasks) {
    if (names.has(t.name)) throw new Error(`pipeline ${p.name} lists task ${t.name} twice`);
    names.add(t.name);
  }
  return p;
}
