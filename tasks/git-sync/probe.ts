// git-sync's probe: ONE command reporting the cache, each release (REVISION, .env link), pending
// and current, and shared/.env's sha256/mode/owner, never any content. Without a commit from the
// pipeline's `prepare` (a pipeline that has none), it resolves GIT_REF itself with `git ls-remote`.
import type { TaskInput } from '../../lib/engine/task.ts';
import { HoistError, RemoteCommandError } from '../../lib/errors.ts';
import type { ExecResult } from '../../lib/exec/executor.ts';
import { hostSources, oneLineOfLink, readOneLine, releaseFromHost } from '../../lib/release/host-value.ts';
import { appLayout, byAge, ENV_LINK_TARGET, isReleaseName } from '../../lib/release/layout.ts';
import { lsRemoteRefCommand, parseLsRemote, pickCommit, refNotFound } from '../../lib/release/ls-remote.ts';
import { releaseTargetOf } from '../../lib/release/target.ts';
import { sha256Of, statLine, statLines, type SharedReads } from '../../lib/exec/shared-reads.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import type { GitSyncFact, GitSyncWanted, ReleaseDir } from './types.ts';

/** How long the probe's own `git ls-remote` may take (temporary resolution only). */
export const PROBE_LS_REMOTE_SECONDS = 20;

type ProbeWanted = Pick<GitSyncWanted, 'app' | 'repo' | 'ref' | 'sha'>;

/**
 * The wanted commit as the probe sees it: `want`'s (GIT_REF a full sha), else the ReleaseTarget
 * the pipeline's `prepare` put in input.shared after `want` ran, else null (ls-remote here).
 */
export function probeWanted(w: ProbeWanted, input: Pick<TaskInput, 'shared'>): ProbeWanted & { given: boolean } {
  if (w.sha) return { ...w, given: false };
  const t = releaseTargetOf(input);
  return t ? { ...w, sha: t.sha, ref: t.ref, given: true } : { ...w, given: false };
}

/**
 * Runs at every release on every host, so it forks little (issue #12): a release's REVISION is
 * read with the shell's `read` (hoist writes one 40-character line there).
 */
/** What the probe reads through the round trip's shared stat and sha256sum (lib/exec/shared-reads.ts). */
export function gitSyncReads(app: string): SharedReads {
  const L = appLayout(app);
  return { stat: [sh`${L.env}`, sh`${L.releases}/*/.env`], sha256: [sh`${L.env}`] };
}

export function probeCommand(w: ProbeWanted): Cmd {
  const L = appLayout(w.app);
  const reads = gitSyncReads(w.app);
  const git = sh`git --git-dir=${L.cache}`;
  // The cache is asked for the commit only when no release holds it: the plan looks at the cache
  // only then (plan.ts, existingRelease), and a no-op release saves a git process (issue #20).
  const hasCommit = w.sha
    ? sh`if [ -z "$held" ] && [ -d ${L.cache} ] && ${git} cat-file -e ${`${w.sha}^{commit}`} 2>/dev/null; then echo has=${w.sha}; fi`
    : // Temporary: resolve on the host; report which of the listed commits the cache holds.
      sh`out=$(${lsRemoteRefCommand(w.repo.url, w.ref, PROBE_LS_REMOTE_SECONDS)} 2>&1); printf 'lsremote=%s\\n' "$?"
printf 'lsout='; printf '%s' "$out" | base64 -w0; echo
if [ -d ${L.cache} ]; then printf '%s\\n' "$out" | awk -F'\\t' 'NF==2{print $1}' | ${git} cat-file --batch-check='%(objectname) %(objecttype)' 2>/dev/null | awk '$2=="commit"{print "has="$1}'; fi`;
  return sh`cd || exit 97
printf 'home=%s\\n' "$HOME"
if command -v git >/dev/null 2>&1; then echo git=yes; else echo git=no; fi
if [ -d ${L.cache} ]; then echo cache=yes; else echo cache=no; fi
# Every release's .env link and shared/.env's mode and owner from one stat, the round trip's shared
# one when there is one (issue #20: a readlink per release and a stat were a process each).
${statLines(reads)}; link=${ENV_LINK_TARGET}
held=
for d in ${L.releases}/*/; do [ -d "$d" ] || continue; n=\${d%/}; n=\${n##*/}; case $st in *"$nl\\"$d.env\\" -> \\"$link\\" 777 "*) l=yes;; *) l=no;; esac; rev=; [ -f "$d"REVISION ] && IFS= read -r rev < "$d"REVISION; ${w.sha ? sh`[ "$rev" != ${w.sha} ] || held=1; ` : sh``}printf 'release=%s %s %.100s\\n' "$n" "$l" "$rev"; done
${hasCommit}
${readOneLine('pending', L.pending)}; printf 'pending=%.256s\\n' "$pending"
printf 'current=%s\\n' ${oneLineOfLink(L.current)}
if [ -f ${L.env} ]; then ${sha256Of('sha', sh`${L.env}`)}; ${statLine('e', sh`${L.env}`)}; printf 'env=%s %s\\n' "$sha" "\${e% *}"; else echo env=-; fi
echo end=ok`;
}

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

