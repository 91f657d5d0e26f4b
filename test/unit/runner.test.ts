// The suite must be able to fail: test/run.ts on the test files of test/fixtures/runner/<case>
// (outside test/unit and test/e2e, so `npm test` never runs them itself). uvu 0.5 alone exits 0
// when a `before` hook throws and never runs a test declared after `test.run()`, and passes
// with a `test.only` or `test.skip` left in (the rest counted as skipped).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SUMMARY = /^tests: (\d+) passed, (\d+) failed(, \d+ skipped)?$/;

interface Run {
  code: number | null;
  out: string;
  /** The last line, which CI greps. */
  last: string;
}

function runner(fixture: string, extra: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', '--dir', `test/fixtures/runner/${fixture}`, ...extra], {
      cwd: REPO_ROOT,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`test/run.ts --dir ${fixture} did not finish in 60 s:\n${out}`));
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = out.trimEnd().split('\n');
      resolve({ code, out, last: lines[lines.length - 1] ?? '' });
    });
  });
}

// Each case is a separate node process of well under a second; 4 at a time, so that on a
// shared, busy machine none of them comes near its bound.
const cases = ['before-throws', 'failing', 'passing', 'late', 'bad-import', 'empty', 'only', 'skip', 'allowed-skip', 'no-reason', 'stale'] as const;
let runs: Record<(typeof cases)[number], Run>;
test.before(async () => {
  const todo = [...cases];
  const done: Partial<Record<(typeof cases)[number], Run>> = {};
  const worker = async () => {
    for (let c = todo.shift(); c; c = todo.shift()) done[c] = await runner(c);
  };
  await Promise.all([1, 2, 3, 4].map(worker));
  runs = done as typeof runs;
});

function summary(r: Run): [number, number] {
  const m = SUMMARY.exec(r.last);
  assert.ok(m, `last line is not the summary: ${JSON.stringify(r.last)}\n${r.out}`);
  return [Number(m[1]), Number(m[2])];
}

test('all passing: exit 0, and the last line says so', () => {
  const r = runs.passing;
  assert.is(r.code, 0, r.out);
  assert.is(r.last, 'tests: 3 passed, 0 failed');
});

test('a before hook that throws (a test bed that does not start): exit 1, its error and stack printed', () => {
  const r = runs['before-throws'];
  assert.is(r.code, 1, r.out);
  assert.equal(summary(r), [0, 2]);
  assert.ok(r.out.includes('before hook of suite "bed" threw'), r.out);
  assert.ok(r.out.includes('Error: the test bed did not start: fixture-before-error'), r.out);
  // The stack, pointing into the fixture file.
  assert.match(r.out, /at .*before-throws\/bed\.test\.ts:\d+:\d+/);
  assert.ok(r.out.includes('"bed › first" was declared and queued but never ran'), r.out);
});

test('a failing assertion: exit 1, counted, its message printed', () => {
  const r = runs.failing;
  assert.is(r.code, 1, r.out);
  assert.equal(summary(r), [1, 1]);
  assert.ok(r.out.includes('fixture-assertion-message'), r.out);
});

test('a test declared after test.run(): exit 1, named, counted as failed, not run by the next file', () => {
  const r = runs.late;
  assert.is(r.code, 1, r.out);
  assert.equal(summary(r), [2, 1]);
  assert.ok(r.out.includes('late.test.ts: test "fixture-late-test" never ran: it was declared after'), r.out);
});

test('a file that fails to load: exit 1, its error printed, the other files still run', () => {
  const r = runs['bad-import'];
  assert.is(r.code, 1, r.out);
  assert.ok(r.out.includes('broken.test.ts failed to load'), r.out);
  assert.ok(r.out.includes('Error: fixture-import-error'), r.out);
  assert.ok(r.out.includes('ok.test.ts'), r.out);
  const [passed, failed] = summary(r);
  assert.ok(passed >= 1 && failed >= 1, r.last);
});

test('no tests at all: exit 1, never "0 failed"', () => {
  const r = runs.empty;
  assert.is(r.code, 1, r.out);
  assert.equal(summary(r), [0, 1]);
  assert.ok(r.out.includes('nothing.test.ts: the file declares no tests'), r.out);
});

test('a test.only left in: exit 1, the focused test and the one it left out both named', () => {
  const r = runs.only;
  assert.is(r.code, 1, r.out);
  assert.equal(summary(r), [2, 2]);
  assert.ok(r.out.includes('focus.test.ts: test "fixture-focused" is focused (test.only)'), r.out);
  assert.ok(r.out.includes('focus.test.ts: test "fixture-left-out" is skipped by a test.only beside it'), r.out);
});

