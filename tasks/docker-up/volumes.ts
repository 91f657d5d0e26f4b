// One copy of an app's data, whatever slot or release runs (issue #18 item 1).
//
// Compose scopes a named volume by project, and each blue/green slot is its own project
// (APP-blue, APP-green): left alone, `volumes: [data:/data]` would give every other release
// another, empty copy of the data. So docker-up pins every named volume of the app's compose
// file to ONE Docker volume per app, in the slot's override, before compose starts anything:
// blue, green, every release, rollback, `hoist exec` and `hoist-run` job (all use the slot's
// override) see the same data.
//
// - The volume is made by hoist (`docker volume create`, labelled hoist.app / hoist.volume) and
//   given to compose as `external: true`: compose then never creates, re-creates or deletes it
//   (no `down -v`, no "recreate? data will be lost" prompt of newer composes, no per-project
//   label check). A volume with its own driver or options cannot be external in an override
//   (compose refuses `external` beside `driver`): it is pinned by `name:` only, compose makes it.
// - A volume the user named (`name:` of their own) or marked `external` is theirs: left as it is.
// - Which Docker volume backs each key is recorded on the host (apps/APP/volumes, `key name`
//   lines) the first time and kept, like the ports: a later release, a rollback to a release
//   whose compose file lacks the key, a re-release after `hoist remove` all find the same data.
// - An app live from before (per-slot volumes APP-blue_KEY and APP-green_KEY): the LIVE slot's
//   volume becomes the app's (it is recorded; no copy, nothing moves, the data the app serves now
//   is the data it keeps). The other slot's copy is left untouched and unused: `hoist status`
//   lists it as left over, for the user to look at and remove. Nothing here deletes a volume.
// - A read-write bind mount of a folder inside the release (`./data:/data`) would be a new,
//   empty folder at every release: refused, with the fix. Read-only binds (a config file from
//   the repo) are part of the release and fine.
import { HoistError } from '../../lib/errors.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { projectOf, type Slot } from './slots.ts';
import { publishedPorts, type PublishedPort } from './published-ports.ts';

/** Where the record of an app's volumes lives, relative to the deploy user's home. */
export const volumesFile = (app: string) => `apps/${app}/volumes`;

/**
 * The Docker volume hoist makes for an app's volume key. App names have no `.` (APP_NAME: lower
 * case letters, digits, _ and -), so `hoist.APP.KEY` cannot be two apps' at once.
 */
export const appVolumeName = (app: string, key: string) => `hoist.${app}.${key}`;

/** The per-slot name compose gave a volume before hoist pinned it (`PROJECT_KEY`). */
export const slotVolumeName = (app: string, slot: Slot, key: string) => `${projectOf(app, slot)}_${key}`;

export interface ComposeVolume {
  key: string;
  /** Compose's own options beyond a name: such a volume is pinned by name, not made external. */
  ownDriver: boolean;
  /**
   * Those options (driver, driver_opts, labels) as compose config printed them: repeated beside
   * the pinned name, since compose v1 replaces a volume's whole entry with the override's.
   */
  options?: Record<string, unknown>;
}

/** A volume whose own `name:` holds the slot's project name: each slot would get its own copy. */
export interface SlotNamedVolume {
  key: string;
  name: string;
}

/** A read-write bind of a folder inside the release: service, source, target. */
export interface ReleaseBind {
  service: string;
  source: string;
  target: string;
}

export interface ReleaseVolumes {
  /** Named volumes hoist pins (not the user's own named or external ones). */
  volumes: ComposeVolume[];
  binds: ReleaseBind[];
  /** Volumes named after the slot's project (`name: ${COMPOSE_PROJECT_NAME}-data`): refused by planVolumes. */
  slotNamed: SlotNamedVolume[];
  /** Top-level networks of the file's own (not `default`, not external): one per compose project. */
  ownNetworks: string[];
  /** Every service of the release, in the file's order. */
  services: ServiceInfo[];
}