export function parseProbe(w: ProbeWanted & { given?: boolean }, r: ExecResult): GitSyncFact {
  const fields = new Map<string, string>();
  const has: string[] = [];
  const releases: ReleaseDir[] = [];
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'has' && /^[0-9a-f]{40}$/.test(value)) has.push(value);
    else if (key === 'release') {
      const m = /^(\S+) (yes|no) ?(.*)$/.exec(value);
      if (m && isReleaseName(m[1]!)) releases.push({ name: m[1]!, envLinked: m[2] === 'yes', revision: /^[0-9a-f]{40}$/.test(m[3]!.trim()) ? m[3]!.trim() : '' });
    } else fields.set(key, value);
  }
  const home = fields.get('home');
  if (r.code !== 0 || !home || fields.get('end') !== 'ok') throw new RemoteCommandError('probing the releases', r.code, r.stderr);
  const git = fields.get('git') === 'yes';
  const order = byAge(releases.map((d) => d.name));
  const env = /^([0-9a-f]{64}) (\d+) (\S+)$/.exec(fields.get('env') ?? '');
  const from = hostSources(w.app);
  return {
    home,
    git,
    cache: fields.get('cache') === 'yes',
    cacheHas: has,
    resolved: w.sha ? (w.given ? { sha: w.sha, name: w.ref } : null) : resolveFromProbe(w, git, fields),
    releases: order.map((n) => releases.find((d) => d.name === n)!),
    pending: releaseFromHost(fields.get('pending') ?? '', from.pending),
    current: releaseFromHost(fields.get('current') ?? '', from.current),
    env: env ? { sha256: env[1]!, mode: env[2]!, owner: env[3]! } : null,
  };
}

function resolveFromProbe(w: ProbeWanted, git: boolean, fields: Map<string, string>): { sha: string; name: string } {
  if (!git) throw new HoistError('git is not installed on the host: run the bootstrap pipeline first');
  const out = decode(fields.get('lsout') ?? '');
  const code = fields.get('lsremote');
  if (code !== '0') {
    const why = code === '124' ? `timed out after ${PROBE_LS_REMOTE_SECONDS}s` : out.trim().split('\n').slice(-3).join(' | ') || `exit ${code ?? '?'}`;
    throw new HoistError(`resolving GIT_REF=${JSON.stringify(w.ref)}: git ls-remote ${w.repo.url} failed: ${why} (does the deploy-key task run first?)`);
  }
  const picked = pickCommit(parseLsRemote(out), w.ref);
  if (!picked) throw refNotFound(w.ref, w.repo.url);
  return picked;
}
