// Runs groups of test files side by side, each group in its own `test/run.ts --file …` process,
// `jobs` at a time: e2e files start their own hosts and spend most of their time waiting on them,
// so two at once on two cores roughly halve the wall time. Each process's output is printed
// whole when it ends (never interleaved), with its duration; the counts are summed from each
// process's own `tests: N passed, N failed` line. A process that ends without that line (it
// crashed, or was killed) counts as a failure. Returns the exit status for the whole run.
// Each process judges its own files' skipped and focused tests against the one allow-list
// (test/harness/skip-allow-list.ts); what is wrong with the list as a whole is judged here, once.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface ParallelRun {
  /** test/run.ts itself. */
  runner: string;
  /** Paths are shown relative to it. */
  base: string;
  /** Files that share a process (all unit files), or one e2e file each. */
  groups: string[][];
  jobs: number;
  /** The allow-list of skipped and focused tests, passed on to every process. */
  allowList: string;
  /** What is wrong with the list as a whole: each one fails the run. */
  listProblems: string[];
}

interface GroupResult {
  passed: number;
  failed: number;
  skipped: number;
  ok: boolean;
}

/**
 * The order groups start in: the longest first, by how long each last took (`seconds`, from
 * BASE/file-seconds.json: for test/, a CI run's "time per group" 3 at a time, the unit files as
 * `unit`), so the run does not end waiting on one long file started last. A file not listed (new)
 * counts as longer than any: its time is unknown, and starting it early keeps the tail short
 * whatever it takes; unlisted ones go biggest file first.
 */
export function startOrder(groups: string[][], base: string, seconds: Record<string, number>): string[][] {
  const weight = (group: string[]) => {
    const key = group.length > 1 ? 'unit' : relative(base, group[0]!);
    return key in seconds ? seconds[key]! : 1e9 + group.reduce((n, f) => n + statSync(f).size, 0);
  };
  return [...groups].sort((a, b) => weight(b) - weight(a));
}

/** BASE/file-seconds.json, or nothing (then by size alone). */
function lastSeconds(base: string): Record<string, number> {
  try {
    return JSON.parse(readFileSync(join(base, 'file-seconds.json'), 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

export async function runInParallel(r: ParallelRun): Promise<number> {
  const started = Date.now();
  const queue = startOrder(r.groups, r.base, lastSeconds(r.base));
  const total: GroupResult = { passed: 0, failed: 0, skipped: 0, ok: true };
  const timings: string[] = [];
  console.log(`running ${r.groups.length} groups of test files, ${r.jobs} at a time (HOIST_TEST_JOBS)`);
  const worker = async () => {
    for (let group = queue.shift(); group; group = queue.shift()) {
      const name = group.length === 1 ? relative(r.base, group[0]!) : `${group.length} files (${relative(r.base, group[0]!).split('/')[0]})`;
      const t0 = Date.now();
      const result = await runGroup(r.runner, group, name, r.allowList);
      timings.push(`${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s  ${name}${result.ok ? '' : '  (FAILED)'}`);
      total.passed += result.passed;
      total.failed += result.failed;
      total.skipped += result.skipped;
      total.ok &&= result.ok;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, r.jobs) }, worker));
  const minutes = (Date.now() - started) / 60_000;
  console.log(`\ntime per group (wall clock, ${r.jobs} at a time):\n${timings.sort().reverse().join('\n')}`);
  console.log(`\nduration: ${minutes.toFixed(1)} min for the tests`);
  if (r.listProblems.length) {
    console.log(`\n${r.listProblems.length} problem${r.listProblems.length === 1 ? '' : 's'} with the allow-list of skipped tests:`);
    for (const p of r.listProblems) console.log(`  ${p}`);
    total.failed += r.listProblems.length;
    total.ok = false;
  }
  const failed = total.ok ? 0 : Math.max(total.failed, 1);
  console.log(`\ntests: ${total.passed} passed, ${failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
  return total.ok ? 0 : 1;
}

function runGroup(runner: string, files: string[], name: string, allowList: string): Promise<GroupResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, ['--import', 'tsx', runner, '--part', '--allowed-skips', allowList, ...files.flatMap((f) => ['--file', f])], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code, signal) => {
      const line = [...out.matchAll(/^tests: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/gm)].at(-1);
      // The group's own summary is replaced by the run's total at the end.
      const shown = line ? out.slice(0, line.index).trimEnd() : out.trimEnd();
      console.log(`\n=== ${name}\n${shown}`);
      if (!line) {
        console.log(`\n  FAIL ${name}: ended (exit ${code ?? signal}) without a summary`);
        return resolvePromise({ passed: 0, failed: 1, skipped: 0, ok: false });
      }
      const [passed, failed, skipped] = [line[1], line[2], line[3]].map((n) => Number(n ?? 0)) as [number, number, number];
      resolvePromise({ passed, failed, skipped, ok: code === 0 && failed === 0 });
    });
  });
}
