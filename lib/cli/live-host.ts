// What logs, exec and ssh share on each host: a connection as the deploy user (its host key checked
// against KNOWN_HOSTS by the same code every command uses: SshExecutor, lib/ssh/connect.ts), the
// live release read in one round trip, and how a host's trouble is told (host first, escaped).
// Also Ctrl-C / SIGTERM while sessions run: each command decides what a stop means for its sessions.
import type { Client as SshClient } from 'ssh2';
import type { HostConfig } from '../config/load-config.ts';
import { EXIT } from '../errors.ts';
import { executorOptions } from '../exec/executor-options.ts';
import { SshExecutor } from '../exec/ssh-executor.ts';
import { liveProbe, liveRelease, type LiveVerdict } from '../live/live-release.ts';
import { printableLines } from '../printable.ts';
import { parseDockerUpFact } from '../../tasks/docker-up/probe.ts';
import type { HostArgs } from './args.ts';

export interface HostLink {
  exec: SshExecutor;
  client: SshClient;
}

/** Connects as the deploy user; the caller closes `exec`. */
export async function connectDeploy(host: HostConfig, args: Pick<HostArgs, 'acceptNew'>): Promise<HostLink> {
  const exec = new SshExecutor(executorOptions(host, 'deploy', args));
  try {
    return { exec, client: await exec.connect() };
  } catch (e) {
    await exec.close();
    throw e;
  }
}

/** The live release of the host's app (or why there is none), from docker-up's probe. */
export async function readLive(host: HostConfig, link: HostLink, service: string): Promise<LiveVerdict> {
  const s = host.settings;
  const fact = parseDockerUpFact(await link.exec.exec(liveProbe(s)), s.appName);
  return liveRelease(fact, s.appName, service, s.deployUser);
}

/** `web1: what went wrong`, on stderr; the text may quote the host, so it is escaped. */
export function tellHost(name: string, text: string, kind = ''): void {
  process.stderr.write(`${kind}${printableLines(`${name}: ${text}`)}\n`);
}

export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

export const exitCodeForStop = (s: StopSignal): number => (s === 'SIGINT' ? EXIT.sigint : s === 'SIGTERM' ? EXIT.sigterm : 129);

/** Calls `onStop` with each Ctrl-C, SIGTERM or SIGHUP and how many came so far; returns the unsubscribe. */
export function listenForStop(onStop: (signal: StopSignal, count: number) => void): () => void {
  let count = 0;
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => {
    const h = () => onStop(signal, ++count);
    process.on(signal, h);
    return [signal, h] as const;
  });
  return () => {
    for (const [signal, h] of handlers) process.off(signal, h);
  };
}
