// Installs the app's scheduled jobs only: for a crontab change without a release.
import { definePipeline } from '../lib/engine/pipeline.ts';
import { cronInstall } from '../tasks/cron-install.ts';

export default definePipeline({
  name: 'cron',
  description: "Keep the app's block in the deploy user's crontab equal to CRON_FILE",
  login: 'deploy',
  tasks: [cronInstall],
});
