// A small text file's bytes in a probe's answer, read by the shell's own `read` instead of a
// `base64` process per file (issue #20: a no-op release read five files that way). Each line of
// the file becomes one answer line behind a key: `KEY|line` for a line that ended in a line
// break, `KEY/rest` for a last line that did not, so the file comes back byte for byte (but NUL
// bytes, which a shell cannot hold) and no line of it can pass for another answer line: every
// one starts with its key and `|` or `/`.
import { sh } from '../shell-quote.ts';

/**
 * Shell function `hoist_lines KEY FILE MAX`: prints FILE's lines as above, stopping after the
 * line that reaches MAX bytes (a bound on the answer, like `head -c`, by whole lines). The caller
 * checks that FILE is a regular file it can read.
 */
export const fileLinesFunction = sh`hoist_lines() { hn=0; while [ "$hn" -lt "$3" ]; do IFS= read -r hl || { [ -z "$hl" ] || printf '%s/%s\\n' "$1" "$hl"; return 0; }; printf '%s|%s\\n' "$1" "$hl"; hn=$((hn + \${#hl} + 1)); done < "$2"; }`;

/** The file `hoist_lines` printed under `key`, from the answer's lines (in order). */
export function fileFromLines(lines: string[], key: string): string {
  let text = '';
  for (const line of lines) {
    if (line.startsWith(`${key}|`)) text += `${line.slice(key.length + 1)}\n`;
    else if (line.startsWith(`${key}/`)) text += line.slice(key.length + 1);
  }
  return text;
}

/** True for a line `hoist_lines` printed under any key (not an answer line of its own). */
export function isFileLine(line: string, keys: string[]): boolean {
  return keys.some((k) => line.startsWith(`${k}|`) || line.startsWith(`${k}/`));
}
