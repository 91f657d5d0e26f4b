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
import { setHome } from '../../lib/exec/home-of.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { CADDYFILE, caRootPath } from './caddyfile.ts';
import { parsePortsRecord, portsFile } from '../../lib/release/app-ports.ts';
import { activeSlotFile } from './port.ts';
import { CaddyError, type CaddyHostState, type CaddyWanted } from './types.ts';

/** The most of a CA root file that is read back (a PEM bundle is a few KiB). */
const CA_ROOT_MAX = 262_144;

/**
 * `rd FILE [MAX]`: the file's bytes (at most MAX) in base64; `-` when it is not there; `?` when
 * it can be read neither as the login user nor with `sudo -n`. A missing file is told from a
 * hidden one by walking its folders from the top: the first that is not there means missing, the
 * first that cannot be searched means "ask sudo". A link to nothing, or a folder, is no file (`-`).
 * `st FILE`: its mode and owner.
 * sudo runs only for a file that is there and cannot be read, or cannot be told (this runs on every release).
 */
export function fileReaders(): Cmd {
  return sh`rd() { if [ -f "$1" ] && [ -r "$1" ]; then if [ -n "$2" ]; then head -c "$2" < "$1" | base64 -w0; else base64 -w0 < "$1"; fi; return; fi
if { [ -L "$1" ] && [ ! -e "$1" ]; } || { [ -e "$1" ] && [ ! -f "$1" ]; }; then printf -; return; fi
if [ ! -e "$1" ]; then
  case $1 in /*) p=;; *) p=.;; esac; rest=\${1#/}
  while :; do
    case $rest in */*) p="$p/\${rest%%/*}"; rest=\${rest#*/};; *) printf -; return;; esac
    if [ ! -d "$p" ]; then printf -; return; fi
    if [ ! -x "$p" ]; then break; fi
  done
fi
sudo -n sh -c 'if [ -f "$1" ]; then head -c "$2" < "$1" | base64 -w0; else printf -; fi' rd "$1" "\${2:-16777216}" 2>/dev/null || printf '?'; }
st() { stat -c '%a %U:%G' "$1" 2>/dev/null || sudo -n stat -c '%a %U:%G' "$1" 2>/dev/null; }`;
}

export function caddyProbe(w: Pick<CaddyWanted, 'app' | 'deployUser' | 'sitePath'>): Cmd {
  const slot = activeSlotFile(w.app);
  const ports = portsFile(w.app);
  return sh`${fileReaders()}
# rd and st write straight out, not through $(...): each $(...) is one more process on the host (issue #20).
printf site=; rd ${w.sitePath}; echo
c=$(rd ${CADDYFILE}); echo "caddyfile=$c"; if [ "$c" != - ] && [ "$c" != '?' ]; then printf caddyfile_stat=; st ${CADDYFILE} || echo; fi
# Another user's processes are hidden where /proc is mounted hidepid: sudo looks only then.
if pidof caddy >/dev/null || sudo -n pidof caddy >/dev/null 2>&1; then echo caddy=running; else echo caddy=stopped; fi
${setHome('home', w.deployUser)}
if [ -n "$home" ]; then printf slot=; rd "$home/"${slot}; printf '\\nports='; rd "$home/"${ports} 200; echo; else echo slot=-; echo ports=-; fi
printf caroot=; rd ${caRootPath(w.app)} ${String(CA_ROOT_MAX)}; echo
`;
}

/** Which file each answer key holds, for the message when one could not be read. */
const FILE_OF: Record<string, string> = { site: 'the app\'s Caddy site file', caddyfile: CADDYFILE, slot: 'the active-slot file', ports: 'the ports record', caroot: 'the ACME CA root file' };

export function parseCaddyProbe(r: ExecResult): CaddyHostState {
  if (r.code !== 0) throw new RemoteCommandError('probing Caddy', r.code, r.stderr);
  const values = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
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
  const decode = (v: string) => (v === '-' ? null : Buffer.from(v, 'base64').toString('utf8'));
  const [mode = '644', owner = 'root:root'] = (values.get('caddyfile_stat') ?? '').split(' ').filter(Boolean);
  const slot = decode(values.get('slot')!);
  return {
    site: decode(values.get('site')!),
    caddyfile: decode(values.get('caddyfile')!),
    caddyfileMode: mode,
    caddyfileOwner: owner,
    running: values.get('caddy') === 'running',
    activeSlot: slot === null ? null : slot.trim(),
    recordedPorts: parsePortsRecord(decode(values.get('ports') ?? '-')),
    caRoot: decode(values.get('caroot') ?? '-'),
  };
}
