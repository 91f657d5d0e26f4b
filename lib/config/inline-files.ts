// Keys that name a file (SSH_KEY, KNOWN_HOSTS, FORGE_KNOWN_HOSTS, APP_ENV_FILE) may hold the
// file's content instead, as a CI secret does: a private key ("-----BEGIN ..."), known_hosts
// lines, an app .env. Such a value is written to a mode-600 file in a mode-700 folder of its
// own (under RUNNER_TEMP on GitHub Actions, which the runner empties after the job, else the
// system's temp folder) and the key then names that file. The folder is removed when the
// process exits: a normal end, an error, process.exit, and Ctrl-C / SIGTERM / SIGHUP (a signal
// nobody else handles ends the process here; when the CLI handles it, its orderly exit does).
// Only SIGKILL leaves it behind: RUNNER_TEMP is then emptied by the runner.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type InlineKind = 'private-key' | 'known-hosts' | 'env-file';

/** The keys that accept content, and what content each recognises. */
export const INLINE_KEYS: Readonly<Record<string, InlineKind>> = {
  SSH_KEY: 'private-key',
  KNOWN_HOSTS: 'known-hosts',
  FORGE_KNOWN_HOSTS: 'known-hosts',
  APP_ENV_FILE: 'env-file',
};

const KNOWN_HOSTS_LINE = /^\s*(?:@(?:cert-authority|revoked)\s+)?\S+\s+(?:ssh-[a-z0-9-]+(?:@openssh\.com)?|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/]{16,}={0,3}(?:\s.*)?$/;

/**
 * True when `value` is the content a key names rather than a path: a PEM/OpenSSH private key,
 * one or more known_hosts lines, or an .env text (a line break, or KEY=value). A path holds none
 * of these shapes.
 */
export function isInlineContent(kind: InlineKind, value: string): boolean {
  if (kind === 'private-key') return value.includes('-----BEGIN ');
  const lines = value.split(/\r?\n/).filter((l) => l.trim() && !l.trim().startsWith('#'));
  if (kind === 'known-hosts') return lines.length > 0 && lines.every((l) => KNOWN_HOSTS_LINE.test(l));
  return value.includes('\n') || /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=/.test(value);
}

/**
 * True when a value of a content key may be content in a shape hoist does not read (a
 * base64-encoded key or .env from a CI secret, text with spaces) rather than a path: such a
 * value, and everything made from it (the path it resolves to), is never shown. A path is short
 * and of path characters; `+` and `=` are base64's, not a file name's. A short plain path that
 * is missing (keys/id) stays named: the person needs to see it.
 */
export function mayBeContent(value: string): boolean {
  return value.length > 100 || /\s/.test(value.trim()) || /[+=]/.test(value);
}

/** A CI secret pasted with Windows line ends or without the final newline still parses. */
export function normalizeContent(value: string): string {
  const text = value.replace(/\r\n/g, '\n');
  return text.endsWith('\n') ? text : `${text}\n`;
}

let folder: string | null = null;
let hooked = false;

/** Writes `content` for `key` (mode 600) and returns the file's path; removed at exit. */
export function writeInlineFile(key: string, content: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!folder) {
    folder = mkdtempSync(join(env.RUNNER_TEMP || tmpdir(), 'hoist-inline-'));
    hookExit();
  }
  // Named by content too: SSH_KEY may differ per host, and one file per key would let the last
  // host's content replace another's.
  const path = join(folder, `${key.toLowerCase()}-${createHash('sha256').update(content).digest('hex').slice(0, 16)}`);
  writeFileSync(path, normalizeContent(content), { mode: 0o600 });
  return path;
}

/** The folder holding this process's inline files (tests), or null if none was written. */
export function inlineFolder(): string | null {
  return folder;
}

/** Removes the inline files now (also done at exit). */
export function removeInlineFiles(): void {
  if (!folder) return;
  try {
    rmSync(folder, { recursive: true, force: true });
  } catch {
    // nothing more can be done at exit; the folder is mode 700 under a temp folder
  }
  folder = null;
}

const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', removeInlineFiles);
  for (const [signal, code] of Object.entries(SIGNAL_EXIT)) {
    // Alone, this listener would keep the process alive on a signal: when it is the only one,
    // it does what the default would (end the process), after removing the files. When the CLI
    // listens too (a run: finish the step in flight, roll back, free locks), the CLI decides,
    // and its exit removes them.
    process.on(signal, () => {
      if (process.listenerCount(signal) > 1) return;
      removeInlineFiles();
      process.exit(code);
    });
  }
}
