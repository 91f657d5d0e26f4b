#!/usr/bin/env -S node --
// Entry point of the `hoist` command. hoist is TypeScript; `npm ci` compiles it to dist/ (the
// `prepare` script), which starts about a second sooner than compiling it on the fly with tsx.
// The compiled tree is used only while it is newer than every source, so an edited checkout runs
// its sources and never stale JavaScript; HOIST_FROM_SOURCE=1 forces the sources. A user's own
// `hoist run ./deploy/nightly.ts` needs no build step either way.
// The `--` after node (here and in the npm scripts) ends Node's own options: Node 20 reads
// `--env-file F` even after the script's name and dies with its own "F: not found" (exit 9)
// before hoist could say which file and what to do (nodejs/node#54232). With `--` every word
// after the script is hoist's, and the settings file's values never enter process.env.
import { fileURLToPath } from 'node:url';
import { distIsFresh } from './dist-fresh.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
let main;
if (process.env.HOIST_FROM_SOURCE !== '1' && distIsFresh(root)) {
  ({ main } = await import('../dist/lib/cli/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../lib/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
