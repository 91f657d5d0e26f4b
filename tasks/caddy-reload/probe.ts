// One round trip (as root) that tells caddy-reload all it compares: the app's site file and the
// main Caddyfile (base64, byte exact), whether Caddy runs, and the active-slot state file.
import { RemoteCommandError } from '../../lib/errors.ts';
import type { ExecResult } from '../../lib/exec/executor.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { CADDYFILE, caRootPath } from './caddyfile.ts';
import { parsePortsRecord, portsFile } from '../../lib/release/app-ports.ts';
import { activeSlotFile } from './port.ts';
import type { CaddyHostState, CaddyWanted } from './types.ts';

export function caddyProbe(w: Pick<CaddyWanted, 'app' | 'deployUser' | 'sitePath'>): Cmd {
  const slot = activeSlotFile(w.app);
  const ports = portsFile(w.app);
  return sh`if [ -f ${w.sitePath} ]; then echo "site=$(base64 -w0 < ${w.sitePath})"; else echo site=-; fi
if [ -f ${CADDYFILE} ]; then echo "caddyfile=$(base64 -w0 < ${CADDYFILE})"; echo "caddyfile_stat=$(stat -c '%a %U:%G' ${CADDYFILE})"; else echo caddyfile=-; fi
if pidof caddy >/dev/null; then echo caddy=running; else echo caddy=stopped; fi
home=$(getent passwd ${w.deployUser} | cut -d: -f6)
if [ -n "$home" ] && [ -f "$home/"${slot} ]; then echo "slot=$(base64 -w0 < "$home/"${slot})"; else echo slot=-; fi
if [ -n "$home" ] && [ -f "$home/"${ports} ]; then echo "ports=$(head -c 200 "$home/"${ports} | base64 -w0)"; else echo ports=-; fi
if [ -f ${caRootPath(w.app)} ]; then echo "caroot=$(head -c 262144 ${caRootPath(w.app)} | base64 -w0)"; else echo caroot=-; fi
`;
}

export function parseCaddyProbe(r: ExecResult): CaddyHostState {
  if (r.code !== 0) throw new RemoteCommandError('probing Caddy', r.code, r.stderr);
  const values = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const missing = ['site', 'caddyfile', 'caddy', 'slot'].filter((k) => !values.has(k));
  if (missing.length) throw new RemoteCommandError(`probing Caddy (no ${missing.join(', ')} in the answer)`, r.code, r.stderr || r.stdout);
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
