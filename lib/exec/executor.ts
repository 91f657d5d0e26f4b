// The one interface every task talks to a host through. Tasks never see ssh2: the SSH executor
// runs commands for real, the recording one answers from a script for unit tests.
import { RemoteCommandError } from '../errors.ts';
import type { Cmd } from '../shell-quote.ts';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /**
   * Sent on the command's standard input: how secrets and file contents travel, never argv. A
   * stream (an image layer of GBs, lib/ship/) is piped as it is read, with backpressure.
   */
  stdin?: string | Buffer | NodeJS.ReadableStream;
  /** Run as root through `sudo -n` (no-op when logged in as root). */
  sudo?: boolean;
  timeoutMs?: number;
}

export interface UploadOptions {
  /** File mode, e.g. 0o600. Applied before the file appears at its path. */
  mode: number;
  /** user or user:group to own the file; needs sudo unless it is the login user. */
  owner?: string;
  sudo?: boolean;
}

export interface Executor {
  /** user@host:port, for messages. */
  readonly label: string;
  exec(cmd: Cmd, opts?: ExecOptions): Promise<ExecResult>;
  /** Writes a file atomically: a temporary file beside it, then a rename. */
  upload(path: string, content: string | Buffer, opts: UploadOptions): Promise<void>;
  close(): Promise<void>;
}

/** Runs `cmd` and returns stdout, or throws naming `what` failed with its stderr. */
export async function runChecked(exec: Executor, cmd: Cmd, what: string, opts?: ExecOptions): Promise<string> {
  const r = await exec.exec(cmd, opts);
  if (r.code !== 0) throw new RemoteCommandError(`${what} on ${exec.label}`, r.code, r.stderr);
  return r.stdout;
}
