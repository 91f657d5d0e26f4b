// git-sync's data: what is wanted (decided locally), what the host has (one probe), and the
// steps between them. Kept apart so want, probe, plan and apply can be read and tested alone.
import type { RepoUrl } from '../../lib/config/repo-url.ts';
import type { Step } from '../../lib/engine/task.ts';
import type { LocalEnvFile } from './env-file.ts';

export interface GitSyncWanted {
  app: string;
  /** DEPLOY_USER: owns the releases and shared/.env. */
  user: string;
  repo: RepoUrl;
  /** GIT_REF as written. */
  ref: string;
  /**
   * The commit, when known at `want`: GIT_REF is a full sha (or input.shared.release was set).
   * null: the probe takes it from input.shared.release (the pipeline's `prepare`), or resolves
   * GIT_REF on the host itself when the pipeline has no prepare.
   */
  sha: string | null;
  /** UTC yyyymmddHHMMSS of this run: the new release's name starts with it. */
  stamp: string;
  /** APP_ENV_FILE read locally; null when empty (no shared .env managed). */
  env: LocalEnvFile | null;
  keep: number;
  /** How long cloning or fetching the cache may take. */
  fetchTimeoutMs: number;
}

export interface ReleaseDir {
  name: string;
  /** The REVISION file's sha; '' when it has none (not a finished release). */
  revision: string;
  /** Its .env is the symlink to ../../shared/.env. */
  envLinked: boolean;
}

export interface GitSyncFact {
  home: string;
  git: boolean;
  /** repo.git exists. */
  cache: boolean;
  /** Commits the cache holds among those asked about (the wanted sha, or every ls-remote sha). */
  cacheHas: string[];
  /** The commit, when `want` did not know it: from input.shared.release, or ls-remote here. */
  resolved: { sha: string; name: string } | null;
  /** Release directories, by name (oldest first). */
  releases: ReleaseDir[];
  /** pending-release's content; null when absent or empty. */
  pending: string | null;
  /** The release `current` points at (its last path part); null when there is no link. */
  current: string | null;
  /** shared/.env: sha256, mode (e.g. '600') and owner; never its content. */
  env: { sha256: string; mode: string; owner: string } | null;
}

export type GitSyncStep =
  | (Step & { kind: 'cache'; clone: boolean; sha: string })
  | (Step & { kind: 'release'; name: string; sha: string })
  | (Step & { kind: 'env' })
  | (Step & { kind: 'link'; name: string })
  | (Step & { kind: 'pending'; name: string })
  | (Step & { kind: 'prune'; names: string[] });
