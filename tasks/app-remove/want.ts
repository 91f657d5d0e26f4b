// app-remove's `want`: every name the removal may touch, made from settings alone before any
// connection (APP_NAME is checked again here: each name below is built from it, and nothing the
// host says widens them), and where the app's deploy key is registered.
import type { Settings } from '../../lib/config/settings.ts';
import { blockMarkers } from '../../lib/cron/crontab-block.ts';
import { ConfigError } from '../../lib/errors.ts';
import type { TaskInput } from '../../lib/engine/task.ts';
import { deployKeyPage, forgeIsGitHub } from '../../lib/forge/deploy-key-page.ts';
import { appLayout } from '../../lib/release/layout.ts';
import { caRootPath, sitePath } from '../caddy-reload/caddyfile.ts';
import { deployKeyTitle } from '../deploy-key/key-record.ts';
import type { ForgeAccess, RemoveWanted } from './types.ts';

export function removeWanted({ host }: TaskInput): RemoveWanted {
  const s = host.settings;
  const app = s.appName;
  try {
    appLayout(app);
    blockMarkers(app);
  } catch {
    throw new ConfigError('APP_NAME', app, 'is not a name hoist gives an app', 'set APP_NAME to the name the app was released under (lower case letters, digits, _ and -)');
  }
  return {
    app,
    user: s.deployUser,
    service: s.appService,
    sitePath: sitePath(app),
    caRootPath: caRootPath(app),
    siteName: `hoist-${app}.caddy`,
    // As deploy-key names them (tasks/deploy-key/want.ts).
    keyFile: `.ssh/hoist_${app}_deploy`,
    alias: `hoist-${app}-repo`,
    keyTitle: deployKeyTitle(host.name),
    forge: forgeAccess(s),
  };
}

export function forgeAccess(s: Pick<Settings, 'repo' | 'githubToken' | 'githubApiUrl'>): ForgeAccess {
  const repo = s.repo;
  if (!repo) return { kind: 'none' };
  // The repository's list of deploy keys (deployKeyPage names the page that adds one).
  const adds = deployKeyPage(repo, s.githubApiUrl);
  const page = adds ? adds.replace(/\/new$/, '') : null;
  if (s.githubToken && forgeIsGitHub(repo, s.githubApiUrl)) return { kind: 'github-api', apiUrl: s.githubApiUrl, owner: repo.owner, repo: repo.repo, page };
  return { kind: 'manual', repoName: `${repo.owner}/${repo.repo}`, page };
}
