// The remote command lines of `hoist logs`, `hoist exec` and `hoist ssh -- CMD`, as data: the live
// slot's container logs, the app's job log, a one-off container of the live release, and the
// wrapper that stops a followed stream once hoist goes away. Nothing here runs anything.
import { argv, sh, type Cmd } from '../shell-quote.ts';
import { COMPOSE_ENV_FILE, COMPOSE_NAMES, composeCmd } from '../../tasks/docker-up/commands.ts';
import { projectOf, slotPaths, type Slot } from '../../tasks/docker-up/slots.ts';

/** Where cron jobs' output goes (written by the jobs' own lines; hoist only reads it). */
export const jobLogPath = (app: string): string => `apps/${app}/logs/cron.log`;

/** The names docker-up looks for when COMPOSE_FILE is not set (tasks/docker-up/commands.ts). */

export interface LogsOptions {
  app: string;
  slot: Slot;
  service: string;
  /** Last N lines; null: every line (--since without --lines). */
  lines: number | null;
  /** Anything `docker logs --since` takes: 10m, 2024-01-31T10:00:00Z, a unix time. */
  since: string | null;
  follow: boolean;
}

/**
 * `docker logs` of the service's containers in the live slot, not `compose logs`: compose v1
 * (Debian 12's) has no --since, and no compose file is needed to read a container's log. Their
 * stderr is merged into stdout so a line keeps its place; with several replicas they run side by
 * side. `docker ps -a`: a crashed container's last lines are what one looks for.
 */
export function logsCommand(o: LogsOptions): Cmd {
  const project = `label=com.docker.compose.project=${projectOf(o.app, o.slot)}`;
  const service = `label=com.docker.compose.service=${o.service}`;
  const opts = [...(o.lines === null ? [] : ['--tail', String(o.lines)]), ...(o.since ? ['--since', o.since] : []), ...(o.follow ? ['--follow'] : [])];
  const none = `no container of service ${o.service} in compose project ${projectOf(o.app, o.slot)}`;
  return sh`ids=$(docker ps -aq --filter ${project} --filter ${service}); [ -n "$ids" ] || { echo ${none} >&2; exit 3; }; for id in $ids; do docker logs ${opts} "$id" 2>&1 & done; wait`;
}

/** Whether the job log is there, as one word (present / missing). */
export function jobLogProbe(app: string): Cmd {
  const path = jobLogPath(app);
  return sh`cd && if [ -f ${path} ]; then echo present; else echo missing; fi`;
}

/** The job log's last lines; -F follows it across the rotation a logrotate would do. */
export function jobLogCommand(app: string, lines: number, follow: boolean): Cmd {
  return sh`cd && tail -n ${lines}${follow ? sh` -F` : sh``} ${jobLogPath(app)}`;
}

export interface RunOptions {
  app: string;
  slot: Slot;
  release: string;
  /** COMPOSE_FILE, or null for the first of the usual names. */
  composeFile: string | null;
  compose: 'v1' | 'v2';
  service: string;
  /** A terminal on the far end (the ssh channel has a pty): compose gives the container one. */
  tty: boolean;
  command: readonly string[];
}

/**
 * A one-off container of the live release: in its directory, with its compose file and the slot's
 * override (the release's image, its .env, its volumes and networks, no published ports), so it
 * is what the live containers are. `--no-deps`: what the service depends on already runs (the
 * live slot's services, or the app's stateful ones in APP-state, which must never be started a
 * second time inside the slot).
 *
 * With a terminal, `exec` makes compose the session's process; Ctrl-C is a key the container's
 * TTY turns into its own SIGINT. Without one, Ctrl-C reaches the host as a signal to the session's
 * process (hoist sends SSH's "signal" request), and compose is no way to pass it on: v1 (Debian
 * 12's) answers SIGINT by stopping the container (SIGTERM, SIGKILL 10 s later) and exits 1, so
 * the command never sees it. sshd signals the session's whole process group, so compose runs in
 * a session of its own (setsid -w: out of that group's reach), in the background, with a container
 * name of ours (its stdin on fd 3, since a background job's stdin is otherwise /dev/null); this
 * shell's trap hands INT to the container with `docker kill --signal INT`, waits on for compose
 * (a trapped signal ends `wait` early) and exits with its status.
 */
export function runCommand(o: RunOptions): Cmd {
  const dir = `apps/${o.app}/releases/${o.release}`;
  const names = o.composeFile ? [o.composeFile] : COMPOSE_NAMES;
  const override = `../../../../${slotPaths(o.app).override(o.slot)}`;
  const missing = `no compose file (${names.join(', ')}) in ${dir}`;
  const project = projectOf(o.app, o.slot);
  const inRelease = sh`cd && cd ${dir} && f=''; for n in ${names}; do if [ -f "$n" ]; then f=$n; break; fi; done; [ -n "$f" ] || { echo ${missing} >&2; exit 2; }; ${COMPOSE_ENV_FILE}`;
  const compose = sh`${composeCmd(o.compose)} $e -p ${project} -f "$f" -f ${override} run --rm --no-deps`;
  if (o.tty) return sh`${inRelease}; exec ${compose} ${o.service} ${o.command}`;
  return sh`${inRelease}; c=${`${project}-${o.service}-exec`}-$$; trap 'docker kill --signal INT "$c" >/dev/null 2>&1' INT; exec 3<&0; setsid -w ${compose} -T --name "$c" ${o.service} ${o.command} <&3 3<&- & p=$!; exec 3<&-; while :; do wait $p; s=$?; kill -0 $p 2>/dev/null || break; done; exit $s`;
}

/** `hoist ssh -- CMD`: the words as they were given, run from the deploy user's home. */
export function userCommand(words: readonly string[]): Cmd {
  return argv(...words);
}

/**
 * Runs `cmd` until it ends or hoist's side of the channel closes (Ctrl-C, a lost connection),
 * then stops it: closing a channel does not stop a remote process, and a `docker logs --follow`
 * of a quiet app would otherwise run on the host forever. A watcher reads the channel's stdin
 * (kept on fd 3: a background job's stdin is /dev/null) and, at its end, signals the session's
 * whole process group (sshd makes the session its own group).
 */
export function untilHoistLeaves(cmd: Cmd): Cmd {
  return sh`exec 3<&0 </dev/null
( cat <&3 >/dev/null 2>&1; kill -TERM 0 ) >/dev/null 2>&1 &
exec 3<&-
${cmd}`;
}

/** What the channel runs: `sh -c`, whatever the deploy user's login shell is. */
export function asSession(cmd: Cmd): string {
  return argv('sh', '-c', cmd.line).line;
}
