// One streaming command (or login shell) on a host's verified SSH connection: its output handed
// over as it comes, its input open, optionally on a pseudo-terminal. SshExecutor.exec collects a
// command's output and bounds its time, which suits a task's step; a followed log, a one-off
// container or a shell has no end hoist knows in advance.
import { constants } from 'node:os';
import type { Client as SshClient, ClientChannel } from 'ssh2';

export interface Pty {
  term: string;
  rows: number;
  cols: number;
}

export interface SessionEnd {
  /** The remote command's exit status; null when it died of a signal or none came (channel closed, connection lost). */
  code: number | null;
  /** The signal it died of, without the SIG prefix (INT), as the protocol names it. */
  signal: string | null;
}

export interface RemoteSession {
  readonly channel: ClientChannel;
  /** Settles when the channel is closed, by either side or with the connection. */
  readonly ended: Promise<SessionEnd>;
}

/**
 * Opens `line` (null: the login shell) on `client`, with a pty when `pty` is given. The caller
 * wires stdin/stdout (see terminal-bridge.ts, line-output.ts) and closes the client.
 */
export function openSession(client: SshClient, line: string | null, pty: Pty | null): Promise<RemoteSession> {
  return new Promise((resolve, reject) => {
    const opened = (err: Error | undefined, channel: ClientChannel) => {
      if (err) return reject(err);
      resolve({ channel, ended: endOf(client, channel) });
    };
    const window = pty ? { term: pty.term, rows: pty.rows, cols: pty.cols } : false;
    if (line === null) client.shell(window, opened);
    else if (window) client.exec(line, { pty: window }, opened);
    else client.exec(line, opened);
  });
}

function endOf(client: SshClient, channel: ClientChannel): Promise<SessionEnd> {
  return new Promise((resolve) => {
    const end: SessionEnd = { code: null, signal: null };
    const done = () => {
      client.removeListener('close', done);
      resolve(end);
    };
    channel.on('exit', (code: number | null, signal?: string) => {
      end.code = typeof code === 'number' ? code : null;
      // ssh2 names it with the prefix (SIGINT); the protocol and exitCodeOf without (INT).
      end.signal = signal ? signal.replace(/^SIG/, '') : null;
    });
    channel.on('close', done);
    // ssh2 may not close a channel whose connection went away: settle with the connection too.
    client.once('close', done);
  });
}

/** The exit code a shell gives for `end`: the status, 128 + the signal's number, or 255 for none (as ssh does). */
export function exitCodeOf(end: SessionEnd): number {
  if (end.code !== null) return end.code;
  if (end.signal) {
    const n = (constants.signals as Record<string, number>)[`SIG${end.signal.replace(/^SIG/, '')}`];
    if (n) return 128 + n;
  }
  return 255;
}
