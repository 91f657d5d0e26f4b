// Which of an image's layers a host lacks, from what the host already has. Docker keeps a
// layer under its chain ID (the layer and every layer below it): the first layer's chain ID is
// its diff ID, each next one sha256("<parent chain ID> <diff ID>"). A host has the image's
// layers 0..k exactly when some image there has the same chain ID at k, so the layers to send
// are the ones from the first chain ID the host does not know. Docker's classic `docker load`
// (moby image/tarexport/load.go) looks each chain ID up in its layer store and reads the
// layer's tarball only when it is missing: the tar hoist sends holds only those.
import { createHash } from 'node:crypto';

/** The image built here, as `docker save` wrote it (lib/ship/local-build.ts). */
export interface ShipLayer {
  /** sha256:HEX of the uncompressed layer tar: what Docker calls the diff ID. */
  diffId: string;
  /** Bytes of the layer tar. */
  size: number;
  /** The tar on this machine. */
  file: string;
}

export interface ShipImage {
  /** sha256:HEX of the config: Docker's image ID, the same on every host that loads it. */
  id: string;
  /** The config JSON, exactly as saved (its digest is the ID). */
  config: Buffer;
  layers: ShipLayer[];
}

/** Chain IDs of a layer list, bottom first. */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length ? `sha256:${createHash('sha256').update(`${out[out.length - 1]} ${d}`).digest('hex')}` : d);
  return out;
}

/** What the ship's probe read on the host (lib/ship/host-commands.ts). */
export interface HostLayers {
  /** Image IDs on the host. */
  images: string[];
  /** Every chain ID some image on the host has. */
  chains: Set<string>;
  /** Staged layer files, complete and checked (by diff ID hex) and partial ones (bytes so far). */
  staged: Set<string>;
  partial: Map<string, number>;
  /** The host's Docker keeps images in containerd's store: a partial `docker load` is not possible. */
  containerdStore: boolean;
}

export interface LayerSend {
  index: number;
  layer: ShipLayer;
  /** Bytes already on the host in the partial file (a cut transfer resumes from there). */
  offset: number;
}

export interface ShipPlan {
  /** The host has the image already (by ID): nothing travels, it is only tagged. */
  present: boolean;
  /** Layers the host must receive (in the load), in order. */
  missing: ShipLayer[];
  /** Of those, what still has to travel (not yet staged), and from which byte. */
  sends: LayerSend[];
  /** Bytes still to travel. */
  bytesToSend: number;
  /** Bytes of the missing layers: what the layer store gains (room the disk check asks for). */
  missingBytes: number;
}

export function planShip(image: ShipImage, host: HostLayers): ShipPlan {
  if (host.images.includes(image.id)) return { present: true, missing: [], sends: [], bytesToSend: 0, missingBytes: 0 };
  const chains = chainIds(image.layers.map((l) => l.diffId));
  // With containerd's store, `docker load` needs every blob in the tar: send all.
  const first = host.containerdStore ? 0 : chains.findIndex((c) => !host.chains.has(c));
  const missing = first < 0 ? [] : image.layers.slice(first);
  const sends: LayerSend[] = [];
  missing.forEach((layer, i) => {
    const hex = hexOf(layer.diffId);
    if (host.staged.has(hex)) return;
    const part = host.partial.get(hex) ?? 0;
    sends.push({ index: first + i, layer, offset: part <= layer.size ? part : 0 });
  });
  return {
    present: false,
    missing,
    sends,
    bytesToSend: sends.reduce((n, s) => n + s.layer.size - s.offset, 0),
    missingBytes: missing.reduce((n, l) => n + l.size, 0),
  };
}

export const hexOf = (digest: string): string => digest.replace(/^sha256:/, '');

/**
 * The manifest.json of the tar hoist loads on a host: every layer is named (the load walks them
 * all), the ones the host has point at files the tar does not hold and are never opened.
 */
export function loadManifest(image: ShipImage, tag: string): string {
  return JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: image.layers.map((l) => `layers/${hexOf(l.diffId)}`) }]);
}
