// The release pipeline's part of BUILD=local and BUILD=registry: the image of the release's
// commit, built here once for the whole fleet before any host changes (a build or push that
// fails stops the run with every host untouched). What it returns is in every task's
// input.shared: `ship` (local: docker-up ships the layers) or `pushed` (registry: hosts pull).
import type { Settings } from '../config/settings.ts';
import type { ShipImage } from './layers.ts';
import type { PushedImage } from './registry.ts';

export async function imageBuiltHere(s: Settings, sha: string): Promise<{ ship?: ShipImage; pushed?: PushedImage }> {
  if (s.build === 'host') return {};
  // Loaded only here: reading compose (yaml) is not part of every release's start-up.
  const { buildHere, savedImage } = await import('./local-build.ts');
  const tag = await buildHere(s, sha);
  if (s.build === 'local') return { ship: await savedImage(tag) };
  const { pushImage } = await import('./registry.ts');
  return { pushed: await pushImage(tag, s.registry!, s.appName, s.appService, sha) };
}
