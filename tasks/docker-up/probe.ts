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

export function dockerUpProbe(p: ProbeInput): Cmd {
  const root = `apps/${p.app}`;
  const paths = slotPaths(p.app);
  // '|' separated: a label may be empty (a service hoist did not tag), a space would shift fields.
  const format = '{{index .Config.Labels "com.docker.compose.service"}}|{{index .Config.Labels "hoist.release"}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}';
  const perSlot = (slot: Slot) => sh`
for id in $(docker ps -aq --filter ${`label=com.docker.compose.project=${projectOf(p.app, slot)}`}); do
  echo ${`container|${slot}|`}"$(docker inspect --format ${format} "$id")"
done
echo ${`http ${slot}`} "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 ${`http://127.0.0.1:${p.ports[slot]}${p.healthPath}`} || true)"`;
  return sh`cd && 
echo "home=$HOME"
echo "pending=$(cat ${`${root}/pending-release`} 2>/dev/null)"
echo "current=$(readlink ${`${root}/current`} 2>/dev/null | sed 's#.*/##')"
echo "active=$(cat ${paths.active} 2>/dev/null)"
if docker compose version >/dev/null 2>&1; then echo compose=v2; elif command -v docker-compose >/dev/null 2>&1; then echo compose=v1; else echo compose=none; fi
${perSlot('blue')}
${perSlot('green')}
docker images --format 'image {{.Tag}}' ${`hoist-${p.app}-${p.service}`} 2>/dev/null || true
ls -1 ${`${root}/releases`} 2>/dev/null | sed 's/^/release /'
`;
}

export function parseDockerUpFact(r: { stdout: string; stderr: string; code: number }): DockerUpFact {
  if (r.code !== 0) throw new RemoteCommandError('probing containers for docker-up', r.code, r.stderr);
  const fact: DockerUpFact = { home: '', pending: null, current: null, active: null, compose: 'none', containers: [], http: { blue: 0, green: 0 }, images: [], releases: [] };
  for (const line of r.stdout.split('\n')) {
    const [word, ...rest] = line.trim().split(/\s+/);
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
