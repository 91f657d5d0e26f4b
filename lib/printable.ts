// Text hoist did not write itself reaches the operator's terminal only through these: a value from
// .env or the inventory, and anything read from a host (a command's stderr, an app's log tail, a
// file's diff, a lock record, a container label). A terminal acts on some characters instead of
// showing them: ESC starts an escape sequence (clear the screen, retitle the window, rewrite what
// was printed), CR goes back over the line, BEL rings, C1 codes such as CSI do what ESC does on
// some terminals, and bidi overrides reorder what is shown (a line that reads as one thing and is
// another). Each of them is written as \uXXXX, the way JSON writes C0 codes, so what is printed is
// what is there and nothing in it acts on the terminal.

// C0, DEL, C1, the Arabic letter mark, LRM/RLM, bidi embeddings/overrides/isolates, and the line
// and paragraph separators (JavaScript and some terminals break lines at them).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

const escaped = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** One line: every character above escaped, line breaks and tabs too (a table cell, a title). */
export function printable(text: string): string {
  return text.replace(UNSAFE, escaped);
}

/**
 * Several lines meant as lines (a log tail, a diff, an error with details below it): line breaks
 * and tabs are kept (CRLF counts as a line break), every other character above is escaped.
 */
export function printableLines(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(UNSAFE, (c) => (c === '\n' || c === '\t' ? c : escaped(c)));
}

// What JSON.stringify leaves as it is (it escapes C0 inside strings; a C0 outside one is its own
// indentation).
const UNSAFE_IN_JSON = /[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/**
 * JSON for a file or a terminal: DEL, C1, bidi controls and the separators are escaped too. They
 * occur only inside strings, so this is still the same JSON: a script gets every value exactly.
 */
export function printableJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(UNSAFE_IN_JSON, escaped);
}
