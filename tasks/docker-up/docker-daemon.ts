// Whether the host's Docker can run the app, in the words docker-up's refusal and `hoist status`
// share: what is wrong, the command that fixes it on that host (with or without systemd, as
// bootstrap starts services), and that bootstrap does it too. Asked before any compose command,
// so the operator reads this instead of the end of docker-compose's Python traceback.
import { startServiceHint } from '../../lib/distro/debian-family.ts';
import { DOCKER_SOCKET } from '../../lib/docker-api.ts';
import { HoistError } from '../../lib/errors.ts';
import type { DockerUpFact } from './probe.ts';

const SOCKET = DOCKER_SOCKET;

/** Docker is not installed, not running, silent, or closed to the deploy user: not retried. */
export class DockerUnavailableError extends HoistError {}

/** Null when Docker answers the deploy user; else what is wrong and how to fix it. */
export function dockerProblem(f: Pick<DockerUpFact, 'docker' | 'systemd'>, user: string): string | null {
  const start = startServiceHint('docker', f.systemd);
  const bootstrap = f.systemd ? '`hoist run bootstrap` starts it and enables it at boot' : '`hoist run bootstrap` starts it too';
  switch (f.docker) {
    case 'running':
      return null;
    case 'stopped':
      return `Docker is not running on this host (nothing answers on ${SOCKET}). Fix: start it with \`${start}\`; ${bootstrap}`;
    case 'no-answer':
      return `Docker does not answer on this host (${SOCKET} gave no answer within 10s). Fix: look at dockerd (${f.systemd ? '`sudo systemctl status docker`' : '/var/log/hoist-docker.log'}) and restart it`;
    case 'missing':
      return 'Docker is not installed on this host. Fix: `hoist run bootstrap` installs and starts it';
    case 'denied':
      return `${user} may not use Docker on this host (${SOCKET} is not open to it). Fix: \`hoist run bootstrap\` adds ${user} to the docker group`;
  }
}
