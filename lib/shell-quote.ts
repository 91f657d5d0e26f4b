// The one place where remote command lines are built. Every value that reaches a remote shell
// goes through `quote`, so user data can never become shell syntax.

/** A remote command line, only constructible through `sh` or `argv` below. */
export class Cmd {
  private constructor(readonly line: string) {}
  /** @internal used by the builders in this file only */
  static fromQuoted(line: string): Cmd {
    return new Cmd(line);
  }
  toString(): string {
    return this.line;
  }
}

// No '=' (a leading NAME=value is an assignment to the shell) and no shell metacharacters.
const SAFE_WORD = /^[A-Za-z0-9_\/.,:@%+^-]+$/;

/** POSIX-quotes one word: the remote shell passes it to the program byte for byte. */
export function quote(word: string): string {
  if (word.includes('\0')) throw new Error('a NUL byte cannot be passed to a remote command');
  if (word !== '' && SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command from words: argv('crontab', '-u', user, '-l'). */
export function argv(...words: string[]): Cmd {
  if (words.length === 0) throw new Error('argv needs at least the program name');
  return Cmd.fromQuoted(words.map(quote).join(' '));
}

type Interpolation = string | number | Cmd | readonly string[];

/**
 * A shell script whose literal parts are ours and whose interpolations are data:
 * sh`test -f ${path} && cat ${path}` quotes `path`; an array becomes several quoted words;
 * a Cmd is inserted as already-built shell.
 */
export function sh(strings: TemplateStringsArray, ...values: Interpolation[]): Cmd {
  let line = strings[0] ?? '';
  values.forEach((value, i) => {
    line += render(value) + (strings[i + 1] ?? '');
  });
  return Cmd.fromQuoted(line);
}

function render(value: Interpolation): string {
  if (value instanceof Cmd) return value.line;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return value.map(quote).join(' ');
  return quote(value as string);
}

/** Runs `cmd` as root through sudo; -n so a missing NOPASSWD rule fails instead of hanging. */
export function withSudo(cmd: Cmd): Cmd {
  return sh`sudo -n -- sh -c ${cmd.line}`;
}
