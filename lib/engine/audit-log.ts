// One line per run in each host's ~/.hoist/audit.log (appended, never rewritten): who ran which
// pipeline at which revision, when, and how it ended. JSON lines, so `jq` can read the history.
// Only names, revisions and outcomes go in: never settings values, so no secret can.
import { redact } from '../secrets/redact.ts';
import type { LockInfo } from './host-lock.ts';

export type AuditResult = 'ok' | 'failed' | 'rolled-back' | 'interrupted' | 'unlocked';

export function auditLine(info: LockInfo, result: AuditResult, detail: { changed?: string[]; error?: string } = {}): string {
  return JSON.stringify({
    at: new Date().toISOString(),
    who: info.who,
    run: info.run,
    pipeline: info.pipeline,
    revision: info.revision,
    result,
    ...(detail.changed ? { changed: detail.changed } : {}),
    // Error messages are ours and name keys, never values; one line keeps the log line-based.
    ...(detail.error ? { error: redact(detail.error.split('\n')[0]!).slice(0, 300) } : {}),
  });
}
