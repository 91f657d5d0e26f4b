// One line per source under the summary table: which settings came from the environment and
// which from a file, so a CI log says where a value came from without showing any value.
import { printable } from '../printable.ts';

/** `sources`: key -> source (lib/config/load-config.ts). Empty when nothing came from the environment. */
export function settingsSourcesText(sources: Record<string, string> | undefined): string {
  const entries = Object.entries(sources ?? {});
  if (!entries.some(([, source]) => source.startsWith('the environment'))) return '';
  const bySource = new Map<string, string[]>();
  for (const [key, source] of entries) {
    const content = source.endsWith(' (content)');
    const from = content ? source.slice(0, -' (content)'.length) : source;
    bySource.set(from, [...(bySource.get(from) ?? []), content ? `${key} (content, in a temporary file)` : key]);
  }
  return [...bySource].map(([from, keys]) => `settings from ${printable(from)}: ${keys.join(', ')}`).join('\n');
}
