// docker-up's view of a host in one round trip: whether Docker answers, which release is
// prepared and which is live, which slot has traffic, what runs in each slot (release, state,
// health) and whether each slot's port answers the health path.
import { RemoteCommandError } from '../../lib/errors.ts';
import { isReleaseName } from '../../lib/release/layout.ts';
import { hostSources, oneLineOfFile, oneLineOfLink, releaseFromHost, slotFromHost } from '../../lib/release/host-value.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { parsePortsRecord, portsFile, type PortHolder, type SlotPorts } from '../../lib/release/app-ports.ts';
import { projectOf, slotPaths, type Slot } from './slots.ts';
import { buildRoomProbe, isBuildRoomLine, parseBuildRoom, type BuildRoom } from './disk.ts';

/**
 * Whether the deploy user can talk to dockerd: it answers; no Docker installed; installed but
 * not running (no socket, or nothing behind it); running but silent for 10 s; or the socket is
 * there and not open to the user (not in the docker group).
 */
export type DockerState = 'running' | 'missing' | 'stopped' | 'no-answer' | 'denied';

export interface SlotContainer {
  slot: Slot;
  service: string;
  release: string;
  /** running, exited, ... */
  state: string;
  /** healthy, unhealthy, starting, or none (no health check defined). */
  health: string;
  /** The hoist.env label: sha256 of the .env it was started with (absent: none, or an older hoist). */
  env?: string;
}

export interface DockerUpFact {
  /** The deploy user's home (absolute), where SFTP writes hoist's override files. */
  home: string;
  docker: DockerState;
  /** The host runs systemd (what starts a stopped Docker differs: lib/distro/debian-family.ts). */
  systemd: boolean;
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
  /** This app's slot ports as recorded on the host (apps/APP/ports), or null. */
  recordedPorts: SlotPorts | null;
  /** Every other app's recorded ports on this host. */
  otherPorts: Record<string, SlotPorts>;
  /** TCP ports something listens on, and who (a container by name, else a process's uid). */
  listening: Map<number, PortHolder>;
  /** Host ports published by this app's own containers, by compose project (APP-blue/APP-green). */
  ownPorts: Map<number, string>;
  /** sha256 of apps/APP/shared/.env, or null when there is none. */
  envSha256: string | null;
  /** Free space under Docker's root, every image, every app's releases (disk.ts); absent in hand-made facts. */
  disk?: BuildRoom;
}

