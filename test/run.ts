// Runs every test file (test/unit, then test/e2e) and ends with the plain line
// `tests: N passed, N failed` that CI reads. `--unit` runs only the unit tests; `--dir DIR` runs
// the *.test.ts files of DIR instead (the runner's own test uses it on test/fixtures/runner); a
// path argument runs just the files whose path contains it.
//
// E2E files each start their own hosts and mostly wait on them, so they run side by side, each in
// its own process (HOIST_TEST_JOBS at a time, default 2; 1 runs everything in this process):
// test/parallel-files.ts. `--file PATH` (repeatable) runs exactly those files, in this process;
// `--jobs N` sets how many at a time (also for `--dir`).
//
// Exits 1 when anything failed: a test, a hook (uvu 0.5 swallows a throwing `before` hook), a file
// that does not load, a test declared where it never runs (after `test.run()`), a file declaring
// no tests, or no tests at all. test/harness/uvu-shim.ts (every test file's 'uvu') does the counting.
//
// A skipped or focused test (`test.skip`, `test.only`) fails the run too, unless the allow-list
// names it with a reason: test/allowed-skips.json (with `--dir DIR`: DIR/allowed-skips.json;
// `--allowed-skips FILE` picks another). Allowed ones are printed with their reason and counted
// as `, N skipped`; an entry naming nothing skipped is stale and fails (test/harness/skip-allow-list.ts).
import { readdirSync } from 'node:fs';
import { register } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { judge, loadAllowList, missingFiles } from './harness/skip-allow-list.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const dirAt = args.indexOf('--dir');
const dirArg = dirAt >= 0 ? args[dirAt + 1] : undefined;
if (dirAt >= 0 && !dirArg) {
  console.log('--dir needs a directory\n\ntests: 0 passed, 1 failed');
  process.exit(1);
}
const jobsAt = args.indexOf('--jobs');
const jobsArg = jobsAt >= 0 ? Number(args[jobsAt + 1]) : undefined;
const allowAt = args.indexOf('--allowed-skips');
// A process run by test/parallel-files.ts for some of the files: the parent checks the whole list.
const part = args.includes('--part');
const exact = args.flatMap((a, i) => (a === '--file' && args[i + 1] ? [resolve(args[i + 1]!)] : []));
const filters = args.filter((a, i) => !a.startsWith('--') && !(dirAt >= 0 && i === dirAt + 1) && !['--file', '--jobs', '--allowed-skips'].includes(args[i - 1]!));

const base = dirArg ? resolve(dirArg) : here;
const allowList = loadAllowList(allowAt >= 0 && args[allowAt + 1] ? resolve(args[allowAt + 1]!) : join(base, 'allowed-skips.json'));
// What is wrong with the list as a whole (no reason, a file that is gone): checked once per run.
const listProblems = part ? [] : [...allowList.problems, ...missingFiles(allowList)];
const dirs = dirArg ? [base] : (unitOnly ? ['unit'] : ['unit', 'e2e']).map((d) => join(here, d));
const files = exact.length
  ? exact
  : dirs
      .flatMap((d) =>
        readdirSync(d)
          .filter((f) => f.endsWith('.test.ts'))
          .sort()
          .map((f) => resolve(d, f)),
      )
      .filter((f) => filters.length === 0 || filters.some((x) => relative(base, f).includes(x)));

if (!unitOnly && !dirArg && !exact.length) {
  const { removeStaleTestContainers } = await import('./harness/docker.ts');
  removeStaleTestContainers();
  const jobs = jobsArg ?? Number(process.env.HOIST_TEST_JOBS ?? 2);
  const e2e = files.filter((f) => f.startsWith(join(here, 'e2e')));
  if (jobs > 1 && e2e.length > 1) {
    const { runInParallel } = await import('./parallel-files.ts');
    const unit = files.filter((f) => !e2e.includes(f));
    process.exitCode = await runInParallel({ runner: fileURLToPath(import.meta.url), base, groups: [...(unit.length ? [unit] : []), ...e2e.map((f) => [f])], jobs, allowList: allowList.source, listProblems });
    process.exit();
  }
}
// Another folder's files side by side, one process each, when asked (the runner's own test).
if (dirArg && jobsArg && jobsArg > 1) {
  const { runInParallel } = await import('./parallel-files.ts');
  process.exitCode = await runInParallel({ runner: fileURLToPath(import.meta.url), base, groups: files.map((f) => [f]), jobs: jobsArg, allowList: allowList.source, listProblems });
  process.exit();
}

// Test files' `import … from 'uvu'` → the counting shim; uvu queues suites instead of running them.
register('./harness/uvu-redirect.mjs', import.meta.url);
const g = globalThis as { UVU_DEFER?: number; UVU_INDEX?: number; UVU_QUEUE?: unknown[][] };
g.UVU_DEFER = 1;
const shim = await import('./harness/uvu-shim.ts');

for (const [i, file] of files.entries()) {
  const name = relative(base, file);
  g.UVU_INDEX = i;
  g.UVU_QUEUE!.push([name]);
  shim.beginFile(name, file);
  try {
    await import(pathToFileURL(file).href);
  } catch (e) {
    shim.fileFailed(name, e);
    console.log(`\n  FAIL ${name} failed to load\n    ${(e instanceof Error ? (e.stack ?? e.message) : String(e)).split('\n').join('\n    ')}\n`);
  }
}

await shim.exec(false);
const { counts, problems } = shim.finish();
const verdict = judge(allowList, shim.notPlain(), files);
for (const p of verdict.problems) problems.push({ file: p.file, what: p.what });
for (const what of listProblems) problems.push({ file: allowList.shown, what });
counts.failed += verdict.problems.length + listProblems.length;
// Only the allowed skips count as skipped; the others are failures above.
counts.skipped = verdict.allowed.filter((a) => a.test.how !== 'focused (test.only)').length;
if (verdict.allowed.length) {
  console.log(`\n${verdict.allowed.length} allowed by ${allowList.shown}:`);
  for (const a of verdict.allowed) console.log(`  ${a.test.how}: ${a.test.file}: "${a.test.test}": ${a.reason}`);
}

if (problems.length) {
  console.log(`\n${problems.length} problem${problems.length === 1 ? '' : 's'} besides failed assertions:`);
  for (const p of problems) console.log(`  ${p.file}: ${p.what}${p.error ? `: ${p.error.split('\n')[0]}` : ''}`);
}
if (counts.total === 0) console.log('\nno tests ran');
const ok = counts.failed === 0 && problems.length === 0 && counts.total > 0;
// Never `0 failed` on a failing run: CI reads this line.
const failed = ok ? 0 : Math.max(counts.failed, 1);
console.log(`\ntests: ${counts.passed} passed, ${failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''}`);
process.exitCode = ok ? 0 : 1;
