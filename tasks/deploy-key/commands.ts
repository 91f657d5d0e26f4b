// The command lines deploy-key runs on the host, as data (unit tests compare them exactly).
// All run as the deploy user from its home. Contents travel on stdin; no secret is ever here:
// the GitHub token stays in hoist's process, and the private key is made and kept on the host.
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import type { DeployKeyWanted } from './types.ts';

/** The git config key whose values git rewrites to the alias URL. */
export function insteadOfKey(w: Pick<DeployKeyWanted, 'aliasUrl'>): string {
  return `url.${w.aliasUrl}.insteadof`;
}

/** `git ls-remote` of the repo, bounded; stdin closed so nothing can wait for a prompt. */
export function lsRemoteCommand(url: string, seconds: number): Cmd {
  return sh`timeout ${seconds} git ls-remote -q ${url} </dev/null`;
}

export function deployKeyCommands(w: DeployKeyWanted) {
  const key = w.keyFile;
  const pub = `${w.keyFile}.pub`;
  const gitKey = insteadOfKey(w);
  return {
    /** Generates the key unless it exists, writes a missing .pub, sets mode 600, prints the .pub line. */
    makeKey: (comment: string): Cmd =>
      sh`cd && mkdir -p -m 700 .ssh && if [ ! -f ${key} ]; then rm -f ${pub} && ssh-keygen -q -t ed25519 -N '' -C ${comment} -f ${key} </dev/null; fi && if [ ! -f ${pub} ]; then ssh-keygen -y -f ${key} >${pub}; fi && chmod 600 ${key} && head -n 1 ${pub}`,
    keyMode: sh`cd && chmod 600 ${key}`,
    sshDir: sh`cd && mkdir -p -m 700 .ssh`,
    gitUrl: sh`cd && { git config --global --get-all ${gitKey} | grep -qxF -e ${w.repo.url} || git config --global --add ${gitKey} ${w.repo.url}; }`,
    /** Appends each stdin line to ~/.ssh/known_hosts unless it is there (safe to run twice). */
    pinHostKeys: sh`cd && mkdir -p -m 700 .ssh && f=.ssh/known_hosts && touch "$f" && if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then echo >>"$f"; fi && while IFS= read -r line; do grep -qxF -e "$line" "$f" || printf '%s\\n' "$line" >>"$f"; done`,
    lsRemote: (seconds: number): Cmd => sh`cd && ${lsRemoteCommand(w.repo.url, seconds)} >/dev/null`,
  };
}

/** The comment ssh-keygen writes into the key: which app and which machine it is for. */
export function keyComment(app: string, hostname: string): string {
  return `hoist deploy key for ${app} on ${hostname}`;
}
