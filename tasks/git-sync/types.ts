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
   * The commit, when known before the probe: from the engine's ReleaseTarget, or GIT_REF is a
   * full sha. null: the probe resolves GIT_REF on the host (temporary, until the engine resolves
   * once per run).
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
  /** Present when the probe resolved GIT_REF itself (wanted.sha was null). */
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
