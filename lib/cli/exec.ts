// `hoist exec -- CMD`: CMD in a one-off container of the live release (compose `run --rm` with the
// release's compose file and its slot's override: lib/live/commands.ts runCommand). One host: on
// a real terminal when hoist has one (pty over SSH, compose gives the container a TTY), stdin
// forwarded, and hoist exits with CMD's status. Several hosts: CMD runs on each (--concurrency at
// a time) without a terminal or stdin, lines prefixed with the host, exit 1 if any failed (named).
import type { HostConfig } from '../config/load-config.ts';
import { EXIT } from '../errors.ts';
import { exitCodeOf, openSession, type SessionEnd } from '../exec/ssh-session.ts';
import { bridgeTerminal, forwardStdin, hasTerminal, localPty } from '../exec/terminal-bridge.ts';
import { asSession, runCommand } from '../live/commands.ts';
import { hostPrefixes, LineOutput } from '../live/line-output.ts';
import { notRunning } from '../live/live-release.ts';
import type { ExecArgs } from './args.ts';
import { connectDeploy, exitCodeForStop, listenForStop, readLive, tellHost, type StopSignal } from './live-host.ts';
import { mapLimit } from './map-limit.ts';
import { loadSelectedConfig } from './select-hosts.ts';

/** What became of CMD on one host: its exit status, or why it did not run (said already). */
type Outcome = { code: number; notRun?: string };

interface Controls {
  /** First Ctrl-C: sent to CMD over SSH. Later ones: the channel is closed. Returns the unsubscribe. */
  onStop(fn: (count: number) => void): () => void;
}

export async function runExec(args: ExecArgs): Promise<number> {
  const config = loadSelectedConfig(args);
  const one = config.hosts.length === 1;
  const stoppers = new Set<(count: number) => void>();
  let stopped: StopSignal | null = null;
  let stops = 0;
  const stopListening = listenForStop((signal, count) => {
    stopped ??= signal;
    stops = count;
    if (count === 1) process.stderr.write(`\nhoist: ${signal}: passed to the command${one ? '' : ' on every host'}; ${signal} again closes the session${one ? '' : 's'}\n`);
    for (const stop of stoppers) stop(count);
  });
  const controls: Controls = {
    onStop(fn) {
      stoppers.add(fn);
      if (stops) fn(stops);
      return () => stoppers.delete(fn);
    },
  };
  try {
    if (one) {
      const o = await execOn(config.hosts[0]!, args, { tty: hasTerminal(), stdin: true, prefix: '' }, controls);
      return stops > 1 && stopped ? exitCodeForStop(stopped) : o.code;
    }
    const prefixes = hostPrefixes(config.hosts.map((h) => h.name));
    const outcomes = await mapLimit(config.hosts, args.concurrency, (host) =>
      stops > 1 ? Promise.resolve({ code: 1, notRun: 'stopped' }) : execOn(host, args, { tty: false, stdin: false, prefix: prefixes.get(host.name)! }, controls),
    );
    if (stops > 1 && stopped) return exitCodeForStop(stopped);
    const failed = config.hosts.map((h, i) => [h.name, outcomes[i]!] as const).filter(([, o]) => o.code !== 0);
    if (!failed.length) return EXIT.ok;
    const words = failed.map(([name, o]) => (o.notRun ? `${name} (not run: ${o.notRun})` : `${name} (exit ${o.code})`));
    process.stderr.write(`hoist exec: failed on ${failed.length} of ${config.hosts.length} hosts: ${words.join(', ')}\n`);
    return EXIT.taskFailed;
  } finally {
    stopListening();
  }
}

async function execOn(host: HostConfig, args: ExecArgs, how: { tty: boolean; stdin: boolean; prefix: string }, controls: Controls): Promise<Outcome> {
  const s = host.settings;
  const service = args.service ?? s.appService;
  let link;
  try {
    link = await connectDeploy(host, args);
  } catch (e) {
    tellHost(host.name, (e as Error).message);
    return { code: EXIT.taskFailed, notRun: 'could not connect' };
  }
  try {
    const verdict = await readLive(host, link, service);
    const problem = verdict.problem ?? notRunning(verdict.live, s.appName);
    if (problem) {
      tellHost(host.name, problem);
      return { code: EXIT.taskFailed, notRun: 'no release live' };
    }
    const live = verdict.live!;
    if (live.compose === 'none') {
      tellHost(host.name, 'neither docker compose nor docker-compose is installed. Fix: `hoist run bootstrap` installs it');
      return { code: EXIT.taskFailed, notRun: 'no compose' };
    }
    const cmd = runCommand({ app: s.appName, slot: live.slot, release: live.release, composeFile: s.composeFile ?? null, compose: live.compose, service, tty: how.tty, command: args.words });
    const session = await openSession(link.client, asSession(cmd), how.tty ? localPty() : null);
    const { channel } = session;
    let release: () => void;
    let flush = () => {};
    if (how.tty) release = bridgeTerminal(channel);
    else {
      const out = new LineOutput(process.stdout, how.prefix);
      const err = new LineOutput(process.stderr, how.prefix);
      channel.on('data', (d: Buffer) => out.write(d));
      channel.stderr.on('data', (d: Buffer) => err.write(d));
      flush = () => {
        out.end();
        err.end();
      };
      if (how.stdin) release = forwardStdin(channel);
      else {
        channel.end();
        release = () => {};
      }
    }
    const unsubscribe = controls.onStop((count) => {
      // With a terminal, Ctrl-C is a key for the host (raw mode): a signal here came from elsewhere.
      if (count === 1 && !how.tty) channel.signal('INT');
      else channel.close();
    });
    let end: SessionEnd;
    try {
      end = await session.ended;
    } finally {
      unsubscribe();
      release();
      flush();
    }
    if (end.code === null && end.signal === null) tellHost(host.name, 'the session ended without an exit status (connection lost or closed)');
    return { code: exitCodeOf(end) };
  } catch (e) {
    tellHost(host.name, (e as Error).message);
    return { code: EXIT.taskFailed, notRun: 'error' };
  } finally {
    await link.exec.close();
  }
}
