// BUILD=local/registry: the release's image is built once, here, from the release's commit (its
// files taken with `git archive` from BUILD_SOURCE: never the working tree, so an edit not
// committed never ships), with the build of APP_SERVICE as the compose file says. `docker save`
// then gives the layers as tars whose sha256 is their diff ID (lib/ship/layers.ts), kept in a
// cache by image ID so a second run (or a retry) does not save again; only the CACHE_KEEP most
// recently used stay (each is as large as its image).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Settings } from '../config/settings.ts';
import { HoistError } from '../errors.ts';
import { COMPOSE_NAMES } from '../../tasks/docker-up/commands.ts';
import type { ShipImage } from './layers.ts';


export interface AppBuild {
  context: string;
  dockerfile: string | null;
  args: Record<string, string>;
  target: string | null;
}

/**
 * APP_SERVICE's build from the compose file's text (paths relative to the checkout's root).
 * Another service with its own build is refused: only APP_SERVICE's image is built here, and a
 * host told not to build could not start the other one.
 */
export function appBuildOf(composeText: string, composeDir: string, repoRoot: string, service: string, file: string): AppBuild {
  const doc = parseYaml(composeText) as { services?: Record<string, { build?: unknown }> } | null;
  const services = doc?.services ?? {};
  const others = Object.entries(services).filter(([n, s]) => n !== service && s && typeof s === 'object' && s.build !== undefined).map(([n]) => n);
  if (others.length) throw new HoistError(`BUILD=local/registry builds only APP_SERVICE (${service}) here, but ${file} also builds ${others.join(', ')}. Fix: give those services an image (built and pushed elsewhere), or set BUILD=host`);
  const b = services[service]?.build;
  if (b === undefined) throw new HoistError(`${file} has no build for APP_SERVICE (${service}): BUILD=local/registry builds that service's image. Fix: add build: to ${service}, or set APP_SERVICE to the service that is built`);
  const o = typeof b === 'string' ? { context: b } : (b as { context?: string; dockerfile?: string; args?: unknown; target?: string });
  const args: Record<string, string> = {};
  if (Array.isArray(o.args)) for (const a of o.args as string[]) args[String(a).split('=')[0]!] = String(a).includes('=') ? String(a).slice(String(a).indexOf('=') + 1) : '';
  else if (o.args && typeof o.args === 'object') for (const [k, v] of Object.entries(o.args)) args[k] = v === null ? '' : String(v);
  const context = resolve(composeDir, o.context ?? '.');
  if (context !== repoRoot && !context.startsWith(repoRoot + sep)) throw new HoistError(`the build context of ${service} in ${file} (${o.context}) is outside the repository`);
  return { context, dockerfile: o.dockerfile ?? null, args, target: o.target ?? null };
}

/** Runs a local command; stdout is returned, stderr kept for the error (bounded to its tail). */
function run(cmd: string, args: string[], opts: { cwd?: string; pipeTo?: { cmd: string; args: string[] }; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let sink: ReturnType<typeof spawn> | null = null;
    if (opts.pipeTo) {
      sink = spawn(opts.pipeTo.cmd, opts.pipeTo.args, { cwd: opts.cwd, stdio: ['pipe', 'ignore', 'pipe'] });
      child.stdout.pipe(sink.stdin!);
      sink.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
    } else child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      sink?.kill('SIGKILL');
    }, opts.timeoutMs ?? 60 * 60_000);
    let left = sink ? 2 : 1;
    let failed: string | null = null;
    const done = (who: string) => (code: number | null) => {
      if (code !== 0) failed ??= `${who} exited ${code}`;
      if (--left > 0) return;
      clearTimeout(timer);
      if (failed) rej(new HoistError(`${[cmd, ...args.slice(0, 3)].join(' ')}${opts.pipeTo ? ` | ${opts.pipeTo.cmd}` : ''} failed here (${failed}): ${err.trim().split('\n').slice(-15).join('\n')}`));
      else res(out);
    };
    child.on('error', (e) => rej(new HoistError(`${cmd} could not be run here: ${e.message}`)));
    child.on('close', done(cmd));
    sink?.on('close', done(opts.pipeTo!.cmd));
  });
}

/** The cache where saved images are kept by ID ($XDG_CACHE_HOME/hoist/images). */
export function imageCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hoist', 'images');
}

