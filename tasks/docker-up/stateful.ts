// Stateful services run once per app (issue #18 item 2).
//
// A database, cache or queue in the app's compose file, marked
//
//     services:
//       db:
//         image: postgres:16
//         x-hoist: {stateful: true}
//
// runs in a compose project of its own, APP-state, outside the blue/green pair: started (or
// brought to the release's definition) before the new slot starts, never stopped by a release,
// a failed release, a rollback or release-switch (they only touch APP-blue / APP-green). Compose
// itself recreates it only when its own definition changed (compose's config hash), so a release
// that changes the web service leaves the database's container as it is. The slots reach it by
// its service name: every project of the app shares one network, `hoist.APP` (the slots' and the
// state project's `default` network), made by hoist.
//
// A rollback to an older release does not take the stateful services back to that release's
// definition (a database downgraded under its data is how data is lost): they are only started
// if they are not running. Which release last defined them is recorded (apps/APP/state-release).
//
// A service that is not marked and looks like a database (a well-known database image) is
// refused: as part of the pair it would run twice on the same data while both slots run, or,
// with no named volume, each release would start one on empty storage. `x-hoist: {stateful:
// false}` says it is meant to. A service of the pair that can exist only once on a host (a
// container_name, the host's network, a fixed host port) is refused too: the new slot starts
// while the old one still runs, so the second release would fail on it.
import { HoistError } from '../../lib/errors.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import type { ReleaseVolumes, ServiceInfo } from './volumes.ts';

/** Labels of a stateful service's container holding its backup commands (x-hoist.backup). */
export const BACKUP_DUMP_LABEL = 'hoist.backup.dump';
export const BACKUP_RESTORE_LABEL = 'hoist.backup.restore';

/** The app's compose project for its stateful services. */
export const stateProject = (app: string) => `${app}-state`;
/** The network every project of the app shares, when it has stateful services. */
export const appNetwork = (app: string) => `hoist.${app}`;
/** Which release last defined the stateful services (relative to the deploy user's home). */
export const stateReleaseFile = (app: string) => `apps/${app}/state-release`;

/** Images of databases, caches and queues that keep data in a volume (name, optionally a registry path). */
const DATA_IMAGE = /(^|\/)(postgres|postgresql|postgis|pgvector|timescaledb|mysql|mysql-server|mariadb|percona|percona-server|mongo|mongodb|mongodb-community-server|redis|redis-stack|redis-stack-server|valkey|keydb|dragonfly|memcached|rabbitmq|kafka|zookeeper|elasticsearch|opensearch|meilisearch|typesense|solr|clickhouse-server|clickhouse|influxdb|questdb|cassandra|scylla|neo4j|arangodb|couchbase|cockroach|surrealdb|minio|qdrant|weaviate|milvus|chroma|couchdb|nats|mssql\/server)(:|@|$)/;
/** Of those, the ones that never keep data (a cache in memory): no refusal without a volume. */
const MEMORY_ONLY_IMAGE = /(^|\/)memcached(:|@|$)/;

export interface StatefulPlan {
  /** Services that run once, in APP-state. */
  stateful: string[];
  /** Services of each blue/green slot. */
  slotServices: string[];
  /** What the user should know (the run's warnings): a stateful service whose data no name finds again. */
  notes: string[];
}

export function planStateful(release: ReleaseVolumes, appService: string): StatefulPlan {
  const stateful: string[] = [];
  const slotServices: string[] = [];
  const notes: string[] = [];
  for (const s of release.services) {
    if (s.xHoistProblem !== undefined) {
      throw new HoistError(`service ${s.name}: its x-hoist ${s.xHoistProblem}. Fix: under services.${s.name}, write it as \`x-hoist: {stateful: true}\` (or false; also public: true|false, backup: {dump: ..., restore: ...})`);
    }
    if (s.stateful === true && s.name === appService) {
      throw new HoistError(`service ${s.name} is APP_SERVICE and is marked x-hoist: {stateful: true}: the service Caddy sends traffic to runs blue/green. Fix: remove the mark, or set APP_SERVICE to the web service`);
    }
    if (s.stateful === null && s.name !== appService && looksLikeData(s)) {
      const why = s.namedVolumes.length
        ? `keeps its data in volume ${s.namedVolumes.join(', ')}: as part of the blue/green pair it would run twice on the same data while a release switches`
        : `is a database with no named volume: as part of the blue/green pair each slot would run its own, and each release would start on empty storage (its data left behind in an unnamed volume)`;
      const volume = s.namedVolumes.length ? '' : `, and give its data a named volume (volumes: [${s.name}-data:/path/of/its/data] and a top-level volumes: {${s.name}-data: {}})`;
      throw new HoistError(
        `service ${s.name} (image ${s.image}) ${why}. Fix: mark it to run once per app, outside the pair, in the compose file: \`x-hoist: {stateful: true}\` under services.${s.name}${volume} (or \`x-hoist: {stateful: false}\` if two copies at once are what you mean)`,
      );
    }
    if (s.backup !== undefined && (s.stateful !== true || typeof s.backup === 'string')) {
      const why = typeof s.backup === 'string' ? s.backup : 'is read only on a service marked stateful: true (the blue/green pair is not backed up by command)';
      throw new HoistError(
        `service ${s.name}: x-hoist.backup ${why}. Fix: under services.${s.name}: \`x-hoist: {stateful: true, backup: {dump: "pg_dump -U app app", restore: "psql -U app app"}}\` (dump writes to stdout, restore reads it from stdin, both run by sh -c in the service's container)`,
      );
    }
    if (s.stateful === true) {
      stateful.push(s.name);
      if (!s.namedVolumes.length && (s.anonymousVolumes.length || looksLikeData(s))) {
        notes.push(`service ${s.name} runs once (stateful) but keeps its data ${s.anonymousVolumes.length ? `in an unnamed volume (${s.anonymousVolumes.join(', ')})` : 'in no named volume'}: hoist backup does not archive it and hoist status does not count it. Give it a named volume (volumes: [${s.name}-data:${s.anonymousVolumes[0] ?? '/path/of/its/data'}] and a top-level volumes: {${s.name}-data: {}})`);
      }
    } else {
      onlyOnce(s, appService);
      slotServices.push(s.name);
    }
  }
  if (stateful.length && release.ownNetworks.length) {
    throw new HoistError(
      `the compose file has networks of its own (${release.ownNetworks.join(', ')}) and stateful services (${stateful.join(', ')}): the stateful services run in their own compose project, and a network of the file's own is one per project, so the slots could not reach them on it. Fix: remove the networks: sections (hoist puts the slots and the stateful services on one network per app, hoist.APP, where they reach each other by service name), or make each network external: true with a name of its own`,
    );
  }
  return { stateful, slotServices, notes };
}

