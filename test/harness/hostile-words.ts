// Hostile strings for the quoting property tests: quotes, $(), backticks, globs, newlines,
// leading dashes, every UTF-8 length. Seeded, so a failure names a word that can be replayed.

/** Deterministic PRNG so a failure is reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FRAGMENTS = [
  "'", '"', '`', "'\\''", '$(', ')', '${', '}', '$(id)', '`id`', '${HOME}', '$HOME', '$((1+1))', '$1', '$@', '$*', '$?', '$$', '$\'x\'',
  '\\', '\\\\', '\\n', '\\0', '\\x41', '\n', '\r\n', '\t', ' ', '  ', '*', '?', '[', ']', '[a-z]', '**/*', '~', '~root', '~/x',
  '-', '--', '-n', '-e', '-rf', '--help', ';', '&&', '||', '|', '&', '#', '!', '!!', '<', '>', '>>', '2>&1', '<<EOF', '(', ')',
  '{', '}', '{a,b}', '=', 'A=b', '%s', '%d', '%%', '%b', ':', ',', '@', '^', 'echo pwned', '; rm -rf /tmp/nope #', '$(touch /tmp/pwned)',
  '😀', '👩‍👩‍👧', '🇫🇷', '漢字', 'テスト', '한국어', 'e\u0301', 'a\u0308\u0301', '\u0301', 'שלום', 'مرحبا', '\u200b', '\u200f', '\ufeff', 'Á', 'ÿ',
  '\u0081', '\u0085', '\u00a0', '\u2028', '\uffff', '\u{10ffff}', '\x1b[31m', '\x7f', '\x01', '\x02', '\x03', '\x04', '\x08', '\x0b', '\x0c',
];

function randomChar(r: () => number): string {
  const kind = r();
  if (kind < 0.45) return String.fromCharCode(0x20 + Math.floor(r() * 95)); // printable ASCII
  if (kind < 0.55) {
    const c = 1 + Math.floor(r() * 32); // 0x01..0x20, 0x20 stands for DEL
    return String.fromCharCode(c === 32 ? 0x7f : c);
  }
  if (kind < 0.7) return String.fromCharCode(0x80 + Math.floor(r() * 0x780)); // 2-byte UTF-8 (C1 controls, Latin, ...)
  if (kind < 0.85) {
    let c = 0x800 + Math.floor(r() * (0x10000 - 0x800)); // 3-byte UTF-8, no surrogates
    if (c >= 0xd800 && c <= 0xdfff) c -= 0x1000;
    return String.fromCharCode(c);
  }
  return String.fromCodePoint(0x10000 + Math.floor(r() * (0x110000 - 0x10000))); // 4-byte UTF-8
}

export function generateWords(count: number, seed: number): string[] {
  const r = mulberry32(seed);
  const words: string[] = ['', ' ', "'", '"', '-', '--', '-n', '-e', '\n', '\\', '%s', '~', '*', 'a\nb', "a'b\"c`d$e\\f"];
  while (words.length < count) {
    let w = '';
    const n = Math.floor(r() * 9);
    for (let i = 0; i < n; i++) w += r() < 0.6 ? FRAGMENTS[Math.floor(r() * FRAGMENTS.length)]! : randomChar(r);
    if (r() < 0.15) w = '-' + w;
    words.push(w);
  }
  return words;
}

export function firstMismatch(got: string[], want: string[]): string {
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    if (got[i] !== want[i]) return `word ${i}: sent ${JSON.stringify(want[i])}, got back ${JSON.stringify(got[i])}`;
  }
  return 'no mismatch';
}
