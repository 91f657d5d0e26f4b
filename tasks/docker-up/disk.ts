// Whether a build fits on Docker's disk, asked before any compose command. On a small VPS the
// images of several apps (each keeping KEEP_RELEASES of them for rollbacks without a rebuild)
// are what fills it, and a `docker build` that runs out of room fails half way with an error
// about a layer. So docker-up's probe also reads the free space where Docker writes (its
// DockerRootDir, `df` on it) and every image on the host, and a build that does not fit is
// refused with the numbers and what could be pruned, while the live release keeps serving.
//
// The app's volumes count too (issue #18 item 6). They live under the same root (Docker's
// volumes/), so what they hold now is already out of the free space; what the check adds is
// room for them to grow: a build that fills the disk to the last byte leaves the app's database
// nothing to write its next row into. So, without BUILD_MIN_FREE, a build needs the rule's
// amount plus a tenth of what the app's volumes hold (its own, labelled hoist.app, and per-slot or
// state-project ones compose made), read from Docker's /system/df (volumes only) in the same probe,
// only when a build may come. A refusal names what they take; no advice ever removes a volume.
import { formatBytes } from '../../lib/byte-size.ts';
import { DOCKER_SOCKET } from '../../lib/docker-api.ts';
import { HoistError } from '../../lib/errors.ts';
import { isReleaseName } from '../../lib/release/layout.ts';
import { imageOwner, imageRef, legacyImageRepo } from './image-name.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';

export interface RoomImage {
  id: string;
  /** repo:tag names; none for a dangling image. */
  refs: string[];
  /** Bytes of the image's layers (shared layers counted in every image that has them). */
  size: number;
}

/** What docker-up's probe read about room for a build. */
export interface BuildRoom {
  /** DockerRootDir, where images, build layers and containers are written; null when unknown. */
  root: string | null;
  /** `df`'s Available on the root's filesystem (what an unprivileged writer gets), null when unknown. */
  freeBytes: number | null;
  totalBytes: number | null;
  /** Every top-level image on the host. */
  images: RoomImage[];
  /** Every app folder on the host (apps/NAME) and its release folders. */
  releases: Record<string, string[]>;
  /** Docker's volumes with their size (absent: not asked, or Docker did not say). */
  volumes?: RoomVolume[];
}

export interface RoomVolume {
  name: string;
  /** Bytes Docker counted in it; 0 when it did not say (-1 in its answer). */
  size: number;
  /** Its hoist.app label (volumes hoist made), or ''. */
  app: string;
  /** Its com.docker.compose.project label (volumes compose made), or ''. */
  project: string;
}

/** The share of what the app's volumes hold that a build must leave free for them to grow. */
export const VOLUME_GROWTH = 0.1;

/** Without BUILD_MIN_FREE, a build needs at least this much free. */
export const BUILD_FLOOR = 1024 ** 3;
/** ... or this many times the live image, whichever is more. */
export const BUILD_FACTOR = 1.5;

export { imageRef } from './image-name.ts';

const SOCK = DOCKER_SOCKET;

/**
 * Probe lines (every one starts with `disk-`): Docker's root, `df -Pk` on it (the deploy user may
 * stat it: no root needed), every image (one API call, sizes included), every app's releases.
 * Runs after docker-up asked Docker for its containers ($dok is 1 when it answered): a Docker that
 * does not answer is not asked again.
 */
export function buildRoomProbe(): Cmd {
  return sh`if [ "$dok" = 1 ]; then
${dockerRootFree()}
echo "disk-images-json $(curl -s --max-time 10 --unix-socket ${SOCK} http://docker/images/json 2>/dev/null | tr -d '\\n')"
echo "disk-volumes-json $(curl -s --max-time 30 --unix-socket ${SOCK} 'http://docker/system/df?type=volume' 2>/dev/null | tr -d '\\n')"
fi
for d in apps/*/; do if [ -d "$d" ]; then printf 'disk-app %s\\n' "$d"; fi; done
for d in apps/*/releases/*/; do if [ -d "$d" ]; then printf 'disk-release %s\\n' "$d"; fi; done
`;
}

