// Which images are the app's, pure. An image hoist tagged is named hoist/APP/SERVICE:RELEASE
// (tasks/docker-up/image-name.ts): its APP part is exact, so every image named for the app is
// its own (also that of an APP_SERVICE changed since), and no other app's ever is.
// A host released by an older hoist may still hold the old name hoist-APP-SERVICE:RELEASE, which
// cannot tell app web (service api-x) from app web-api (service x): such an image is the app's
// only when it has exactly its old name AND the host's evidence says whose (legacyOwner there:
// the compose project of a container running it, else the release folders of the apps that fit,
// else the only app that fits). Whatever is unsure stays: removing another app's image would
// break its rollback, leaving one of ours costs only disk.
// Compose names an image it built for another service after the project and service only, so
// such an image is the app's when one of the app's containers (APP-blue_SERVICE, APP-blue-SERVICE)
// uses it. Pulled images (redis:7) are never the app's alone, and stay. An image another
// container still uses is kept when removing the app's tags would leave that container's image
// without a name (Docker refuses that anyway).
import { legacyOwner, parseImageRef, parseLegacyRef } from '../docker-up/image-name.ts';
import { projects } from './probe.ts';
import type { Container, Image, RemoveFact, RemoveWanted } from './types.ts';

export interface ImagePick {
  remove: Image[];
  kept: { image: Image; usedBy: string }[];
}

function splitRef(ref: string): { repo: string; tag: string } {
  const at = ref.lastIndexOf(':');
  return { repo: ref.slice(0, at), tag: ref.slice(at + 1) };
}

export function appImages(w: Pick<RemoveWanted, 'app' | 'service'>, f: Pick<RemoveFact, 'containers' | 'images' | 'releases' | 'hostReleases'>): ImagePick {
  const ourProjects = new Set(projects(w.app));
  const ours = (c: Container) => ourProjects.has(c.project);
  const ourContainers = f.containers.filter(ours);
  const built = new Set(ourContainers.filter((c) => c.service).flatMap((c) => [`${c.project}_${c.service}`, `${c.project}-${c.service}`]));
  const usedByUs = new Set(ourContainers.map((c) => c.image));
  const releases = { ...f.hostReleases, [w.app]: f.releases };
  const appsUsing = (id: string) => new Set(Object.keys(releases).filter((a) => f.containers.some((c) => c.image === id && projects(a).includes(c.project))));
  const attributed = f.images.filter(({ ref, id }) => {
    if (parseImageRef(ref)) return parseImageRef(ref)!.app === w.app;
    if (parseLegacyRef(ref)) return legacyOwner(ref, { releases, usedBy: appsUsing(id) }, w) === w.app;
    return usedByUs.has(id) && built.has(splitRef(ref).repo);
  });
  const remove: Image[] = [];
  const kept: ImagePick['kept'] = [];
  for (const image of attributed) {
    const user = f.containers.find((c) => !ours(c) && c.image === image.id);
    const otherNames = f.images.some((i) => i.id === image.id && !attributed.includes(i));
    if (user && !otherNames) kept.push({ image, usedBy: user.name });
    else remove.push(image);
  }
  return { remove, kept };
}
