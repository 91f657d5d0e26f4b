// What test files get when they import 'uvu' under test/run.ts (test/harness/uvu-redirect.mjs
// maps the import here). The same `test` and `suite`, wrapped so the runner can fail on what uvu
// 0.5 lets pass silently:
// - a hook that throws: uvu's runner returns from a `finally`, so a throwing `before` hook is
//   swallowed (its tests count as failed, the error is printed nowhere, and uvu exits 0);
// - a test declared after the suite's `test.run()` (or with no `test.run()` after it): never run,
//   never counted;
// - a declared test that did not run for any other reason;
// - a skipped or focused test (`test.skip`, `test.only` and the tests it leaves out): uvu counts
//   them as skipped and passes; here each is recorded (notPlain()) for test/run.ts to fail the run
//   unless test/allowed-skips.json names it (test/harness/skip-allow-list.ts).
// Each file gets its own default `test`, so a test declared late in one file cannot run as part
// of the next file's suite. Counts come from here, not from parsing uvu's output.
import type { Callback, Context, Test } from 'uvu';
import { exec as uvuExec, suite as uvuSuite } from 'uvu';
import type { NotPlain } from './skip-allow-list.ts';
import { timed } from './times.ts';

type RunnerResult = [string | true, number, number, number];
type Runner = () => Promise<RunnerResult>;

interface Declared {
  file: string;
  suite: string;
  name: string;
  only: boolean;
  state: 'declared' | 'queued' | 'skipped';
  ran: boolean;
  passed: boolean;
}

export interface Problem {
  file: string;
  /** One line: what went wrong, naming the suite and test or hook. */
  what: string;
  /** The error (message and stack), when there is one. */
  error?: string;
}

const declared: Declared[] = [];
const problems: Problem[] = [];
const files: string[] = [];
const notPlainTests: NotPlain[] = [];
const counts = { total: 0, passed: 0, failed: 0, skipped: 0 };
let currentFile = '(no file)';
let currentPath = '(no file)';

function errorText(e: unknown): string {
  if (e instanceof Error) return e.stack && e.stack.includes(e.message) ? e.stack : `${e.message}\n${e.stack ?? ''}`;
  return `thrown value (not an Error): ${String(e)}`;
}

function label(suite: string, name: string): string {
  return suite ? `${suite} › ${name}` : name;
}

type Queue = unknown[][];
function queueOf(): unknown[] {
  const g = globalThis as { UVU_QUEUE?: Queue; UVU_INDEX?: number };
  const q = g.UVU_QUEUE?.[g.UVU_INDEX ?? 0];
  if (!q) throw new Error('uvu-shim: no UVU_QUEUE group for this file (is the file run by test/run.ts?)');
  return q;
}