export interface ServiceInfo {
  name: string;
  /** `x-hoist: {stateful: true}` (true), `{stateful: false}` (false), or not said (null). */
  stateful: boolean | null;
  image: string | null;
  /** Its own `restart:` policy, if the file gives one. */
  restart: string | null;
  /** Named volumes it mounts (keys of the top-level volumes:). */
  namedVolumes: string[];
  /** Its `ports:` (docker-up/published-ports.ts). */
  ports: PublishedPort[];
  /** `x-hoist: {public: true}`: its ports are meant to be reached from outside. */
  public: boolean;
  /** `x-hoist: {backup: {dump, restore}}`: how `hoist backup` / `hoist restore` take and put back its data (lib/backup). */
  backup?: ServiceBackup | string;
  /** Mounts of an unnamed volume (`- /var/lib/x`): data no name finds again, by target. */
  anonymousVolumes: string[];
  /** `container_name:` (one container by that name per host). */
  containerName: string | null;
  /** `network_mode:` (`host` shares the host's ports). */
  networkMode: string | null;
  /** What is wrong with its `x-hoist:` (a key hoist does not read, a value of the wrong type); planStateful refuses it. */
  xHoistProblem?: string;
}

/** The keys of a service's `x-hoist:` and the type each takes. */
const X_HOIST_KEYS: Record<string, string> = { stateful: 'boolean', public: 'boolean', backup: 'object' };

/** What is wrong with a service's `x-hoist:` value, else undefined (a typo must not silently mean "not marked"). */
function xHoistProblem(x: unknown): string | undefined {
  if (x === undefined || x === null) return undefined;
  if (typeof x !== 'object' || Array.isArray(x)) return `is ${JSON.stringify(x)}, not a mapping (such as {stateful: true})`;
  for (const [k, v] of Object.entries(x)) {
    const want = X_HOIST_KEYS[k];
    if (!want) return `has the key ${JSON.stringify(k)}, which hoist does not read (it reads ${Object.keys(X_HOIST_KEYS).join(', ')})`;
    if (want === 'boolean' && typeof v !== 'boolean') return `${k} is ${JSON.stringify(v)} (${typeof v}); it takes true or false, unquoted`;
  }
  return undefined;
}

/** A stateful service's own backup commands, run by `sh -c` inside its container: dump to stdout, restore from stdin. */
export interface ServiceBackup {
  dump: string;
  restore: string;
}

/**
 * Reads `compose config` of the release (v1 or v2, parsed from its YAML): the named volumes to
 * pin, the read-write binds under the release folder, and each service. `project` is the slot's,
 * to tell compose v2's default name (`PROJECT_KEY`) from a name the user gave.
 */
export function readComposeConfig(doc: unknown, project: string, releaseDir: string): ReleaseVolumes {
  const top = (doc ?? {}) as { volumes?: Record<string, unknown>; services?: Record<string, unknown>; networks?: Record<string, unknown> };
  const ownNetworks = Object.entries(top.networks ?? {})
    .filter(([key, raw]) => {
      const n = (raw ?? {}) as { external?: unknown };
      return key !== 'default' && !(n.external === true || (typeof n.external === 'object' && n.external !== null));
    })
    .map(([key]) => key);
  const volumes: ComposeVolume[] = [];
  const slotNamed: SlotNamedVolume[] = [];
  // The slot's project name as a word of the name (api-blue in api-blue-data, not in api-blueprint).
  const ofSlot = new RegExp(`(^|[^a-z0-9])${project.replace(/[^a-z0-9]/g, '\\$&')}([^a-z0-9]|$)`);
  for (const [key, raw] of Object.entries(top.volumes ?? {})) {
    const v = (raw ?? {}) as { name?: unknown; external?: unknown; driver?: unknown; driver_opts?: unknown; labels?: unknown };
    if (v.external === true || (typeof v.external === 'object' && v.external !== null)) continue;
    if (typeof v.name === 'string' && v.name !== `${project}_${key}`) {
      if (ofSlot.test(v.name)) slotNamed.push({ key, name: v.name });
      continue;
    }
    // Any option of compose's own, `driver: local` too: compose refuses `external` beside it.
    const options: Record<string, unknown> = {};
    if (typeof v.driver === 'string' && v.driver !== '') options.driver = v.driver;
    for (const k of ['driver_opts', 'labels'] as const) {
      const o = v[k];
      if (typeof o === 'object' && o !== null && Object.keys(o).length > 0) options[k] = o;
    }
    const ownDriver = Object.keys(options).length > 0;
    volumes.push(ownDriver ? { key, ownDriver, options } : { key, ownDriver });
  }
  const binds: ReleaseBind[] = [];
  const services: ServiceInfo[] = [];
  const inside = releaseDir.endsWith('/') ? releaseDir : `${releaseDir}/`;
  const keys = new Set(Object.keys(top.volumes ?? {}));
  for (const [service, raw] of Object.entries(top.services ?? {})) {
    const def = (raw ?? {}) as { volumes?: unknown[]; image?: unknown; restart?: unknown; ports?: unknown; container_name?: unknown; network_mode?: unknown; 'x-hoist'?: unknown };
    const namedVolumes: string[] = [];
    const anonymousVolumes: string[] = [];
    for (const m of def.volumes ?? []) {
      const bind = bindOf(m);
      if (bind && !bind.readOnly && (bind.source === releaseDir || bind.source.startsWith(inside))) binds.push({ service, source: bind.source, target: bind.target });
      const named = namedVolumeOf(m);
      if (named && keys.has(named)) namedVolumes.push(named);
      const anonymous = anonymousVolumeOf(m);
      if (anonymous) anonymousVolumes.push(anonymous);
    }
    const problem = xHoistProblem(def['x-hoist']);
    const x = (problem === undefined ? def['x-hoist'] ?? {} : {}) as { stateful?: unknown; backup?: unknown; public?: unknown };
    const backup = x.backup === undefined ? undefined : backupOf(x.backup);
    services.push({
      name: service,
      stateful: typeof x.stateful === 'boolean' ? x.stateful : null,
      image: typeof def.image === 'string' ? def.image : null,
      restart: typeof def.restart === 'string' ? def.restart : null,
      namedVolumes,
      ports: publishedPorts(def.ports),
      public: x.public === true,
      ...(backup !== undefined ? { backup } : {}),
      anonymousVolumes,
      containerName: typeof def.container_name === 'string' ? def.container_name : null,
      networkMode: typeof def.network_mode === 'string' ? def.network_mode : null,
      ...(problem !== undefined ? { xHoistProblem: problem } : {}),
    });
  }
  return { volumes, binds, slotNamed, ownNetworks, services };
}

