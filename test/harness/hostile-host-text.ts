// Text a host could send back that acts on the operator's terminal instead of being shown: it
// clears the screen, retitles the window, rings, goes back over the line (CR), sends a C1 CSI (what
// ESC [ does, on terminals that read 8-bit codes) or reverses the text after it (RLO). hoist prints
// host text (stderr, log tails, diffs, lock records, links) through lib/printable.ts; the tests
// put this text on a real host and look for each sequence raw in everything hoist printed.

export const ATTACKS = {
  'clear screen': '\x1b[2J',
  'window title': '\x1b]0;hoist-pwned\x07',
  'C1 CSI': '\x9b5m',
  'carriage return': '\rOK ',
  'right-to-left override': '\u202e',
} as const;

/** One string holding every attack, between words (so a message that quotes it shows them all). */
export const HOSTILE_HOST_TEXT = `x${Object.values(ATTACKS).join('y')}z`;

/** The attacks found raw in `text`: none may be there. */
export function rawAttacks(text: string): string[] {
  return Object.entries(ATTACKS)
    .filter(([, seq]) => text.includes(seq))
    .map(([name]) => name);
}
