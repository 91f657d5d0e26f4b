// "Every end-to-end test runs its pipeline a second time and asserts nothing changed": the one
// helper every e2e file uses for it. A run is done, then done again exactly the same way, and the
// second run's JSON report must say exit 0 and `unchanged` for every task of every host (a host
// that was skipped or failed, or a task that changed, fails the test, naming each). The first run
// is returned for the test's own asserts. Runs that are not run twice say why where they are, and
// RELIABILITY.md lists them ("Where a pipeline runs once, and why").
import type { RunReport } from '../../lib/report/run-report.ts';

/** What is not `unchanged` in a report, one entry per host/task, empty when nothing changed. */
export function notUnchanged(report: RunReport): string[] {
  const off: string[] = [];
  if (report.exitCode !== 0) off.push(`exit ${report.exitCode}`);
  if (report.hosts.length === 0) off.push('no hosts');
  for (const h of report.hosts) {
    if (h.status !== 'ok') off.push(`${h.name}: ${h.status}${h.error ? ` (${h.error})` : ''}`);
    if (h.tasks.length === 0) off.push(`${h.name}: no tasks`);
    for (const t of h.tasks) if (t.status !== 'unchanged') off.push(`${h.name}/${t.task}: ${t.status}`);
  }
  return off;
}

/** Throws (naming every host/task that is not `unchanged`) unless the report says nothing changed. */
export function assertNothingChanged(report: RunReport, label: string): void {
  const off = notUnchanged(report);
  if (off.length) throw new Error(`${label}: the second run was not a no-op: ${off.join('; ')}`);
}

/**
 * Runs `run` twice; the second run must change nothing (assertNothingChanged). Returns the first
 * run. `reportOf` finds the report in what `run` returns (default: its `report`).
 */
export async function runTwice<T>(label: string, run: () => Promise<T>, reportOf: (r: T) => RunReport = (r) => (r as { report: RunReport }).report): Promise<T> {
  const first = await run();
  assertNothingChanged(reportOf(await run()), `${label}, run again`);
  return first;
}
