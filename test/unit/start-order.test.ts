// The order test/parallel-files.ts starts test files in: the longest first by the seconds each
// last took (test/file-seconds.json), unlisted (new) files before all of them, biggest first, so
// a run never ends waiting on one long file that started last.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startOrder } from '../parallel-files.ts';

const TEST_DIR = fileURLToPath(new URL('../', import.meta.url));
const fixture = (name: string) => join(TEST_DIR, 'fixtures/runner/side-by-side', name);
const names = (groups: string[][]) => groups.map((g) => (g.length > 1 ? 'unit' : relative(TEST_DIR, g[0]!)));

test('longest last time first; the unit files as one group by their own time', () => {
  const [ok, fails, dies] = ['ok.test.ts', 'fails.test.ts', 'dies.test.ts'].map(fixture) as [string, string, string];
  const unit = [fixture('ok.test.ts'), fixture('fails.test.ts')];
  const seconds = { 'fixtures/runner/side-by-side/ok.test.ts': 10, 'fixtures/runner/side-by-side/fails.test.ts': 300, 'fixtures/runner/side-by-side/dies.test.ts': 40, unit: 100 };
  assert.equal(names(startOrder([[ok], unit, [dies], [fails]], TEST_DIR, seconds)), [
    'fixtures/runner/side-by-side/fails.test.ts',
    'unit',
    'fixtures/runner/side-by-side/dies.test.ts',
    'fixtures/runner/side-by-side/ok.test.ts',
  ]);
});

test('a file not listed starts before every listed one; several unlisted: the biggest first', () => {
  const files = ['ok.test.ts', 'fails.test.ts', 'dies.test.ts'].map(fixture);
  const bySize = [...files].sort((a, b) => statSync(b).size - statSync(a).size);
  const seconds = { [relative(TEST_DIR, bySize[0]!)]: 900 };
  assert.equal(names(startOrder(files.map((f) => [f]), TEST_DIR, seconds)), [bySize[1], bySize[2], bySize[0]].map((f) => relative(TEST_DIR, f!)));
});

test('test/file-seconds.json names only test files that exist (and the unit group), each with whole seconds', () => {
  const listed = JSON.parse(readFileSync(join(TEST_DIR, 'file-seconds.json'), 'utf8')) as Record<string, unknown>;
  const e2e = readdirSync(join(TEST_DIR, 'e2e')).filter((f) => f.endsWith('.test.ts')).map((f) => `e2e/${f}`);
  for (const [name, s] of Object.entries(listed)) {
    assert.ok(name === 'unit' || e2e.includes(name), `${name} is listed but is not a test file: remove it`);
    assert.ok(Number.isInteger(s) && (s as number) > 0, `${name}: ${String(s)}`);
  }
});

test.run();