/** Lines `disk-root DIR` and `disk-fs TOTAL_KIB AVAILABLE_KIB`: where Docker writes, and the room there. */
export function dockerRootFree(): Cmd {
  return sh`droot=$(curl -s --max-time 10 --unix-socket ${SOCK} http://docker/info 2>/dev/null | sed -n 's/.*"DockerRootDir": *"\\([^"]*\\)".*/\\1/p' | head -1)
printf 'disk-root %s\\n' "$droot"
if [ -n "$droot" ]; then df -Pk "$droot" 2>/dev/null | awk 'NR==2 {print "disk-fs", $2, $4}'; fi`;
}

export const isBuildRoomLine = (word: string | undefined): boolean => word !== undefined && word.startsWith('disk-');

const APP = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The `disk-` lines of a probe's answer. Names from the host are checked before use. */
export function parseBuildRoom(lines: string[]): BuildRoom {
  const room: BuildRoom = { root: null, freeBytes: null, totalBytes: null, images: [], releases: {} };
  for (const line of lines) {
    const [word, ...rest] = line.trim().split(/\s+/);
    if (word === 'disk-root' && rest[0]?.startsWith('/')) room.root = rest.join(' ');
    else if (word === 'disk-fs' && /^\d+$/.test(rest[0] ?? '') && /^\d+$/.test(rest[1] ?? '')) {
      room.totalBytes = Number(rest[0]) * 1024;
      room.freeBytes = Number(rest[1]) * 1024;
    } else if (word === 'disk-images-json') room.images = parseImages(line.slice(line.indexOf(word) + word.length));
    else if (word === 'disk-volumes-json') room.volumes = parseVolumes(line.slice(line.indexOf(word) + word.length));
    else if (word === 'disk-app') {
      const app = /^apps\/([^/]+)\/$/.exec(rest[0] ?? '')?.[1];
      if (app && APP.test(app)) room.releases[app] ??= [];
    } else if (word === 'disk-release') {
      const m = /^apps\/([^/]+)\/releases\/([^/]+)\/$/.exec(rest[0] ?? '');
      if (m && APP.test(m[1]!) && isReleaseName(m[2]!)) (room.releases[m[1]!] ??= []).push(m[2]!);
    }
  }
  return room;
}

/** Docker's /images/json (or /system/df's Images): id, names, size; nothing when Docker did not answer. */
export function parseImages(text: string): RoomImage[] {
  const trimmed = text.trim();
  if (!trimmed) return [];
  let list: unknown;
  try {
    list = JSON.parse(trimmed);
  } catch {
    return []; // An answer cut short: the check has less to go by, the release is not stopped for it.
  }
  if (!Array.isArray(list)) return [];
  return (list as { Id?: string; RepoTags?: string[] | null; Size?: number }[]).map((i) => ({
    id: i.Id ?? '',
    refs: (i.RepoTags ?? []).filter((r) => r !== '<none>:<none>'),
    size: typeof i.Size === 'number' && i.Size > 0 ? i.Size : 0,
  }));
}

/** Docker's /system/df answer's Volumes: name, size, the labels that say whose; nothing when it did not answer. */
export function parseVolumes(text: string): RoomVolume[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text.trim() || 'null');
  } catch {
    return [];
  }
  const list = (doc as { Volumes?: unknown } | null)?.Volumes;
  if (!Array.isArray(list)) return [];
  return (list as { Name?: string; Labels?: Record<string, string> | null; UsageData?: { Size?: number } | null }[]).map((v) => ({
    name: v.Name ?? '',
    size: typeof v.UsageData?.Size === 'number' && v.UsageData.Size > 0 ? v.UsageData.Size : 0,
    app: v.Labels?.['hoist.app'] ?? '',
    project: v.Labels?.['com.docker.compose.project'] ?? '',
  }));
}

