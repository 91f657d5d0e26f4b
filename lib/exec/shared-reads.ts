// Reads several probes of one round trip ask for, made once (issue #20: a no-op release counts
// the processes each host creates). The deploy lock's round trip carries every task's probe
// (lib/engine/host-lock.ts); before them it runs ONE `stat` over every path they (and the lock)
// ask about and ONE `sha256sum` over every file they hash, into shell variables the probes'
// subshells inherit. A probe reads its part from there, or, sent on its own (a dry run's peek, a
// task probing again after a change), runs the same stat or sha256sum over its own paths: the
// answer has the same form either way, so the probe's parse does not know which ran.
//
// The paths are shell words built by the `sh` tag (lib/shell-quote.ts); a word may end in a glob
// (`apps/app/releases/*/.env`), expanded by the shell that runs the stat. A line is found by the
// path as the probe wrote it: a path whose C-quoted form (below) differs from itself, one with a
// quote, a backslash or a control character, is never found (hoist's own paths have none).
import { sh, type Cmd } from '../shell-quote.ts';

/** What a probe asks the round trip's shared reads for. */
export interface SharedReads {
  /** Paths (shell words) whose `stat` line the probe reads (statLine). */
  stat?: Cmd[];
  /** Files (shell words, no globs) whose sha256 the probe reads (sha256Of). */
  sha256?: Cmd[];
}

/**
 * One line per path: `"PATH" MODE USER GROUP`, a link's `"PATH" -> "TARGET" 777 USER GROUP`.
 * C-style quoting (QUOTING_STYLE=c) writes every name and target in double quotes with any quote,
 * backslash or line break in it escaped, so a line is one line and a path cannot pass for another.
 */
const STAT = (words: Cmd) => sh`QUOTING_STYLE=c stat -c '%N %a %U %G' -- ${words} 2>/dev/null`;

const join = (words: Cmd[]) => words.reduce((all, w) => sh`${all} ${w}`);

/** The lock's part: every shared read, into hoist_stat and hoist_sha, with `first` stat'ed too. */
export function sharedReadCommand(first: Cmd[], reads: SharedReads): Cmd {
  const stat = [...first, ...(reads.stat ?? [])];
  const sha = reads.sha256 ?? [];
  return sh`hoist_stat=$(${STAT(join(stat))})${sha.length ? sh`; hoist_sha=$(sha256sum -- ${join(sha)} 2>/dev/null)` : sh``}`;
}

/** Every read of the probes, each path once. */
export function mergeReads(all: SharedReads[]): SharedReads {
  const uniq = (cmds: Cmd[]) => [...new Map(cmds.map((c) => [c.line, c])).values()];
  return { stat: uniq(all.flatMap((r) => r.stat ?? [])), sha256: uniq(all.flatMap((r) => r.sha256 ?? [])) };
}

/** Shell: `st` holds the stat lines for `reads.stat`, between line breaks (`nl` is a line break). */
export function statLines(reads: SharedReads): Cmd {
  const words = reads.stat ?? [];
  if (!words.length) throw new Error('statLines: no paths');
  return sh`nl='
'; st=\${hoist_stat-$(${STAT(join(words))})}; st="$nl$st$nl"`;
}

/**
 * Shell: `variable` = what follows `"PATH" ` on PATH's line in `st` (statLines), or empty when
 * stat had no line for it (not there, or not to be seen).
 */
export function statLine(variable: string, path: Cmd): Cmd {
  if (!/^[a-z_][a-z0-9_]*$/.test(variable)) throw new Error(`not a shell variable name: ${variable}`);
  return sh`p=${path}; case $st in *"$nl\\"$p\\" "*) x=\${st#*"$nl\\"$p\\" "}; ${variable}=\${x%%"$nl"*};; *) ${variable}=;; esac`;
}

/**
 * Shell: `variable` = the hex sha256 of `path` (one of `reads.sha256`), or empty when it could not
 * be read: from the round trip's shared sha256sum, else one of its own.
 */
export function sha256Of(variable: string, path: Cmd): Cmd {
  if (!/^[a-z_][a-z0-9_]*$/.test(variable)) throw new Error(`not a shell variable name: ${variable}`);
  return sh`nl='
'; p=${path}; x=\${hoist_sha-$(sha256sum -- "$p" 2>/dev/null)}; x="$nl$x$nl"; case $x in *"  $p$nl"*) x=\${x%%"  $p$nl"*}; ${variable}=\${x##*"$nl"};; *) ${variable}=;; esac`;
}
