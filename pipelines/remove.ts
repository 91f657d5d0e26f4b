// Takes the app (APP_NAME) off the selected hosts: `hoist remove` (or `hoist run remove`). The
// forge's deploy keys are listed once before any host changes, so the dry run names the key it
// would revoke. Destructive: a real run is confirmed by typing the app's name on a terminal, or
// by --yes without one.
import { definePipeline } from '../lib/engine/pipeline.ts';
import { appRemove } from '../tasks/app-remove.ts';
import { listForgeKeys, SHARED_KEY } from '../tasks/app-remove/forge-keys.ts';

export default definePipeline({
  name: 'remove',
  description: 'takes APP_NAME off the hosts: Caddy site, crontab block, containers, images, ~/apps/APP, deploy key (also at GitHub)',
  login: 'deploy',
  tasks: [appRemove],
  async prepare({ hosts }) {
    return { [SHARED_KEY]: await listForgeKeys(hosts) };
  },
  // APP_NAME is the same for every host (not a per-host key).
  confirmWord: (hosts) => hosts[0]?.settings.appName ?? '',
  releaseLink: ({ host }) => `apps/${host.settings.appName}/current`,
  revision: () => 'remove',
});