/** The app's volumes: made by hoist for it, or by compose in one of its projects (slots, stateful services). */
export function appVolumes(room: Pick<BuildRoom, 'volumes'>, app: string): RoomVolume[] {
  const projects = new Set([`${app}-blue`, `${app}-green`, `${app}-state`]);
  return (room.volumes ?? []).filter((v) => v.app === app || projects.has(v.project));
}

/**
 * The free space a build needs: BUILD_MIN_FREE when set (0 turns the check off); else the larger
 * of 1 GiB and 1.5 × the app's live image. Why 1.5: a rebuild writes new layers up to the image's
 * size when little is cached, and the classic builder holds a step's output twice while it
 * commits it; a floor, because a first build (no live image yet) has nothing to go by.
 */
export function buildNeeds(liveImageBytes: number, minFree: number | null, volumeBytes = 0): { bytes: number; why: string } {
  if (minFree !== null) return { bytes: minFree, why: 'BUILD_MIN_FREE' };
  const grown = Math.ceil(BUILD_FACTOR * liveImageBytes);
  const data = Math.ceil(VOLUME_GROWTH * volumeBytes);
  const plus = data > 0 ? ` + ${formatBytes(data)} for the app's volumes to grow (a tenth of the ${formatBytes(volumeBytes)} they hold)` : '';
  if (grown > BUILD_FLOOR) return { bytes: grown + data, why: `${BUILD_FACTOR} × the live image's ${formatBytes(liveImageBytes)}${plus}; BUILD_MIN_FREE sets another amount` };
  return { bytes: BUILD_FLOOR + data, why: `at least ${formatBytes(BUILD_FLOOR)} for a build${plus}; BUILD_MIN_FREE sets another amount` };
}

/**
 * The app a hoist image belongs to (tasks/docker-up/image-name.ts says how, for either name);
 * null: not hoist's, no app on this host (removed by hand), or an old name no evidence settles.
 */
export function appOfImage(ref: string, apps: Record<string, string[]>, usedBy?: ReadonlySet<string>): string | null {
  const o = imageOwner(ref, { releases: apps, ...(usedBy ? { usedBy } : {}) });
  return o && o !== 'unsure' ? o.app : null;
}

export class NotEnoughRoomError extends HoistError {}

export interface RoomCheck {
  app: string;
  service: string;
  /** The release to build. */
  release: string;
  /** The release running live (its image's size sets the need), or null. */
  live: string | null;
  /** BUILD_MIN_FREE in bytes, or null for the rule. */
  minFree: number | null;
}

/** Throws NotEnoughRoomError, with the numbers and what could be pruned, when the build does not fit. */
export function checkBuildRoom(room: BuildRoom, c: RoomCheck): void {
  if (room.freeBytes === null) return; // Nothing to go by (df failed): the build goes on as before.
  // Its image under either name (a host released by an older hoist has the old one until docker-up re-tags it).
  const live = c.live ? room.images.find((i) => i.refs.includes(imageRef(c.app, c.service, c.live!)) || i.refs.includes(`${legacyImageRepo(c.app, c.service)}:${c.live}`)) : undefined;
  const data = appVolumes(room, c.app);
  const dataBytes = data.reduce((n, v) => n + v.size, 0);
  const need = buildNeeds(live?.size ?? 0, c.minFree, dataBytes);
  if (room.freeBytes >= need.bytes) return;
  const where = room.root ?? "Docker's root";
  const shown = [...data].sort((a, b) => b.size - a.size).slice(0, 6).map((v) => `${v.name} ${formatBytes(v.size)}`).join(', ');
  const dataLine = data.length ? [`${c.app}'s volumes hold ${formatBytes(dataBytes)} (${shown}${data.length > 6 ? `, and ${data.length - 6} more` : ''}): its data, never pruned by hoist.`] : [];
  throw new NotEnoughRoomError(
    [
      `not enough free disk to build ${c.release}: ${formatBytes(room.freeBytes)} free under ${where}, ${formatBytes(need.bytes)} needed (${need.why}). Nothing was built or started; the live release keeps serving.`,
      ...dataLine,
      ...pruneAdvice(room, c),
      'Then release again (`hoist status` shows what each app\'s images, releases and the build cache take).',
    ].join('\n'),
  );
}

