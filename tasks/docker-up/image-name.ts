// The ONE place that names an app's images: hoist/APP/SERVICE:RELEASE. Every task that tags,
// looks for, prunes, removes or counts an app's image goes through here (issue #22).
//
// Why three path components: the old name hoist-APP-SERVICE was ambiguous, as both APP_NAME and
// APP_SERVICE may contain `-`: app `web` with service `api-x` and app `web-api` with service `x`
// both got hoist-web-api-x, so `hoist remove` of one deleted the other's images. Neither APP_NAME
// ([a-z0-9][a-z0-9_-]*, lib/config/validators.ts) nor APP_SERVICE (Docker's path-component
// grammar, lib/config/keys.ts) can hold a `/`, so the components split back exactly. Docker's
// reference grammar allows any number of path components (name = component ("/" component)*),
// and as the first has no `.` or `:` and is not `localhost`, it is no registry host: the image
// is only ever built here (a Docker Hub repository cannot have three components, so no pull of
// this name could fetch someone else's image either).
//
// Hosts released by an older hoist carry the old name. docker-up re-tags the app's own (and
// rewrites the slot overrides that name them); until then, and for what cannot be told apart,
// `legacyOwner` says whose an old-named image is, from exact evidence only.
import { isReleaseName } from '../../lib/release/layout.ts';

const APP = '[a-z0-9][a-z0-9_-]{0,62}';
/** Docker's path component (as APP_SERVICE is validated). */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const NEW = new RegExp(`^hoist/(${APP})/([a-z0-9][a-z0-9._-]*):([^:/]+)$`);

/** The repository of an app's service's images: hoist/APP/SERVICE. */
export const imageRepo = (app: string, service: string): string => `hoist/${app}/${service}`;

/** The app's tagged image of one release, as compose tags it through hoist's override. */
export const imageRef = (app: string, service: string, release: string): string => `${imageRepo(app, service)}:${release}`;

/** A name hoist gives (hoist/APP/SERVICE:RELEASE), split exactly; null for any other. */
export function parseImageRef(ref: string): { app: string; service: string; release: string } | null {
  const m = NEW.exec(ref);
  if (!m || !COMPONENT.test(m[1]!) || !COMPONENT.test(m[2]!) || !isReleaseName(m[3]!)) return null;
  return { app: m[1]!, service: m[2]!, release: m[3]! };
}

/**
 * Why Docker would refuse APP_NAME as a component of the image name (it ends in `-` or `_`, or
 * joins parts with `_-`, `-_` or `___`), or null. Such names failed under the old naming too,
 * bar a trailing `-`.
 */
export function appImageNameProblem(app: string): string | null {
  return COMPONENT.test(app) ? null : `cannot be part of a Docker image name (${imageRepo(app, 'SERVICE')}): letters and digits joined by single -, _, __ or -- runs, not ending in - or _`;
}

// ---- the old name, for hosts released before: read, never written ----

/** hoist-APP-SERVICE, the name hoist gave before: ambiguous, see `legacyOwner`. */
export const legacyImageRepo = (app: string, service: string): string => `hoist-${app}-${service}`;

/** An old-style name (hoist-REST:RELEASE), split; null for any other. */
export function parseLegacyRef(ref: string): { repo: string; release: string } | null {
  const at = ref.lastIndexOf(':');
  const repo = ref.slice(0, at);
  const release = ref.slice(at + 1);
  return at > 0 && /^hoist-[a-z0-9][a-z0-9_.-]*$/.test(repo) && isReleaseName(release) ? { repo, release } : null;
}

/** What a host says about whose an old-named image may be. */
export interface LegacyEvidence {
  /** Every app folder on the host (~/apps/APP) and the release folders in it. */
  releases: Readonly<Record<string, readonly string[]>>;
  /** Apps whose containers (compose projects APP-blue/APP-green) run from the image; absent: unknown. */
  usedBy?: ReadonlySet<string>;
}

/**
 * The app an old-named image (hoist-X:RELEASE) belongs to, or null when that cannot be told.
 * `service` narrows it to one app's exact old repository (hoist-APP-SERVICE); without it (status,
 * prune advice) any app on the host whose name fits X is a candidate.
 *
 * The name alone never decides between two apps that both fit (web and web-api both fit
 * hoist-web-api-x), so only exact evidence does, in this order:
 * 1. a container of exactly one candidate's compose projects runs from the image (its
 *    com.docker.compose.project label is exact, and the image id is what it runs);
 * 2. exactly one candidate has a release folder ~/apps/APP/releases/RELEASE named by the tag
 *    (git-sync made it; two apps released from one repository in the same second share a name,
 *    and then neither is sure);
 * 3. only one app on the host fits at all (no other app could have named it so).
 * Anything else is nobody's for sure: left alone, never removed for an app.
 */
export function legacyOwner(ref: string, e: LegacyEvidence, only?: { app: string; service: string }): string | null {
  const h = parseLegacyRef(ref);
  if (!h) return null;
  const fits = Object.keys(e.releases).filter((a) => h.repo.startsWith(`hoist-${a}-`) && h.repo.length > `hoist-${a}-`.length);
  if (only && (h.repo !== legacyImageRepo(only.app, only.service) || !fits.includes(only.app))) return null;
  const users = e.usedBy ? fits.filter((a) => e.usedBy!.has(a)) : [];
  if (users.length) return users.length === 1 ? users[0]! : null;
  const withRelease = fits.filter((a) => e.releases[a]!.includes(h.release));
  if (withRelease.length) return withRelease.length === 1 ? withRelease[0]! : null;
  return fits.length === 1 ? fits[0]! : null;
}

/**
 * Whose a hoist image (either name) is on this host: `app` is the owner, or null when hoist named
 * it for an app that has no folder here any more (removed by hand: nobody's, prunable). Returns
 * `unsure` for an old name the evidence does not settle, and null for an image hoist did not name.
 */
export function imageOwner(ref: string, e: LegacyEvidence): { app: string | null; release: string } | 'unsure' | null {
  const p = parseImageRef(ref);
  if (p) return { app: p.app in e.releases ? p.app : null, release: p.release };
  const h = parseLegacyRef(ref);
  if (!h) return null;
  const owner = legacyOwner(ref, e);
  if (owner) return { app: owner, release: h.release };
  const fits = Object.keys(e.releases).some((a) => h.repo.startsWith(`hoist-${a}-`) && h.repo.length > `hoist-${a}-`.length);
  return fits ? 'unsure' : { app: null, release: h.release };
}
