// What the engine tells the world while it runs. Renderers (the listr2 task list, plain lines,
// the JSON report) only listen to these; the engine never prints.
import type { FileChange } from './task.ts';

export type TaskStatus = 'changed' | 'unchanged' | 'failed' | 'rolled-back' | 'skipped';

export interface TaskResult {
  task: string;
  status: TaskStatus;
  /** Also set in a dry run: what would change. */
  steps: string[];
  /** Why nothing changed (empty plan). */
  reason?: string;
  files?: FileChange[];
  attempts: number;
  durationMs: number;
  error?: string;
  rollbackError?: string;
  /** Output lines the task kept for the run's log (ApplyContext.log), secrets hidden. */
  output?: string[];
  /** What the apply did, counted (ApplyContext.note): e.g. the layers and bytes an image ship sent. */
  notes?: string[];
  /** Changed, verified and kept although a later task failed (Task.keptOnceVerified). */
  kept?: boolean;
}

export type RunEvent =
  | { type: 'task-start'; host: string; task: string }
  | { type: 'task-retry'; host: string; task: string; attempt: number; of: number; error: string }
  | { type: 'task-planned'; host: string; task: string; steps: string[]; reason?: string }
  | { type: 'task-progress'; host: string; task: string; message: string }
  | { type: 'task-end'; host: string; result: TaskResult }
  | { type: 'rollback'; host: string; task: string; ok: boolean; error?: string };

export type EventListener = (event: RunEvent) => void;