/** What could be freed on the host, in words, with the commands: every line is the operator's choice. */
export function pruneAdvice(room: BuildRoom, c: Pick<RoomCheck, 'app' | 'live'>): string[] {
  const stale: RoomImage[] = [];
  const staleRefs: string[] = [];
  const kept: RoomImage[] = [];
  for (const image of room.images) {
    let isStale = false;
    let isKept = false;
    for (const ref of image.refs) {
      // An old name two apps could have given, with nothing to say whose: neither advised nor counted.
      const o = imageOwner(ref, { releases: room.releases });
      if (!o || o === 'unsure') continue;
      if (o.app === null || !room.releases[o.app]!.includes(o.release)) {
        isStale = true;
        staleRefs.push(ref);
      } else if (o.app === c.app && o.release !== c.live) isKept = true;
    }
    if (isStale) stale.push(image);
    else if (isKept) kept.push(image);
  }
  const dangling = room.images.filter((i) => i.refs.length === 0);
  const sum = (list: RoomImage[]) => formatBytes(list.reduce((n, i) => n + i.size, 0));
  const lines = ['What could be freed on this host:'];
  if (staleRefs.length) {
    const shown = staleRefs.slice(0, 6).join(' ');
    lines.push(`- images of releases no longer on the host (${stale.length}, up to ${sum(stale)}): docker image rm ${shown}${staleRefs.length > 6 ? ` (and ${staleRefs.length - 6} more)` : ''}`);
  }
  if (dangling.length) lines.push(`- dangling images, left by earlier builds (${dangling.length}, up to ${sum(dangling)}): docker image prune`);
  lines.push("- Docker's build cache, shared by every app on the host: docker builder prune");
  if (kept.length) lines.push(`- images ${c.app} keeps for rollbacks (${kept.length}, up to ${sum(kept)}): a lower KEEP_RELEASES keeps fewer`);
  const others = Object.keys(room.releases).filter((a) => a !== c.app).sort();
  if (others.length) lines.push(`- other apps on this host (${others.join(', ')}): \`hoist remove\` with an app's settings takes one you no longer use off the host, its images with it`);
  return lines;
}

/**
 * A compose command that failed because Docker's disk filled during it (a build step's write, a
 * layer's commit): said in those words, with the line that says it and what could be pruned,
 * instead of compose's last line ("Service 'web' failed to build"). Null for any other failure.
 */
export function ranOutOfRoom(r: { stdout: string; stderr: string }, room: BuildRoom | undefined, c: Pick<RoomCheck, 'app' | 'release' | 'live'>): NotEnoughRoomError | null {
  // eslint-disable-next-line no-control-regex
  const said = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim()).find((l) => /no space left on device/i.test(l));
  if (!said) return null;
  const had = room?.freeBytes != null ? `, which had ${formatBytes(room.freeBytes)} free before it` : '';
  return new NotEnoughRoomError(
    [
      `building ${c.release} ran out of disk under ${room?.root ?? "Docker's root"}${had} (${said.length > 200 ? `${said.slice(0, 200)}...` : said}). The build's containers are removed and the new slot did not start; the live release keeps serving. A BUILD_MIN_FREE above what the build writes stops such a build before it starts.`,
      ...(room ? pruneAdvice(room, c) : []),
      'Then release again.',
    ].join('\n'),
  );
}
