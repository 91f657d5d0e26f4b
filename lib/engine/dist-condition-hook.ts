// A module resolve hook, registered only when compiled hoist loads a user's TypeScript pipeline:
// it adds the `hoist-dist` export condition, so the pipeline's `import … from 'hoist'` gets the
// same compiled modules the engine runs (package.json "exports"), not a second copy from the
// sources whose classes and secret registry the engine would not know.
interface ResolveContext {
  conditions: string[];
  [key: string]: unknown;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<unknown>;

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<unknown> {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, 'hoist-dist'] });
}
