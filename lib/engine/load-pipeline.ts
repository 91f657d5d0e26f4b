// Finds a pipeline by name or path. A user's `pipelines/NAME.ts` in the working folder comes
// before hoist's own, so a project can replace a built-in pipeline; a path runs that file.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from '../errors.ts';
import { PACKAGE_ROOT } from '../package-root.ts';
import type { Pipeline } from './pipeline.ts';
import { ensureTypeScriptLoader, needsTypeScriptLoader } from './typescript-loader.ts';

const HERE = fileURLToPath(import.meta.url);
const BUILT_IN_DIR = resolve(dirname(HERE), '../../pipelines');
// hoist's own pipelines are .ts next to its sources, .js in its compiled tree (dist/).
const BUILT_IN_EXT = extname(HERE);
/** hoist's own pipeline sources: found as a "user's" pipelines/ when run inside hoist's checkout. */
const OWN_SOURCES = resolve(PACKAGE_ROOT, 'pipelines');

export async function loadPipeline(nameOrPath: string, cwd = process.cwd()): Promise<Pipeline> {
  const file = locate(nameOrPath, cwd);
  let mod: { default?: unknown };
  try {
    if (needsTypeScriptLoader(file)) await ensureTypeScriptLoader();
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (e) {
    throw new UsageError(`pipeline ${nameOrPath} (${file}) failed to load: ${(e as Error).message}`);
  }
  const p = mod.default as Partial<Pipeline> | undefined;
  if (!p || typeof p.name !== 'string' || !Array.isArray(p.tasks)) {
    throw new UsageError(`${file} does not export a pipeline. Fix: end it with "export default definePipeline({ name, description, login, tasks: [...] })"`);
  }
  return p as Pipeline;
}

function locate(nameOrPath: string, cwd: string): string {
  const looksLikePath = nameOrPath.includes('/') || ['.ts', '.js', '.mjs', '.mts'].includes(extname(nameOrPath));
  if (looksLikePath) {
    const file = resolve(cwd, nameOrPath);
    if (!existsSync(file)) throw new UsageError(`pipeline file ${nameOrPath} does not exist`);
    return file;
  }
  if (!/^[a-z0-9][a-z0-9-]*$/.test(nameOrPath)) throw new UsageError(`"${nameOrPath}" is not a pipeline name`);
  const user = resolve(cwd, 'pipelines', `${nameOrPath}.ts`);
  // Run inside hoist's own checkout (`npm run pipeline:release` there), pipelines/ is hoist's own:
  // the built-in one is the same file, compiled, and needs no TypeScript loader (~0.5 s).
  if (existsSync(user) && dirname(user) !== OWN_SOURCES) return user;
  const builtIn = resolve(BUILT_IN_DIR, `${nameOrPath}${BUILT_IN_EXT}`);
  if (existsSync(builtIn)) return builtIn;
  throw new UsageError(`no pipeline named "${nameOrPath}". Available: ${builtInNames().join(', ')}, or a path to your own .ts file`);
}

export function builtInNames(): string[] {
  return readdirSync(BUILT_IN_DIR)
    .filter((f) => f.endsWith(BUILT_IN_EXT))
    .map((f) => f.slice(0, -BUILT_IN_EXT.length))
    .sort();
}
