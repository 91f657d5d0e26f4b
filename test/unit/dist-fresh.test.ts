// bin/dist-fresh.mjs decides whether `hoist` runs its compiled tree or its sources: a wrong
// "fresh" would run stale JavaScript after an edit, so every kind of source change must count.
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// @ts-expect-error: plain JavaScript without type declarations (it runs before TypeScript can load)
import { distIsFresh } from '../../bin/dist-fresh.mjs';

const fresh = distIsFresh as (root: string) => boolean;
const past = new Date(Date.now() - 60_000);

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'hoist-dist-'));
  for (const dir of ['lib/engine', 'tasks', 'pipelines', 'dist']) mkdirSync(join(root, dir), { recursive: true });
  for (const f of ['lib/engine/a.ts', 'tasks/b.ts', 'pipelines/c.ts']) writeFileSync(join(root, f), 'x');
  for (const p of ['lib/engine/a.ts', 'lib/engine', 'lib', 'tasks/b.ts', 'tasks', 'pipelines/c.ts', 'pipelines']) utimesSync(join(root, p), past, past);
  return root;
}

test('no build, or a build older than any edited, added or deleted source, is not fresh', () => {
  const root = tree();
  try {
    assert.not.ok(fresh(root), 'never built');
    writeFileSync(join(root, 'dist/BUILT'), 'now');
    assert.ok(fresh(root), 'built after every source');
    const later = new Date(Date.now() + 5000);
    utimesSync(join(root, 'lib/engine/a.ts'), later, later);
    assert.not.ok(fresh(root), 'a nested source edited after the build');
    utimesSync(join(root, 'lib/engine/a.ts'), past, past);
    assert.ok(fresh(root));
    unlinkSync(join(root, 'tasks/b.ts'));
    utimesSync(join(root, 'tasks'), later, later);
    assert.not.ok(fresh(root), 'a source deleted after the build (its folder changed)');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
