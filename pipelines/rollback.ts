// Goes back to an earlier release (`--to RELEASE`, default: the one before current) with the
// same health gate and traffic switch as a release, from images already on the host, and that
// release's scheduled jobs (cron-install reads APP_CRONTAB from the release `current` now is; a
// release older than that file had none).
import { definePipeline } from '../lib/engine/pipeline.ts';
import { caddyReload } from '../tasks/caddy-reload.ts';
import { cronInstallOfRollback } from '../tasks/cron-install.ts';
import { dockerUpOfRollback } from '../tasks/docker-up.ts';
import { releaseSwitch } from '../tasks/release-switch.ts';
import { rollbackSelect } from '../tasks/rollback-select.ts';

export default definePipeline({
  name: 'rollback',
  description: 'an earlier release live again: rollback-select, docker-up, caddy-reload, release-switch, cron-install',
  login: 'deploy',
  tasks: [rollbackSelect, dockerUpOfRollback, caddyReload, releaseSwitch, cronInstallOfRollback],
  releaseLink: ({ host }) => `apps/${host.settings.appName}/current`,
  revision: (shared) => `back to ${typeof shared.rollbackTo === 'string' ? shared.rollbackTo : 'the previous release'}`,
});
