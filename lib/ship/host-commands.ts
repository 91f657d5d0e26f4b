// The commands an image ship runs on a host, as data. Layers are staged under
// ~/apps/APP/ship/layers, named by their diff ID: a complete file is only ever renamed into
// place after its sha256 was checked, a partial one (HEX.part) is appended to when a cut
// transfer resumes. The load builds a `docker save`-format tar on the host from what is staged;
// a first ship (streamLoad) loads that tar while it arrives and stages each layer as it passes.
import { sh, type Cmd } from '../shell-quote.ts';
import { chainIds, type HostLayers } from './layers.ts';
import type { PieceShape } from './load-tar.ts';

export const stagingDir = (app: string): string => `apps/${app}/ship`;

/**
 * One round trip: Docker's store kind and root, every image's ID and layers, the staged files,
 * and the room where layers are staged and where Docker unpacks them (`df -Pk`).
 */
export function shipProbe(app: string): Cmd {
  const d = stagingDir(app);
  return sh`cd && mkdir -p ${`${d}/layers`} || exit 1
info=$(docker info -f '{{.DockerRootDir}}|{{json .DriverStatus}}') || exit 1
printf 'info %s\\n' "$info"
ids=$(docker image ls -q --no-trunc | sort -u)
if [ -n "$ids" ]; then docker image inspect -f 'image {{.Id}} {{range .RootFS.Layers}}{{.}},{{end}}' $ids || exit 1; fi
for f in ${d}/layers/*; do if [ -f "$f" ]; then printf 'staged %s %s\\n' "\${f##*/}" "$(stat -c %s "$f")"; fi; done
printf 'stage-df %s\\n' "$(df -Pk ${d} | tail -n 1)"
printf 'root-df %s\\n' "$(df -Pk "\${info%%|*}" 2>/dev/null | tail -n 1)"
`;
}

export interface ShipFact extends HostLayers {
  /** `df -Pk` of the staging folder and of Docker's root: device, available bytes. */
  stage: { device: string; free: number } | null;
  root: { device: string; free: number } | null;
}

const df = (line: string | undefined): { device: string; free: number } | null => {
  const f = line?.trim().split(/\s+/);
  return f && f.length >= 4 && /^\d+$/.test(f[3]!) ? { device: f[0]!, free: Number(f[3]) * 1024 } : null;
};

export function parseShipProbe(out: string): ShipFact {
  const fact: ShipFact = { images: [], chains: new Set(), staged: new Set(), partial: new Map(), containerdStore: false, stage: null, root: null };
  for (const line of out.split('\n')) {
    const [kind, ...rest] = line.split(' ');
    if (kind === 'info') fact.containerdStore = rest.join(' ').includes('io.containerd.snapshotter');
    else if (kind === 'image' && rest[0]) {
      fact.images.push(rest[0]);
      for (const c of chainIds((rest[1] ?? '').split(',').filter(Boolean))) fact.chains.add(c);
    } else if (kind === 'staged' && rest[0] && /^\d+$/.test(rest[1] ?? '')) {
      const m = /^([0-9a-f]{64})(\.part)?$/.exec(rest[0]);
      if (m?.[2]) fact.partial.set(m[1]!, Number(rest[1]));
      else if (m) fact.staged.add(m[1]!);
    } else if (kind === 'stage-df') fact.stage = df(rest.join(' '));
    else if (kind === 'root-df') fact.root = df(rest.join(' '));
  }
  return fact;
}

/**
 * Receives one layer on standard input into HEX.part (appended from `offset`, which must be the
 * part's size), then checks the whole file's sha256 and only then names it HEX. Exit 3: short
 * (the stream was cut: kept, resumed next time); 4: wrong content (removed).
 */
export function receiveLayer(app: string, hex: string, size: number, offset: number): Cmd {
  const f = `${stagingDir(app)}/layers/${hex}`;
  const part = `${f}.part`;
  const start = offset > 0 ? sh`[ "$(stat -c %s ${part} 2>/dev/null)" = ${String(offset)} ] || { echo ${`the staged part of layer ${hex.slice(0, 12)} is not ${offset} bytes`} >&2; exit 5; }; cat >> ${part} || exit 1` : sh`cat > ${part} || exit 1`;
  return sh`cd && ${start}
n=$(stat -c %s ${part})
[ "$n" = ${String(size)} ] || { echo "layer ${hex.slice(0, 12)}: received $n of ${String(size)} bytes" >&2; exit 3; }
printf '%s  %s\\n' ${hex} ${part} | sha256sum -c --status || { rm -f ${part}; echo ${`layer ${hex.slice(0, 12)}: content does not match its digest`} >&2; exit 4; }
mv -f ${part} ${f}`;
}

/**
 * Loads the image from what is staged (the config arrives on standard input), checks Docker now
 * has it under `id` with `tag`, then removes the staging folder.
 */
