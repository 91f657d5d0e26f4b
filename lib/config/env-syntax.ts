// What dotenv would silently drop from hoist's own .env. dotenv.parse skips every line its
// pattern does not match (`CRON_FILE jobs.crontab`, a stray `$(...)`, a pasted shell line) and
// lets a later duplicate win without a word; a dropped CRON_FILE line would make cron-install
// remove the app's jobs. So the loader asks this first and stops with the line's number.
//
// LINE is dotenv 18's own pattern (node_modules/dotenv, `parse`), copied so that "covered by a
// match" means exactly "dotenv reads it". Keep it in step when dotenv is upgraded.
// eslint-disable-next-line no-control-regex
const LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

export type EnvSyntaxProblem =
  | { kind: 'not-key-value'; line: number; key: string | null }
  | { kind: 'duplicate'; key: string; lines: [number, number] };

/** The first line dotenv would ignore, or the first key given twice; null when every line counts. */
export function envSyntaxProblem(content: string): EnvSyntaxProblem | null {
  const text = content.replace(/\r\n?/g, '\n');
  const covered = new Uint8Array(text.length);
  const firstLine = new Map<string, number>();
  const lineAt = (index: number) => text.slice(0, index).split('\n').length;
  for (const m of text.matchAll(LINE)) {
    const start = m.index;
    covered.fill(1, start, start + m[0].length);
    const key = m[1]!;
    // The key's own line (the match may begin with blank lines that \s* swallowed).
    const line = lineAt(start + m[0].indexOf(key));
    const seen = firstLine.get(key);
    if (seen !== undefined) return { kind: 'duplicate', key, lines: [seen, line] };
    firstLine.set(key, line);
  }
  // A match runs from a line's start to a line's end, so a line is either read or skipped whole.
  let offset = 0;
  for (const [i, line] of text.split('\n').entries()) {
    const read = covered[offset + line.search(/\S|$/)] === 1;
    offset += line.length + 1;
    if (read || line.trim() === '' || line.trim().startsWith('#')) continue;
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)/.exec(line)?.[1] ?? null;
    return { kind: 'not-key-value', line: i + 1, key };
  }
  return null;
}
