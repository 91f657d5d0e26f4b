// Compiled hoist (dist/) starts without a TypeScript loader, which costs about half a second. A
// user's own pipeline file is TypeScript, or JavaScript importing hoist (whose package entry is
// TypeScript), so the loader is registered the first time one is imported. Run from the
// sources, tsx is already in place and this does nothing.
import { register as registerHook } from 'node:module';
import { PACKAGE_ROOT } from '../package-root.ts';

const COMPILED = import.meta.url.endsWith('.js');
let ready: Promise<void> | undefined;

const COMPILED_TREE = `${PACKAGE_ROOT}/dist/`;

/** True for any pipeline file but hoist's own compiled ones, when hoist runs compiled. */
export function needsTypeScriptLoader(file: string): boolean {
  return COMPILED && !file.startsWith(COMPILED_TREE);
}

export function ensureTypeScriptLoader(): Promise<void> {
  ready ??= (async () => {
    const { register } = await import('tsx/esm/api');
    register();
    // Registered after tsx, so it runs first: tsx resolves, then hoist's sources are mapped to
    // their compiled files.
    registerHook('./compiled-hoist-hook.js', import.meta.url, { data: { root: PACKAGE_ROOT } });
  })();
  return ready;
}
