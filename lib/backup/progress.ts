// Bytes moved and the rate, for a backup coming down or an archive going up: on a terminal one
// line rewritten in place a few times a second; otherwise (CI, a log) a line every 10 s and the
// last one, so a long transfer shows it is moving without flooding the log.
import { formatBytes } from '../byte-size.ts';

/** `12.0 MiB of 40.0 MiB (30%), 4.00 MiB/s` (total when known). */
export function progressText(done: number, total: number | null, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const of = total ? ` of ${formatBytes(total)} (${Math.floor((done * 100) / Math.max(1, total))}%)` : '';
  return `${formatBytes(done)}${of}, ${formatBytes(rate)}/s`;
}

export class Progress {
  private done = 0;
  private lastShown = 0;
  private readonly started = Date.now();
  constructor(
    private readonly label: string,
    private readonly total: number | null,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  add(bytes: number): void {
    this.done += bytes;
    const now = Date.now();
    if (now - this.lastShown >= (this.out.isTTY ? 200 : 10_000)) {
      this.lastShown = now;
      this.show(false);
    }
  }

  get bytes(): number {
    return this.done;
  }

  end(): void {
    this.show(true);
  }

  private show(last: boolean): void {
    const text = `${this.label}: ${progressText(this.done, this.total, Date.now() - this.started)}`;
    if (this.out.isTTY) this.out.write(`\r\x1b[K${text}${last ? '\n' : ''}`);
    else this.out.write(`${text}\n`);
  }
}
