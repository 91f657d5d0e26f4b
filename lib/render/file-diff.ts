// Unified diffs of the files a plan would change, for --dry-run and the JSON report.
import { createTwoFilesPatch } from 'diff';
import type { FileChange } from '../engine/task.ts';

export function fileDiff(f: FileChange): string | null {
  if (f.secret) return null;
  const patch = createTwoFilesPatch(f.path, f.path, f.before ?? '', f.after ?? '', f.before === null ? '(none)' : 'now', f.after === null ? '(removed)' : 'planned');
  // Drop the "Index:"/"====" header lines jsdiff adds; keep the ---/+++ and hunks.
  return patch.split('\n').filter((l) => !l.startsWith('Index:') && !/^=+$/.test(l)).join('\n').trimEnd();
}