test('a test.skip nobody allowed: exit 1, named, with where to allow it', () => {
  const r = runs.skip;
  assert.is(r.code, 1, r.out);
  assert.equal(summary(r), [1, 1]);
  assert.ok(r.out.includes('skips.test.ts: test "fixture-skipped" is skipped (test.skip); run it, or name it with a reason in test/fixtures/runner/skip/allowed-skips.json'), r.out);
});

test('a skip the allow-list names with a reason: exit 0, the reason printed, counted as skipped', () => {
  const r = runs['allowed-skip'];
  assert.is(r.code, 0, r.out);
  assert.is(r.last, 'tests: 1 passed, 0 failed, 1 skipped');
  assert.ok(r.out.includes('"bed › fixture-allowed": fixture-reason: the host this needs is not in the test bed'), r.out);
});

test('an allow-list entry without a reason: exit 1, the entry named', () => {
  const r = runs['no-reason'];
  assert.is(r.code, 1, r.out);
  assert.equal(summary(r), [1, 2]);
  assert.ok(r.out.includes('entry 0 (skips.test.ts: "bed › fixture-allowed") has no "reason"'), r.out);
  // Without a valid entry the skip itself is not allowed either.
  assert.ok(r.out.includes('test "bed › fixture-allowed" is skipped (test.skip)'), r.out);
});

test('stale allow-list entries (a test no longer skipped, a file that is gone): exit 1, each named', () => {
  const r = runs.stale;
  assert.is(r.code, 1, r.out);
  assert.equal(summary(r), [1, 2]);
  assert.ok(r.out.includes('no skipped or focused test "bed › fixture-gone" in this file; remove the entry'), r.out);
  assert.ok(r.out.includes('stale entry (removed.test.ts: "anything"): the file does not exist'), r.out);
  assert.ok(r.out.includes('"bed › fixture-allowed": allowed, and still skipped'), r.out);
});

test('side by side (--jobs 2, one process per file): counts summed, a process that dies without a summary is a failure', async () => {
  const r = await runner('side-by-side', ['--jobs', '2']);
  assert.is(r.code, 1, r.out);
  assert.is(r.last, 'tests: 3 passed, 2 failed');
  assert.match(r.out, /FAIL dies\.test\.ts: ended \(exit 7\) without a summary/);
  assert.match(r.out, /^=== ok\.test\.ts$/m, 'each file\'s output is printed whole under its name');
  assert.match(r.out, /^duration: \d+\.\d min for the tests$/m);
  const passing = await runner('passing', ['--jobs', '2']);
  assert.is(passing.code, 0, passing.out);
  assert.is(passing.last, 'tests: 3 passed, 0 failed');
});

test('side by side (--jobs 2): skips and focuses judged the same in each process, the list as a whole once', async () => {
  const only = await runner('only', ['--jobs', '2']);
  const skip = await runner('skip', ['--jobs', '2']);
  const [allowed, noReason, stale] = await Promise.all(['allowed-skip', 'no-reason', 'stale'].map((c) => runner(c, ['--jobs', '2'])));
  assert.is(only!.code, 1, only!.out);
  assert.is(only!.last, 'tests: 2 passed, 2 failed');
  assert.ok(only!.out.includes('test "fixture-focused" is focused (test.only)'), only!.out);
  assert.is(skip!.code, 1, skip!.out);
  assert.is(skip!.last, 'tests: 1 passed, 1 failed');
  assert.is(allowed!.code, 0, allowed!.out);
  assert.is(allowed!.last, 'tests: 1 passed, 0 failed, 1 skipped');
  assert.ok(allowed!.out.includes('fixture-reason: the host this needs is not in the test bed'), allowed!.out);
  assert.is(noReason!.code, 1, noReason!.out);
  assert.ok(noReason!.out.includes('has no "reason"'), noReason!.out);
  assert.is(stale!.code, 1, stale!.out);
  assert.is(stale!.last, 'tests: 1 passed, 2 failed, 1 skipped');
  assert.is(stale!.out.split('stale entry (removed.test.ts').length - 1, 1, `the missing file is reported once, by the parent:\n${stale!.out}`);
  assert.ok(stale!.out.includes('"bed › fixture-gone" in this file; remove the entry'), stale!.out);
});

test.run();
