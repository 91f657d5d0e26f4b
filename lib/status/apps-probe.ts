// `hoist status`'s view of every hoist app on a host and of Docker's disk, in one command (one
// round trip, sent beside the other status probes): each ~/apps/*/ folder (live release, active
// slot, recorded ports, the image its slot overrides name, its releases and their size, whether
// its live slot's port answers), Docker's /system/df (images with sizes, containers, build
// cache), each image's history (its layers, so an app's releases that share layers are counted
// once), and the free space where Docker writes. Parsed here; nothing is judged on the host.
import { createHash } from 'node:crypto';
import { HoistError } from '../errors.ts';
import { DOCKER_SOCKET } from '../docker-api.ts';
import { parsePortsRecord, type SlotPorts } from '../release/app-ports.ts';
import { hostSources, releaseFromHost, slotFromHost } from '../release/host-value.ts';
import { isReleaseName } from '../release/layout.ts';
import { sh, type Cmd } from '../shell-quote.ts';
import { dockerRootFree, isBuildRoomLine, parseBuildRoom } from '../../tasks/docker-up/disk.ts';
import { healthOf } from '../../tasks/docker-up/probe.ts';
import { legacyImageRepo, parseImageRef } from '../../tasks/docker-up/image-name.ts';
import type { Slot } from '../../tasks/docker-up/slots.ts';
import { parseVolumesRecord } from '../../tasks/docker-up/volumes.ts';

/** One image as /system/df lists it (top-level images only: a build's intermediate ones are inside them). */
export interface DfImage {
  id: string;
  refs: string[];
  size: number;
  /** Containers using it (-1 when Docker did not count). */
  containers: number;
}

export interface DfContainer {
  name: string;
  project: string;
  service: string;
  /** The hoist.release label, '' when absent. */
  release: string;
  imageId: string;
  state: string;
  health: string;
  /** Bytes its writable layer holds. */
  sizeRw: number;
}

/** A Docker volume as /system/df lists it (the sizes Docker computes there anyway). */
export interface DfVolume {
  name: string;
  /** The hoist.app label hoist puts on the volumes it makes, '' when absent. */
  app: string;
  /** com.docker.compose.project: a volume compose made (per slot, from before hoist pinned volumes). */
  project: string;
  /** Bytes in it; null when Docker did not say (-1: not computed). */
  bytes: number | null;
  /** Containers using it; null when Docker did not say. */
  refs: number | null;
}

export interface DfBuildCache {
  size: number;
  inUse: boolean;
  shared: boolean;
}

/** One layer of an image, from its history: `key` names the layer with everything below it. */
export interface Layer {
  key: string;
  size: number;
}

export interface AppFolder {
  name: string;
  current: string | null;
  active: Slot | null;
  ports: SlotPorts | null;
  /** The images its slot overrides name (hoist/APP/SERVICE:RELEASE, or an older hoist's hoist-APP-SERVICE:RELEASE), blue and green. */
  slotImages: Partial<Record<Slot, string>>;
  releases: string[];
  /** `du -sk` of apps/APP/releases and apps/APP/repo.git, in bytes; null when not there. */
  releasesBytes: number | null;
  repoBytes: number | null;
  /** HTTP status of its live slot's port (0: nothing answered, or no live slot). */
  http: number;
  /** apps/APP/volumes as recorded by docker-up (key -> Docker volume); empty when none. */
  volumeRecord: Map<string, string>;
  /** A value on the host hoist would never have written (current, active-slot): said, not used. */
  stateProblem: string | null;
}

export interface AppsFact {
  root: string | null;
  freeBytes: number | null;
  totalBytes: number | null;
  /** null: Docker did not answer /system/df. */
  df: { layersSize: number; images: DfImage[]; containers: DfContainer[]; volumes: DfVolume[]; buildCache: DfBuildCache[] } | null;
  /** Layers of each image by id, bottom first; absent when its history could not be read. */
  layers: Map<string, Layer[]>;
  apps: AppFolder[];
}

const SOCK = DOCKER_SOCKET;

/**
 * The command. `app` and `healthPath` are the settings' app and its HEALTH_PATH; another app's
 * HEALTH_PATH is in its own settings, so its live port is asked for `/`.
 */
