// The per-host deploy lock: a symlink at ~/.hoist/lock whose target is a one-line JSON record of
// the holder. Creating a symlink is atomic and fails if one exists, so two runs can never both
// take it, and the record is written in the same step (no window where a lock has no owner).
// The same round trip reads where the app's `current` points, for the summary's "release
// before"; releasing the lock appends the run's line to the host's audit log and reads it again.
import { hostname, userInfo } from 'node:os';
import { LockHeldError } from '../errors.ts';
import type { ExecResult } from '../exec/executor.ts';
import { sh, type Cmd } from '../shell-quote.ts';

/** Who holds the lock and for what: shown to the next run that finds it taken. */
export interface LockInfo {
  who: string;
  run: string;
  pipeline: string;
  revision: string | null;
  since: string;
}

/** A lock older than this is called possibly stale in the message (a release rarely takes it). */
const STALE_AFTER_MS = 60 * 60_000;

export function newLockInfo(run: string, pipeline: string, revision: string | null, now = new Date()): LockInfo {
  return { who: `${userInfo().username}@${hostname()}`, run, pipeline, revision, since: now.toISOString() };
}

export interface LockProbe {
  /** Null: this run now holds the lock (or a peek found it free). */
  heldBy: LockInfo | null;
  /** Where `current` pointed (its last path part), null when there is none. */
  current: string | null;
}

/** Takes the lock and reads the current release, in one round trip. */
export function acquireCommand(info: LockInfo, releaseLink: string | null): Cmd {
  return sh`cd && mkdir -p .hoist && chmod 700 .hoist && { ln -s ${JSON.stringify(info)} .hoist/lock 2>/dev/null && echo 'lock ours' || printf 'lock held %s\\n' "$(readlink .hoist/lock)"; }; ${readCurrent(releaseLink)}`;
}

/** Reads the lock and the current release without taking anything (dry run, status). */
export function peekCommand(releaseLink: string | null): Cmd {
  return sh`cd && if [ -L .hoist/lock ]; then printf 'lock held %s\\n' "$(readlink .hoist/lock)"; else echo 'lock free'; fi; ${readCurrent(releaseLink)}`;
}

/**
 * Frees the lock if it is still ours (`hoist unlock` may have freed it and another run taken
 * it since), appends the audit line, and reads the current release after the run.
 */
export function releaseCommand(info: LockInfo, auditLine: string, releaseLink: string | null): Cmd {
  return sh`cd && { [ "$(readlink .hoist/lock 2>/dev/null)" != ${JSON.stringify(info)} ] || rm -f .hoist/lock; } && printf '%s\\n' ${auditLine} >> .hoist/audit.log && chmod 600 .hoist/audit.log; ${readCurrent(releaseLink)}`;
}

/** `hoist unlock`: frees whatever lock there is, says whose it was, and logs that it did. */
export function breakCommand(auditLine: string): Cmd {
  return sh`cd && if [ -L .hoist/lock ]; then printf 'lock held %s\\n' "$(readlink .hoist/lock)"; rm -f .hoist/lock && printf '%s\\n' ${auditLine} >> .hoist/audit.log; else echo 'lock free'; fi`;
}

function readCurrent(releaseLink: string | null): Cmd {
  return releaseLink ? sh`printf 'current %s\\n' "$(readlink ${releaseLink} 2>/dev/null)"` : sh`echo 'current '`;
}

export function parseLockProbe(r: ExecResult): LockProbe {
  if (r.code !== 0) throw new Error(`reading the deploy lock failed (exit ${r.code}): ${r.stderr.trim()}`);
  let heldBy: LockInfo | null = null;
  let current: string | null = null;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('lock held ')) heldBy = parseInfo(line.slice('lock held '.length));
    else if (line.startsWith('current ')) current = line.slice('current '.length).trim().split('/').pop() || null;
  }
  return { heldBy, current };
}

function parseInfo(text: string): LockInfo {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.who === 'string' && typeof v.since === 'string') {
      return { who: v.who, run: String(v.run ?? '?'), pipeline: String(v.pipeline ?? '?'), revision: v.revision ?? null, since: v.since };
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
