// docker-up's view of a host in one round trip: whether Docker answers, which release is
// prepared and which is live, which slot has traffic, what runs in each slot (release, state,
// health) and whether each slot's port answers the health path.
import { RemoteCommandError } from '../../lib/errors.ts';
import { DOCKER_SOCKET } from '../../lib/docker-api.ts';
import { isReleaseName } from '../../lib/release/layout.ts';
import { hostSources, oneLineOfLink, readOneLine, releaseFromHost, slotFromHost } from '../../lib/release/host-value.ts';
import { sha256Of, type SharedReads } from '../../lib/exec/shared-reads.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { parsePortsRecord, type PortHolder, type SlotPorts } from '../../lib/release/app-ports.ts';
import { projectOf, slotPaths, type Slot } from './slots.ts';
import { buildRoomProbe, isBuildRoomLine, parseBuildRoom, type BuildRoom } from './disk.ts';
import { releaseRanFile } from './release-phase.ts';
import { imageRef, imageRepo, legacyImageRepo, legacyOwner, parseImageRef } from './image-name.ts';

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
  /** Releases whose image of the app service is on the host (a rollback to them needs no build), under either name. */
  images: string[];
  /**
   * The app's own images still under the old name hoist-APP-SERVICE:RELEASE (tasks/docker-up/image-name.ts
   * says how they are told from another app's), each with its name now: docker-up re-tags them.
   */
  legacy?: { from: string; to: string }[];
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
  /** The release whose RELEASE_COMMAND last succeeded (apps/APP/release-ran: release-phase.ts); absent: none. */
  releaseRan?: string | null;
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
 * every host at every release. The JSON is parsed here, not on the host.
 *
 * What the host pays for it is kept small (issue #12: a no-op release should cost the host little
 * more than a login): ONE curl process asks Docker for every container and the app's images and
 * each slot's port for the health path (`--next` starts each request's own options; curl's own
 * start-up is most of its cost, ~10 ms of CPU each); files are read with shell builtins; one awk
 * reads the listening sockets and the user names. Docker's root and free space, and every image's
 * size (disk.ts), are read only when a build may come (a release is pending, or the live
 * release's image is gone).
 */
/** What the probe reads through the round trip's shared sha256sum (lib/exec/shared-reads.ts): git-sync hashes the same .env. */
export function dockerUpReads(app: string): SharedReads {
  return { sha256: [sh`${`apps/${app}/shared/.env`}`] };
}

export function dockerUpProbe(p: ProbeInput): Cmd {
  const root = `apps/${p.app}`;
  const paths = slotPaths(p.app);
  const sock = DOCKER_SOCKET;
  // Exact repositories (a reference filter without a tag matches the repository whole): the app's
  // service's images, and the old name of them a host released by an older hoist still has.
  const legacyRepo = legacyImageRepo(p.app, p.service);
  const images = `http://docker/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: [imageRepo(p.app, p.service), legacyRepo] }))}`;
  const docker = (what: string, url: string) => sh`-s --max-time 10 --unix-socket ${sock} -w ${`\n@docker ${what} %{http_code} %{exitcode}\n`} ${url}`;
  // The slot's port is the one the user set, else the recorded one ($blue/$green below).
  const health = (slot: Slot) => sh`--next -s -o /dev/null --max-time 5 -w ${`\n@http ${slot} %{http_code}\n`} "http://127.0.0.1:$${slot}"${p.healthPath}`;
  return sh`cd && 
echo "home=$HOME"
if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi
${readOneLine('pending', `${root}/pending-release`)}
printf 'pending=%.256s\\n' "$pending"
current=${oneLineOfLink(`${root}/current`)}
printf 'current=%s\\n' "$current"
${readOneLine('active', paths.active)}; printf 'active=%.256s\\n' "$active"
ran=; if [ -f ${releaseRanFile(p.app)} ]; then IFS= read -r ran < ${releaseRanFile(p.app)} || true; fi; printf 'release-ran=%.200s\\n' "$ran"
compose=none
for plugin in /usr/libexec/docker/cli-plugins/docker-compose /usr/lib/docker/cli-plugins/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose "$HOME/.docker/cli-plugins/docker-compose"; do
  if [ -x "$plugin" ]; then compose=v2; break; fi
done
if [ $compose = none ]; then if command -v docker-compose >/dev/null 2>&1; then compose=v1; elif docker compose version >/dev/null 2>&1; then compose=v2; fi; fi
echo "compose=$compose"
echo ${`image-service ${p.service}`}
echo ${`project blue ${projectOf(p.app, 'blue')}`}
echo ${`project green ${projectOf(p.app, 'green')}`}
blue=${p.ports ? String(p.ports.blue) : ''}; green=${p.ports ? String(p.ports.green) : ''}; rb=; rg=
for f in apps/*/ports; do
  [ -f "$f" ] || continue
  a=\${f%/ports}; a=\${a#apps/}; v=; n=0
  while [ $n -lt 8 ] && { IFS= read -r l || [ -n "$l" ]; }; do
    n=$((n + 1)); v="$v$l;"
    if [ "$a" = ${p.app} ]; then set -f; set -- $l; set +f; case "$1" in blue) rb=$2;; green) rg=$2;; esac; fi
  done < "$f"
  printf 'app-ports %s %.200s\\n' "$a" "$v"
done
[ -n "$blue" ] || blue=$rb
[ -n "$green" ] || green=$rg
case "$blue$green" in *[!0-9]*) blue=; green=;; esac
set --; for t in /proc/net/tcp /proc/net/tcp6 /etc/passwd; do [ -r "$t" ] && set -- "$@" "$t"; done
awk 'FILENAME == "/etc/passwd" { split($0, u, ":"); print "user", u[3], u[1]; next } FNR > 1 && $4 == "0A" { n = split($2, a, ":"); print "listen", a[n], $8 }' "$@"
if [ -f ${`${root}/shared/.env`} ]; then ${sha256Of('envsha', sh`${`${root}/shared/.env`}`)}; echo "env-sha256 $envsha"; fi
set -- ${docker('containers', 'http://docker/containers/json?all=1')} --next ${docker('images', images)}
if [ -n "$blue" ]; then set -- "$@" ${health('blue')}; fi
if [ -n "$green" ]; then set -- "$@" ${health('green')}; fi
out=$(curl "$@" 2>/dev/null)
# Matched at a line's start: Docker's JSON never holds a raw line break, so no label can fake one.
case "$out" in
  *"
@docker containers 200 "*) echo docker=running; dok=1;;
  *"
@docker containers 000 28"*) echo docker=no-answer; dok=;;
  *) dok=
    if ! command -v docker >/dev/null 2>&1 && ! [ -x /usr/sbin/dockerd ]; then echo docker=missing
    elif [ -S ${sock} ] && ! { [ -r ${sock} ] && [ -w ${sock} ]; }; then echo docker=denied
    else echo docker=stopped; fi;;
esac
printf '%s\\n' "$out"
for d in ${root}/releases/*/; do [ -d "$d" ] || continue; d=\${d%/}; echo "release \${d##*/}"; done
# An old-named image: whose it is takes every app's releases (image-name.ts); only then are they listed.
case "$out" in *${`"${legacyRepo}:`}*) for d in apps/*/releases/*/; do [ -d "$d" ] && printf 'any-release %s\\n' "$d"; done;; esac
# Room for a build matters when one may come: a release is pending, or the live one's image is gone.
room=$pending; c=\${current%% *}; c=\${c##*/}
if [ -z "$room" ] && [ -n "$c" ]; then case "$out" in *${`"${imageRef(p.app, p.service, '')}`}"$c"'"'*) ;; *) room=1;; esac; fi
if [ -n "$room" ]; then
${buildRoomProbe()}
fi`;
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
    home: '', docker: 'stopped', systemd: false, pending: null, current: null, active: null, compose: 'none', containers: [], http: { blue: 0, green: 0 }, images: [], legacy: [], releases: [],
    recordedPorts: null, otherPorts: {}, listening: new Map(), ownPorts: new Map(), envSha256: null,
  };
  const users = new Map<number, string>();
  const published = new Map<number, string>();
  let dockerSeen = false;
  const projects = new Map<string, Slot>();
  const diskLines: string[] = [];
  let service = '';
  /** Every app's release folders on the host, when an old-named image asked for them. */
  const everyRelease: Record<string, string[]> = {};
  /** Image id -> the compose projects of the containers running from it. */
  const projectsUsing = new Map<string, Set<string>>();
  const legacyImages: { id: string; ref: string }[] = [];
  const readContainers = (text: string) => {
    for (const c of apiList<ApiContainer>(text)) {
      const labels = c.Labels ?? {};
      const name = (c.Names?.[0] ?? c.Id?.slice(0, 12) ?? '?').replace(/^\//, '');
      const project = labels['com.docker.compose.project'] ?? '';
      if (c.ImageID && project) projectsUsing.set(c.ImageID, (projectsUsing.get(c.ImageID) ?? new Set()).add(project));
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
  };
  const readImages = (text: string) => {
    for (const img of apiList<ApiImage>(text)) {
      for (const tag of img.RepoTags ?? []) {
        // Only hoist's own tags (a release name): an image someone tagged :latest is not ours to prune.
        const named = parseImageRef(tag);
        if (named && named.app === app) fact.images.push(named.release);
        else if (tag.startsWith('hoist-')) legacyImages.push({ id: img.Id ?? '', ref: tag });
      }
    }
  };
  // Docker's JSON answers come on their own lines, each followed by curl's `@docker WHAT CODE` line.
  let json = '';
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('[') || line.startsWith('{')) {
      json += line;
      continue;
    }
    const [word, ...rest] = line.trim().split(/\s+/);
    if (word === '@docker') {
      if (rest[0] === 'containers' && rest[1] === '200') readContainers(json);
      else if (rest[0] === 'images' && rest[1] === '200') readImages(json);
      json = '';
      continue;
    }
    if (isBuildRoomLine(word)) {
      diskLines.push(line);
      continue;
    }
    if (word === 'image-service' && rest[0]) {
      service = rest[0];
      continue;
    }
    if (word === 'any-release') {
      const m = /^apps\/([a-z0-9][a-z0-9_-]{0,62})\/releases\/([^/]+)\/$/.exec(rest[0] ?? '');
      if (m && isReleaseName(m[2]!)) (everyRelease[m[1]!] ??= []).push(m[2]!);
      continue;
    }
    if (word === 'project' && (rest[0] === 'blue' || rest[0] === 'green') && rest[1]) {
      projects.set(rest[1], rest[0]);
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
    else if (line.startsWith('release-ran=')) fact.releaseRan = releaseFromHost(line.slice(12), { where: `~/${releaseRanFile(app)}`, verb: 'holds', fix: 'remove it; the next release command that succeeds writes it again' });
    else if (line.startsWith('compose=')) fact.compose = line.slice(8).trim() as DockerUpFact['compose'];
    else if (word === '@http' && (rest[0] === 'blue' || rest[0] === 'green')) fact.http[rest[0]] = Number(rest[1] ?? 0) || 0;
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
  claimLegacy(fact, app, service, legacyImages, everyRelease, projectsUsing);
  // Read only when a release is pending (the probe says why): absent, a build has nothing to go by.
  if (diskLines.length) fact.disk = parseBuildRoom(diskLines);
  for (const holder of fact.listening.values()) if (holder.kind === 'process' && users.has(holder.uid)) holder.user = users.get(holder.uid)!;
  // A published port is the container's (Docker's proxy process is only its stand-in).
  for (const [port, name] of published) fact.listening.set(port, { kind: 'container', name });
  if (!dockerSeen || !fact.home.startsWith('/')) throw new RemoteCommandError('probing containers for docker-up (the answer is cut short)', r.code, r.stderr || r.stdout.slice(0, 300));
  return fact;
}

/**
 * The old-named images that are this app's (image-name.ts legacyOwner: the container that runs
 * one, else the release folders, else the only app that fits): counted as its releases' images,
 * and listed to be re-tagged. Another app's, or one nobody can be sure of, is left as it is.
 */
function claimLegacy(fact: DockerUpFact, app: string, service: string, found: { id: string; ref: string }[], releases: Record<string, string[]>, projectsUsing: Map<string, Set<string>>): void {
  if (!service || !found.length) return;
  const apps = Object.keys(releases);
  for (const { id, ref } of found) {
    const projects = projectsUsing.get(id) ?? new Set<string>();
    const usedBy = new Set(apps.filter((a) => projects.has(projectOf(a, 'blue')) || projects.has(projectOf(a, 'green'))));
    if (legacyOwner(ref, { releases, usedBy }, { app, service }) !== app) continue;
    const release = ref.slice(ref.lastIndexOf(':') + 1);
    if (!fact.images.includes(release)) fact.images.push(release);
    (fact.legacy ??= []).push({ from: ref, to: imageRef(app, service, release) });
  }
}

const DOCKER_STATES: DockerState[] = ['running', 'missing', 'stopped', 'no-answer', 'denied'];

interface ApiContainer {
  Id?: string;
  ImageID?: string;
  Ports?: { PublicPort?: number }[];
  Names?: string[];
  Labels?: Record<string, string>;
  State?: string;
  Status?: string;
}
interface ApiImage {
  Id?: string;
  RepoTags?: string[] | null;
}

/** Docker's JSON list; nothing when Docker did not answer (not installed, not running). */
function apiList<T>(answer: string): T[] {
  const text = answer.trim();
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