export interface ProbeInput {
  app: string;
  service: string;
  healthPath: string;
  /** BLUE_PORT/GREEN_PORT when set; else the host's record (apps/APP/ports) says. */
  ports: SlotPorts | null;
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
  // The slot's port is the one the user set, else the recorded one ($blue/$green below).
  const health = (slot: Slot) =>
    slot === 'blue'
      ? sh`if [ -n "$blue" ]; then curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$blue"${p.healthPath}; else echo 0; fi`
      : sh`if [ -n "$green" ]; then curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$green"${p.healthPath}; else echo 0; fi`;
  const record = portsFile(p.app);
  const sock = '/var/run/docker.sock';
  return sh`cd && 
echo "home=$HOME"
if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi
ping=$(curl -s --max-time 10 --unix-socket ${sock} http://docker/_ping 2>/dev/null); rc=$?
if [ "$ping" = OK ]; then echo docker=running
elif [ $rc -eq 28 ]; then echo docker=no-answer
elif ! command -v docker >/dev/null 2>&1 && ! [ -x /usr/sbin/dockerd ]; then echo docker=missing
elif [ -S ${sock} ] && ! { [ -r ${sock} ] && [ -w ${sock} ]; }; then echo docker=denied
else echo docker=stopped; fi
printf 'pending=%s\\n' ${oneLineOfFile(`${root}/pending-release`)}
printf 'current=%s\\n' ${oneLineOfLink(`${root}/current`)}
printf 'active=%s\\n' ${oneLineOfFile(paths.active)}
compose=none
for plugin in /usr/libexec/docker/cli-plugins/docker-compose /usr/lib/docker/cli-plugins/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose "$HOME/.docker/cli-plugins/docker-compose"; do
  if [ -x "$plugin" ]; then compose=v2; break; fi
done
if [ $compose = none ]; then if command -v docker-compose >/dev/null 2>&1; then compose=v1; elif docker compose version >/dev/null 2>&1; then compose=v2; fi; fi
echo "compose=$compose"
echo ${`project blue ${projectOf(p.app, 'blue')}`}
echo ${`project green ${projectOf(p.app, 'green')}`}
echo "containers-json $(${api('/containers/json?all=1', {})})"
echo "images-json $(${api('/images/json', { reference: [`hoist-${p.app}-${p.service}`] })})"
for f in apps/*/ports; do [ -f "$f" ] && printf 'app-ports %s %s\\n' "$(basename "$(dirname "$f")")" "$(head -c 200 "$f" | tr '\\n' ';')"; done
blue=${p.ports ? String(p.ports.blue) : ''}; green=${p.ports ? String(p.ports.green) : ''}
[ -n "$blue" ] || blue=$(awk '$1=="blue"{print $2}' ${record} 2>/dev/null | head -1)
[ -n "$green" ] || green=$(awk '$1=="green"{print $2}' ${record} 2>/dev/null | head -1)
case "$blue$green" in *[!0-9]*) blue=; green=;; esac
awk 'FNR>1 && $4=="0A" {n=split($2,a,":"); print "listen", a[n], $8}' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u
awk -F: '{print "user", $3, $1}' /etc/passwd
echo "env-sha256 $(sha256sum < ${`${root}/shared/.env`} 2>/dev/null | cut -c1-64)"
echo "http blue $(${health('blue')} || true)"
echo "http green $(${health('green')} || true)"
ls -1 ${`${root}/releases`} 2>/dev/null | sed 's/^/release /'
${buildRoomProbe()}`;
}

/**
 * The probe's answer as a fact. Release names, the active slot and container labels come from
 * files and labels anyone on the host could change: they are checked here (lib/release/host-value.ts),
 * so no later step puts a bad one into a path, a command or the compose override.
 */
