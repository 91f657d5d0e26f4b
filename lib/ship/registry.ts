// BUILD=registry: the image built here is pushed to REGISTRY once, and each host pulls it and
// tags it with hoist's name (hoist/APP/SERVICE:RELEASE), so everything after (rollback from the
// kept image, KEEP_RELEASES, status) is as with a build on the host. The password goes to
// `docker login --password-stdin` on standard input, here and on the host, into a Docker config
// folder made for that one command and removed after it: never on a command line, never left
// in a file, never printed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Settings } from '../config/settings.ts';
import { HoistError } from '../errors.ts';
import { sh, type Cmd } from '../shell-quote.ts';

/** Where the release's image lives in the registry: REGISTRY/hoist/APP/SERVICE:SHA12. */
export const registryRef = (registry: string, app: string, service: string, sha: string): string => `${registry}/hoist/${app}/${service}:${sha.slice(0, 12)}`;

export interface PushedImage {
  ref: string;
  registry: string;
  user: string | null;
}

type Registry = NonNullable<Settings['registry']>;

/** Runs docker here with `stdin` (the password) and a private DOCKER_CONFIG; stderr only in the error, the password never. */
function docker(args: string[], config: string, stdin?: string): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn('docker', args, { env: { ...process.env, DOCKER_CONFIG: config }, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.on('error', (e) => rej(new HoistError(`docker could not be run here: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? res() : rej(new HoistError(`docker ${args[0]} ${args.at(-1)} failed here (exit ${code}): ${err.trim().split('\n').slice(-5).join(' | ')}`))));
    child.stdin.end(stdin ?? '');
  });
}

/** Tags the image built here as the registry's and pushes it (a layer the registry has is not sent again). */
export async function pushImage(localTag: string, r: Registry, app: string, service: string, sha: string): Promise<PushedImage> {
  const ref = registryRef(r.address, app, service, sha);
  const config = mkdtempSync(join(tmpdir(), 'hoist-docker-config-'));
  try {
    await docker(['tag', localTag, ref], config);
    if (r.user) await docker(['login', '--username', r.user, '--password-stdin', r.address], config, r.password ?? '');
    await docker(['push', ref], config);
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
  return { ref, registry: r.address, user: r.user ?? null };
}

/**
 * On the host: pull `ref` (logged in with the password on standard input when there is a user,
 * in a config folder that is removed whatever happens), then tag it as hoist's name.
 */
export function pullOnHost(p: PushedImage, tag: string): Cmd {
  const login = p.user ? sh`DOCKER_CONFIG="$d" docker login --username ${p.user} --password-stdin ${p.registry} >/dev/null || { rm -rf "$d"; exit 1; }
` : sh``;
  return sh`d=$(mktemp -d) || exit 1
${login}DOCKER_CONFIG="$d" docker pull -q ${p.ref} >/dev/null; rc=$?; rm -rf "$d"; [ "$rc" = 0 ] || exit "$rc"
docker tag ${p.ref} ${tag}`;
}
