// One round trip that tells caddy-reload all it compares: the app's site file and the main
// Caddyfile (base64, byte exact), whether Caddy runs, and the active-slot state file.
//
// It runs as the deploy user, without sudo: Caddy's files are world-readable as hoist and Debian
// write them, and `sudo` costs the host a PAM session and a log line on every release (issue #12:
// the cost of "nothing to do"). A file the user cannot read (or whose folder it cannot search, so
// that it cannot even tell whether the file is there) is read with `sudo -n` instead, in the same
// round trip; when that fails too the answer says so (`?`) and the probe fails with the reason,
// instead of taking an unreadable file for a missing one.
import { RemoteCommandError } from '../../lib/errors.ts';
import type { ExecResult } from '../../lib/exec/executor.ts';
import { fileFromLines, fileLinesFunction, isFileLine } from '../../lib/exec/file-lines.ts';
import { setHome } from '../../lib/exec/home-of.ts';
import { statLine, statLines, type SharedReads } from '../../lib/exec/shared-reads.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { CADDYFILE, caRootPath } from './caddyfile.ts';
import { parsePortsRecord, portsFile } from '../../lib/release/app-ports.ts';
import { activeSlotFile } from './port.ts';
import { CaddyError, type CaddyHostState, type CaddyWanted } from './types.ts';

/** The most of a CA root file that is read back (a PEM bundle is a few KiB). */
const CA_ROOT_MAX = 262_144;

/**
 * `rd KEY FILE [MAX]`: the answer line `KEY=|` followed by the file's bytes (at most about MAX) as
 * lines of their own (lib/exec/file-lines.ts), read by the shell itself: no process (issue #20).
 * `KEY=-` when it is not there; `KEY=?` when it can be read neither as the login user nor with
 * `sudo -n`; `KEY=<base64>` when sudo read it. A missing file is told from a hidden one by walking
 * its folders from the top: the first that is not there means missing, the first that cannot be
 * searched means "ask sudo". A link to nothing, or a folder, is no file (`-`). `rdv` is left
 * holding what followed `KEY=`.
 * `st FILE`: its mode and owner.
 * sudo runs only for a file that is there and cannot be read, or cannot be told (this runs on every release).
 */
export function fileReaders(): Cmd {
  return sh`${fileLinesFunction}
rd() { if [ -f "$2" ] && [ -r "$2" ]; then rdv='|'; printf '%s=|\n' "$1"; hoist_lines "$1" "$2" "\${3:-16777216}"; return; fi
rdv=-
if { [ -L "$2" ] && [ ! -e "$2" ]; } || { [ -e "$2" ] && [ ! -f "$2" ]; }; then echo "$1=-"; return; fi
if [ ! -e "$2" ]; then
  case $2 in /*) p=;; *) p=.;; esac; rest=\${2#/}
  while :; do
    case $rest in */*) p="$p/\${rest%%/*}"; rest=\${rest#*/};; *) echo "$1=-"; return;; esac
    if [ ! -d "$p" ]; then echo "$1=-"; return; fi
    if [ ! -x "$p" ]; then break; fi
  done
fi
rdv=$(sudo -n sh -c 'if [ -f "$1" ]; then head -c "$2" < "$1" | base64 -w0; else printf -; fi' rd "$2" "\${3:-16777216}" 2>/dev/null) || rdv='?'; printf '%s=%s\n' "$1" "$rdv"; }
st() { stat -c '%a %U:%G' "$1" 2>/dev/null || sudo -n stat -c '%a %U:%G' "$1" 2>/dev/null; }`;
}

/** What the probe reads through the round trip's shared stat. */
export function caddyReads(): SharedReads {
  return { stat: [sh`${CADDYFILE}`] };
}

export function caddyProbe(w: Pick<CaddyWanted, 'app' | 'deployUser' | 'sitePath'>): Cmd {
  const slot = activeSlotFile(w.app);
  const ports = portsFile(w.app);
  return sh`${fileReaders()}
# rd and st write straight out, not through $(...): each $(...) is one more process on the host (issue #20).
rd site ${w.sitePath}
# The Caddyfile's mode and owner: from the round trip's shared stat (lib/exec/shared-reads.ts), or st when it has none.
rd caddyfile ${CADDYFILE}; if [ "$rdv" != - ] && [ "$rdv" != '?' ]; then ${statLines(caddyReads())}; ${statLine('m', sh`${CADDYFILE}`)}; if [ -n "$m" ]; then set -- $m; printf 'caddyfile_stat=%s %s:%s\\n' "$1" "$2" "$3"; else printf caddyfile_stat=; st ${CADDYFILE} || echo; fi; fi
# Is caddy running: its name in /proc, read by the shell (pidof was a process). Another user's
# processes are hidden where /proc is mounted hidepid: sudo looks only then.
running=; for f in /proc/[0-9]*/comm; do { IFS= read -r c < "$f"; } 2>/dev/null || continue; if [ "$c" = caddy ]; then running=1; break; fi; done
if [ -n "$running" ] || sudo -n pidof caddy >/dev/null 2>&1; then echo caddy=running; else echo caddy=stopped; fi
${setHome('home', w.deployUser)}
if [ -n "$home" ]; then rd slot "$home/"${slot}; rd ports "$home/"${ports} 200; else echo slot=-; echo ports=-; fi
rd caroot ${caRootPath(w.app)} ${String(CA_ROOT_MAX)}
`;
}

/** Which file each answer key holds, for the message when one could not be read. */
const FILE_OF: Record<string, string> = { site: 'the app\'s Caddy site file', caddyfile: CADDYFILE, slot: 'the active-slot file', ports: 'the ports record', caroot: 'the ACME CA root file' };
const FILE_KEYS = Object.keys(FILE_OF);

export function parseCaddyProbe(r: ExecResult): CaddyHostState {
  if (r.code !== 0) throw new RemoteCommandError('probing Caddy', r.code, r.stderr);
  const values = new Map<string, string>();
  const lines = r.stdout.split('\n');
  for (const line of lines) {
    if (isFileLine(line, FILE_KEYS)) continue;
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const missing = ['site', 'caddyfile', 'caddy', 'slot'].filter((k) => !values.has(k));
  if (missing.length) throw new RemoteCommandError(`probing Caddy (no ${missing.join(', ')} in the answer)`, r.code, r.stderr || r.stdout);
  const unreadable = Object.keys(FILE_OF).filter((k) => values.get(k) === '?');
  if (unreadable.length) {
    throw new CaddyError(
      `probing Caddy: cannot read ${unreadable.map((k) => FILE_OF[k]).join(', ')} as the login user, and \`sudo -n\` did not work either. Fix: let the deploy user read Caddy's files (hoist writes them mode 644) or give it passwordless sudo (hoist run bootstrap does)`,
    );
  }
  // `|`: the file's lines follow (read by the shell); else base64 (read through sudo), or `-`.
  const file = (key: string) => {
    const v = values.get(key) ?? '-';
    if (v === '-') return null;
    return v === '|' ? fileFromLines(lines, key) : Buffer.from(v, 'base64').toString('utf8');
  };
  const [mode = '644', owner = 'root:root'] = (values.get('caddyfile_stat') ?? '').split(' ').filter(Boolean);
  const slot = file('slot');
  return {
    site: file('site'),
    caddyfile: file('caddyfile'),
    caddyfileMode: mode,
    caddyfileOwner: owner,
    running: values.get('caddy') === 'running',
    activeSlot: slot === null ? null : slot.trim(),
    recordedPorts: parsePortsRecord(file('ports')),
    caRoot: file('caroot'),
  };
}