export function parseDockerUpFact(r: { stdout: string; stderr: string; code: number }, app: string): DockerUpFact {
  if (r.code !== 0) throw new RemoteCommandError('probing containers for docker-up', r.code, r.stderr);
  const from = hostSources(app);
  const fact: DockerUpFact = {
    home: '', docker: 'stopped', systemd: false, pending: null, current: null, active: null, compose: 'none', containers: [], http: { blue: 0, green: 0 }, images: [], releases: [],
    recordedPorts: null, otherPorts: {}, listening: new Map(), ownPorts: new Map(), envSha256: null,
  };
  const users = new Map<number, string>();
  const published = new Map<number, string>();
  let dockerSeen = false;
  const projects = new Map<string, Slot>();
  const diskLines: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const [word, ...rest] = line.trim().split(/\s+/);
    if (isBuildRoomLine(word)) {
      diskLines.push(line);
      continue;
    }
    if (word === 'project' && (rest[0] === 'blue' || rest[0] === 'green') && rest[1]) {
      projects.set(rest[1], rest[0]);
      continue;
    }
    if (word === 'containers-json') {
      for (const c of apiList<ApiContainer>(line, 'containers-json')) {
        const labels = c.Labels ?? {};
        const name = (c.Names?.[0] ?? c.Id?.slice(0, 12) ?? '?').replace(/^\//, '');
        const project = labels['com.docker.compose.project'] ?? '';
        for (const port of c.Ports ?? []) {
          if (!port.PublicPort) continue;
          published.set(port.PublicPort, name);
          if (projects.has(project)) fact.ownPorts.set(port.PublicPort, project);
        }
        const slot = projects.get(project);
        if (!slot) continue;
        const release = releaseFromHost(labels['hoist.release'] ?? '', from.label(name)) ?? '';
        const env = /^[0-9a-f]{64}$/.test(labels['hoist.env'] ?? '') ? { env: labels['hoist.env']! } : {};
        fact.containers.push({ slot, service: labels['com.docker.compose.service'] ?? '', release, state: c.State ?? '', health: healthOf(c.Status ?? ''), ...env });
      }
      continue;
    }
    if (word === 'images-json') {
      for (const img of apiList<ApiImage>(line, 'images-json')) {
        for (const tag of img.RepoTags ?? []) {
          const at = tag.lastIndexOf(':');
          // Only hoist's own tags (a release name): an image someone tagged :latest is not ours to prune.
          if (at > 0 && isReleaseName(tag.slice(at + 1))) fact.images.push(tag.slice(at + 1));
        }
      }
      continue;
    }
    if (line.startsWith('home=')) fact.home = line.slice(5).trim();
    else if (line.startsWith('docker=')) {
      const v = line.slice(7).trim();
      if (DOCKER_STATES.includes(v as DockerState)) fact.docker = v as DockerState;
      dockerSeen = true;
    } else if (line.startsWith('systemd=')) fact.systemd = line.slice(8).trim() === 'yes';
    else if (line.startsWith('pending=')) fact.pending = releaseFromHost(line.slice(8), from.pending);
    else if (line.startsWith('current=')) fact.current = releaseFromHost(line.slice(8), from.current);
    else if (line.startsWith('active=')) fact.active = slotFromHost(line.slice(7), from.active);
    else if (line.startsWith('compose=')) fact.compose = line.slice(8).trim() as DockerUpFact['compose'];
    else if (word === 'http' && rest.length >= 1) fact.http[rest[0] as Slot] = Number(rest[1] ?? 0) || 0;
    else if (word === 'release' && rest[0] && isReleaseName(rest[0])) fact.releases.push(rest[0]);
    else if (word === 'app-ports' && rest[0]) {
      // Another app's record (or this one's). A folder name that is no app name is no app of ours.
      const ports = parsePortsRecord(rest.slice(1).join(' '));
      if (ports && /^[a-z0-9][a-z0-9_-]{0,62}$/.test(rest[0])) {
        if (rest[0] === app) fact.recordedPorts = ports;
        else fact.otherPorts[rest[0]] = ports;
      }
    } else if (word === 'listen' && rest[0] && /^[0-9A-F]{4}$/i.test(rest[0])) {
      fact.listening.set(parseInt(rest[0], 16), { kind: 'process', uid: Number(rest[1]) });
    } else if (word === 'user' && /^\d+$/.test(rest[0] ?? '') && rest[1]) users.set(Number(rest[0]), rest[1]);
    else if (word === 'env-sha256') fact.envSha256 = /^[0-9a-f]{64}$/.test(rest[0] ?? '') ? rest[0]! : null;
  }
  fact.disk = parseBuildRoom(diskLines);
  for (const holder of fact.listening.values()) if (holder.kind === 'process' && users.has(holder.uid)) holder.user = users.get(holder.uid)!;
  // A published port is the container's (Docker's proxy process is only its stand-in).
  for (const [port, name] of published) fact.listening.set(port, { kind: 'container', name });
  if (!dockerSeen || !fact.home.startsWith('/')) throw new RemoteCommandError('probing containers for docker-up (the answer is cut short)', r.code, r.stderr || r.stdout.slice(0, 300));
  return fact;
}

const DOCKER_STATES: DockerState[] = ['running', 'missing', 'stopped', 'no-answer', 'denied'];

interface ApiContainer {
  Id?: string;
  Ports?: { PublicPort?: number }[];
  Names?: string[];
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
export function healthOf(status: string): string {
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(status);
  if (!m) return 'none';
  return m[1] === 'health: starting' ? 'starting' : m[1]!;
}
