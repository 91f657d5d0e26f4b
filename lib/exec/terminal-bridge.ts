// hoist's own terminal or stdin joined to a remote session. With a terminal, it becomes the remote
// pty's: raw mode (Ctrl-C, Ctrl-D and arrows are keys for the host, not signals for hoist), the
// host's bytes written as they are (this is the one raw stream lib/printable.ts leaves alone: the
// operator is in a session on the host), and the window size followed. Without one, stdin is the
// command's input, its end the command's EOF.
import type { ReadStream } from 'node:tty';
import type { ClientChannel } from 'ssh2';
import type { Pty } from './ssh-session.ts';

/** Both ends a terminal: what a session with a pty needs (ssh -t decides the same way). */
export function hasTerminal(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

export function localPty(): Pty {
  return { term: process.env.TERM || 'xterm', rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 };
}

/** Makes hoist's terminal the session's; the returned function gives it back as it was. */
export function bridgeTerminal(channel: ClientChannel): () => void {
  const stdin = process.stdin as ReadStream;
  const stdout = process.stdout;
  const onKey = (d: Buffer) => channel.write(d);
  const onOut = (d: Buffer) => stdout.write(d);
  const onErr = (d: Buffer) => process.stderr.write(d);
  const onResize = () => channel.setWindow(stdout.rows || 24, stdout.columns || 80, 0, 0);
  stdin.setRawMode(true);
  stdin.on('data', onKey);
  stdin.resume();
  channel.on('data', onOut);
  channel.stderr.on('data', onErr);
  stdout.on('resize', onResize);
  return () => {
    stdout.off('resize', onResize);
    stdin.off('data', onKey);
    stdin.setRawMode(false);
    stdin.pause();
  };
}

/** Hands hoist's stdin to the session; its end becomes the command's EOF. */
export function forwardStdin(channel: ClientChannel): () => void {
  const stdin = process.stdin;
  const onData = (d: Buffer) => channel.write(d);
  const onEnd = () => channel.end();
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  stdin.resume();
  return () => {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.pause();
  };
}
