// Compiled hoist (dist/) starts without a TypeScript loader, which costs about half a second;
// a user's own pipeline file is TypeScript, so the loader is registered the first time one is
// imported. Run from the sources, tsx is already in place and this does nothing.
import { register as registerHook } from 'node:module';

const COMPILED = import.meta.url.endsWith('.js');
let ready: Promise<void> | undefined;

export function needsTypeScriptLoader(file: string): boolean {
  return COMPILED && /\.[cm]?tsx?$/.test(file);
}

export function ensureTypeScriptLoader(): Promise<void> {
  ready ??= (async () => {
    const { register } = await import('tsx/esm/api');
    register();
    // Registered after tsx, so it runs first and tsx resolves with the added condition.
    registerHook('./dist-condition-hook.js', import.meta.url);
  })();
  return ready;
}
