// Ships the image built here (BUILD=local) to one host over the run's SSH connection: one probe
// says which layers the host lacks (layers.ts), the room for them is checked, each missing layer
// streams into the staging folder with progress and a rate (resuming a cut one from its last
// byte, skipping one staged and checked before), then one command loads and tags it. On a first
// ship (nothing staged) `docker load` reads the layers while they arrive and they are staged as
// they pass, so a cut one still resumes. A host that has the image gets only its tag; one that
// has every layer gets the config alone.
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { formatBytes } from '../byte-size.ts';
import { HoistError, RemoteCommandError } from '../errors.ts';
import { runChecked, type Executor } from '../exec/executor.ts';
import { hexOf, loadManifest, planShip, type ShipImage, type ShipLayer, type ShipPlan } from './layers.ts';
import { loadStaged, parseShipProbe, receiveLayer, shipProbe, streamLoad, tagPresent, type ShipFact } from './host-commands.ts';
import { loadTarPieces, loadTarStream, shapeOf } from './load-tar.ts';

export interface ShipReport {
  layers: number;
  /** Layers of the image the host had already. */
  present: number;
  bytesSent: number;
}

export interface ShipContext {
  progress(message: string): void;
  note?(message: string): void;
  /** SSH_COMMAND_TIMEOUT: a layer gets at least this long, more when it is large. */
  commandTimeoutMs: number;
}

/** Bytes per second below which a layer's transfer is given up (its time limit follows from it). */
const SLOWEST_RATE = 64 * 1024;

export async function shipImage(exec: Executor, app: string, image: ShipImage, tag: string, ctx: ShipContext): Promise<ShipReport> {
  const fact = parseShipProbe(await runChecked(exec, shipProbe(app), `reading which image layers ${exec.label} has`));
  const plan = planShip(image, fact);
  if (plan.present) {
    await runChecked(exec, tagPresent(app, image.id, tag), `tagging ${tag}`);
    const r = { layers: image.layers.length, present: image.layers.length, bytesSent: 0 };
    ctx.note?.(`image ${tag}: already on the host (${image.id.slice(7, 19)}), tagged; 0 layers, 0 bytes sent`);
    return r;
  }
  checkRoom(plan, fact, exec.label);
  // Nothing of it staged yet: load while the bytes arrive, staging them as they pass.
  if (plan.sends.length === plan.missing.length && plan.sends.every((s) => s.offset === 0)) return streamShip(exec, app, image, tag, plan, ctx);
  let sent = 0;
  for (const [i, s] of plan.sends.entries()) {
    const hex = hexOf(s.layer.diffId);
    const what = `layer ${i + 1}/${plan.sends.length} (${hex.slice(0, 12)}, ${formatBytes(s.layer.size)})`;
    const started = Date.now();
    let moved = 0;
    let shown = 0;
    // Counted as the channel takes it: a 'data' listener on the file itself would set it flowing
    // before the channel is attached, and what it read then would never reach the host.
    const file = createReadStream(s.layer.file, { start: s.offset });
    const stream = new Transform({
      transform(chunk: Buffer, _enc, done) {
        moved += chunk.length;
        const now = Date.now();
        if (now - shown >= 1000) {
          shown = now;
          const rate = moved / Math.max(0.001, (now - started) / 1000);
          ctx.progress(`shipping ${what}: ${formatBytes(s.offset + moved)} of ${formatBytes(s.layer.size)} at ${formatBytes(rate)}/s`);
        }
        done(null, chunk);
      },
    });
    file.on('error', (e) => stream.destroy(e));
    file.pipe(stream);
    ctx.progress(`shipping ${what}${s.offset ? `, resuming at ${formatBytes(s.offset)}` : ''}`);
    const timeoutMs = Math.max(ctx.commandTimeoutMs, Math.ceil(((s.layer.size - s.offset) / SLOWEST_RATE) * 1000));
    const r = await exec.exec(receiveLayer(app, hex, s.layer.size, s.offset), { stdin: stream, timeoutMs });
    file.destroy();
    stream.destroy();
    sent += moved;
    if (r.code !== 0) throw new RemoteCommandError(`receiving ${what} on ${exec.label}`, r.code, r.stderr);
  }
  ctx.progress(`loading ${tag} (${plan.missing.length} new layer(s))`);
  await runChecked(exec, loadStaged(app, loadManifest(image, tag), plan.missing.map((l) => hexOf(l.diffId)), image.id, tag), `loading ${tag}`, {
    stdin: image.config,
    timeoutMs: Math.max(ctx.commandTimeoutMs, Math.ceil((plan.missingBytes / SLOWEST_RATE) * 1000)),
  });
  const r = { layers: image.layers.length, present: image.layers.length - plan.missing.length, bytesSent: sent };
  const resumed = plan.sends.reduce((n, x) => n + x.offset, 0);
  const staged = plan.missing.length - plan.sends.length;
  ctx.note?.(
    `image ${tag}: ${plan.missing.length} of ${r.layers} layers sent, ${sent} bytes` +
      `${resumed ? `, resumed after ${resumed} bytes already there` : ''}${staged ? `, ${staged} staged before` : ''}; ${r.present} already on the host`,
  );
  return r;
}

