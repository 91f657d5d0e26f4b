// The per-host deploy lock: a symlink at ~/.hoist/lock whose target is a one-line JSON record of
// the holder. Creating a symlink is atomic and fails if one exists, so two runs can never both
// take it, and the record is written in the same step (no window where a lock has no owner).
// The same round trip reads where the app's `current` points, for the summary's "release
// before", and runs the first task's probe once the lock is ours (no other hoist run can change
// the host then): a no-op run pays no round trip for the lock. Releasing the lock appends the run's
// line to the host's audit log and reads `current` again.
import { LockHeldError } from '../errors.ts';
import type { ExecResult } from '../exec/executor.ts';
import { joinLines, readLinkOnce } from '../release/host-value.ts';
import { sharedReadCommand, statLine, type SharedReads } from '../exec/shared-reads.ts';
import { sh, type Cmd } from '../shell-quote.ts';
import { thisMachine } from './lock-takeover.ts';

/** Who holds the lock and for what: shown to the next run that finds it taken. */
export interface LockInfo {
  who: string;
  run: string;
  pipeline: string;
  revision: string | null;
  since: string;
  /** The holder's process on its machine: a lock whose process died here can be taken over. */
  pid?: number;
}

/** A lock older than this is called possibly stale in the message (a release rarely takes it). */
const STALE_AFTER_MS = 60 * 60_000;

export function newLockInfo(run: string, pipeline: string, revision: string | null, now = new Date()): LockInfo {
  return { who: thisMachine(), run, pipeline, revision, since: now.toISOString(), pid: process.pid };
}

export interface LockProbe {
  /** Null: this run now holds the lock (or a peek found it free). */
  heldBy: LockInfo | null;
  /** The holder's record exactly as the link holds it (a takeover names it to remove it). */
  heldRaw: string | null;
  /** Where `current` pointed (its last path part), null when there is none. */
  current: string | null;
  /** The audit log's mode as the lock's round trip saw it (`600`), '' when there is none; null: not read. */
  auditMode: string | null;
  /** What each carried command answered, as if run on its own, in order; null if they did not run. */
  then: ExecResult[] | null;
}

/**
 * Commands sent in the lock's round trip, each run in a subshell of its own (its `cd` and `exit`
 * stay inside), one after another. Each one's output, its stderr and its exit status are framed by
 * `marker` lines (`marker.N` for the Nth), so each reads back exactly as if it had been sent
 * alone; the marker is random per run, which no command's output can guess.
 */
export interface CarriedCommands {
  commands: Cmd[];
  marker: string;
  /** What the commands read through the round trip's shared stat and sha256sum (lib/exec/shared-reads.ts). */
  reads?: SharedReads;
}

/**
 * Takes the lock and reads the current release, in one round trip; then, only if the lock is
 * ours, runs the carried commands. Retrying is safe: a second attempt finds our own record and counts it ours.
 * With `takeOver` (a dead holder's record, see lock-takeover.ts), that lock is removed first if
 * it is still the one there; `mkdir` makes the look-and-remove one step, so two runs taking over
 * at once cannot both remove a lock (the second would remove the first's fresh one).
 */
export function acquireCommand(info: LockInfo, releaseLink: string | null, then?: CarriedCommands, takeOver?: string): Cmd {
  const record = JSON.stringify(info);
  const removeDead = takeOver
    ? sh`if mkdir .hoist/takeover 2>/dev/null; then [ "$(readlink .hoist/lock)" != ${takeOver} ] || rm -f .hoist/lock; rmdir .hoist/takeover; fi; `
    : sh``;
  // The folder's mode, the audit log's and where `current` points come from the round trip's one
  // shared stat (issue #20: install -d and a readlink were a process each); a folder that is
  // not 700 is put right here, an audit log that is not 600 when the lock is freed (auditMode).
  const reads = sharedReadCommand([sh`.hoist`, sh`.hoist/audit.log`, ...(releaseLink ? [sh`${releaseLink}`] : [])], then?.reads ?? {});
  const current = releaseLink ? linkFromStat(releaseLink) : sh`echo 'current '`;
  return sh`cd && { [ -d .hoist ] || mkdir -m 700 .hoist || exit 1; }; ${removeDead}if ln -s ${record} .hoist/lock 2>/dev/null || [ "$(readlink .hoist/lock)" = ${record} ]; then echo 'lock ours'; ours=1; else printf 'lock held %s\\n' "$(readlink .hoist/lock)"; ours=; fi; ${reads}; nl='
'; st="$nl$hoist_stat$nl"; case $st in *"$nl\\".hoist\\" 700 "*) ;; *) chmod 700 .hoist;; esac; ${statLine('a', sh`.hoist/audit.log`)}; printf 'audit %s\\n' "\${a%% *}"; ${current}${then?.commands.length ? sh`; if [ -n "$ours" ]; then ${carried(then)}; fi` : sh``}`;
}

