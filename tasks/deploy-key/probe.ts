// deploy-key's probe: one round trip that reports the key files, ~/.ssh/config, git's URL
// rewrite, which forge keys known_hosts holds, and whether `git ls-remote` of the repo works now.
// Multi-line contents come back base64-encoded so no file content can break the format.
import { RemoteCommandError } from '../../lib/errors.ts';
import type { ExecResult } from '../../lib/exec/executor.ts';
import { pinBlobs } from '../../lib/forge/forge-host-keys.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { insteadOfKey, lsRemoteCommand } from './commands.ts';
import type { DeployKeyFact, DeployKeyWanted } from './types.ts';

/** How long the probe's `git ls-remote` may take. */
export const PROBE_LS_REMOTE_SECONDS = 20;

export function probeCommand(w: DeployKeyWanted): Cmd {
  const key = w.keyFile;
  const pub = `${w.keyFile}.pub`;
  const blobs = pinBlobs(w.pins).flatMap((b) => ['-e', b]);
  return sh`cd || exit 97
printf 'home=%s\\n' "$HOME"
printf 'hostname=%s\\n' "$(uname -n)"
if command -v git >/dev/null 2>&1; then echo git=yes; else echo git=no; fi
if [ -f ${key} ]; then printf 'keymode=%s\\n' "$(stat -c %a ${key})"; else echo keymode=; fi
if [ -f ${pub} ]; then printf 'pub=%s\\n' "$(head -n 1 ${pub})"; else echo pub=; fi
printf 'sshconfig='; if [ -f .ssh/config ]; then base64 -w0 .ssh/config; echo; else echo -; fi
printf 'knownhosts='; grep -F ${blobs} .ssh/known_hosts 2>/dev/null | base64 -w0; echo
if command -v git >/dev/null 2>&1; then
printf 'insteadof='; git config --global --get-all ${insteadOfKey(w)} 2>/dev/null | base64 -w0; echo
err=$(${lsRemoteCommand(w.repo.url, PROBE_LS_REMOTE_SECONDS)} 2>&1 >/dev/null); printf 'lsremote=%s\\n' "$?"
printf 'lserror='; printf '%s' "$err" | tail -n 3 | base64 -w0; echo
fi`;
}

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

export function parseProbe(r: ExecResult): DeployKeyFact {
  const fields = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const home = fields.get('home');
  if (r.code !== 0 || !home || !fields.has('git')) throw new RemoteCommandError('probing the deploy key', r.code, r.stderr);
  const git = fields.get('git') === 'yes';
  const sshConfig = fields.get('sshconfig');
  const lsCode = fields.get('lsremote');
  return {
    home,
    hostname: fields.get('hostname') || 'unknown',
    git,
    keyMode: fields.get('keymode') || null,
    publicKey: fields.get('pub')?.trim() || null,
    sshConfig: sshConfig === undefined || sshConfig === '-' ? null : decode(sshConfig),
    insteadOf: decode(fields.get('insteadof') ?? '').split('\n').filter(Boolean),
    knownHosts: decode(fields.get('knownhosts') ?? ''),
    lsRemote: git
      ? { ok: lsCode === '0', error: lsCode === '0' ? '' : describeFailure(lsCode, decode(fields.get('lserror') ?? '')) }
      : { ok: false, error: 'git is not installed' },
  };
}

function describeFailure(code: string | undefined, stderr: string): string {
  const text = stderr.trim().split('\n').map((l) => l.trim()).filter(Boolean).join(' | ');
  if (code === '124') return `timed out after ${PROBE_LS_REMOTE_SECONDS}s${text ? ` (${text})` : ''}`;
  return text || `exit ${code ?? '?'}`;
}
