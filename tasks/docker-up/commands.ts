// The compose command lines docker-up and release-switch run, as data. Compose v2 (`docker
// compose`) where the host has it, else v1 (`docker-compose`, Debian 12's only one).
import { argv, sh, type Cmd } from '../../lib/shell-quote.ts';
import { projectOf, slotPaths, type Slot } from './slots.ts';
import { DOCKER_SOCKET, projectContainersPath } from '../../lib/docker-api.ts';

export function composeCmd(version: 'v1' | 'v2' | 'none'): Cmd {
  return version === 'v2' ? argv('docker', 'compose') : argv('docker-compose');
}

/** The names compose itself looks for, in its order (COMPOSE_FILE unset). */
export const COMPOSE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];

/**
 * After the release's compose file is found (in $f, from the release folder): $e is
 * `--env-file .env` when that file is in a subfolder (COMPOSE_FILE=deploy/compose.yaml). Compose
 * reads the `${VAR}` substitution file beside the compose file, and the app's .env (APP_ENV_FILE)
 * is at the release's root: without it, every ${VAR} would be empty. Used unquoted: two fixed words.
 */
export const COMPOSE_ENV_FILE = sh`e=; case "$f" in */*) if [ -f .env ]; then e='--env-file .env'; fi;; esac`;

export interface SlotCommand {
  app: string;
  slot: Slot;
  release: string;
  /** COMPOSE_FILE, or null to take the first of the usual names. */
  composeFile: string | null;
  compose: 'v1' | 'v2' | 'none';
  /**
   * The services the slot runs when the app has stateful ones (they run once, in APP-state:
   * docker-up/stateful.ts): named, with --no-deps so compose does not start them in the slot
   * too. Absent: every service of the file, as compose would.
   */
  services?: string[];
  /** BUILD_MEMORY in bytes: the memory bound of the build. */
  buildMemory?: number;
}

/**
 * `cd` into the release, find its compose file, then run compose as `project` with `args`, with
 * an override of hoist's (path relative to the deploy user's home) or without one (the app's
 * own configuration, as written).
 */
function inReleaseAs(c: Pick<SlotCommand, 'app' | 'release' | 'composeFile' | 'compose'>, project: string, override: string | null, args: Cmd): Cmd {
  const dir = `apps/${c.app}/releases/${c.release}`;
  const names = c.composeFile ? [c.composeFile] : COMPOSE_NAMES;
  const extra = override ? sh` -f ${`../../../../${override}`}` : sh``;
  return sh`cd && cd ${dir} && f=''; for n in ${names}; do if [ -f "$n" ]; then f=$n; break; fi; done; [ -n "$f" ] || { echo ${`no compose file (${names.join(', ')}) in ${dir}`} >&2; exit 2; }; ${COMPOSE_ENV_FILE}; ${composeCmd(c.compose)} $e -p ${project} -f "$f"${extra} ${args}`;
}

/** Compose for the slot's project with hoist's override of the slot. */
const inRelease = (c: SlotCommand, args: Cmd) => inReleaseAs(c, projectOf(c.app, c.slot), slotPaths(c.app).override(c.slot), args);

/** Marks the end of one part of releaseVolumesProbe's answer. */
export const PART_END = '--hoist-part-end--';

/**
 * What docker-up needs to keep the app's data (volumes.ts, stateful.ts), in one round trip: the
 * app's volume record, which release last defined its stateful services, the volumes on the
 * host, then the release's compose configuration as compose resolves it (variables, relative
 * paths made absolute), without hoist's override.
 */
export function releaseVolumesProbe(c: SlotCommand, recordFile: string, stateReleaseFile: string): Cmd {
  // The recorded volumes' driver options (name, then Docker's JSON): one made before hoist passed
  // a file's driver_opts on (compose v1 dropped them) must not be compared with them (volumes.ts).
  const recordedOptions = sh`set -f; n=$(cut -d' ' -f2 ${recordFile} 2>/dev/null); [ -z "$n" ] || docker volume inspect -f '{{.Name}} {{json .Options}}' -- $n 2>/dev/null; set +f`;
  return sh`cd && { cat ${recordFile} 2>/dev/null || true; }; echo ${PART_END}; { cat ${stateReleaseFile} 2>/dev/null || true; }; echo ${PART_END}; docker volume ls -q || exit 1; echo ${PART_END}; ${recordedOptions}; echo ${PART_END}; ${inReleaseAs(c, projectOf(c.app, c.slot), null, sh`config`)}`;
}

