// The dry run's printout: per host and task, the steps it would take and the diff of each file
// it would change. Plain text, so it reads the same in a terminal, in CI logs and in make. Diffs
// of host files and errors carry what the host holds: escaped as a whole (lib/printable.ts).
import { printableLines } from '../printable.ts';
import type { RunReport } from '../report/run-report.ts';

export function planText(report: RunReport): string {
  const out: string[] = [`Plan for pipeline "${report.pipeline}" (dry run: nothing was changed)`];
  for (const host of report.hosts) {
    out.push('', `${host.name} (${host.address})${host.error ? `: ${host.error}` : ''}`);
    for (const t of host.tasks) {
      if (t.status === 'unchanged') out.push(`  ${t.task}: no change (${t.reason})`);
      else if (t.status === 'changed') {
        out.push(`  ${t.task}: would change`);
        for (const s of t.steps) out.push(`    - ${s}`);
        for (const f of t.files ?? []) {
          if (f.secret) out.push(`    ${f.path}: contents change (secret, not shown)`);
          else if (f.diff) out.push(...f.diff.split('\n').map((l) => `    ${l}`));
        }
      } else out.push(`  ${t.task}: ${t.status}${t.error || t.reason ? ` (${t.error ?? t.reason})` : ''}`);
    }
  }
  return printableLines(out.join('\n'));
}
