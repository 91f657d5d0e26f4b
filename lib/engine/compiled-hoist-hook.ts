// A module resolve hook, registered only when compiled hoist loads a user's TypeScript pipeline.
// Whatever way the pipeline names hoist's modules (`from 'hoist'`, `hoist/tasks/…`, or a path to
// hoist's own lib/, tasks/ or pipelines/ sources), it gets the compiled file the engine runs, not
// a second copy built from the source: two copies would have two `Cmd` classes (the engine's `sh`
// would not recognise a task's command), two error hierarchies and two secret registries.
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ResolveResult {
  url: string;
  format?: string | null;
  [key: string]: unknown;
}
type NextResolve = (specifier: string, context: unknown) => Promise<ResolveResult>;

let sourceTree: RegExp | null = null;
let root = '';

/** Gets hoist's folder from register(); its compiled tree is ROOT/dist. */
export function initialize(data: { root: string }): void {
  root = data.root.replace(/\/$/, '');
  const escaped = pathToFileURL(root).href.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  sourceTree = new RegExp(`^${escaped}/((?:lib|tasks|pipelines)/.+)\\.ts$`);
}

export async function resolve(specifier: string, context: unknown, nextResolve: NextResolve): Promise<ResolveResult> {
  const resolved = await nextResolve(specifier, context);
  const m = sourceTree?.exec(resolved.url);
  if (!m) return resolved;
  const compiled = `${root}/dist/${m[1]}.js`;
  return existsSync(compiled) ? { ...resolved, url: pathToFileURL(compiled).href, format: 'module' } : resolved;
}