/** `current`'s target from the shared stat's line, into the variable the probes read it from (host-value.ts). */
function linkFromStat(releaseLink: string): Cmd {
  const once = readLinkOnce(releaseLink);
  return sh`p=${releaseLink}; case $st in *"$nl\\"$p\\" -> \\""*) x=\${st#*"$nl\\"$p\\" -> \\""}; x=\${x%%"$nl"*}; x=\${x%\\"*};; *) x=;; esac; ${once.variable}=$x; printf 'current %.512s\\n' ${once.value}`;
}

/** Reads the lock and the current release without taking anything (dry run, status); runs the carried commands too. */
export function peekCommand(releaseLink: string | null, then?: CarriedCommands): Cmd {
  return sh`cd && if [ -L .hoist/lock ]; then printf 'lock held %s\\n' "$(readlink .hoist/lock)"; else echo 'lock free'; fi; ${readCurrent(releaseLink)}${then?.commands.length ? sh`; ${carried(then)}` : sh``}`;
}

/**
 * Each command's stdout goes straight out (fd 3); its stderr is caught in `e` and its exit status
 * is the command substitution's own. The substitution is the command's one subshell (its `cd`,
 * `exit` and variables stay inside): a `.` is written after the stderr by an EXIT trap (so no
 * trailing newline is lost, whether the command ends or calls `exit`), to fd 4, the
 * substitution's own output, as fd 1 may still be redirected when `exit` runs. One process per
 * carried command (before: a subshell inside the substitution, two; issue #20 counts them). So a
 * carried command must not set an EXIT trap of its own (no probe does).
 * Written framed: `M.N` / stdout / `M.N STATUS` / stderr / `M.N.end`. The command ends on its own
 * line before the `}`, so a last line that is a comment or a heredoc cannot swallow it.
 */
function carried(then: CarriedCommands): Cmd {
  const one = (command: Cmd, i: number) => {
    const m = `${then.marker}.${i}`;
    return sh`echo ${m}; { e=$(exec 4>&1; trap 'r=$?; printf . >&4; exit $r' EXIT; { ${command}
} 2>&1 1>&3 3>&-); s=$?; } 3>&1; e=\${e%.}; printf '\\n%s %s\\n%s\\n%s.end\\n' ${m} "$s" "$e" ${m}`;
  };
  return sh`${then.commands.map(one).reduce((all, c) => sh`${all}; ${c}`)}`;
}

/**
 * Frees the lock if it is still ours (`hoist unlock` may have freed it and another run taken
 * it since), appends the audit line, and reads the current release after the run.
 */
export function releaseCommand(info: LockInfo, auditLine: string, releaseLink: string | null, auditMode: string | null = null): Cmd {
  // The lock's and `current`'s targets from ONE readlink (issue #20): it prints them in order,
  // leaving out what is not a link, so the lock's is the first line only when the lock is a link.
  // The audit log gets mode 600 unless the lock's round trip saw it has that already.
  const chmod = auditMode === '600' ? sh`` : sh` && chmod 600 .hoist/audit.log`;
  const links = releaseLink ? sh`.hoist/lock ${releaseLink}` : sh`.hoist/lock`;
  return sh`cd && lk=; [ ! -L .hoist/lock ] || lk=1; nl='
'; x=$(readlink -- ${links} 2>/dev/null); own=; if [ -n "$lk" ]; then own=\${x%%"$nl"*}; x=\${x#"$own"}; x=\${x#"$nl"}; fi; { [ "$own" != ${JSON.stringify(info)} ] || rm -f .hoist/lock; } && printf '%s\\n' ${auditLine} >> .hoist/audit.log${chmod}; ${releaseLink ? sh`l=$x; ${joinLines}; printf 'current %.512s\\n' "$l"` : sh`echo 'current '`}`;
}

/** `hoist unlock`: frees whatever lock there is, says whose it was, and logs that it did. */
export function breakCommand(auditLine: string): Cmd {
  return sh`cd && rmdir .hoist/takeover 2>/dev/null; if [ -L .hoist/lock ]; then printf 'lock held %s\\n' "$(readlink .hoist/lock)"; rm -f .hoist/lock && printf '%s\\n' ${auditLine} >> .hoist/audit.log; else echo 'lock free'; fi`;
}

/** On one line whatever the link holds: a line break in it must not add a `lock held` line. */
function readCurrent(releaseLink: string | null): Cmd {
  if (!releaseLink) return sh`echo 'current '`;
  // Kept in a shell variable: the probes carried after it read `current` from there (host-value.ts).
  const once = readLinkOnce(releaseLink);
  return sh`${once.read}; printf 'current %.512s\\n' ${once.value}`;
}

