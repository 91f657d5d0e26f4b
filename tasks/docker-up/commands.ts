// The compose command lines docker-up and release-switch run, as data. Compose v2 (`docker
// compose`) where the host has it, else v1 (`docker-compose`, Debian 12's only one).
import { argv, sh, type Cmd } from '../../lib/shell-quote.ts';
import { projectOf, slotPaths, type Slot } from './slots.ts';

export function composeCmd(version: 'v1' | 'v2' | 'none'): Cmd {
  return version === 'v2' ? argv('docker', 'compose') : argv('docker-compose');
}

const COMPOSE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];

export interface SlotCommand {
  app: string;
  slot: Slot;
  release: string;
  /** COMPOSE_FILE, or null to take the first of the usual names. */
  composeFile: string | null;
  compose: 'v1' | 'v2' | 'none';
}

/** `cd` into the release, find its compose file, then run compose for the slot with `args`. */
function inRelease(c: SlotCommand, args: Cmd): Cmd {
  const dir = `apps/${c.app}/releases/${c.release}`;
  const names = c.composeFile ? [c.composeFile] : COMPOSE_NAMES;
  const override = `../../../../${slotPaths(c.app).override(c.slot)}`;
  return sh`cd && cd ${dir} && f=''; for n in ${names}; do if [ -f "$n" ]; then f=$n; break; fi; done; [ -n "$f" ] || { echo ${`no compose file (${names.join(', ')}) in ${dir}`} >&2; exit 2; }; ${composeCmd(c.compose)} -p ${projectOf(c.app, c.slot)} -f "$f" -f ${override} ${args}`;
}

export const slotCommands = (c: SlotCommand) => ({
  /**
   * Builds the release's images (tagged by release) and starts the slot. Compose v1 builds with
   * Docker's classic builder, which keeps the container of a failed step, and with it all that
   * step wrote: a build that ran out of disk would leave the disk full. `build --force-rm` removes it.
   */
  up: c.compose === 'v1' ? sh`(${inRelease(c, sh`build --force-rm`)}) && (${inRelease(c, sh`up -d --no-build --remove-orphans`)})` : inRelease(c, sh`up -d --build --remove-orphans`),
  /** Starts the slot from images built before: a rollback needs no build. */
  upNoBuild: inRelease(c, sh`up -d --no-build --remove-orphans`),
  logs: inRelease(c, sh`logs --no-color --tail 40`),
  down: inRelease(c, sh`down --remove-orphans`),
});

/** Stops a slot's containers whatever release they came from (no compose file needed). */
export function stopProject(app: string, slot: Slot): Cmd {
  const label = `label=com.docker.compose.project=${projectOf(app, slot)}`;
  return sh`ids=$(docker ps -aq --filter ${label}); [ -z "$ids" ] || docker rm -f $ids >/dev/null`;
}

/**
 * Waits on the host (one round trip) until every container of the slot runs (and is healthy
 * where a health check is defined) and HEALTH_PATH answers 2xx/3xx, or the time is up (exit 3).
 */
export function waitHealthy(app: string, slot: Slot, port: number, healthPath: string, seconds: number): Cmd {
  const label = `label=com.docker.compose.project=${projectOf(app, slot)}`;
  const url = `http://127.0.0.1:${port}${healthPath}`;
  return sh`end=$(( $(date +%s) + ${seconds} ))
while :; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 ${url} || true)
  states=$(for id in $(docker ps -aq --filter ${label}); do docker inspect --format '{{.State.Status}}{{if .State.Health}}-{{.State.Health.Status}}{{end}}' "$id"; done)
  bad=$(printf '%s\\n' "$states" | grep -cvE '^(running|running-healthy)$' || true)
  case "$code" in 2??|3??) [ -n "$states" ] && [ "$bad" -eq 0 ] && exit 0;; esac
  [ "$(date +%s)" -ge "$end" ] && { echo "not healthy after ${seconds}s: $url answered $code; containers: $(echo $states)" >&2; exit 3; }
  sleep 1
done`;
}

export function writeActiveSlot(app: string, slot: Slot | null): Cmd {
  const path = slotPaths(app).active;
  if (slot === null) return sh`cd && rm -f ${path}`;
  return sh`cd && printf '%s\\n' ${slot} > ${`${path}.tmp`} && mv -f ${`${path}.tmp`} ${path}`;
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
