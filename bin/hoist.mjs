#!/usr/bin/env node
// Entry point of the `hoist` command: hoist and the user's pipelines are TypeScript, loaded
// through tsx so that `hoist run ./deploy/nightly.ts` needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
