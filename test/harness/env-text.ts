// Writes .env files whose values dotenv reads back exactly: a hostile value written with
// JSON.stringify (as Testbed.writeEnv does) would reach hoist changed, since dotenv keeps `\"` and
// `\\` as they are. Each line is checked by parsing it back before a test uses it.
import dotenv from 'dotenv';

/** One KEY=value line (possibly spanning lines) that dotenv parses back to `value`. */
export function envLine(key: string, value: string): string {
  const candidates = [`${key}='${value}'`, `${key}="${value}"`, `${key}=\`${value}\``, `${key}=${value}`];
  for (const line of candidates) {
    const parsed = dotenv.parse(line);
    if (Object.keys(parsed).length === 1 && parsed[key] === value) return line;
  }
  throw new Error(`no way to write ${key}=${JSON.stringify(value)} so that dotenv reads it back`);
}

/** A .env text of `vars`, each value read back exactly (checked). */
export function envText(vars: Record<string, string>): string {
  const text = Object.entries(vars).map(([k, v]) => envLine(k, v)).join('\n') + '\n';
  const parsed = dotenv.parse(text);
  for (const [k, v] of Object.entries(vars)) {
    if (parsed[k] !== v) throw new Error(`${k}: dotenv reads ${JSON.stringify(parsed[k])} from the file, not ${JSON.stringify(v)}`);
  }
  return text;
}
