// `hoist logs`: the live release's logs from every selected host at once: the last 100 lines of
// the app service's containers in the live slot (or those since --since), then, with --follow,
// new lines as they come until Ctrl-C closes every channel (the host stops its `docker logs`:
// lib/live/commands.ts untilHoistLeaves). `--jobs` shows the app's job log instead. Each line
// is prefixed with its host when several are selected; exit 1 when a host had no logs to give.
import type { HostConfig } from '../config/load-config.ts';
import { EXIT } from '../errors.ts';
import { openSession } from '../exec/ssh-session.ts';
import { asSession, jobLogCommand, jobLogPath, jobLogProbe, logsCommand, untilHoistLeaves } from '../live/commands.ts';
import { hostPrefixes, LineOutput } from '../live/line-output.ts';
import { unknownService } from '../live/live-release.ts';
import type { Cmd } from '../shell-quote.ts';
import type { LogsArgs } from './args.ts';
import { connectDeploy, exitCodeForStop, listenForStop, readLive, tellHost, type StopSignal } from './live-host.ts';
import { loadSelectedConfig } from './select-hosts.ts';

const DEFAULT_LINES = 100;
/** How long a stopped session may take to close before its connection is dropped. */
const CLOSE_GRACE_MS = 2000;

export async function runLogs(args: LogsArgs): Promise<number> {
  const config = loadSelectedConfig(args);
  const prefixes = hostPrefixes(config.hosts.map((h) => h.name));
  const several = config.hosts.length > 1;
  const stoppers = new Set<() => void>();
  let stopped: StopSignal | null = null;
  const stopListening = listenForStop((signal) => {
    stopped ??= signal;
    for (const stop of stoppers) stop();
  });
  let results: boolean[];
  try {
    // Every host at once, not --concurrency at a time: a followed host never finishes.
    results = await Promise.all(
      config.hosts.map((host) =>
        logsOf(host, args, several ? prefixes.get(host.name)! : '', (stop) => {
          stoppers.add(stop);
          if (stopped) stop();
        }),
      ),
    );
  } finally {
    stopListening();
  }
  if (stopped) return exitCodeForStop(stopped);
  return results.every(Boolean) ? EXIT.ok : EXIT.taskFailed;
}

/** One host's logs; false when it had none to give (said on stderr). */
async function logsOf(host: HostConfig, args: LogsArgs, prefix: string, onStop: (stop: () => void) => void): Promise<boolean> {
  const s = host.settings;
  let link;
  try {
    link = await connectDeploy(host, args);
  } catch (e) {
    tellHost(host.name, (e as Error).message);
    return false;
  }
  try {
    let cmd: Cmd;
    if (args.jobs) {
      const there = (await link.exec.exec(jobLogProbe(s.appName))).stdout.trim();
      if (there !== 'present') {
        tellHost(host.name, `no job log yet: ~/${jobLogPath(s.appName)} does not exist (cron jobs write it once their crontab lines send their output there)`);
        return false;
      }
      cmd = jobLogCommand(s.appName, args.lines ?? DEFAULT_LINES, args.follow);
    } else {
      const service = args.service ?? s.appService;
      const verdict = await readLive(host, link, service);
      const problem = verdict.problem ?? unknownService(verdict.live, service);
      if (problem) {
        tellHost(host.name, problem);
        return false;
      }
      const live = verdict.live!;
      if (live.running === 0) tellHost(host.name, `the ${live.slot} slot's containers are not running (${[...new Set(live.states)].join(', ')}); these are their last lines`, 'note: ');
      const lines = args.lines ?? (args.since ? null : DEFAULT_LINES);
      cmd = logsCommand({ app: s.appName, slot: live.slot, service, lines, since: args.since ?? null, follow: args.follow });
    }
    const session = await openSession(link.client, asSession(args.follow ? untilHoistLeaves(cmd) : cmd), null);
    const out = new LineOutput(process.stdout, prefix);
    const err = new LineOutput(process.stderr, prefix);
    session.channel.on('data', (d: Buffer) => out.write(d));
    session.channel.stderr.on('data', (d: Buffer) => err.write(d));
    // A followed stream runs until hoist's side closes: the host watches for that on stdin.
    if (!args.follow) session.channel.end();
    let stopping = false;
    onStop(() => {
      stopping = true;
      session.channel.close();
      setTimeout(() => void link.exec.close(), CLOSE_GRACE_MS).unref();
    });
    const end = await session.ended;
    out.end();
    err.end();
    if (stopping) return true;
    if (end.code === 0) return true;
    tellHost(host.name, end.code === null ? 'the connection ended before the logs did' : `reading the logs failed (exit ${end.code})`);
    return false;
  } catch (e) {
    tellHost(host.name, (e as Error).message);
    return false;
  } finally {
    await link.exec.close();
  }
}
