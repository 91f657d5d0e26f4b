// HOIST_TEST_TIMES=1: wall times of tests, hooks and test-bed steps, printed as they end, to see
// where a file's minutes go (host starts, bootstrap, waits). Off by default: no noise in CI.
export function timed(what: string, since: number): void {
  if (process.env.HOIST_TEST_TIMES === '1') console.log(`\n    [time] ${((Date.now() - since) / 1000).toFixed(1)} s  ${what}`);
}
