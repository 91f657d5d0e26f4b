// Runs every test file (test/unit, then test/e2e) in one uvu process and ends with the plain
// line `tests: N passed, N failed` that CI reads. `--unit` runs only the unit tests; a path
// argument runs just the files whose path contains it.
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

const dirs = unitOnly ? ['unit'] : ['unit', 'e2e'];
const files = dirs.flatMap((d) =>
  readdirSync(join(here, d))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => resolve(here, d, f)),
).filter((f) => filters.length === 0 || filters.some((x) => relative(here, f).includes(x)));

// uvu prints its own totals; capture them to print the one line CI reads.
let captured = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  if (captured.length > 1_000_000) captured = captured.slice(-100_000);
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

if (!unitOnly) {
  const { removeStaleTestContainers } = await import('./harness/docker.ts');
  removeStaleTestContainers();
}
const { run } = await import('uvu/run');
await run(files.map((file) => ({ name: relative(here, file), file })), { bail: false });

// eslint-disable-next-line no-control-regex
const plain = captured.replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
process.stdout.write = write;
console.log(`\ntests: ${passed} passed, ${total - passed - skipped} failed${skipped ? `, ${skipped} skipped` : ''}`);
if (total === 0) process.exitCode = 1;