const looksLikeData = (s: ServiceInfo) => s.image !== null && DATA_IMAGE.test(s.image.toLowerCase()) && (s.namedVolumes.length > 0 || !MEMORY_ONLY_IMAGE.test(s.image.toLowerCase()));

/**
 * Refuses a service of the blue/green pair with what only one container on the host can have:
 * the next release starts the other slot's copy while this one still runs, and Docker refuses it.
 */
function onlyOnce(s: ServiceInfo, appService: string): void {
  const fixed = s.ports.filter((p) => p.published !== '');
  const what = s.containerName !== null
    ? `has container_name ${JSON.stringify(s.containerName)}`
    : s.networkMode === 'host'
      ? 'uses the host\'s network (network_mode: host)'
      : fixed.length
        ? `publishes the fixed host port ${fixed.map((p) => `${p.hostIp ? `${p.hostIp}:` : ''}${p.published}`).join(', ')}`
        : null;
  if (what === null) return;
  const fix = s.name === appService
    ? `drop it: hoist runs ${appService} in the blue and green slots and publishes it on 127.0.0.1 (the slot's port) for Caddy`
    : `mark it to run once per app, outside the pair, with \`x-hoist: {stateful: true}\` under services.${s.name}, or drop it (the app's services reach each other by service name)`;
  throw new HoistError(`service ${s.name} ${what}: a release starts the new blue/green slot while the old one still runs, and only one container on the host can have it, so the next release would fail. Fix: ${fix}`);
}

/** The override lines putting a project on the app's shared network (none without stateful services). */
export function networkOverrideYaml(app: string, plan: StatefulPlan): string[] {
  if (!plan.stateful.length) return [];
  return ['networks:', '  default:', '    external: true', `    name: ${JSON.stringify(appNetwork(app))}`];
}

/**
 * The state project's own override: the pinned volumes and the shared network, and a restart
 * policy for a stateful service that has none of its own (a database must come back after the
 * VPS reboots, as the app's service does).
 */
export function stateOverrideYaml(lines: string[], release: ReleaseVolumes, plan: StatefulPlan): string {
  // A service's backup commands ride as labels of its container: `hoist backup` and a scheduled
  // job read them from the running container, so they always match what runs (lib/backup).
  const own = release.services.filter((s) => plan.stateful.includes(s.name) && (s.restart === null || typeof s.backup === 'object'));
  const services = own.length
    ? [
        'services:',
        ...own.flatMap((s) => [
          `  ${JSON.stringify(s.name)}:`,
          ...(s.restart === null ? ['    restart: "unless-stopped"'] : []),
          ...(typeof s.backup === 'object' ? ['    labels:', `      ${JSON.stringify(BACKUP_DUMP_LABEL)}: ${literal(s.backup.dump)}`, `      ${JSON.stringify(BACKUP_RESTORE_LABEL)}: ${literal(s.backup.restore)}`] : []),
        ]),
      ]
    : [];
  return ['# Written by hoist for the app\'s stateful services; do not edit (it is rewritten on every release).', ...services, ...lines, ''].join('\n');
}

/** A YAML string compose keeps as it is: `$` doubled, so compose does not interpolate it (the container's shell does). */
const literal = (text: string) => JSON.stringify(text.replace(/\$/g, '$$$$'));

/** Makes the app's shared network when it is not there yet (labelled, like its volumes). */
export function createNetworkCommand(app: string): Cmd {
  return sh`docker network inspect ${appNetwork(app)} >/dev/null 2>&1 || docker network create --label ${`hoist.app=${app}`} ${appNetwork(app)} >/dev/null`;
}

/**
 * Waits (one round trip) until every container of the state project runs, healthy where it has
 * a health check, or the time is up (exit 3, naming the states seen).
 */
export function waitStateRunning(app: string, seconds: number): Cmd {
  const label = `label=com.docker.compose.project=${stateProject(app)}`;
  return sh`end=$(( $(date +%s) + ${seconds} ))
while :; do
  states=$(for id in $(docker ps -aq --filter ${label}); do docker inspect --format '{{index .Config.Labels "com.docker.compose.service"}}={{.State.Status}}{{if .State.Health}}-{{.State.Health.Status}}{{end}}' "$id"; done)
  bad=$(printf '%s\\n' "$states" | grep -cvE '=(running|running-healthy)$' || true)
  [ -n "$states" ] && [ "$bad" -eq 0 ] && exit 0
  [ "$(date +%s)" -ge "$end" ] && { echo "the stateful services are not running after ${seconds}s: $(echo $states)" >&2; exit 3; }
  sleep 1
done`;
}
