// docker-up's view of a host in one round trip: which release is prepared and which is live,
// which slot has traffic, what runs in each slot (release, state, health) and whether each
// slot's port answers the health path.
import { RemoteCommandError } from '../../lib/errors.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { projectOf, slotPaths, type Slot } from './slots.ts';

export interface SlotContainer {
  slot: Slot;
  service: string;
  release: string;
  /** running, exited, ... */
  state: string;
  /** healthy, unhealthy, starting, or none (no health check defined). */
  health: string;
}

export interface DockerUpFact {
  /** The deploy user's home (absolute), where SFTP writes hoist's override files. */
  home: string;
  pending: string | null;
  current: string | null;
  active: Slot | null;
  compose: 'v2' | 'v1' | 'none';
  containers: SlotContainer[];
  /** HTTP status of HEALTH_PATH on each slot's port; 0 when nothing answered. */
  http: Record<Slot, number>;
  /** Releases whose image of the app service is on the host (a rollback to them needs no build). */
  images: string[];
  /** Release directories on the host. */
  releases: string[];
}

export interface ProbeInput {
  app: string;
  service: string;
  healthPath: string;
  ports: Record<Slot, number>;
}

/**
 * Docker is asked through its API socket with curl, not the docker CLI: each docker CLI run costs
 * a Go process and an API version handshake (~0.4 s on a small VPS), and this probe runs on
 * every host at every release. Two API calls replace a `docker ps` per slot, a `docker inspect`
 * per container and a `docker images`; the JSON is parsed here, not on the host. (The bench in BENCHMARKS.md measured the CLI version at 2.5 s a host.)
 */
export function dockerUpProbe(p: ProbeInput): Cmd {
  const root = `apps/${p.app}`;
  const paths = slotPaths(p.app);
  const api = (path: string, filters: object) =>
    sh`curl -s --max-time 10 --unix-socket /var/run/docker.sock -G ${`http://docker${path}`} --data-urlencode ${`filters=${JSON.stringify(filters)}`} | tr -d '\n'`;
  const health = (slot: Slot) => sh`curl -s -o /dev/null -w '%{http_code}' --max-time 5 ${`http://127.0.0.1:${p.ports[slot]}${p.healthPath}`}`;
  return sh`cd && 
echo "home=$HOME"
echo "pending=$(cat ${`${root}/pending-release`} 2>/dev/null)"
echo "current=$(readlink ${`${root}/current`} 2>/dev/null | sed 's#.*/##')"
echo "active=$(cat ${paths.active} 2>/dev/null)"
compose=none
for plugin in /usr/libexec/docker/cli-plugins/docker-compose /usr/lib/docker/cli-plugins/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose "$HOME/.docker/cli-plugins/docker-compose"; do
  if [ -x "$plugin" ]; then compose=v2; break; fi
done
if [ $compose = none ]; then if command -v docker-compose >/dev/null 2>&1; then compose=v1; elif docker compose version >/dev/null 2>&1; then compose=v2; fi; fi
echo "compose=$compose"
echo ${`project blue ${projectOf(p.app, 'blue')}`}
echo ${`project green ${projectOf(p.app, 'green')}`}
echo "containers-json $(${api('/containers/json?all=1', { label: ['com.docker.compose.project'] })})"
echo "images-json $(${api('/images/json', { reference: [`hoist-${p.app}-${p.service}`] })})"
echo "http blue $(${health('blue')} || true)"
echo "http green $(${health('green')} || true)"
ls -1 ${`${root}/releases`} 2>/dev/null | sed 's/^/release /'
`;
}

export function parseDockerUpFact(r: { stdout: string; stderr: string; code: number }): DockerUpFact {
  if (r.code !== 0) throw new RemoteCommandError('probing containers for docker-up', r.code, r.stderr);
  const fact: DockerUpFact = { home: '', pending: null, current: null, active: null, compose: 'none', containers: [], http: { blue: 0, green: 0 }, images: [], releases: [] };
  const projects = new Map<string, Slot>();
  for (const line of r.stdout.split('\n')) {
    const [word, ...rest] = line.trim().split(/\s+/);
    if (word === 'project' && (rest[0] === 'blue' || rest[0] === 'green') && rest[1]) {
      projects.set(rest[1], rest[0]);
      continue;
    }
    if (word === 'containers-json') {
      for (const c of apiList<ApiContainer>(line, 'containers-json')) {
        const slot = projects.get(c.Labels?.['com.docker.compose.project'] ?? '');
        if (!slot) continue;
        const labels = c.Labels ?? {};
        fact.containers.push({ slot, service: labels['com.docker.compose.service'] ?? '', release: labels['hoist.release'] ?? '', state: c.State ?? '', health: healthOf(c.Status ?? '') });
      }
      continue;
    }
    if (word === 'images-json') {
      for (const img of apiList<ApiImage>(line, 'images-json')) {
        for (const tag of img.RepoTags ?? []) {
          const at = tag.lastIndexOf(':');
          if (at > 0 && tag.slice(at + 1) !== '<none>') fact.images.push(tag.slice(at + 1));
        }
      }
      continue;
    }
    if (line.startsWith('home=')) fact.home = line.slice(5).trim();
    else if (line.startsWith('pending=')) fact.pending = line.slice(8).trim() || null;
    else if (line.startsWith('current=')) fact.current = line.slice(8).trim() || null;
    else if (line.startsWith('active=')) {
      const v = line.slice(7).trim();
      fact.active = v === 'blue' || v === 'green' ? v : null;
    } else if (line.startsWith('compose=')) fact.compose = line.slice(8).trim() as DockerUpFact['compose'];
    else if (line.startsWith('container|')) {
      const [, slot, service = '', release = '', state = '', health = 'none'] = line.trim().split('|');
      if (slot === 'blue' || slot === 'green') fact.containers.push({ slot, service, release, state, health });
    } else if (word === 'http' && rest.length >= 1) fact.http[rest[0] as Slot] = Number(rest[1] ?? 0) || 0;
    else if (word === 'image' && rest[0]) fact.images.push(rest[0]);
    else if (word === 'release' && rest[0] && !rest[0].startsWith('.')) fact.releases.push(rest[0]);
  }
  return fact;
}

interface ApiContainer {
  Labels?: Record<string, string>;
  State?: string;
  Status?: string;
}
interface ApiImage {
  RepoTags?: string[] | null;
}

/** The JSON array after `marker`; nothing when Docker did not answer (not installed, not running). */
function apiList<T>(line: string, marker: string): T[] {
  const text = line.slice(line.indexOf(marker) + marker.length).trim();
  if (!text) return [];
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    throw new RemoteCommandError('reading Docker\'s answer for docker-up', 0, text.slice(0, 200));
  }
}

/** Docker's status line carries the health check's verdict: "Up 3 minutes (healthy)". */
function healthOf(status: string): string {
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(status);
  if (!m) return 'none';
  return m[1] === 'health: starting' ? 'starting' : m[1]!;
}
