// The tar `docker load` reads on a first ship, written here and streamed to the host as it is
// read from the layer files: manifest.json, config.json, then each missing layer as
// layers/HEX (the format `docker save` writes and lib/ship/host-commands.ts loadStaged builds on
// the host from staged files). It is cut into pieces the host's command knows in advance: the
// tar's own bytes (headers, manifest, config, padding) go to `docker load` only, each layer's
// bytes also into its staging file, so a cut transfer resumes from what arrived.
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { hexOf, type ShipLayer } from './layers.ts';

const BLOCK = 512;

/** One piece of the stream: tar framing (to the load only) or a layer's bytes (staged too). */
export type LoadPiece = { kind: 'frame'; bytes: Buffer } | { kind: 'layer'; layer: ShipLayer };

/** What the host's command needs to know of a piece: its length, and for a layer its diff ID hex. */
export type PieceShape = { kind: 'frame'; size: number } | { kind: 'layer'; hex: string; size: number };

const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** A numeric field: octal while it fits (ustar), else GNU base-256, which Go's archive/tar (Docker) reads. */
function numeric(field: Buffer, value: number): void {
  const digits = field.length - 1;
  if (value < 8 ** digits) {
    field.write(value.toString(8).padStart(digits, '0'), 0, 'ascii');
    return;
  }
  let v = BigInt(value);
  for (let i = field.length - 1; i > 0; i--) {
    field[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  field[0] = 0x80;
}

/** A ustar header for a regular file (mode 0644, owner 0, mtime 0: `docker load` ignores them). */
export function tarHeader(name: string, size: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar member name over 100 bytes: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  numeric(h.subarray(124, 136), size);
  h.write('00000000000\0', 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

const member = (name: string, content: Buffer): Buffer => Buffer.concat([tarHeader(name, content.length), content, padding(content.length)]);

/** The pieces of the load's tar: framing and layers alternate, framing first and last. */
export function loadTarPieces(manifest: string, config: Buffer, layers: readonly ShipLayer[]): LoadPiece[] {
  const pieces: LoadPiece[] = [];
  let frame: Buffer = Buffer.concat([member('manifest.json', Buffer.from(manifest)), member('config.json', config)]);
  for (const layer of layers) {
    pieces.push({ kind: 'frame', bytes: Buffer.concat([frame, tarHeader(`layers/${hexOf(layer.diffId)}`, layer.size)]) });
    pieces.push({ kind: 'layer', layer });
    frame = padding(layer.size);
  }
  // The end of the archive: two zero blocks.
  pieces.push({ kind: 'frame', bytes: Buffer.concat([frame, Buffer.alloc(2 * BLOCK)]) });
  return pieces;
}

export const shapeOf = (p: LoadPiece): PieceShape =>
  p.kind === 'frame' ? { kind: 'frame', size: p.bytes.length } : { kind: 'layer', hex: hexOf(p.layer.diffId), size: p.layer.size };

/**
 * The pieces as one stream, read only as it is consumed (nothing is read before the channel
 * pulls). `onLayerBytes` sees each layer chunk as it goes. A layer file that is not the size the
 * image says fails the stream: the tar would be wrong from there on.
 */
export function loadTarStream(pieces: readonly LoadPiece[], onLayerBytes: (layer: ShipLayer, n: number) => void): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (const p of pieces) {
      if (p.kind === 'frame') {
        yield p.bytes;
        continue;
      }
      let got = 0;
      for await (const chunk of createReadStream(p.layer.file, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
        got += chunk.length;
        if (got > p.layer.size) break;
        onLayerBytes(p.layer, chunk.length);
        yield chunk;
      }
      if (got !== p.layer.size) throw new Error(`layer file ${p.layer.file} is ${got > p.layer.size ? 'longer' : 'shorter'} than the ${p.layer.size} bytes the image says`);
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
