// hoist's own folder (where package.json is), found from this module's place: the same answer
// whether hoist runs from its TypeScript sources (lib/) or compiled (dist/lib/).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`hoist's package.json is not above ${fileURLToPath(import.meta.url)}`);
}

export const PACKAGE_ROOT = findRoot();

/** A file shipped with hoist, by its path in the package (e.g. `.env.example`). */
export function packageFile(path: string): string {
  return join(PACKAGE_ROOT, path);
}
