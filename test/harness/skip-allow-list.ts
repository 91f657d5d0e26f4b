// The tests that may be skipped or focused (`test.skip`, `test.only`, and the tests an `.only`
// leaves out) without failing the run: a JSON list next to the tests, test/allowed-skips.json
// (for `--dir DIR`, DIR/allowed-skips.json). Each entry names the file (relative to the list's
// folder), the test (as the runner prints it: `suite › name`, or just `name` in a file's default
// suite) and why; the reason is required, so a skip is a decision someone wrote down. An entry
// that names nothing skipped or focused any more is stale and fails the run too, so the list
// cannot outlive what it excuses.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

export interface AllowedSkip {
  /** Absolute path of the test file. */
  path: string;
  /** As written in the list. */
  file: string;
  test: string;
  reason: string;
}

export interface AllowList {
  /** Where it was read from (it may not exist: then it is empty). */
  source: string;
  /** The same, relative to the working directory, for messages. */
  shown: string;
  entries: AllowedSkip[];
  /** What is wrong with the list itself, one line each. */
  problems: string[];
}

/** A test that did not run as a normal member of its suite. */
export interface NotPlain {
  /** Absolute path of its file. */
  path: string;
  /** Relative, for messages. */
  file: string;
  /** `suite › name` or `name`. */
  test: string;
  how: 'skipped (test.skip)' | 'focused (test.only)' | 'skipped by a test.only beside it';
}

export function loadAllowList(source: string): AllowList {
  const shown = relative(process.cwd(), source) || source;
  const list: AllowList = { source, shown, entries: [], problems: [] };
  if (!existsSync(source)) return list;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(source, 'utf8'));
  } catch (e) {
    list.problems.push(`${shown} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    return list;
  }
  if (!Array.isArray(raw)) {
    list.problems.push(`${shown} must be a JSON array of { "file", "test", "reason" }`);
    return list;
  }
  for (const [i, e] of raw.entries()) {
    const entry = (e ?? {}) as Record<string, unknown>;
    const where = `${shown} entry ${i}`;
    if (typeof entry.file !== 'string' || !entry.file || typeof entry.test !== 'string' || !entry.test) {
      list.problems.push(`${where}: "file" and "test" must be non-empty strings (got ${JSON.stringify(e)})`);
      continue;
    }
    const named = `${where} (${entry.file}: "${entry.test}")`;
    if (typeof entry.reason !== 'string' || !entry.reason.trim()) {
      list.problems.push(`${named} has no "reason": say why the test may be skipped or focused`);
      continue;
    }
    list.entries.push({ path: resolve(dirname(source), entry.file), file: entry.file, test: entry.test, reason: entry.reason.trim() });
  }
  return list;
}

/** Entries naming a file that does not exist: only a run that sees the whole list checks this. */
export function missingFiles(list: AllowList): string[] {
  return list.entries
    .filter((e) => !existsSync(e.path))
    .map((e) => `${list.shown}: stale entry (${e.file}: "${e.test}"): the file does not exist; remove the entry`);
}

export interface Verdict {
  /** Allowed, with their reasons: printed, counted as skipped. */
  allowed: { test: NotPlain; reason: string }[];
  /** One line each: unallowed skips or focuses, stale entries for files that ran. */
  problems: { path: string; file: string; what: string }[];
}

/**
 * Every skipped or focused test of the files that ran must be on the list; every entry for a
 * file that ran must name one of them.
 */
export function judge(list: AllowList, notPlain: NotPlain[], ranPaths: string[]): Verdict {
  const verdict: Verdict = { allowed: [], problems: [] };
  const used = new Set<AllowedSkip>();
  for (const t of notPlain) {
    const entry = list.entries.find((e) => e.path === t.path && e.test === t.test);
    if (entry) {
      used.add(entry);
      verdict.allowed.push({ test: t, reason: entry.reason });
    } else {
      verdict.problems.push({
        path: t.path,
        file: t.file,
        what: `test "${t.test}" is ${t.how}; run it, or name it with a reason in ${list.shown}`,
      });
    }
  }
  for (const e of list.entries) {
    if (used.has(e) || !ranPaths.includes(e.path)) continue;
    verdict.problems.push({
      path: e.path,
      file: e.file,
      what: `stale entry in ${list.shown}: no skipped or focused test "${e.test}" in this file; remove the entry`,
    });
  }
  return verdict;
}