function makeSuite<T = Context>(title: string, context?: T): Test<T> {
  const inner = uvuSuite<T>(title, context);
  const file = currentFile;
  const path = currentPath;
  let pending: Declared[] = [];
  let batchProblems: Problem[] = [];

  const declare = (name: string, handler: Callback<T>, only: boolean): Callback<T> => {
    const d: Declared = { file: currentFile, suite: title, name, only, state: 'declared', ran: false, passed: false };
    declared.push(d);
    pending.push(d);
    return async (ctx) => {
      d.ran = true;
      const t0 = Date.now();
      try {
        await handler(ctx);
      } finally {
        timed(`test "${name}"`, t0);
      }
      d.passed = true;
    };
  };
  const hook =
    (kind: string, register: (h: Callback<T>) => void) =>
    (h: Callback<T>): void =>
      register(async (ctx) => {
        const t0 = Date.now();
        try {
          await h(ctx);
          timed(`${kind} hook`, t0);
        } catch (e) {
          const where = ctx.__test__ ? ` (test "${ctx.__test__}")` : '';
          batchProblems.push({ file, what: `${kind} hook of ${title ? `suite "${title}"` : 'the file'} threw${where}`, error: errorText(e) });
          throw e;
        }
      });

  const t = ((name: string, handler: Callback<T>) => inner(name, declare(name, handler, false))) as Test<T>;
  t.only = (name, handler) => inner.only(name, declare(name, handler, true));
  t.skip = (name, handler) => {
    notPlainTests.push({ path, file, test: label(title, name ?? '(unnamed)'), how: 'skipped (test.skip)' });
    inner.skip(name, handler);
  };
  t.before = Object.assign(hook('before', (h) => inner.before(h)), { each: hook('before.each', (h) => inner.before.each(h)) });
  t.after = Object.assign(hook('after', (h) => inner.after(h)), { each: hook('after.each', (h) => inner.after.each(h)) });
  t.run = () => {
    const batch = pending;
    pending = [];
    const hasOnly = batch.some((d) => d.only);
    for (const d of batch) d.state = hasOnly && !d.only ? 'skipped' : 'queued';
    if (hasOnly) {
      for (const d of batch) {
        notPlainTests.push({ path, file, test: label(title, d.name), how: d.only ? 'focused (test.only)' : 'skipped by a test.only beside it' });
      }
    }
    inner.run();
    const queue = queueOf();
    const run = queue.pop() as Runner;
    queue.push(async (): Promise<RunnerResult> => {
      batchProblems = [];
      let result: RunnerResult;
      try {
        result = await run();
      } catch (e) {
        // An `after` hook (or an `after.each` on a failing test) threw out of uvu's `finally`.
        if (!batchProblems.length) batchProblems.push({ file, what: `suite "${title}" threw outside its tests`, error: errorText(e) });
        const queued = batch.filter((d) => d.state === 'queued');
        result = [true, queued.filter((d) => d.passed).length, batch.length - queued.length, queued.length];
      }
      const [errs, passed, skipped, total] = result;
      for (const d of batch) {
        if (d.state === 'queued' && !d.ran) {
          batchProblems.push({ file, what: `test "${label(title, d.name)}" was declared and queued but never ran (a hook failed before it)` });
        }
      }
      counts.total += total;
      counts.passed += passed;
      counts.skipped += skipped;
      // A hook failing after every test passed is a failure of its own.
      counts.failed += total - passed || (batchProblems.length ? 1 : 0);
      problems.push(...batchProblems);
      if (!batchProblems.length) return result;
      const text = batchProblems.map((p) => `  FAIL ${p.what}\n${p.error ? `    ${p.error.split('\n').join('\n    ')}\n` : ''}`).join('\n');
      return [errs === true ? text : `${errs}\n${text}`, passed, skipped, total];
    });
  };
  return t;
}

let fileTest: Test = makeSuite('');

/** uvu's default suite, a fresh one per test file. */
export const test: Test = Object.assign((name: string, handler: Callback) => fileTest(name, handler), {
  only: (name: string, handler: Callback) => fileTest.only(name, handler),
  skip: (name?: string, handler?: Callback) => fileTest.skip(name, handler),
  before: Object.assign((h: Callback) => fileTest.before(h), { each: (h: Callback) => fileTest.before.each(h) }),
  after: Object.assign((h: Callback) => fileTest.after(h), { each: (h: Callback) => fileTest.after.each(h) }),
  run: () => fileTest.run(),
});

export function suite<T = Context>(title = '', context?: T): Test<T> {
  return makeSuite<T>(title, context);
}

export const exec = uvuExec;

// ---- for test/run.ts ----

/** Called before each test file is imported: what it declares is counted against it. */
export function beginFile(name: string, path: string): void {
  currentFile = name;
  currentPath = path;
  files.push(name);
  fileTest = makeSuite('');
}

/** A test file that threw while loading. */
export function fileFailed(name: string, e: unknown): void {
  problems.push({ file: name, what: 'the file failed to load', error: errorText(e) });
  counts.failed++;
}

/** After uvu has run everything: declarations that never reached a `test.run()`, files with none. */
export function finish(): { counts: typeof counts; problems: Problem[] } {
  for (const d of declared) {
    if (d.state !== 'declared') continue;
    problems.push({ file: d.file, what: `test "${label(d.suite, d.name)}" never ran: it was declared after its suite's test.run() (or no test.run() follows it)` });
    counts.failed++;
  }
  for (const f of files) {
    if (!declared.some((d) => d.file === f) && !notPlainTests.some((t) => t.file === f) && !problems.some((p) => p.file === f)) {
      problems.push({ file: f, what: 'the file declares no tests' });
      counts.failed++;
    }
  }
  return { counts, problems };
}

/** The tests that were skipped or focused, for the allow-list (in the order uvu met them). */
export function notPlain(): NotPlain[] {
  return notPlainTests;
}
