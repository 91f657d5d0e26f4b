// The release pipeline's part of BUILD=local: the image of the release's commit, built here once
// for the whole fleet before any host changes (a build that fails stops the run untouched).
import type { Settings } from '../config/settings.ts';
import type { ShipImage } from './layers.ts';

/** The image docker-up ships, or null when the hosts build (BUILD=host). */
export async function imageBuiltHere(s: Settings, sha: string): Promise<ShipImage | null> {
  if (s.build !== 'local') return null;
  // Loaded only here: reading compose (yaml) is not part of every release's start-up.
  const { buildHere, savedImage } = await import('./local-build.ts');
  return savedImage(await buildHere(s, sha));
}
