// The command lines git-sync runs on the host, as data (unit tests compare them exactly). All
// run as the deploy user from its home, on paths from lib/release/layout.ts. The .env content
// is never here: it travels by SFTP upload only.
import { appLayout, ENV_LINK_TARGET } from '../../lib/release/layout.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import type { GitSyncWanted } from './types.ts';

/** Every branch and tag, mirrored into the bare cache (so later fetches are incremental). */
export const CACHE_REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];

export function gitSyncCommands(w: Pick<GitSyncWanted, 'app' | 'repo'>) {
  const L = appLayout(w.app);
  const git = sh`git --git-dir=${L.cache}`;
  const url = w.repo.url;
  return {
    /**
     * Makes the bare cache if missing, fetches every branch and tag (then the commit by itself,
     * for a sha no ref points at), and fails unless the cache holds the commit.
     */
    cache: (sha: string): Cmd =>
      sh`cd && mkdir -p ${L.root} && if [ ! -d ${L.cache} ]; then rm -rf ${`${L.cache}.tmp`} && git init -q --bare ${`${L.cache}.tmp`} && mv ${`${L.cache}.tmp`} ${L.cache}; fi && ${git} fetch -q --prune --no-tags ${url} ${CACHE_REFSPECS} </dev/null && { ${git} cat-file -e ${`${sha}^{commit}`} 2>/dev/null || ${git} fetch -q --no-tags ${url} ${sha} </dev/null; } && { ${git} cat-file -e ${`${sha}^{commit}`} || { echo ${`commit ${sha} is not in ${url}`} >&2; exit 3; }; }`,
    /**
     * Exports the commit's tree (git archive: tracked files only, export-ignore honoured, no .git)
     * into a hidden staging folder, writes REVISION, then renames it into place: a release
     * directory with a REVISION file is always complete. Does nothing if it is there already.
     */
    release: (name: string, sha: string): Cmd => {
      const d = L.release(name);
      const t = L.staging(name);
      const tar = `${t}.tar`;
      return sh`cd && if [ ! -f ${`${d}/REVISION`} ]; then rm -rf ${t} ${tar} ${d} && mkdir -p ${t} && ${git} archive --format=tar -o ${tar} ${sha} && tar -x -f ${tar} -C ${t} && rm -f ${tar} && printf '%s\\n' ${sha} >${`${t}/REVISION`} && mv ${t} ${d}; fi`;
    },
    /** shared/ (mode 700) ready for the upload; the .env there now is kept as .env.prev for rollback. */
    envPrepare: sh`cd && mkdir -p ${L.shared} && chmod 700 ${L.shared} && if [ -f ${L.env} ]; then cp -p ${L.env} ${L.envBackup}; else rm -f ${L.envBackup}; fi`,
    /** Absolute path of shared/.env for the SFTP upload. */
    envPath: (home: string): string => `${home.replace(/\/+$/, '')}/${L.env}`,
    link: (name: string): Cmd => sh`cd && rm -rf ${`${L.release(name)}/.env`} && ln -s ${ENV_LINK_TARGET} ${`${L.release(name)}/.env`}`,
    pending: (name: string): Cmd => sh`cd && printf '%s\\n' ${name} >${`${L.pending}.tmp`} && mv -f ${`${L.pending}.tmp`} ${L.pending}`,
    prune: (names: string[]): Cmd => sh`cd && rm -rf -- ${names.map(L.release)}`,

    // Rollback
    removeRelease: (name: string): Cmd => sh`cd && rm -rf -- ${L.release(name)} ${L.staging(name)} ${`${L.staging(name)}.tar`}`,
    clearPending: sh`cd && rm -f ${L.pending}`,
    /** Puts back the .env the run replaced, only if the backup is that very file (by sha256). */
    restoreEnv: (sha256: string): Cmd =>
      sh`cd && if [ -f ${L.envBackup} ] && [ "$(sha256sum <${L.envBackup} | cut -d' ' -f1)" = ${sha256} ]; then mv -f ${L.envBackup} ${L.env}; fi`,
    removeEnv: sh`cd && rm -f ${L.env} ${L.envBackup}`,
  };
}
