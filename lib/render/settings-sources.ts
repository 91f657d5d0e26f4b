// One line per source, printed before the run connects anywhere: which settings came from the
// environment and which from a file, so a terminal or a CI log says where each value came from
// (a value that redirects a deploy is seen before it does) without showing any value.
import { printable } from '../printable.ts';

/** `sources`: key -> source (lib/config/load-config.ts). Empty when no key was set (all defaults). */
export function settingsSourcesText(sources: Record<string, string> | undefined): string {
  const entries = Object.entries(sources ?? {});
  const bySource = new Map<string, string[]>();
  for (const [key, source] of entries) {
    const content = source.endsWith(' (content)');
    const from = content ? source.slice(0, -' (content)'.length) : source;
    bySource.set(from, [...(bySource.get(from) ?? []), content ? `${key} (content, in a temporary file)` : key]);
  }
  return [...bySource].map(([from, keys]) => `settings from ${printable(from)}: ${keys.join(', ')}`).join('\n');
}