/** `x-hoist.backup` as given: both commands, or what is wrong with it (planStateful refuses it, naming the fix). */
function backupOf(v: unknown): ServiceBackup | string {
  const o = (v ?? {}) as { dump?: unknown; restore?: unknown };
  const ok = (c: unknown) => typeof c === 'string' && c.trim() !== '' && !/[\x00\n\r]/.test(c);
  if (typeof v !== 'object' || v === null || !ok(o.dump) || !ok(o.restore)) return 'needs both dump and restore, each a one-line command';
  return { dump: o.dump as string, restore: o.restore as string };
}

/** The top-level volume key a service mount names (v2's long form or v1's `KEY:TARGET[:MODE]`), else null. */
function namedVolumeOf(m: unknown): string | null {
  if (typeof m === 'string') {
    const [source, target] = m.split(':');
    return source && target && !source.startsWith('/') && !source.startsWith('.') && !source.startsWith('~') ? source : null;
  }
  const o = (m ?? {}) as { type?: unknown; source?: unknown };
  return o.type === 'volume' && typeof o.source === 'string' ? o.source : null;
}

/** The target of a mount of an unnamed volume (v1's `/TARGET` string, v2's long form without a source), else null. */
function anonymousVolumeOf(m: unknown): string | null {
  if (typeof m === 'string') return m.startsWith('/') && !m.includes(':') ? m : null;
  const o = (m ?? {}) as { type?: unknown; source?: unknown; target?: unknown };
  return o.type === 'volume' && (o.source === undefined || o.source === null || o.source === '') && typeof o.target === 'string' ? o.target : null;
}

/** A service mount as a bind (v2's long form, or v1's `SOURCE:TARGET[:MODE]` string), else null. */
function bindOf(m: unknown): { source: string; target: string; readOnly: boolean } | null {
  if (typeof m === 'string') {
    const [source, target, mode] = m.split(':');
    if (!source?.startsWith('/') || !target) return null;
    return { source, target, readOnly: (mode ?? '').split(',').includes('ro') };
  }
  const o = (m ?? {}) as { type?: unknown; source?: unknown; target?: unknown; read_only?: unknown };
  if (o.type !== 'bind' || typeof o.source !== 'string' || typeof o.target !== 'string') return null;
  return { source: o.source, target: o.target, readOnly: o.read_only === true };
}