/**
 * Starts the app's stateful services in their own project (stateful.ts). `recreate` false (a
 * rollback to an older release): only what is not running is started, nothing is changed.
 */
export function stateUp(c: SlotCommand, override: string, project: string, services: string[], recreate: boolean): Cmd {
  return inReleaseAs(c, project, override, sh`up -d --no-deps${recreate ? sh`` : sh` --no-recreate`} ${services}`);
}

/**
 * The release phase's one-off container (release-phase.ts): APP_SERVICE of the slot's release,
 * with the slot's override, `sh -c COMMAND`, removed when it ends, no terminal; compose's own
 * messages and the command's stderr merged into stdout so the lines keep their order.
 */
export function releasePhaseRun(c: SlotCommand, service: string, command: string, noDeps: boolean): Cmd {
  return sh`${inRelease(c, sh`run --rm -T${noDeps ? sh` --no-deps` : sh``} ${service} sh -c ${command}`)} 2>&1`;
}

/**
 * The release's build on its own. BUILD_MEMORY bounds each build container (`--memory`, which
 * compose v1 and v2 both take); BuildKit, compose v2's builder, ignores that bound, so with one
 * compose v2 builds with Docker's classic builder (DOCKER_BUILDKIT=0).
 */
function buildCommand(c: SlotCommand, services: Cmd): Cmd {
  const memory = c.buildMemory ? sh` --memory ${`${Math.floor(c.buildMemory / 1024 ** 2)}m`}` : sh``;
  const force = c.compose === 'v1' ? sh` --force-rm` : sh``;
  const build = inRelease(c, sh`build${force}${memory}${services}`);
  return c.compose === 'v2' && c.buildMemory ? sh`export DOCKER_BUILDKIT=0; ${build}` : build;
}

export const slotCommands = (c: SlotCommand) => {
  const only = c.services ? sh` --no-deps ${c.services}` : sh``;
  const buildOnly = c.services ? sh` ${c.services}` : sh``;
  return {
    /**
     * Builds the release's images (tagged by release) and starts the slot. Compose v1 builds with
     * Docker's classic builder, which keeps the container of a failed step, and with it all that
     * step wrote: a build that ran out of disk would leave the disk full. `build --force-rm` removes it.
     */
    up: c.compose === 'v1' || c.buildMemory ? sh`(${buildCommand(c, buildOnly)}) && (${inRelease(c, sh`up -d --no-build --remove-orphans${only}`)})` : inRelease(c, sh`up -d --build --remove-orphans${only}`),
    /** Builds the release's images only (the release phase runs between the build and the start). */
    build: buildCommand(c, buildOnly),
    /** Starts the slot from images built before: a rollback needs no build. */
    upNoBuild: inRelease(c, sh`up -d --no-build --remove-orphans${only}`),
    logs: inRelease(c, sh`logs --no-color --tail 40`),
    down: inRelease(c, sh`down --remove-orphans`),
  };
};

/** Stops a slot's containers whatever release they came from (no compose file needed). */
export function stopProject(app: string, slot: Slot): Cmd {
  const label = `label=com.docker.compose.project=${projectOf(app, slot)}`;
  return sh`ids=$(docker ps -aq --filter ${label}); [ -z "$ids" ] || docker rm -f $ids >/dev/null`;
}

/**
 * Waits on the host (one round trip) until every container of the slot runs (and is healthy
 * where a health check is defined) and HEALTH_PATH answers 2xx/3xx, or the time is up (exit 3).
 * Each second is one curl for both questions (the app's URL, then Docker's API through its
 * socket): the docker CLI asked once per container each second cost a small VPS more CPU than
 * the app starting beside it. Docker's list gives each container's "State" and "Status" side by
 * side ("running", "Up 3 seconds (health: starting)"); a label cannot fake the pair, as quotes in
 * values come escaped.
 */
