// Scheduled jobs that run in the app's own environment, like `dokku run`: a crontab line whose
// command starts with `hoist-run` runs the rest in a one-off container of the live release (its
// image, its .env, its volumes), through a small script hoist keeps at ~/apps/APP/bin/hoist-run.
// The script reads the live slot and release when the job starts, so the same line follows every
// release and rollback; each job's output and exit status go to ~/apps/APP/logs/cron.log
// (`hoist logs --jobs`). Lines without the word stay plain host jobs.
import { createHash } from 'node:crypto';
import { quote } from '../../lib/shell-quote.ts';
import { COMPOSE_ENV_FILE, COMPOSE_NAMES } from '../docker-up/commands.ts';

/** The word a job's command starts with to run in the app's container. */
export const APP_RUN_WORD = 'hoist-run';

/** The runner and the job log, relative to the deploy user's home. */
export const runnerPath = (app: string): string => `apps/${app}/bin/hoist-run`;
export const jobLogPath = (app: string): string => `apps/${app}/logs/cron.log`;

/** The job log is cut back to its last MiB once it passes 5 MiB: a small VPS keeps its disk. */
const LOG_MAX_BYTES = 5 * 1024 * 1024;
const LOG_KEEP_BYTES = 1024 * 1024;


// `m h dom mon dow command` or `@daily command`: the command is what follows the schedule.
const JOB = /^(\s*(?:@\w+|\S+\s+\S+\s+\S+\s+\S+\s+\S+)\s+)(.*)$/;

/** A job line's command, or null for comments, blank lines and VAR=value lines. */
export function commandOf(line: string): { schedule: string; command: string } | null {
  const body = line.trimStart();
  if (body === '' || body.startsWith('#') || /^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(body)) return null;
  const m = JOB.exec(line);
  return m ? { schedule: m[1]!, command: m[2]! } : null;
}

const startsWithRunWord = (command: string) => command === APP_RUN_WORD || command.startsWith(`${APP_RUN_WORD} `) || command.startsWith(`${APP_RUN_WORD}\t`);

/** Does any job of `entries` run in the app's container? */
export function usesAppRun(entries: readonly string[]): boolean {
  return entries.some((line) => {
    const job = commandOf(line);
    return job !== null && startsWithRunWord(job.command);
  });
}

/**
 * Jobs that are `hoist-run` alone: it would start the service's own command (the web server) in
 * a container that never ends, a new one every time the job comes round.
 */
export function bareAppRunLines(entries: readonly string[]): string[] {
  return entries.filter((line) => commandOf(line)?.command.trim() === APP_RUN_WORD);
}

/** The lines as installed: `hoist-run …` becomes the app's runner (cron's sh expands $HOME). */
export function withAppRunner(entries: readonly string[], app: string): string[] {
  return entries.map((line) => {
    const job = commandOf(line);
    if (!job || !startsWithRunWord(job.command)) return line;
    return `${job.schedule}"$HOME"/${runnerPath(app)}${job.command.slice(APP_RUN_WORD.length)}`;
  });
}

export interface RunnerInput {
  app: string;
  service: string;
  /** COMPOSE_FILE, or null for the usual names. */
  composeFile: string | null;
}

/** The runner script: what it runs is fixed here; only the job's own words come at run time. */
export function runnerScript(r: RunnerInput): string {
  const names = (r.composeFile ? [r.composeFile] : COMPOSE_NAMES).map(quote).join(' ');
  return `#!/bin/sh
# Written by hoist; do not edit (every release that installs jobs rewrites it).
# Runs "$@" in a one-off container of ${r.app}'s live release: the live slot's compose project, the
# release's image, .env and volumes (--no-deps: what it needs already runs; a stateful service is
# never started a second time). Output and exit status go to ~/${jobLogPath(r.app)}.
set -u
# The log holds the app's output: only the deploy user reads it.
umask 077
app=${quote(r.app)}
service=${quote(r.service)}
root="$HOME/apps/$app"
log="$root/logs/cron.log"
mkdir -p "$root/logs"
if [ -f "$log" ] && [ "$(wc -c < "$log")" -gt ${LOG_MAX_BYTES} ]; then
  tail -c ${LOG_KEEP_BYTES} "$log" > "$log.tmp" && mv -f "$log.tmp" "$log"
fi
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
say() { printf '%s %s\\n' "$(stamp)" "$*" >> "$log"; }
slot=$(head -n 1 "$root/active-slot" 2>/dev/null)
release=$(readlink "$root/current" 2>/dev/null); release=\${release##*/}
case "$slot" in blue|green) ;; *) say "job not run, no live release of $app (no active slot): $*"; exit 1;; esac
case "$release" in [0-9]*-*) ;; *) say "job not run, no live release of $app (no current): $*"; exit 1;; esac
# The release's own folder, as docker-up started it (compose names its project folder by it).
cd "$root/releases/$release" || { say "job not run, release $release is not on this host: $*"; exit 1; }
f=''; for n in ${names}; do if [ -f "$n" ]; then f=$n; break; fi; done
[ -n "$f" ] || { say "job not run, no compose file in release $release: $*"; exit 1; }
${COMPOSE_ENV_FILE}
if docker compose version >/dev/null 2>&1; then compose="docker compose"; else compose=docker-compose; fi
say "job start, release $release on $slot: $*"
$compose $e -p "$app-$slot" -f "$f" -f "$root/slots/$slot.yaml" run --rm --no-deps -T "$service" "$@" >> "$log" 2>&1
rc=$?
say "job end, release $release, exit $rc: $*"
exit $rc
`;
}

export const runnerSha256 = (script: string): string => createHash('sha256').update(script).digest('hex');
