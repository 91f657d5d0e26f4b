// The app repository's SSH URL, taken apart: the forge host (for known_hosts and ssh config),
// and owner/repo (for the forge's API). Both scp-like and ssh:// forms are accepted.
import { hostProblem } from './validators.ts';

export interface RepoUrl {
  url: string;
  user: string;
  host: string;
  port: number;
  /** Path as the server sees it, e.g. acme/app.git. */
  path: string;
  owner: string;
  repo: string;
}

const SCP_LIKE = /^([a-z_][a-z0-9_-]*)@([A-Za-z0-9.-]+):(?!\/)([A-Za-z0-9._/-]+)$/;
const SSH_URL = /^ssh:\/\/([a-z_][a-z0-9_-]*)@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?\/([A-Za-z0-9._/-]+)$/;

export function parseRepoUrl(url: string): RepoUrl | null {
  const scp = SCP_LIKE.exec(url);
  const ssh = scp ? null : SSH_URL.exec(url);
  if (!scp && !ssh) return null;
  const [user, host, port, path] = scp ? [scp[1]!, scp[2]!, '22', scp[3]!] : [ssh![1]!, ssh![2]!.replace(/^\[|\]$/g, ''), ssh![3] ?? '22', ssh![4]!];
  // A host or path segment that starts with '-' reads as an option to ssh or git (the
  // `ssh -oProxyCommand=...` family of bugs): no forge names anything that way.
  if (hostProblem(host)) return null;
  if (path.split('/').some((seg) => seg === '..' || seg === '' || seg.startsWith('-'))) return null;
  const segments = path.replace(/\.git$/, '').split('/');
  if (segments.length < 2) return null;
  const portNumber = Number(port);
  if (portNumber < 1 || portNumber > 65535) return null;
  return { url, user, host, port: portNumber, path, owner: segments[segments.length - 2]!, repo: segments[segments.length - 1]! };
}
