// The deploy-key task's data: what is wanted (from settings, local), what the host has (one
// probe), and the steps between them. Kept apart so want, probe, plan and apply can each be
// read and tested on their own.
import type { RepoUrl } from '../../lib/config/repo-url.ts';
import type { Step } from '../../lib/engine/task.ts';
import type { ForgePins } from '../../lib/forge/forge-host-keys.ts';

export type Registration =
  /** GITHUB_TOKEN is set: hoist registers the key through the REST API at `apiUrl`. */
  | { kind: 'github-api'; apiUrl: string }
  /** No token: a person adds the key (at `page` when we know it), hoist waits `waitMs`. */
  | { kind: 'manual'; page: string | null; waitMs: number };

export interface DeployKeyWanted {
  app: string;
  /** DEPLOY_USER: whose key, ssh config and known_hosts. */
  user: string;
  /** The host's name in the inventory (or HOST): the deploy key's title at the forge. */
  hostName: string;
  repo: RepoUrl;
  /** Private key path relative to the deploy user's home: .ssh/hoist_APP_deploy. */
  keyFile: string;
  /** The ssh Host alias that carries the key's settings: hoist-APP-repo. */
  alias: string;
  /** APP_REPO rewritten to go through the alias; git maps APP_REPO onto it (url.insteadOf). */
  aliasUrl: string;
  pins: ForgePins;
  registration: Registration;
}

export interface DeployKeyFact {
  home: string;
  /** `uname -n` of the host: goes into the key's comment. */
  hostname: string;
  git: boolean;
  /** Mode of the private key file (e.g. '600'), null when there is none. */
  keyMode: string | null;
  /** The .pub line, null when there is none. */
  publicKey: string | null;
  /** All of ~/.ssh/config, null when there is none. */
  sshConfig: string | null;
  /** Values of git's url.<aliasUrl>.insteadOf. */
  insteadOf: string[];
  /** The lines of ~/.ssh/known_hosts that hold one of the pinned keys. */
  knownHosts: string;
  /** `git ls-remote APP_REPO` as the deploy user, now. */
  lsRemote: { ok: boolean; error: string };
}

export type DeployKeyStepKind = 'make-key' | 'key-mode' | 'ssh-config' | 'git-url' | 'pin-host-keys' | 'register' | 'prove';

export interface DeployKeyStep extends Step {
  kind: DeployKeyStepKind;
  /** ssh-config: the whole new ~/.ssh/config. */
  content?: string;
  /** pin-host-keys: the known_hosts lines to append. */
  lines?: string[];
}