/** `key name` lines; anything else in the file is ignored (a name is checked before use). */
export function parseVolumesRecord(text: string): Map<string, string> {
  const record = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9._-]+) ([A-Za-z0-9][A-Za-z0-9_.-]*)$/.exec(line.trim());
    if (m) record.set(m[1]!, m[2]!);
  }
  return record;
}

export const volumesRecordText = (record: Map<string, string>) =>
  [...record].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}\n`).join('');

export interface VolumePin {
  key: string;
  name: string;
  /** The volume's own compose options, repeated in the override (ComposeVolume.options). */
  options?: Record<string, unknown>;
  /** hoist makes it (external in the override); false: compose makes it by this name. */
  external: boolean;
  /** It is not on the host yet: hoist creates it before compose runs. */
  create: boolean;
}

export interface VolumesPlan {
  pins: VolumePin[];
  /** The record to write (null: unchanged). */
  record: Map<string, string> | null;
  /** What the user should know: a per-slot volume taken over, the other slot's copy kept. */
  notes: string[];
}

/**
 * Which Docker volume backs each key: the recorded one; else the live slot's per-slot volume
 * (an app live from before hoist pinned volumes); else one made for the app. Pure: every fact
 * comes in as an argument.
 */
export function planVolumes(o: { app: string; active: Slot | null; release: ReleaseVolumes; record: Map<string, string>; existing: Set<string>; driverOpts?: Map<string, Record<string, string>> }): VolumesPlan {
  if (o.release.slotNamed.length) {
    const v = o.release.slotNamed[0]!;
    throw new HoistError(
      `volume ${v.key} is named ${v.name}, after the slot's compose project: each blue/green slot would get its own copy, and every other release another, empty one. Fix: remove its name: (hoist names it once for the app, hoist.${o.app}.${v.key}), or give it a name of its own without \${COMPOSE_PROJECT_NAME}`,
    );
  }
  if (o.release.binds.length) {
    const b = o.release.binds[0]!;
    throw new HoistError(
      `service ${b.service} mounts ${b.source} (inside the release folder) read-write on ${b.target}: every release is a new folder, so what the app writes there would be gone at the next release. Fix: use a named volume in the compose file (volumes: [data:${b.target}] and a top-level volumes: {data: {}}); hoist keeps one per app across releases and rollbacks. A file the app only reads can stay a bind with :ro`,
    );
  }
  const record = new Map(o.record);
  const notes: string[] = [];
  const pins = o.release.volumes.map((v): VolumePin => {
    let name = record.get(v.key);
    if (!name) {
      const live = o.active ? slotVolumeName(o.app, o.active, v.key) : null;
      if (live && o.existing.has(live)) {
        name = live;
        const idle = slotVolumeName(o.app, o.active === 'blue' ? 'green' : 'blue', v.key);
        notes.push(
          `volume ${v.key}: the live slot's ${live} is now ${o.app}'s only copy, for every release and rollback` +
            (o.existing.has(idle) ? `; the other slot's copy ${idle} is kept as it was and no longer used (hoist status lists it; remove it with docker volume rm once you have checked it)` : ''),
        );
      } else name = keptOrNew(o.app, v.key, o.existing, notes);
      record.set(v.key, name);
    }
    return { key: v.key, name, external: !v.ownDriver, create: !v.ownDriver && !o.existing.has(name), ...(v.options ? { options: keptOptions(v, name, o.driverOpts, notes) } : {}) };
  });
  const changed = volumesRecordText(record) !== volumesRecordText(o.record);
  return { pins, record: changed ? record : null, notes };
}

/**
 * A key with no record and no live per-slot volume: the app's own volume (`hoist.APP.KEY`, made now
 * or kept from before), unless only per-slot copies are on the host. That is an app migrated from
 * per-slot volumes and then taken off by `hoist remove`, which keeps volumes but not the record of
 * which copy was the app's: released again, it must not silently start empty beside its data.
 * One copy: it is the data, taken again (said in a note). Both: which one the app last used is
 * nowhere on the host (volumes carry no time of use), so the release is refused, naming both and
 * how to choose; nothing was made yet.
 */