export function loadStaged(app: string, manifest: string, layerHexes: string[], id: string, tag: string): Cmd {
  const d = stagingDir(app);
  return sh`cd && cd ${d} && cat > config.json && printf '%s' ${manifest} > manifest.json || exit 1
tar -cf - manifest.json config.json ${layerHexes.map((h) => `layers/${h}`)} | docker load -q >/dev/null || exit 1
got=$(docker image inspect -f '{{.Id}}' ${tag}) || exit 1
[ "$got" = ${id} ] || { echo "docker load gave $got for ${tag}, not ${id}" >&2; exit 1; }
cd && rm -rf ${d}`;
}

/**
 * Copies standard input to standard output piece by piece, each piece (`f:BYTES` or
 * `l:BYTES:PATH`, in order) exactly its length, a layer's also into PATH (written first, so
 * what arrived is staged even if the load went away). Exit 3 when the input ends early. Perl
 * because it is on every Debian and Ubuntu (perl-base is Essential) and copies in 1 MiB reads:
 * `head -c | tee` read 8 KiB at a time, which cost the host about 2 s of CPU per 500 MiB
 * against 0.5 s (measured on the test machine).
 */
const SPLIT = String.raw`use strict; my $b;
for my $p (@ARGV) {
  my ($kind, $n, $path) = split /:/, $p, 3; my $f;
  if ($kind eq "l") { open($f, ">", $path) or die "$path: $!
"; }
  while ($n > 0) {
    my $r = sysread(STDIN, $b, $n < 1048576 ? $n : 1048576);
    defined $r or die "reading: $!
";
    exit 3 if $r == 0;
    for my $out ($f ? ($f, \*STDOUT) : (\*STDOUT)) {
      for (my $o = 0; $o < $r;) { my $w = syswrite($out, $b, $r - $o, $o); defined $w or die "writing: $!
"; $o += $w; }
    }
    $n -= $r;
  }
  if ($f) { close($f) or die "$path: $!
"; }
}`;

/**
 * A first ship (nothing of the missing layers staged): `docker load` reads the tar while it
 * arrives, through a FIFO, and each layer's bytes are also written to HEX.part as they pass
 * (SPLIT reads exactly each piece's length, so the pieces split the input where
 * lib/ship/load-tar.ts put them). Integrity is `docker load`'s own: it checks every layer it
 * registers against the config's diff IDs and the image ID is the config's digest, checked after.
 * Loaded: the staging folder goes. Not loaded: exit 3 when some layer arrived short (a cut: the
 * parts stay, the next ship resumes them through receiveLayer), else exit 4 (the load refused
 * what arrived whole: each part whose sha256 matches is kept as staged, the others removed).
 */
export function streamLoad(app: string, pieces: readonly PieceShape[], id: string, tag: string): Cmd {
  const d = stagingDir(app);
  const layers = pieces.flatMap((p) => (p.kind === 'layer' ? [p] : []));
  const feed = pieces.map((p) => (p.kind === 'frame' ? `f:${p.size}` : `l:${p.size}:layers/${p.hex}.part`));
  const lines = (body: (l: (typeof layers)[number], part: string) => Cmd) => layers.map((l) => body(l, `layers/${l.hex}.part`)).reduce((all, c) => sh`${all}
${c}`, sh`:`);
  const counted = lines((l, part) => sh`n=$(stat -c %s ${part} 2>/dev/null || echo 0); [ "$n" = ${l.size} ] || { short=1; echo "layer ${l.hex.slice(0, 12)}: received $n of ${l.size} bytes" >&2; }`);
  const checked = lines(
    (l, part) =>
      sh`if printf '%s  %s\\n' ${l.hex} ${part} | sha256sum -c --status; then mv -f ${part} ${`layers/${l.hex}`}; else rm -f ${part}; echo ${`layer ${l.hex.slice(0, 12)}: content does not match its digest`} >&2; fi`,
  );
  return sh`cd && mkdir -p ${`${d}/layers`} && cd ${d} && rm -f load.fifo && mkfifo load.fifo || exit 1
docker load -q < load.fifo > /dev/null & load=$!
perl -e ${SPLIT} ${feed} > load.fifo
wait $load; loaded=$?
rm -f load.fifo
if [ "$loaded" = 0 ]; then
  got=$(docker image inspect -f '{{.Id}}' ${tag}) || exit 1
  [ "$got" = ${id} ] || { echo "docker load gave $got for ${tag}, not ${id}" >&2; exit 1; }
  cd && rm -rf ${d}
  exit 0
fi
short=0
${counted}
[ "$short" = 0 ] || exit 3
${checked}
echo ${`docker load refused ${tag}`} >&2
exit 4`;
}

/** The host has the image by ID already: only its tag is added. */
export function tagPresent(app: string, id: string, tag: string): Cmd {
  return sh`cd && docker tag ${id} ${tag} && rm -rf ${stagingDir(app)}`;
}
