// The suite must be able to fail: test/run.ts on the test files of test/fixtures/runner/<case>
// (outside test/unit and test/e2e, so `npm test` never runs them itself). uvu 0.5 alone exits 0
// when a `before` hook throws and never runs a test declared after `test.run()`.
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

// All cases at once: each is a separate node process of well under a second.
const cases = ['before-throws', 'failing', 'passing', 'late', 'bad-import', 'empty'] as const;
let runs: Record<(typeof cases)[number], Run>;
test.before(async () => {
  const done = await Promise.all(cases.map((c) => runner(c)));
  runs = Object.fromEntries(cases.map((c, i) => [c, done[i]!])) as typeof runs;
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

test.run();
