// Every error hoist raises on purpose has a class here, so the engine can decide two things
// without string matching at the call site: is it worth retrying, and which exit code it means.
// Every message is made with the known secret values hidden (lib/secrets/redact.ts): they often
// carry remote output (a command's stderr, a failed release's log tail) that hoist does not control.
import { printable } from './printable.ts';
import { redact } from './secrets/redact.ts';

/** starting: `hoist status` found nothing wrong but health checks that have not passed yet (with --wait: when its time ran out). */
export const EXIT = { ok: 0, taskFailed: 1, usage: 2, starting: 3, sigint: 130, sigterm: 143 } as const;

export class HoistError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(redact(message ?? ''), options);
  }
  /** Safe to try the same step again after a pause. */
  get transient(): boolean {
    return false;
  }
}

/** Bad configuration or arguments: found before connecting anywhere, exit 2, never retried. */
export class ConfigError extends HoistError {
  constructor(
    readonly key: string,
    readonly value: string | undefined,
    readonly problem: string,
    readonly fix: string,
    readonly source?: string,
  ) {
    const where = source ? ` in ${source}` : '';
    const subject = value === undefined ? `${key}${where}` : `${key}=${printable(JSON.stringify(value))}${where}:`;
    super(`${subject} ${problem}. Fix: ${fix}`);
  }
}

/** Command-line usage mistakes (unknown flag, unknown pipeline): exit 2. */
export class UsageError extends HoistError {}

export class ConnectionLostError extends HoistError {
  override get transient(): boolean {
    return true;
  }
}

/** An error whose thrower knows whether it may pass by itself (a timeout) or not (no such host). */
export class MaybePassingError extends HoistError {
  constructor(
    message: string,
    private readonly worthRetrying: boolean,
  ) {
    super(message);
  }
  override get transient(): boolean {
    return this.worthRetrying;
  }
}

export class ConnectError extends MaybePassingError {}

/** The server rejected our key: retrying cannot help, and hammering it may get us banned. */
export class AuthError extends HoistError {}

export class HostKeyError extends HoistError {}

export class CommandTimeoutError extends HoistError {}

export class RemoteCommandError extends HoistError {
  constructor(
    readonly what: string,
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`${what} failed (exit ${code})${stderr.trim() ? `: ${lastLines(stderr, 5)}` : ''}`);
  }
  /** Another package manager run holding the dpkg lock goes away by itself. */
  override get transient(): boolean {
    return DPKG_LOCK.test(this.stderr);
  }
}

const DPKG_LOCK = /Could not get lock|dpkg frontend lock|Unable to acquire the dpkg/;

export class VerifyError extends HoistError {}

/** Another run holds the host's deploy lock: fail fast, never retried (it would only wait). */
export class LockHeldError extends HoistError {}

/** Ctrl-C or SIGTERM arrived: no new step starts, the host is rolled back. */
export class InterruptedError extends HoistError {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${signal}: stopped before the next step`);
  }
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

export function isTransient(error: unknown): boolean {
  return error instanceof HoistError && error.transient;
}

export function exitCodeFor(error: unknown): number {
  return error instanceof ConfigError || error instanceof UsageError ? EXIT.usage : EXIT.taskFailed;
}
