// The app's .env as read here from APP_ENV_FILE: checked before anything connects, hashed (the
// host's copy is compared by sha256 only), and its bytes wrapped so that no report, JSON dump,
// console.log or error message can show them; only the SFTP upload gets them.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { ConfigError } from '../../lib/errors.ts';

const MAX_BYTES = 1024 * 1024;
const FIX = "point APP_ENV_FILE at the app's .env (KEY=value lines), or leave it empty";

/** Bytes that print as [secret] everywhere except through `reveal()`. */
export class SecretBytes {
  readonly #bytes: Buffer;
  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }
  reveal(): Buffer {
    return this.#bytes;
  }
  toJSON(): string {
    return '[secret]';
  }
  toString(): string {
    return '[secret]';
  }
  [inspect.custom](): string {
    return '[secret]';
  }
}

export interface LocalEnvFile {
  path: string;
  sha256: string;
  content: SecretBytes;
}

export function readEnvFile(path: string): LocalEnvFile {
  const fail = (problem: string) => new ConfigError('APP_ENV_FILE', path, problem, FIX);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw fail(`cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (bytes.length > MAX_BYTES) throw fail(`is ${bytes.length} bytes; an env file over 1 MiB is surely not one`);
  const problem = envFileProblem(bytes);
  if (problem) throw fail(problem);
  return { path, sha256: createHash('sha256').update(bytes).digest('hex'), content: new SecretBytes(bytes) };
}

/**
 * Why `bytes` is not a .env file, without quoting it: NUL bytes, invalid UTF-8, or a line that
 * is neither blank, a comment nor KEY=value (a quoted value may span lines).
 */
export function envFileProblem(bytes: Buffer): string | null {
  if (bytes.includes(0)) return 'holds NUL bytes (not a text file)';
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return 'is not valid UTF-8';
  }
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=\s*(.*)$/.exec(line);
    if (!m) return `line ${i + 1} is not KEY=value (its content is not shown)`;
    const value = m[1]!;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && !closes(value.slice(1), quote)) {
      // A quoted value that goes on: find the line that closes it.
      const start = i;
      do i++;
      while (i < lines.length && !closes(lines[i]!, quote));
      if (i >= lines.length) return `the quoted value starting on line ${start + 1} is never closed`;
    }
  }
  return null;
}

/** `rest` holds the closing `quote` (a double quote may be escaped with a backslash). */
function closes(rest: string, quote: string): boolean {
  for (let i = 0; i < rest.length; i++) {
    if (quote === '"' && rest[i] === '\\') i++;
    else if (rest[i] === quote) return true;
  }
  return false;
}
