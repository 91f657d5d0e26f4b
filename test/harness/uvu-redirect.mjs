// Module resolve hook registered by test/run.ts: every `import … from 'uvu'` in a test file gets
// test/harness/uvu-shim.ts instead, which counts what each file declares against what ran.
// The shim itself imports the real uvu. Plain .mjs: hook modules load before tsx applies.
const shim = new URL('./uvu-shim.ts', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'uvu' && context.parentURL !== shim) return { url: shim, shortCircuit: true };
  return nextResolve(specifier, context);
}
