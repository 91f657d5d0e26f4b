// Docker's container logs rotated (issue #19 item 4): an app that logs every request or
// prediction must not fill a small VPS's disk. json-file (Docker's default driver) keeps every
// line forever unless daemon.json gives it `log-opts` max-size / max-file.
//
// hoist merges its two options into the host's /etc/docker/daemon.json: every other key the user
// has stays as it is, and a file that is not JSON is refused (never overwritten). The new file
// is checked with `dockerd --validate` where dockerd has it (Docker 23+; Debian 12's 20.10 has
// not: there the merge itself is the check) before it replaces the old one. dockerd reads
// log-opts only when it starts, so it restarts, but only when they changed (or a change is still
// waiting for a restart), and never while another hoist run holds a deploy lock on the host (a
// release mid-way would lose its containers for a moment). Log options apply to containers
// created after the restart: each app's next release.
import { printable } from '../../lib/printable.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { startService, waitForService } from '../../lib/distro/debian-family.ts';

export const DAEMON_JSON = '/etc/docker/daemon.json';
/**
 * Written with a new daemon.json, removed once dockerd restarted: a restart still owed (another
 * run's lock stopped it). A marker, not the file's mtime against dockerd's start: that comparison
 * missed a postponed restart on a systemd test host. After a reboot it costs one needless restart.
 */
export const RESTART_PENDING = '/etc/docker/.hoist-restart-pending';

export interface LogOptions {
  maxSize: string;
  maxFile: number;
}

export type DaemonJsonPlan =
  | { kind: 'same' }
  /** Another log driver than json-file/local is the user's choice: left alone. */
  | { kind: 'other-driver'; driver: string }
  | { kind: 'write'; content: string };

/** Thrown text when the host's daemon.json is not a JSON object: refused, with the fix. */
export class DaemonJsonError extends Error {}

/**
 * The host's daemon.json with hoist's log options merged in. `current` null: no file yet. The
 * user's keys keep their order and values; an unchanged file is left byte for byte.
 */
export function mergeDaemonJson(current: string | null, want: LogOptions): DaemonJsonPlan {
  let doc: Record<string, unknown> = {};
  if (current !== null && current.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(current);
    } catch (e) {
      throw new DaemonJsonError(`${DAEMON_JSON} on the host is not valid JSON (${printable((e as Error).message)}), so hoist cannot add its log rotation to it. Fix: correct it (\`python3 -m json.tool ${DAEMON_JSON}\` shows where it breaks; dockerd refuses to start with it as it is), or set DOCKER_LOG_MAX_SIZE=off for hoist to leave it alone`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new DaemonJsonError(`${DAEMON_JSON} on the host is JSON but not an object ({...}), which dockerd needs. Fix: correct it, or set DOCKER_LOG_MAX_SIZE=off for hoist to leave it alone`);
    }
    doc = parsed as Record<string, unknown>;
  }
  const driver = typeof doc['log-driver'] === 'string' ? (doc['log-driver'] as string) : 'json-file';
  if (driver !== 'json-file' && driver !== 'local') return { kind: 'other-driver', driver };
  const opts = typeof doc['log-opts'] === 'object' && doc['log-opts'] !== null && !Array.isArray(doc['log-opts']) ? (doc['log-opts'] as Record<string, unknown>) : {};
  // dockerd wants every log-opts value as a string.
  const merged = { ...opts, 'max-size': want.maxSize, 'max-file': String(want.maxFile) };
  if (opts['max-size'] === merged['max-size'] && opts['max-file'] === merged['max-file'] && current !== null) return { kind: 'same' };
  return { kind: 'write', content: `${JSON.stringify({ ...doc, 'log-opts': merged }, null, 2)}\n` };
}

/**
 * Puts `candidate` (already uploaded) in place of daemon.json once dockerd accepts it: with
 * `dockerd --validate` where it exists, else as is (hoist's merge kept it an object).
 */
export function installDaemonJson(candidate: string): Cmd {
  return sh`if dockerd --help 2>&1 | grep -q -- '--validate'; then out=$(dockerd --validate --config-file ${candidate} 2>&1) || { rm -f ${candidate}; echo "dockerd --validate refused the merged ${DAEMON_JSON}: $out" >&2; exit 3; }; fi; mv -f ${candidate} ${DAEMON_JSON} && touch ${RESTART_PENDING}`;
}

/**
 * Prints `lock PATH RECORD` for each hoist deploy lock on the host other than the login's own
 * (this run holds that one): another run, maybe a release mid-way, is working there.
 */
export function otherLocks(): Cmd {
  // The account this session logged in as (sudo keeps it in SUDO_USER): the task's input names
  // SSH_USER for an admin login even when DEPLOY_USER is the one that logged in, so it is read here.
  return sh`own=$(getent passwd "\${SUDO_USER:-$(id -un)}" | cut -d: -f6); getent passwd | cut -d: -f6 | sort -u | while read -r h; do [ -n "$h" ] && [ "$h" != "$own" ] && [ -L "$h/.hoist/lock" ] && printf 'lock %s %s\\n' "$h/.hoist/lock" "$(readlink "$h/.hoist/lock" | tr -d '\\n' | head -c 300)"; done; true`;
}

/** The locks otherLocks printed: where, and the holder's record as printable text. */
export function parseOtherLocks(stdout: string): { path: string; record: string }[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('lock '))
    .map((l) => {
      const [, path = '', ...rest] = l.split(' ');
      return { path, record: printable(rest.join(' ')) };
    });
}

/**
 * Restarts dockerd unless another run holds a deploy lock (checked in the same command, so no
 * release can have started in between): prints `postponed` and the locks then, else waits until
 * Docker answers again. Without systemd dockerd is stopped (bounded wait) and started as
 * bootstrap starts it.
 */
export function restartDockerUnlessLocked(): Cmd {
  return sh`held=$(${otherLocks()}); if [ -n "$held" ]; then echo postponed; printf '%s\\n' "$held"; exit 0; fi
if [ -d /run/systemd/system ]; then systemctl restart docker || exit 1
else
  for p in $(pidof dockerd); do kill -TERM "$p"; done
  i=0; while pidof dockerd >/dev/null; do i=$((i+1)); [ $i -gt 300 ] && { echo 'dockerd did not stop within 60s' >&2; exit 1; }; sleep 0.2; done
  ${startService('docker')} || exit 1
fi
${waitForService('docker')} || exit 1
i=0; until docker info >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 300 ] && { echo 'Docker did not answer within 60s of its restart' >&2; exit 1; }; sleep 0.2; done
rm -f ${RESTART_PENDING}; echo restarted`;
}

/** The log options in words, for plans and reasons. */
export const describeLogOptions = (o: LogOptions) => `json-file max-size ${o.maxSize}, max-file ${o.maxFile}`;
