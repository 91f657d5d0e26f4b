// Makes a freshly rented VPS ready for releases. Starts as the provider's account (SSH_USER);
// once the deploy user exists and sshd is hardened, later tasks work as the deploy user.
import { definePipeline } from '../lib/engine/pipeline.ts';
import { sshBootstrap } from '../tasks/ssh-bootstrap.ts';

export default definePipeline({
  name: 'bootstrap',
  description: 'deploy user, hardened sshd, Docker, Caddy, git and cron on a fresh VPS',
  login: 'admin',
  tasks: [sshBootstrap],
});
