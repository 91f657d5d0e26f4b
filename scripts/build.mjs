// `npm run build` (and `npm ci`, through `prepare`): compiles hoist to dist/ from scratch, so no
// file of a deleted source lingers, then marks the build (bin/dist-fresh.mjs compares against it).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}/dist`, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', `${root}/tsconfig.build.json`], { stdio: 'inherit' });
writeFileSync(`${root}/dist/BUILT`, `${new Date().toISOString()}\n`);