/** The local tag of a commit's build: the same commit reuses Docker's build cache and the saved layers. */
export const localTag = (app: string, service: string, sha: string): string => `hoist-build/${app}/${service}:${sha.slice(0, 12)}`;

/** Builds APP_SERVICE's image of `sha` here; returns its tag. */
export async function buildHere(s: Pick<Settings, 'appName' | 'appService' | 'composeFile' | 'buildSource'>, sha: string): Promise<string> {
  const src = s.buildSource;
  const missing = await run('git', ['-C', src, 'cat-file', '-e', `${sha}^{commit}`]).then(
    () => null,
    (e: Error) => e.message.split(': ').slice(1).join(': ').trim(),
  );
  if (missing !== null)
    throw new HoistError(`the release's commit ${sha.slice(0, 12)} is not in BUILD_SOURCE (${src})${missing ? ` (git: ${missing})` : ''}. Fix: git -C ${src} fetch (the commit must be pushed and fetched), or set BUILD_SOURCE to a checkout that has it`);
  const dir = mkdtempSync(join(tmpdir(), 'hoist-build-'));
  try {
    await run('git', ['-C', src, 'archive', '--format=tar', sha], { pipeTo: { cmd: 'tar', args: ['-x', '-C', dir] } });
    const names = s.composeFile ? [s.composeFile] : COMPOSE_NAMES;
    const file = names.find((n) => existsSync(join(dir, n)));
    if (!file) throw new HoistError(`no compose file (${names.join(', ')}) in commit ${sha.slice(0, 12)}`);
    const composePath = join(dir, file);
    const b = appBuildOf(readFileSync(composePath, 'utf8'), resolve(composePath, '..'), dir, s.appService, file);
    const tag = localTag(s.appName, s.appService, sha);
    const args = ['build', '-q', '-t', tag, ...(b.dockerfile ? ['-f', join(b.context, b.dockerfile)] : []), ...Object.entries(b.args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]), ...(b.target ? ['--target', b.target] : []), b.context];
    await run('docker', args);
    return tag;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The built image's layers as `docker save` writes them, from the cache or saved now. */
export async function savedImage(tag: string): Promise<ShipImage> {
  const id = (await run('docker', ['image', 'inspect', '-f', '{{.Id}}', tag])).trim();
  if (!/^sha256:[0-9a-f]{64}$/.test(id)) throw new HoistError(`docker image inspect ${tag} gave no image ID here (${id.slice(0, 80)})`);
  const dir = join(imageCacheDir(), id.slice(7));
  if (!existsSync(join(dir, '.complete'))) {
    mkdirSync(imageCacheDir(), { recursive: true, mode: 0o700 });
    const tmp = mkdtempSync(`${dir}.tmp-`);
    try {
      await run('docker', ['save', tag], { pipeTo: { cmd: 'tar', args: ['-x', '-C', tmp] } });
      await run('touch', [join(tmp, '.complete')]);
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  const now = new Date();
  utimesSync(dir, now, now);
  pruneCache(dir);
  return readSaved(dir, id);
}

/** Saved images kept in the cache (the newest; the one in use is the newest): a GB image each. */
export const CACHE_KEEP = 3;

/** Removes all but the CACHE_KEEP most recently used saved images (and folders a cut save left). */
function pruneCache(keep: string): void {
  const root = imageCacheDir();
  const dirs = readdirSync(root).map((n) => join(root, n));
  const done = dirs.filter((d) => existsSync(join(d, '.complete'))).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const stale = [...done.slice(CACHE_KEEP), ...dirs.filter((d) => d.includes('.tmp-') && Date.now() - statSync(d).mtimeMs > 24 * 3600_000)];
  for (const d of stale) if (d !== keep) rmSync(d, { recursive: true, force: true });
}

/** Reads a `docker save` folder (the classic layout of Docker 20-24 and the OCI one of 25+: both have manifest.json). */
export function readSaved(dir: string, id: string): ShipImage {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string; Layers: string[] }[];
  const m = manifest[0];
  if (!m) throw new HoistError(`docker save wrote no image into ${dir}`);
  const config = readFileSync(join(dir, m.Config));
  const diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
  if (diffIds.length !== m.Layers.length) throw new HoistError(`docker save of ${id} names ${m.Layers.length} layers for ${diffIds.length} diff IDs`);
  return { id, config, layers: m.Layers.map((p, i) => ({ diffId: diffIds[i]!, file: join(dir, p), size: statSync(join(dir, p)).size })) };
}
