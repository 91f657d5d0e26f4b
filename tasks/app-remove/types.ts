// app-remove's data: what is wanted (from settings, local), what the host holds of the app (one
// probe), and the steps between them. Kept apart so each part can be read and tested alone.
import { HoistError } from '../../lib/errors.ts';
import type { Step } from '../../lib/engine/task.ts';
import type { KeyRecord } from '../deploy-key/key-record.ts';

/** Where the app's deploy key is registered, and how hoist can take it away there. */
export type ForgeAccess =
  /** GITHUB_TOKEN is set and APP_REPO is on GitHub: hoist deletes the key through the REST API. */
  | { kind: 'github-api'; apiUrl: string; owner: string; repo: string; page: string | null }
  /** No token (or another forge): hoist tells the operator which key to delete, and where. */
  | { kind: 'manual'; repoName: string; page: string | null }
  /** No APP_REPO: hoist cannot say where the key was registered. */
  | { kind: 'none' };

export interface RemoveWanted {
  app: string;
  /** DEPLOY_USER: whose home, crontab, ssh config and git config hold the app. */
  user: string;
  /** APP_SERVICE: the service whose image hoist tags hoist/APP/SERVICE:<release> (hoist-APP-SERVICE before). */
  service: string;
  /** /etc/caddy/sites/hoist-APP.caddy */
  sitePath: string;
  /** ACME_CA_ROOT as caddy-reload uploaded it for the app's site (only this app's site uses it). */
  caRootPath: string;
  /** The site file's name in the sites folder: others there keep the import line in use. */
  siteName: string;
  /** .ssh/hoist_APP_deploy, relative to the deploy user's home. */
  keyFile: string;
  /** The ssh Host alias deploy-key made: hoist-APP-repo. */
  alias: string;
  /** The title deploy-key gives this host's key at the forge (hoist HOST): no key titled otherwise is revoked. */
  keyTitle: string;
  forge: ForgeAccess;
}

/** A deploy key as listed at the forge (only what the plan shows and matches). */
export interface ForgeKey {
  id: number;
  key: string;
  title: string;
}

export interface Container {
  id: string;
  name: string;
  /** Image id (sha256:...). */
  image: string;
  state: string;
  /** com.docker.compose.project / .service labels and hoist.release; '' when absent. */
  project: string;
  service: string;
  release: string;
}

export interface Image {
  id: string;
  /** repository:tag */
  ref: string;
  size: string;
}

export interface RemoveFact {
  /** The deploy user's home, from the passwd database. */
  home: string;
  caddy: {
    /** The app's site file; null when there is none. */
    site: string | null;
    caddyfile: string | null;
    caddyfileMode: string;
    caddyfileOwner: string;
    running: boolean;
    /** Names of the other *.caddy files in the sites folder (they use the import line). */
    otherSites: string[];
    /** The app's ACME CA root file is there. */
    caRoot: boolean;
  };
  /** The deploy user's crontab; null when there is none. */
  crontab: string | null;
  /** Docker answers (yes), is not installed (absent) or is installed and silent (down). */
  docker: 'yes' | 'absent' | 'down';
  /** Every container on the host: the app's are picked by exact project label. */
  containers: Container[];
  images: Image[];
  volumes: { project: string; name: string }[];
  networks: { project: string; id: string; name: string }[];
  /** ~/apps/APP: a real folder, a symlink (it or ~/apps), something else, or missing. */
  appDir: 'dir' | 'link' | 'other' | null;
  /** Release folders (release-name style only) under ~/apps/APP/releases. */
  releases: string[];
  /** Every app folder under ~/apps (this one too) and its release folders: whose an old-named image is. */
  hostReleases: Record<string, string[]>;
  /** ~/apps/APP/shared/.env exists. */
  env: boolean;
  /** The deploy key's files: which exist, and the public key (from .pub, or derived from the private key). */
  key: {
    private: boolean;
    public: boolean;
    publicKey: string | null;
    /** What deploy-key recorded GitHub registered (tasks/deploy-key/key-record.ts); null: none, or not readable as one. */
    record: KeyRecord | null;
    /** The record file is there (deleted with the key). */
    recordFile: boolean;
  };
  sshConfig: string | null;
  /** git's url.<section>.insteadof sections whose alias host is this app's. */
  gitUrlSections: string[];
}

export type RemoveStep = Step &
  (
    | { kind: 'revoke-key'; ids: number[] }
    | { kind: 'tell-key' }
    | { kind: 'caddy'; caddyfile: string | null }
    | { kind: 'ca-root' }
    | { kind: 'crontab'; content: string }
    | { kind: 'containers'; ids: string[] }
    | { kind: 'networks'; ids: string[] }
    | { kind: 'volumes'; names: string[] }
    | { kind: 'images'; refs: string[] }
    | { kind: 'app-dir' }
    | { kind: 'key-files' }
    | { kind: 'ssh-config'; content: string }
    | { kind: 'git-url'; sections: string[] }
  );

export class RemoveError extends HoistError {}
