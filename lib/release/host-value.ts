// Values hoist wrote on a host and reads back: the release named in pending-release and behind
// `current`, the slot in active-slot, the release label on a slot's containers. They become
// paths (releases/NAME), command words and lines of the compose override's YAML, and whoever (or
// whatever) else can write to the host may have changed them. Each is checked as strictly as the
// names hoist makes (git-sync's isReleaseName); a bad one stops the task, naming where it was
// found and what it holds (escaped), never used.
import { createHash } from 'node:crypto';
import { shown } from '../config/validators.ts';
import { HoistError } from '../errors.ts';
import { sh, type Cmd } from '../shell-quote.ts';
import { appLayout, isReleaseName } from './layout.ts';

/** A file or label on the host holds what hoist would never have written there. */
export class HostStateError extends HoistError {}

/** Where a value was read and how the operator puts it right. */
export interface HostSource {
  /** `~/apps/app/pending-release`, `container app-blue_web_1's label hoist.release`. */
  where: string;
  /** `holds` for a file or label, `points at` for a symlink (only its last path part is the release). */
  verb: 'holds' | 'points at';
  fix: string;
}

/** The places an app's release state is read from; `home` is how messages name the owner's home. */
export function hostSources(app: string, home = '~') {
  const L = appLayout(app);
  const at = (path: string) => `${home}/${path}`;
  return {
    pending: { where: at(L.pending), verb: 'holds', fix: `remove it (rm ${at(L.pending)}); the next release writes it again` } as HostSource,
    current: { where: at(L.current), verb: 'points at', fix: `point it at a release (ln -sfn releases/NAME ${at(L.current)}) or remove it` } as HostSource,
    active: { where: at(`${L.root}/active-slot`), verb: 'holds', fix: `write blue or green into it (the slot whose containers serve ${app}) or remove it` } as HostSource,
    label: (container: string): HostSource => ({
      where: `the label hoist.release of container ${container}`,
      verb: 'holds',
      fix: `remove that container (docker rm -f ${container}); the next release starts its slot again`,
    }),
  };
}

const RELEASE = 'a release name (YYYYMMDDHHMMSS-<12 hex digits>)';

/**
 * The release a host value names, null when it is empty (no such file, no label); a
 * HostStateError when it names anything else. A link's target counts by its last path part.
 */
export function releaseFromHost(raw: string, from: HostSource): string | null {
  const value = raw.trim();
  if (!value) return null;
  const name = from.verb === 'points at' ? (value.replace(/\/+$/, '').split('/').pop() ?? '') : value;
  if (isReleaseName(name)) return name;
  throw badHostValue(raw, from, RELEASE);
}

/** blue or green, null when empty; a HostStateError for anything else. */
export function slotFromHost(raw: string, from: HostSource): 'blue' | 'green' | null {
  const value = raw.trim();
  if (!value) return null;
  if (value === 'blue' || value === 'green') return value;
  throw badHostValue(raw, from, 'blue or green');
}

function badHostValue(raw: string, from: HostSource, wanted: string): HostStateError {
  const value = raw.trim().length > 120 ? `${raw.trim().slice(0, 120)}...` : raw.trim();
  return new HostStateError(`${from.where} ${from.verb} ${shown(value)}, which is not ${wanted}. Fix: ${from.fix}`);
}

/**
 * Shell: a small file's first lines, joined into one line in the shell variable `variable` (empty
 * when the file is not there). A line break in it becomes a space, so a value cannot add lines
 * (fields) to a probe's answer; the value is then checked whole, line breaks and all, by the
 * functions above (the callers trim, and print it with `%.256s`). Read with the shell's own `read`
 * (issue #20: each `head` was a process, a no-op release read these files five times), at most
 * 4 lines; only a regular file is read (a fifo would block).
 */
export function readOneLine(variable: string, path: string): Cmd {
  if (!/^[a-z_][a-z0-9_]*$/.test(variable)) throw new Error(`not a shell variable name: ${variable}`);
  return sh`${variable}=; if [ -f ${path} ]; then n=0; while [ $n -lt 4 ]; do IFS= read -r l || { ${variable}=$${variable}$l; break; }; ${variable}="$${variable}$l "; n=$((n + 1)); done < ${path} 2>/dev/null; fi`;
}

export function oneLineOfLink(path: string): Cmd {
  // A value the round trip already read (host-lock reads `current` before the probes it carries,
  // which run in its subshells) is used as it is: one readlink fewer per probe (issue #20).
  return sh`"\${${linkVar(path)}-${freshLink(path)}}"`;
}

/**
 * Reads the link into the round trip's shell variable for it (host-lock's lock part does, under
 * the lock): commands after it in the same shell or its subshells then read the variable. Only
 * the same path string (relative to the same folder: every user is `cd`'d home) shares it.
 */
export function readLinkOnce(path: string): { read: Cmd; value: Cmd; variable: string } {
  const v = linkVar(path);
  // One process (the readlink): the lines are joined in this shell, not in a $(...) of its own.
  return { read: sh`l=$(readlink ${path} 2>/dev/null); ${joinLines}; ${v}=$l`, value: sh`"$${v}"`, variable: v };
}

const linkVar = (path: string) => `hoist_link_${createHash('sha256').update(path).digest('hex').slice(0, 16)}`;

const freshLink = (path: string) => sh`$(l=$(readlink ${path} 2>/dev/null); ${joinLines}; printf %.512s "$l")`;

/** Every line break in $l becomes a space: one per turn, so at most as many turns as $l has bytes. */
export const joinLines = sh`n='
'; while :; do case $l in *"$n"*) l=\${l%%"$n"*}' '\${l#*"$n"};; *) break;; esac; done`;