export function appsProbe(o: { app: string; healthPath: string }): Cmd {
  const api = (path: string) => sh`curl -s --max-time 20 --unix-socket ${SOCK} ${`http://docker${path}`} 2>/dev/null | tr -d '\\n'`;
  return sh`cd && 
dfj=
if [ "$(curl -s --max-time 10 --unix-socket ${SOCK} http://docker/_ping 2>/dev/null)" = OK ]; then
${dockerRootFree()}
dfj=$(${api('/system/df')})
fi
printf 'system-df %s\\n' "$dfj"
for id in $(printf '%s' "$dfj" | grep -o '"Id":"sha256:[0-9a-f]*"' | cut -d'"' -f4 | sort -u); do
  printf 'history %s %s\\n' "$id" "$(curl -s --max-time 10 --unix-socket ${SOCK} "http://docker/images/$id/history" 2>/dev/null | tr -d '\\n')"
done
for d in apps/*/; do
  a=\${d#apps/}; a=\${a%/}
  case "$a" in ''|*[!a-z0-9_-]*) continue;; esac
  printf 'app %s\\n' "$a"
  printf 'app-current %s %s\\n' "$a" "$(readlink "apps/$a/current" 2>/dev/null | head -c 512 | tr '\\n' ' ')"
  printf 'app-active %s %s\\n' "$a" "$(head -c 256 "apps/$a/active-slot" 2>/dev/null | tr '\\n' ' ')"
  printf 'app-ports %s %s\\n' "$a" "$(head -c 200 "apps/$a/ports" 2>/dev/null | tr '\\n' ';')"
  printf 'app-volumes %s %s\\n' "$a" "$(head -c 2000 "apps/$a/volumes" 2>/dev/null | tr '\\n' ';')"
  for s in blue green; do if [ -f "apps/$a/slots/$s.yaml" ]; then printf 'app-image %s %s %s\\n' "$a" "$s" "$(sed -n 's/^    image: "\\(.*\\)"$/\\1/p' "apps/$a/slots/$s.yaml" | head -1)"; fi; done
  ls -1 "apps/$a/releases" 2>/dev/null | sed "s/^/app-release $a /"
  printf 'app-du %s %s %s\\n' "$a" "$(du -sk "apps/$a/releases" 2>/dev/null | cut -f1)" "$(du -sk "apps/$a/repo.git" 2>/dev/null | cut -f1)"
  act=$(head -c 16 "apps/$a/active-slot" 2>/dev/null | tr -d '\\n ')
  port=$(awk -v s="$act" '$1==s {print $2}' "apps/$a/ports" 2>/dev/null | head -1)
  if [ "$a" = ${o.app} ]; then hp=${o.healthPath}; else hp=/; fi
  code=0
  case "$port" in ''|*[!0-9]*) ;; *) code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port$hp" || true);; esac
  printf 'app-http %s %s\\n' "$a" "\${code:-0}"
done
echo end
`;
}

const APP = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ID = /^sha256:[0-9a-f]{64}$/;

export function parseAppsFact(r: { stdout: string; stderr: string; code: number }): AppsFact {
  if (r.code !== 0 || !/(^|\n)end\n?$/.test(r.stdout)) throw new HoistError(`reading the apps and Docker's disk use failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-300)}`);
  const diskLines: string[] = [];
  const fact: AppsFact = { root: null, freeBytes: null, totalBytes: null, df: null, layers: new Map(), apps: [] };
  const apps = new Map<string, AppFolder>();
  for (const line of r.stdout.split('\n')) {
    const [word, ...rest] = line.trim().split(/\s+/);
    if (isBuildRoomLine(word)) diskLines.push(line);
    else if (word === 'system-df') fact.df = parseSystemDf(line.slice(line.indexOf(word) + word.length));
    else if (word === 'history' && ID.test(rest[0] ?? '')) {
      const layers = parseHistory(line.slice(line.indexOf(rest[0]!) + rest[0]!.length));
      if (layers) fact.layers.set(rest[0]!, layers);
    } else if (word === 'app' && APP.test(rest[0] ?? '')) {
      apps.set(rest[0]!, { name: rest[0]!, current: null, active: null, ports: null, slotImages: {}, releases: [], releasesBytes: null, repoBytes: null, http: 0, volumeRecord: new Map(), stateProblem: null });
    } else if (word?.startsWith('app-') && apps.has(rest[0] ?? '')) {
      const app = apps.get(rest[0]!)!;
      const value = line.trim().slice(`${word} ${rest[0]}`.length).trim();
      appLine(app, word, value);
    }
  }
  const room = parseBuildRoom(diskLines);
  Object.assign(fact, { root: room.root, freeBytes: room.freeBytes, totalBytes: room.totalBytes });
  fact.apps = [...apps.values()].sort((a, b) => a.name.localeCompare(b.name));
  return fact;
}