function keptOrNew(app: string, key: string, existing: Set<string>, notes: string[]): string {
  const own = appVolumeName(app, key);
  if (existing.has(own)) return own;
  const kept = (['blue', 'green'] as const).map((slot) => slotVolumeName(app, slot, key)).filter((n) => existing.has(n));
  if (kept.length === 1) {
    notes.push(`volume ${key}: ${kept[0]} (kept from before, e.g. by hoist remove) is ${app}'s data again, for every release and rollback; recorded in ~/${volumesFile(app)}`);
    return kept[0]!;
  }
  if (kept.length === 2) {
    throw new HoistError(
      `volume ${key}: this host keeps two copies of ${app}'s ${key} from before (${kept.join(' and ')}: per-slot volumes, kept by hoist remove), and nothing says which one ${app} used last; hoist does not start it on a new, empty ${own} beside them. Fix: look at both (docker run --rm -v ${kept[0]}:/v alpine ls -la /v), then choose one: hoist ssh -- sh -c 'mkdir -p ~/apps/${app} && echo "${key} ${kept[0]}" >> ~/${volumesFile(app)}' (or ${kept[1]}), and release again. To start empty instead: docker volume create ${own}`,
    );
  }
  return own;
}

/**
 * The options to repeat for a volume: the file's, but not its driver_opts when the volume is
 * there already with other ones. Such a volume was made before hoist passed them on (compose v1
 * dropped them); compose v1 would refuse the release and advise removing the volume, which holds
 * the app's data. It is used as it is, and the user is told.
 */
function keptOptions(v: ComposeVolume, name: string, actual: Map<string, Record<string, string>> | undefined, notes: string[]): Record<string, unknown> {
  const wanted = v.options!;
  const has = actual?.get(name);
  if (!has || wanted.driver_opts === undefined || sameOptions(has, wanted.driver_opts)) return wanted;
  notes.push(
    `volume ${v.key} (${name}) was made without the driver_opts your compose file gives it (${JSON.stringify(wanted.driver_opts)}; it has ${JSON.stringify(has)}): it is used as it is, with its data. To have them: make a new volume with them, copy the data into it, and record it in ~/apps/APP/volumes in place of ${name}`,
  );
  const { driver_opts: _, ...rest } = wanted;
  return rest;
}

const sameOptions = (a: Record<string, string>, b: unknown): boolean => {
  const o = (b ?? {}) as Record<string, unknown>;
  const keys = new Set([...Object.keys(a), ...Object.keys(o)]);
  return [...keys].every((k) => String(a[k] ?? '') === String(o[k] ?? ''));
};

/** `NAME {json of Docker's Options}` lines (docker volume inspect) into name -> options; anything else is ignored. */
export function parseDriverOpts(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*) (.*)$/.exec(line.trim());
    if (!m) continue;
    try {
      const o = JSON.parse(m[2]!) as unknown;
      out.set(m[1]!, typeof o === 'object' && o !== null ? Object.fromEntries(Object.entries(o).map(([k, x]) => [k, String(x)])) : {});
    } catch {
      // not Docker's JSON: no options known for it
    }
  }
  return out;
}

/** The override's top-level `volumes:` section pinning each key (empty when there is none). */
export function volumesOverrideYaml(pins: VolumePin[]): string[] {
  if (!pins.length) return [];
  return [
    'volumes:',
    ...pins.flatMap((p) => [
      `  ${JSON.stringify(p.key)}:`,
      ...(p.external ? ['    external: true'] : []),
      `    name: ${JSON.stringify(p.name)}`,
      ...Object.entries(p.options ?? {}).map(([k, v]) => `    ${k}: ${JSON.stringify(noSubstitution(v))}`),
    ]),
  ];
}

/** A value compose printed, as compose reads it back: `$` doubled (it was substituted already). */
function noSubstitution(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/\$/g, '$$$$');
  if (Array.isArray(v)) return v.map(noSubstitution);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, noSubstitution(x)]));
  return v;
}

/** Creates the volumes hoist owns (labelled with the app and key), records the app's volumes. */
export function applyVolumesCommand(app: string, plan: VolumesPlan): Cmd | null {
  const creates = plan.pins.filter((p) => p.create);
  if (!creates.length && !plan.record) return null;
  const parts: Cmd[] = creates.map((p) => sh`docker volume create --label ${`hoist.app=${app}`} --label ${`hoist.volume=${p.key}`} ${p.name} >/dev/null`);
  if (plan.record) {
    const file = volumesFile(app);
    parts.push(sh`cd && printf '%s' ${volumesRecordText(plan.record)} > ${`${file}.tmp`} && mv -f ${`${file}.tmp`} ${file}`);
  }
  return sh`set -e; ${parts.reduce((a, b) => sh`${a}; ${b}`)}`;
}
