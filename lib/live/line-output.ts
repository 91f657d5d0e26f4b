// A host's output as lines on hoist's stdout or stderr: each line prefixed with its host when
// several hosts speak at once (`web1 | `), with what would act on the terminal escaped
// (lib/printable.ts) and the app's .env values hidden (lib/secrets/redact.ts: a log line or a
// command that prints one must not put it on the screen or in a CI log). Whole lines only: a
// secret split over two chunks is still one line here.
import { StringDecoder } from 'node:string_decoder';
import { printable, printableLines } from '../printable.ts';
import { redact } from '../secrets/redact.ts';

export interface LineSink {
  write(text: string): unknown;
}

export class LineOutput {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(
    private readonly sink: LineSink,
    private readonly prefix = '',
  ) {}

  write(chunk: Buffer | string): void {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const end = this.pending.lastIndexOf('\n');
    if (end < 0) return;
    const lines = this.pending.slice(0, end).split('\n');
    this.pending = this.pending.slice(end + 1);
    this.sink.write(lines.map((l) => this.line(l)).join(''));
  }

  /** The last line, when the output did not end with a line break. */
  end(): void {
    this.pending += this.decoder.end();
    if (this.pending) this.sink.write(this.line(this.pending));
    this.pending = '';
  }

  private line(text: string): string {
    return `${this.prefix}${printableLines(redact(text.replace(/\r$/, '')))}\n`;
  }
}

/** `web1 | ` with names padded to one width, so the lines of several hosts line up (names escaped: they come from the inventory). */
export function hostPrefixes(names: readonly string[]): Map<string, string> {
  const width = Math.max(0, ...names.map((n) => printable(n).length));
  return new Map(names.map((n) => [n, `${printable(n).padEnd(width)} | `]));
}
