// One table at the end of every run: a line per host with its release before -> after, outcome,
// time and what happened, so the result is readable without scrolling back through the live
// task list. Multi-line errors go below the table, whole. Notes and releases may hold what a host
// said (stderr, a log tail, a link's target): escaped (lib/printable.ts), cells before they are
// measured.
import { printable, printableLines } from '../printable.ts';
import type { HostReport, RunReport } from '../report/run-report.ts';

export function summaryTable(report: RunReport): string {
  const staged = report.rollout.batches > 1;
  const head = ['HOST', ...(staged ? ['BATCH'] : []), 'RELEASE', 'STATUS', 'TIME', 'NOTE'];
  const rows: string[][] = [head];
  const details: string[] = [];
  for (const h of report.hosts) {
    const [first, ...more] = printableLines(hostNote(h, report.dryRun)).split('\n');
    if (more.length) details.push(`${h.name}:`, ...[first!, ...more].map((l) => `  ${l}`));
    rows.push([
      h.name,
      ...(staged ? [String(h.batch)] : []),
      releaseCell(h),
      h.status,
      h.startedAt ? `${(h.durationMs / 1000).toFixed(1)}s` : '-',
      printable(more.length ? `${first} (more below)` : first!),
    ]);
  }
  const widths = head.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
  const warnings = [
    ...report.hosts.flatMap((h) => h.warnings.map((w) => `warning: ${h.name}: ${printableLines(w)}`)),
    ...(report.warnings ?? []).map((w) => `warning: ${printableLines(w)}`),
  ];
  if (details.length || warnings.length) lines.push('', ...details, ...warnings, '');
  lines.push(totals(report));
  return lines.join('\n');
}

function releaseCell(h: HostReport): string {
  const { before, after } = h.release;
  if (!before && !after) return '-';
  const [b, a] = [before, after].map((r) => (r === null ? '-' : printable(r)));
  return before === after ? `${b} (same)` : `${b} -> ${a}`;
}

export function hostNote(h: HostReport, dryRun: boolean): string {
  const rollbackFailed = h.tasks.filter((t) => t.rollbackError).map((t) => `ROLLBACK FAILED in ${t.task}: ${t.rollbackError}`);
  if (h.status === 'failed') {
    const failedTask = h.tasks.find((t) => t.status === 'failed');
    const undone = h.tasks.some((t) => t.status === 'rolled-back') ? ' (rolled back)' : '';
    const kept = h.tasks.filter((t) => t.kept).map((t) => `${t.task} is done and kept (a later failure does not undo it)`);
    return [failedTask ? `${failedTask.task} failed${undone}: ${failedTask.error}` : (h.error ?? 'failed'), ...kept, ...rollbackFailed].join('\n');
  }
  if (h.status === 'skipped' || h.status === 'rolled-back') return [h.note ?? h.status, ...rollbackFailed].join('\n');
  const changed = h.tasks.filter((t) => t.status === 'changed').map((t) => t.task);
  const attempts = h.tasks.filter((t) => t.attempts > 1).map((t) => `${t.task} took ${t.attempts} attempts`);
  const what = changed.length ? `${dryRun ? 'would change' : 'changed'}: ${changed.join(', ')}` : 'no changes';
  return [what, ...attempts].join('; ');
}

function totals(report: RunReport): string {
  const count = (s: HostReport['status']) => report.hosts.filter((h) => h.status === s).length;
  const ok = count('ok');
  const parts = [`${ok} of ${report.hosts.length} hosts ok`];
  for (const s of ['failed', 'rolled-back', 'skipped'] as const) if (count(s)) parts.push(`${count(s)} ${s}`);
  const interrupted = report.interrupted ? ` — interrupted by ${report.interrupted}` : '';
  return `${parts.join(', ')} (${(report.durationMs / 1000).toFixed(1)}s)${interrupted}`;
}
