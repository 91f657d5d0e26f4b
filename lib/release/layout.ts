// Where an app's releases live on a host, as pure functions, so git-sync, docker-up and rollback
// agree on one layout and tests can check names without a host. All paths are relative to the
// deploy user's home (commands run after `cd`).

/** `20240131235959`: UTC, sortable as text, so a directory listing is in release order. */
export function releaseStamp(at: Date): string {
  const iso = at.toISOString(); // 2024-01-31T23:59:59.123Z, always UTC
  return iso.slice(0, 19).replace(/[-T:]/g, '');
}

/** How many hex digits of the commit go into a release name. */
export const SHORT_SHA = 12;

const SHA = /^[0-9a-f]{40}$/;
const NAME = /^(\d{14})-([0-9a-f]{12})$/;

/** `<yyyymmddHHMMSS>-<12-char sha>`, e.g. 20240131235959-0123456789ab. */
export function releaseName(stamp: string, sha: string): string {
  if (!/^\d{14}$/.test(stamp)) throw new Error(`not a release stamp: ${stamp}`);
  if (!SHA.test(sha)) throw new Error(`not a full commit sha: ${sha}`);
  return `${stamp}-${sha.slice(0, SHORT_SHA)}`;
}

/** The parts of a release directory's name, or null for anything that is not one of ours. */
export function parseReleaseName(name: string): { stamp: string; shortSha: string } | null {
  const m = NAME.exec(name);
  return m ? { stamp: m[1]!, shortSha: m[2]! } : null;
}

export const isReleaseName = (name: string): boolean => parseReleaseName(name) !== null;

/** Oldest first (the stamp leads the name, so text order is time order). */
export function byAge(names: readonly string[]): string[] {
  return [...names].sort();
}

/** What a release's `.env` symlink points at, relative to the release directory. */
export const ENV_LINK_TARGET = '../../shared/.env';

/** The paths of one app, relative to the deploy user's home. */
export function appLayout(app: string) {
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(app)) throw new Error(`not an app name: ${app}`);
  const root = `apps/${app}`;
  return {
    root,
    /** The cached bare clone, fetched incrementally. */
    cache: `${root}/repo.git`,
    releases: `${root}/releases`,
    release: (name: string) => `${root}/releases/${name}`,
    /** Where a release is built before it is renamed into place (hidden: never listed as one). */
    staging: (name: string) => `${root}/releases/.${name}.tmp`,
    shared: `${root}/shared`,
    env: `${root}/shared/.env`,
    /** The previous .env, kept by the run that replaced it so its rollback can put it back. */
    envBackup: `${root}/shared/.env.prev`,
    /** Holds the name of the release git-sync prepared; docker-up brings it up. */
    pending: `${root}/pending-release`,
    /** Symlink to the live release; switched by docker-up only. */
    current: `${root}/current`,
  };
}

export type AppLayout = ReturnType<typeof appLayout>;
