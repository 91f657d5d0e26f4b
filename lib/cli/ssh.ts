// `hoist ssh [-- CMD]`: a login shell (or CMD) as the deploy user on one host. hoist's own ssh2
// connection, not the system `ssh`: the host key is checked by the code every other command uses
// (hashed known_hosts entries, --accept-new, the same refusal with both fingerprints), SSH_JUMP and
// SSH_KEY_PASSPHRASE work as they do for a run, and no `ssh` binary or agent is needed. A pty when
// hoist has a terminal; the window size follows it. Exit status: the shell's or CMD's.
import { UsageError } from '../errors.ts';
import { exitCodeOf, openSession, type SessionEnd } from '../exec/ssh-session.ts';
import { bridgeTerminal, forwardStdin, hasTerminal, localPty } from '../exec/terminal-bridge.ts';
import { userCommand } from '../live/commands.ts';
import { LineOutput } from '../live/line-output.ts';
import { printable } from '../printable.ts';
import type { SshArgs } from './args.ts';
import { connectDeploy, listenForStop, readLive, tellHost } from './live-host.ts';
import { loadSelectedConfig } from './select-hosts.ts';

export async function runSsh(args: SshArgs): Promise<number> {
  const config = loadSelectedConfig(args);
  if (config.hosts.length !== 1) {
    const names = config.hosts.map((h) => printable(h.name));
    throw new UsageError(`"hoist ssh" opens one host; ${names.length} are selected (${names.join(', ')}). Fix: hoist ssh --hosts ${names[0]}`);
  }
  const host = config.hosts[0]!;
  const link = await connectDeploy(host, args);
  try {
    // A shell is how one looks at a host without a release too: say so, and open it anyway.
    try {
      const verdict = await readLive(host, link, host.settings.appService);
      if (verdict.problem) tellHost(host.name, verdict.problem, 'note: ');
    } catch (e) {
      tellHost(host.name, `could not tell which release is live: ${(e as Error).message}`, 'note: ');
    }
    const tty = hasTerminal();
    const line = args.words.length ? userCommand(args.words).line : null;
    const session = await openSession(link.client, line, tty ? localPty() : null);
    const { channel } = session;
    let release: () => void;
    let flush = () => {};
    if (tty) release = bridgeTerminal(channel);
    else {
      const out = new LineOutput(process.stdout);
      const err = new LineOutput(process.stderr);
      channel.on('data', (d: Buffer) => out.write(d));
      channel.stderr.on('data', (d: Buffer) => err.write(d));
      flush = () => {
        out.end();
        err.end();
      };
      release = forwardStdin(channel);
    }
    // Without a terminal Ctrl-C reaches hoist, not the host: pass it on once, then close.
    const stopListening = listenForStop((_signal, count) => {
      if (count === 1 && !tty) channel.signal('INT');
      else channel.close();
    });
    let end: SessionEnd;
    try {
      end = await session.ended;
    } finally {
      stopListening();
      release();
      flush();
    }
    if (end.code === null && end.signal === null) tellHost(host.name, 'the session ended without an exit status (connection lost or closed)');
    return exitCodeOf(end);
  } finally {
    await link.exec.close();
  }
}
