// Makes a freshly rented VPS ready for releases. Starts as the provider's account (SSH_USER);
// once the deploy user exists and sshd is hardened, deploy-key works as the deploy user.
// dns-verify runs before anything could ask for a TLS certificate (the release's Caddy site),
// so a wrong record never burns the certificate authority's rate limit.
import { definePipeline } from '../lib/engine/pipeline.ts';
import { deployKey } from '../tasks/deploy-key.ts';
import { dnsVerify } from '../tasks/dns-verify.ts';
import { sshBootstrap } from '../tasks/ssh-bootstrap.ts';

export default definePipeline({
  name: 'bootstrap',
  description: 'deploy user, hardened sshd, Docker, Caddy, git and cron; DNS checked; deploy key registered',
  login: 'admin',
  tasks: [sshBootstrap, dnsVerify, deployKey],
});
