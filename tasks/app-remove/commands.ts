// The command lines app-remove runs, as data (unit tests compare them exactly). Every name in
// them was made from APP_NAME and DEPLOY_USER in `want`, or read by the probe and checked there
// (container and network ids, volume names, image refs, git URL sections). Each removal
// converges: what is already gone is skipped, so a rerun after a failure finishes the job.
import { argv, sh, type Cmd } from '../../lib/shell-quote.ts';
import { appLayout } from '../../lib/release/layout.ts';
import { keyRecordFile } from '../deploy-key/key-record.ts';

type DockerKind = 'container' | 'network' | 'volume' | 'image';

/** Removes each of `names` that still exists; stops at the first Docker refuses. As root. */
export function removeDocker(kind: DockerKind, names: string[]): Cmd {
  const rm = kind === 'container' ? sh`docker container rm -f` : sh`docker ${kind} rm`;
  return sh`for x in ${names}; do docker ${kind} inspect "$x" >/dev/null 2>&1 || continue; ${rm} "$x" >/dev/null || exit 1; done`;
}

/**
 * Deletes ~/apps/APP of `user` as root (a container may have written root-owned files into a
 * release), from that home, and only a real folder: `apps` or `apps/APP` turned into a symbolic
 * link since the probe is refused here too. ~/apps goes too once it is empty.
 */
export function removeAppDir(app: string, user: string): Cmd {
  const root = appLayout(app).root;
  return sh`home=$(getent passwd ${user} | cut -d: -f6) && [ -n "$home" ] && cd "$home" || exit 97
if [ -L apps ] || [ -L ${root} ]; then echo ${`~${user}/${root} or ~${user}/apps is a symbolic link: not removed`} >&2; exit 3; fi
rm -rf -- ${root} && { rmdir apps 2>/dev/null || true; }`;
}

/** The deploy key pair and deploy-key's record of it, as the deploy user from its home. */
export function removeKeyFiles(keyFile: string): Cmd {
  return sh`cd && rm -f -- ${keyFile} ${`${keyFile}.pub`} ${keyRecordFile(keyFile)}`;
}

/** Each [url "SECTION"] of ~/.gitconfig that is still there, as the deploy user. */
export function removeGitUrlSections(sections: string[]): Cmd {
  return sh`cd && for s in ${sections.map((s) => `url.${s}`)}; do if git config --global --get-all "$s.insteadof" >/dev/null 2>&1; then git config --global --remove-section "$s" || exit 1; fi; done`;
}

export const crontabCommands = {
  /** The deploy user's own crontab, whole, from stdin. */
  install: argv('crontab', '-'),
  remove: argv('crontab', '-r'),
};
