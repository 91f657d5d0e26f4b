// What a user's own pipeline or task file imports from 'hoist': the task and pipeline
// contracts, the command builders and the executor helpers. Built-in tasks are imported from
// 'hoist/tasks/<name>'.
export { definePipeline, type Pipeline } from './engine/pipeline.ts';
export { defineTask, type ApplyContext, type FileChange, type Plan, type Probe, type Step, type Task, type TaskInput } from './engine/task.ts';
export { argv, quote, sh, type Cmd } from './shell-quote.ts';
export { runChecked, type ExecResult, type Executor } from './exec/executor.ts';
export { ConfigError, RemoteCommandError } from './errors.ts';
