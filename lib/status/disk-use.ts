// What each app takes on a host's disk, and what the host has left, pure (from apps-probe's
// fact). An app's images are those named hoist/APP/* (tasks/docker-up/image-name.ts; an older
// hoist's hoist-APP-SERVICE when its slot override names it or the evidence there settles whose)
// and the images compose built for its other services (named after its projects,
// used by its containers); a pulled image (redis:7) is nobody's alone, as for `hoist remove`.
// Releases of one app share most layers: each layer is counted once (layers are told apart by
// their history, everything below included), and `ownBytes` is what no image outside the app
// uses, about what removing them all would free. Docker's build cache records no app or project,
// so it is the host's, shown once.
import type { AppsFact, DfImage, Layer } from './apps-probe.ts';
import { appOfImage } from '../../tasks/docker-up/disk.ts';
import { isReleaseName } from '../release/layout.ts';

export interface AppImage {
  /** repo:tag, or null for an image without a name. */
  ref: string | null;
  id: string;
  /** The image's size as `docker image inspect` gives it (its shared layers included). */
  bytes: number;
  /** The release its tag names, or null. */
  release: string | null;
  /** That release's folder is still on the host (false: the image outlived it, prunable). */
  releaseOnHost: boolean;
  /** It is the image of the live release. */
  live: boolean;
}

export interface AppDisk {
  images: AppImage[];
  /** Bytes the app's images take, each layer counted once. */
  imagesBytes: number;
  /** Of those, bytes no other image on the host uses. */
  ownBytes: number;
  /** `du` of apps/APP/releases and apps/APP/repo.git; null when not there. */
  releasesBytes: number | null;
  repoBytes: number | null;
}

export interface HostDisk {
  /** DockerRootDir, where images, containers and the build cache live. */
  dockerRoot: string | null;
  freeBytes: number | null;
  totalBytes: number | null;
  /** Every image's layers, each once (Docker's LayersSize). */
  imagesBytes: number;
  /** Docker's build cache (BuildKit): the host's, as Docker does not record which app a build was for. */
  buildCache: { bytes: number; reclaimableBytes: number; entries: number; perApp: false };
  /** Images without a name that no container uses (`docker image prune` removes them). */
  dangling: { count: number; bytes: number };
}

export interface DiskUse {
  host: HostDisk;
  apps: Record<string, AppDisk>;
}

const splitRef = (ref: string) => ({ repo: ref.slice(0, ref.lastIndexOf(':')), tag: ref.slice(ref.lastIndexOf(':') + 1) });

/** The images (by id) that are each app's. */
export function imagesOfApps(f: AppsFact): Map<string, DfImage[]> {
  const images = f.df?.images ?? [];
  const byApp = new Map<string, DfImage[]>(f.apps.map((a) => [a.name, []]));
  // A ref a slot override names is that app's exactly (the override is in its folder).
  const slotRefs = new Map<string, string>();
  for (const a of f.apps) for (const ref of Object.values(a.slotImages)) slotRefs.set(ref!, a.name);
  const releases = Object.fromEntries(f.apps.map((a) => [a.name, a.releases]));
  const projectOwner = (project: string) => f.apps.find((a) => project === `${a.name}-blue` || project === `${a.name}-green`)?.name;
  for (const image of images) {
    const owners = new Set<string>();
    const usedBy = new Set((f.df?.containers ?? []).filter((c) => c.imageId === image.id).flatMap((c) => projectOwner(c.project) ?? []));
    for (const ref of image.refs) {
      const app = slotRefs.get(ref) ?? appOfImage(ref, releases, usedBy);
      if (app && byApp.has(app)) owners.add(app);
    }
    // Built by compose for another service of the app: named after its project, used by its containers.
    for (const c of f.df?.containers ?? []) {
      if (c.imageId !== image.id) continue;
      const app = f.apps.find((a) => c.project === `${a.name}-blue` || c.project === `${a.name}-green`);
      if (app && (image.refs.length === 0 || image.refs.some((r) => r.startsWith(`${c.project}_`) || r.startsWith(`${c.project}-`)))) owners.add(app.name);
    }
    for (const app of owners) byApp.get(app)!.push(image);
  }
  return byApp;
}

export function diskUse(f: AppsFact): DiskUse {
  const images = f.df?.images ?? [];
  const layersOf = (i: DfImage): Layer[] => f.layers.get(i.id) ?? [{ key: `image ${i.id}`, size: i.size }];
  const bytesOf = (set: DfImage[], outside: DfImage[] = []) => {
    const taken = new Set(outside.flatMap((i) => layersOf(i).map((l) => l.key)));
    const seen = new Map<string, number>();
    for (const l of set.flatMap(layersOf)) if (!taken.has(l.key)) seen.set(l.key, l.size);
    return [...seen.values()].reduce((n, s) => n + s, 0);
  };
  const byApp = imagesOfApps(f);
  const apps: Record<string, AppDisk> = {};
  for (const a of f.apps) {
    const mine = byApp.get(a.name)!;
    const others = images.filter((i) => !mine.includes(i));
    apps[a.name] = {
      images: mine.flatMap((i) => (i.refs.length ? i.refs : [null]).map((ref) => appImage(i, ref, a.releases, a.current))),
      imagesBytes: bytesOf(mine),
      ownBytes: bytesOf(mine, others),
      releasesBytes: a.releasesBytes,
      repoBytes: a.repoBytes,
    };
  }
  const dangling = images.filter((i) => i.refs.length === 0 && i.containers <= 0);
  const cache = (f.df?.buildCache ?? []).filter((b) => !b.shared);
  return {
    host: {
      dockerRoot: f.root,
      freeBytes: f.freeBytes,
      totalBytes: f.totalBytes,
      imagesBytes: f.df?.layersSize ?? 0,
      buildCache: {
        bytes: cache.reduce((n, b) => n + b.size, 0),
        reclaimableBytes: cache.filter((b) => !b.inUse).reduce((n, b) => n + b.size, 0),
        entries: f.df?.buildCache.length ?? 0,
        perApp: false,
      },
      dangling: { count: dangling.length, bytes: bytesOf(dangling, images.filter((i) => !dangling.includes(i))) },
    },
    apps,
  };
}

function appImage(i: DfImage, ref: string | null, releases: string[], current: string | null): AppImage {
  const tag = ref ? splitRef(ref).tag : '';
  const release = isReleaseName(tag) ? tag : null;
  return { ref, id: i.id, bytes: i.size, release, releaseOnHost: release !== null && releases.includes(release), live: release !== null && release === current };
}
