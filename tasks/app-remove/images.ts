// Which images are the app's, pure. Names alone cannot say: `hoist-web-*` also matches the images
// of an app called web-api, and compose names a built image after the project and service only.
// So an image is the app's when its repository is exactly hoist-APP-APP_SERVICE with a release
// tag, or compose built it for one of the app's containers (APP-blue_SERVICE, APP-blue-SERVICE).
// Not hoist-APP-* tagged with one of the app's release names: two apps released from one
// repository at the same second share release names, and web's would take web-api's images.
// (So images of an APP_SERVICE changed since stay: the plan cannot tell them from another app's.)
// Pulled images (redis:7) are never the app's alone, and stay. An image another container still
// uses is kept when removing the app's tags would leave that container's image without a name
// (Docker refuses that anyway).
import { isReleaseName } from '../../lib/release/layout.ts';
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

export function appImages(w: Pick<RemoveWanted, 'app' | 'service'>, f: Pick<RemoveFact, 'containers' | 'images'>): ImagePick {
  const ourProjects = new Set(projects(w.app));
  const ours = (c: Container) => ourProjects.has(c.project);
  const ourContainers = f.containers.filter(ours);
  const built = new Set(ourContainers.filter((c) => c.service).flatMap((c) => [`${c.project}_${c.service}`, `${c.project}-${c.service}`]));
  const usedByUs = new Set(ourContainers.map((c) => c.image));
  const attributed = f.images.filter(({ ref, id }) => {
    const { repo, tag } = splitRef(ref);
    if (repo === `hoist-${w.app}-${w.service}` && isReleaseName(tag)) return true;
    return usedByUs.has(id) && built.has(repo);
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
