// One table at the end of every run: a line per host and task with its outcome, so the result
// is readable without scrolling back through the live task list.
import type { RunReport } from '../report/run-report.ts';

export function summaryTable(report: RunReport): string {
  const rows: string[][] = [['HOST', 'TASK', 'STATUS', 'TIME', 'NOTE']];
  for (const h of report.hosts) {
    if (h.tasks.every((t) => t.status === 'skipped') && h.error) rows.push([h.name, '(connect)', 'failed', '', h.error]);
    for (const t of h.tasks) {
      const note = t.error ?? (t.rollbackError ? `ROLLBACK FAILED: ${t.rollbackError}` : t.reason ?? t.steps.join('; '));
      const attempts = t.attempts > 1 ? ` (${t.attempts} attempts)` : '';
      rows.push([h.name, t.task, t.status + attempts, `${(t.durationMs / 1000).toFixed(1)}s`, note]);
    }
  }
  // A multi-line error keeps the table readable: its first line in the table, all of it below.
  const details: string[] = [];
  for (const row of rows.slice(1)) {
    const [first, ...more] = row[4]!.split('\n');
    if (more.length) {
      row[4] = `${first} (more below)`;
      details.push(`${row[0]} ${row[1]}:`, ...[first!, ...more].map((l) => `  ${l}`));
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const failed = report.hosts.filter((h) => h.status === 'failed').length;
  const lines = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
  if (details.length) lines.push('', ...details, '');
  lines.push(`${report.hosts.length - failed} of ${report.hosts.length} hosts ok${failed ? `, ${failed} failed` : ''} (${(report.durationMs / 1000).toFixed(1)}s)`);
  return lines.join('\n');
}