export function waitHealthy(app: string, slot: Slot, port: number, healthPath: string, seconds: number): Cmd {
  const url = `http://127.0.0.1:${port}${healthPath}`;
  const api = `http://docker${projectContainersPath(projectOf(app, slot))}`;
  return sh`end=$(( $(date +%s) + ${seconds} )); url=${url}; api=${api}
while :; do
  out=$(curl -s -o /dev/null -w 'http=%{http_code}\\n' --max-time 5 "$url" --next -s --max-time 10 --unix-socket ${DOCKER_SOCKET} "$api" 2>/dev/null)
  code=$(printf '%s\\n' "$out" | sed -n 's/^http=\\([0-9]*\\).*/\\1/p' | head -n 1)
  states=$(printf '%s\\n' "$out" | grep -o '"State":"[a-z]*","Status":"[^"]*"' | sed 's/^"State":"\\([a-z]*\\)","Status":"\\([^"]*\\)"$/\\1: \\2/')
  bad=$(printf '%s\\n' "$states" | grep -cvE '^running: [^(]*(\\(healthy\\))?$' || true)
  case "$code" in 2??|3??) [ -n "$states" ] && [ "$bad" -eq 0 ] && exit 0;; esac
  [ "$(date +%s)" -ge "$end" ] && { echo "not healthy after ${seconds}s: $url answered \${code:-000}; containers: $(printf '%s\\n' "$states" | paste -sd ';' -)" >&2; exit 3; }
  sleep 1
done`;
}

export function writeActiveSlot(app: string, slot: Slot | null, watch?: string): Cmd {
  const path = slotPaths(app).active;
  if (slot === null) return sh`cd && rm -f ${path}`;
  const active = sh`cd && printf '%s\\n' ${slot} > ${`${path}.tmp`} && mv -f ${`${path}.tmp`} ${path}`;
  if (watch === undefined) return active;
  // What the host's watchdog (ssh-bootstrap/watchdog-script.ts) checks for this app: written by
  // the release, not by bootstrap, so bootstrapping another app on the VPS changes nothing of it.
  const file = `apps/${app}/watch`;
  return sh`${active} && printf '%s' ${watch} > ${`${file}.tmp`} && mv -f ${`${file}.tmp`} ${file}`;
}

/** apps/APP/watch: the health path and the domains whose certificates the watchdog reads. */
export function watchFile(healthPath: string, domains: string[]): string {
  return [`health=${healthPath}`, ...domains.map((d) => `domain=${d}`), ''].join('\n');
}

/**
 * Gives the app's old-named images their name now (image-name.ts), on the host in one round trip:
 * each new tag first, then the slot overrides that name an old one point at the new one (a
 * rollback of release-switch, `hoist exec` and `hoist-run` jobs start from them), then the old
 * tags go (`docker rmi` of a tag the image has another of only untags it). Safe to run again:
 * every part converges, so a connection lost half way is finished by the next run.
 */
export function retagImages(app: string, pairs: readonly { from: string; to: string }[]): Cmd {
  const p = slotPaths(app);
  // Exact lines as overrideYaml writes them; names are [a-z0-9_.:/-] (probe-checked), `.` escaped for sed.
  const re = (t: string) => t.replace(/[.]/g, '\\.');
  const edits = pairs.flatMap((x) => ['-e', `s|^    image: "${re(x.from)}"$|    image: "${x.to}"|`]);
  return sh`cd && set -- ${pairs.flatMap((x) => [x.from, x.to])}
while [ $# -ge 2 ]; do docker tag "$1" "$2" || exit 1; shift 2; done
for f in ${[p.override('blue'), p.override('green')]}; do if [ -f "$f" ]; then sed -i ${edits} "$f" || exit 1; fi; done
docker rmi ${pairs.map((x) => x.from)} >/dev/null`;
}