export function parseLockProbe(r: ExecResult, carried?: Pick<CarriedCommands, 'marker'> & { count: number }): LockProbe {
  let own = r.stdout;
  let then: ExecResult[] | null = null;
  const first = carried?.count ? frameStart(r.stdout, `${carried.marker}.0`, 0) : -1;
  if (carried && first >= 0) {
    own = r.stdout.slice(0, first);
    then = readFrames(r.stdout, carried.marker, carried.count, first);
  }
  // The lock's own lines come first: once `lock ours` is there the lock was taken, even if what
  // rode along failed or was cut (its tasks then ask the host again).
  const ours = own.split('\n').includes('lock ours');
  if (r.code !== 0 && !ours) throw new Error(`reading the deploy lock failed (exit ${r.code}): ${r.stderr.trim()}`);
  if (r.code !== 0) then = null;
  let heldBy: LockInfo | null = null;
  let heldRaw: string | null = null;
  let current: string | null = null;
  let auditMode: string | null = null;
  for (const line of own.split('\n')) {
    if (line.startsWith('lock held ')) {
      heldRaw = line.slice('lock held '.length);
      heldBy = parseInfo(heldRaw);
    }
    else if (line.startsWith('audit ')) auditMode = line.slice('audit '.length).trim();
    else if (line.startsWith('current ')) current = line.slice('current '.length).trim().split('/').pop() || null;
  }
  return { heldBy, heldRaw, current, auditMode, then };
}

/** Every carried command's frame, or null when one is cut or garbled: those tasks probe again. */
function readFrames(text: string, marker: string, count: number, from: number): ExecResult[] | null {
  const results: ExecResult[] = [];
  let at = from;
  for (let i = 0; i < count; i++) {
    const framed = readFrame(text, `${marker}.${i}`, at);
    if (!framed) return null;
    results.push(framed.result);
    at = framed.next;
  }
  return results;
}

/** Where the line `m` starts, at or after `from`; -1 when it is not there. */
function frameStart(text: string, m: string, from: number): number {
  for (let at = text.indexOf(`${m}\n`, from); at >= 0; at = text.indexOf(`${m}\n`, at + 1)) {
    if (at === 0 || text[at - 1] === '\n') return at;
  }
  return -1;
}

/** One carried command's frame (see `carried`), starting at or after `from`; null when it is not whole. */
function readFrame(text: string, m: string, from: number): { result: ExecResult; next: number } | null {
  const start = frameStart(text, m, from);
  if (start < 0) return null;
  const body = start + m.length + 1;
  const statusAt = text.indexOf(`\n${m} `, body);
  const statusEnd = statusAt < 0 ? -1 : text.indexOf('\n', statusAt + m.length + 2);
  const code = statusEnd < 0 ? Number.NaN : Number(text.slice(statusAt + m.length + 2, statusEnd));
  const endAt = statusEnd < 0 ? -1 : text.indexOf(`\n${m}.end\n`, statusEnd);
  if (!Number.isInteger(code) || endAt < 0) return null;
  return { result: { stdout: text.slice(body, statusAt), stderr: text.slice(statusEnd + 1, endAt), code }, next: endAt + m.length + 6 };
}

function parseInfo(text: string): LockInfo {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.who === 'string' && typeof v.since === 'string') {
      const info: LockInfo = { who: v.who, run: String(v.run ?? '?'), pipeline: String(v.pipeline ?? '?'), revision: v.revision ?? null, since: v.since };
      if (typeof v.pid === 'number' && Number.isSafeInteger(v.pid) && v.pid > 0) info.pid = v.pid;
      return info;
    }
  } catch {
    // Not one of ours (someone made the link by hand): still a lock, holder unknown.
  }
  return { who: `unknown (${text.slice(0, 80)})`, run: '?', pipeline: '?', revision: null, since: '' };
}

export function describeHolder(info: LockInfo, now = Date.now()): string {
  const what = `${info.pipeline}${info.revision ? ` of ${info.revision}` : ''}`;
  const since = Date.parse(info.since);
  if (!Number.isFinite(since)) return `${info.who} (${what})`;
  const age = now - since;
  const stale = age > STALE_AFTER_MS ? '; it may be stale' : '';
  return `${info.who} (${what}, run ${info.run}) since ${info.since}, ${formatAge(age)} ago${stale}`;
}

export function lockHeldError(hostName: string, info: LockInfo): LockHeldError {
  return new LockHeldError(
    `deploy lock held by ${describeHolder(info)}. Fix: wait for that run to end; if it is not running any more, free the lock with: hoist unlock --hosts ${hostName}`,
  );
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/**
 * --lock-wait: how long to sleep before asking for the lock again, the `attempt`-th time (1-based):
 * from `minMs` (1 s; HOIST_LOCK_POLL_MIN_MS for tests) up by half each time to at most 15 s,
 * never past the deadline. A held lock is asked for a few times a minute, not in a busy loop.
 */
export function lockPollDelayMs(attempt: number, leftMs: number, minMs = Number(process.env.HOIST_LOCK_POLL_MIN_MS) || 1000): number {
  const delay = Math.min(15_000, minMs * 1.5 ** Math.max(0, attempt - 1));
  return Math.max(0, Math.min(delay, leftMs));
}