function appLine(app: AppFolder, word: string, value: string): void {
  const from = hostSources(app.name);
  try {
    if (word === 'app-current') app.current = releaseFromHost(value, from.current);
    else if (word === 'app-active') app.active = slotFromHost(value, from.active);
  } catch (e) {
    app.stateProblem = (e as Error).message;
  }
  if (word === 'app-ports') app.ports = parsePortsRecord(value);
  else if (word === 'app-volumes') app.volumeRecord = parseVolumesRecord(value.replaceAll(';', '\n'));
  else if (word === 'app-image') {
    const [slot, ref] = value.split(/\s+/);
    // The app's own name for it (exactly this app's), or the old one an older hoist wrote.
    const own = ref ? parseImageRef(ref)?.app === app.name || new RegExp(`^${legacyImageRepo(app.name, '')}[a-z0-9][a-z0-9_.-]*:[0-9]{14}-[0-9a-f]{12}$`).test(ref) : false;
    if ((slot === 'blue' || slot === 'green') && ref && own) app.slotImages[slot] = ref;
  } else if (word === 'app-release' && isReleaseName(value)) app.releases.push(value);
  else if (word === 'app-du') {
    const [releases, repo] = value.split(/\s+/);
    app.releasesBytes = /^\d+$/.test(releases ?? '') ? Number(releases) * 1024 : null;
    app.repoBytes = /^\d+$/.test(repo ?? '') ? Number(repo) * 1024 : null;
  } else if (word === 'app-http') app.http = Number(value) || 0;
}

interface ApiDf {
  LayersSize?: number;
  Images?: { Id?: string; RepoTags?: string[] | null; Size?: number; Containers?: number }[] | null;
  Containers?: { Id?: string; Names?: string[]; ImageID?: string; Labels?: Record<string, string> | null; State?: string; Status?: string; SizeRw?: number }[] | null;
  Volumes?: { Name?: string; Labels?: Record<string, string> | null; UsageData?: { Size?: number; RefCount?: number } | null }[] | null;
  BuildCache?: { Size?: number; InUse?: boolean; Shared?: boolean }[] | null;
}

/** Docker's /system/df answer; null when Docker did not answer or the answer is cut short. */
export function parseSystemDf(text: string): AppsFact['df'] {
  let v: ApiDf;
  try {
    v = JSON.parse(text.trim()) as ApiDf;
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const num = (n: unknown) => (typeof n === 'number' && n > 0 ? n : 0);
  return {
    layersSize: num(v.LayersSize),
    images: (v.Images ?? []).filter((i) => ID.test(i.Id ?? '')).map((i) => ({
      id: i.Id!,
      refs: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
      size: num(i.Size),
      containers: typeof i.Containers === 'number' ? i.Containers : -1,
    })),
    containers: (v.Containers ?? []).map((c) => {
      const labels = c.Labels ?? {};
      return {
        name: (c.Names?.[0] ?? c.Id?.slice(0, 12) ?? '?').replace(/^\//, ''),
        project: labels['com.docker.compose.project'] ?? '',
        service: labels['com.docker.compose.service'] ?? '',
        release: labels['hoist.release'] ?? '',
        imageId: c.ImageID ?? '',
        state: c.State ?? '',
        health: healthOf(c.Status ?? ''),
        sizeRw: num(c.SizeRw),
      };
    }),
    volumes: (v.Volumes ?? []).filter((x) => typeof x.Name === 'string').map((x) => ({
      name: x.Name!,
      app: x.Labels?.['hoist.app'] ?? '',
      project: x.Labels?.['com.docker.compose.project'] ?? '',
      bytes: typeof x.UsageData?.Size === 'number' && x.UsageData.Size >= 0 ? x.UsageData.Size : null,
      refs: typeof x.UsageData?.RefCount === 'number' && x.UsageData.RefCount >= 0 ? x.UsageData.RefCount : null,
    })),
    buildCache: (v.BuildCache ?? []).map((b) => ({ size: num(b.Size), inUse: b.InUse === true, shared: b.Shared === true })),
  };
}

/**
 * An image's layers from /images/ID/history (newest first). A layer is the same in two images
 * when everything from the bottom up to it is: so its key is made of every step below it too.
 * Steps that wrote nothing (size 0) are kept in the key and weigh nothing.
 */
export function parseHistory(text: string): Layer[] | null {
  let v: unknown;
  try {
    v = JSON.parse(text.trim());
  } catch {
    return null;
  }
  if (!Array.isArray(v)) return null;
  const layers: Layer[] = [];
  let key = '';
  for (const step of [...(v as { Created?: number; CreatedBy?: string; Size?: number; Comment?: string }[])].reverse()) {
    key = createHash('sha256').update(JSON.stringify([key, step.Created ?? 0, step.CreatedBy ?? '', step.Size ?? 0, step.Comment ?? ''])).digest('hex');
    layers.push({ key, size: typeof step.Size === 'number' && step.Size > 0 ? step.Size : 0 });
  }
  return layers;
}