/**
 * The first ship of these layers: one command reads the load's tar (lib/ship/load-tar.ts) as it
 * streams, `docker load` unpacking it while the next bytes arrive, every layer also staged as it
 * passes (host-commands.ts streamLoad). Progress and the rate are per layer, as on the staged path.
 */
async function streamShip(exec: Executor, app: string, image: ShipImage, tag: string, plan: ShipPlan, ctx: ShipContext): Promise<ShipReport> {
  const pieces = loadTarPieces(loadManifest(image, tag), image.config, plan.missing);
  const index = new Map(plan.missing.map((l, i) => [l, i]));
  let sent = 0;
  let current: ShipLayer | undefined;
  let moved = 0;
  let started = 0;
  let shown = 0;
  const what = (l: ShipLayer) => `layer ${index.get(l)! + 1}/${plan.missing.length} (${hexOf(l.diffId).slice(0, 12)}, ${formatBytes(l.size)})`;
  const stream = loadTarStream(pieces, (layer, n) => {
    const now = Date.now();
    if (layer !== current) {
      current = layer;
      moved = 0;
      started = now;
      shown = now;
      ctx.progress(`shipping and loading ${what(layer)}`);
    }
    moved += n;
    sent += n;
    if (now - shown >= 1000) {
      shown = now;
      const rate = moved / Math.max(0.001, (now - started) / 1000);
      ctx.progress(`shipping and loading ${what(layer)}: ${formatBytes(moved)} of ${formatBytes(layer.size)} at ${formatBytes(rate)}/s`);
    }
  });
  if (!plan.missing.length) ctx.progress(`loading ${tag} (no new layers)`);
  // The transfer and the load each at the slowest rate accepted.
  const timeoutMs = ctx.commandTimeoutMs + 2 * Math.ceil((plan.missingBytes / SLOWEST_RATE) * 1000);
  try {
    const r = await exec.exec(streamLoad(app, pieces.map(shapeOf), image.id, tag), { stdin: stream, timeoutMs });
    if (r.code !== 0) throw new RemoteCommandError(`shipping and loading ${tag} on ${exec.label}`, r.code, r.stderr);
  } finally {
    stream.destroy();
  }
  const r = { layers: image.layers.length, present: image.layers.length - plan.missing.length, bytesSent: sent };
  ctx.note?.(`image ${tag}: ${plan.missing.length} of ${r.layers} layers sent, ${sent} bytes, loaded as they arrived; ${r.present} already on the host`);
  return r;
}

/**
 * The missing layers must fit twice where they are staged and unpacked: once as the staged tar,
 * once unpacked in Docker's store (one filesystem on most VPSes: both counted there).
 */
function checkRoom(plan: ShipPlan, fact: ShipFact, label: string): void {
  const stage = fact.stage;
  const root = fact.root;
  if (!stage || !root) return;
  const need = (free: number, bytes: number, where: string) => {
    if (free < bytes)
      throw new HoistError(
        `not enough room on ${label} for the image's missing layers: ${formatBytes(bytes)} needed on ${where}, ${formatBytes(free)} free. Nothing was sent; the live release keeps serving. Fix: free space (docker image prune, or hoist status to see what the app's releases keep) or lower KEEP_RELEASES`,
      );
  };
  if (stage.device === root.device) need(stage.free, plan.bytesToSend + plan.missingBytes, `${stage.device} (staging and Docker's store)`);
  else {
    need(stage.free, plan.bytesToSend, `${stage.device} (staging)`);
    need(root.free, plan.missingBytes, `${root.device} (Docker's store)`);
  }
}
