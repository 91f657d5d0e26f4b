// Puts one commit of the app live on every host with no downtime: GIT_REF is resolved to one
// sha before any host changes; each host checks it out as a release, starts it on the idle
// blue/green slot, waits until it is healthy, moves Caddy to it, makes it `current`, retires the
// old slot, and installs the release's scheduled jobs.
import { runChecked } from '../lib/exec/executor.ts';
import { definePipeline } from '../lib/engine/pipeline.ts';
import { isFullSha, type ReleaseTarget } from '../lib/release/target.ts';
import { resolveRef } from '../lib/release/resolve-ref.ts';
import { imageBuiltHere } from '../lib/ship/prepare.ts';
import { sh } from '../lib/shell-quote.ts';
import { caddyReload } from '../tasks/caddy-reload.ts';
import { cronInstall } from '../tasks/cron-install.ts';
import { dockerUp } from '../tasks/docker-up.ts';
import { gitSync } from '../tasks/git-sync.ts';
import { releaseSwitch } from '../tasks/release-switch.ts';

export default definePipeline({
  name: 'release',
  description: 'GIT_REF live on every host: git-sync, docker-up, caddy-reload, release-switch, cron-install',
  login: 'deploy',
  tasks: [gitSync, dockerUp, caddyReload, releaseSwitch, cronInstall],

  /** One sha for the whole fleet, asked of the first host (the operator's machine may have no access). */
  async prepare({ hosts, executor }) {
    const first = hosts[0]!;
    const { repo, gitRef } = first.host.settings;
    if (!repo) return {};
    let sha: string;
    if (isFullSha(gitRef)) sha = gitRef.toLowerCase();
    else {
      const exec = executor(first, 'deploy');
      await runChecked(exec, sh`command -v git >/dev/null`, 'looking for git (run the bootstrap pipeline first)');
      sha = await resolveRef(exec, repo, gitRef);
    }
    // BUILD=local/registry: the image is built here once for the fleet; docker-up ships it to (or pulls it on) each host.
    return { release: { sha, ref: gitRef } satisfies ReleaseTarget, ...(await imageBuiltHere(first.host.settings, sha)) };
  },

  releaseLink: ({ host }) => `apps/${host.settings.appName}/current`,
  revision: (shared) => (shared.release as ReleaseTarget | undefined)?.sha ?? null,
});
