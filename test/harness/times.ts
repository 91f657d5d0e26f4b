// HOIST_TEST_TIMES=1: wall times of tests, hooks and test-bed steps, printed as they end, to see
// where a file's minutes go (host starts, bootstrap, waits). Off by default: no noise in CI.
export function timed(what: string, since: number): void {
  if (process.env.HOIST_TEST_TIMES === '1') console.log(`\n    [time] ${((Date.now() - since) / 1000).toFixed(1)} s  ${what}`);
}

/** With HOIST_TEST_TIMES=1: a pipeline run's wall time and each host's tasks' times, to see where a release's seconds go. */
export function timedTasks(pipeline: string, ms: number, report: { hosts: { name: string; tasks: { task: string; status: string; durationMs: number }[] }[] }): void {
  if (process.env.HOIST_TEST_TIMES !== '1') return;
  const hosts = report.hosts.map((h) => `${h.name}: ${h.tasks.map((t) => `${t.task} ${(t.durationMs / 1000).toFixed(1)}${t.status === 'unchanged' ? '=' : t.status === 'changed' ? '+' : '!'}`).join(' ')}`);
  console.log(`\n    [time] ${(ms / 1000).toFixed(1)} s  hoist run ${pipeline} (${hosts.join('; ')})`);
}
