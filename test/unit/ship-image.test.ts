// shipImage against an executor that runs the host's side for real in a temporary folder (sh,
// sha256sum, stat) and, like SSH, reads a command's standard input only once its channel is
// open (a moment later): every byte of each layer must arrive, a resumed layer only its rest,
// a staged one nothing, and the report counts exactly what was sent.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ExecOptions, ExecResult, Executor } from '../../lib/exec/executor.ts';
import type { Cmd } from '../../lib/shell-quote.ts';
import type { ShipImage } from '../../lib/ship/layers.ts';
import { shipImage } from '../../lib/ship/ship-image.ts';

/** Stands in for `docker load` on the streamed path: keeps the tar in ~/loaded, checks each layer's sha256 against its name. */
const STREAMED_LOAD = [
  'rm -rf "$HOME/loaded" && mkdir "$HOME/loaded" && tar -xf - -C "$HOME/loaded" || exit 1',
  'for f in "$HOME"/loaded/layers/*; do [ -f "$f" ] || continue; printf \'%s  %s\\n\' "${f##*/}" "$f" | sha256sum -c --status || { echo "invalid diffID for ${f##*/}" >&2; exit 1; }; done',
].join('\n');

/** Runs commands with `sh` in a fake home; stdin is read only after 30 ms, as a channel opens. */
class LateStdinExecutor implements Executor {
  label = 'deploy@test';
  lines: string[] = [];
  constructor(private readonly home: string) {}
  async exec(cmd: Cmd, opts: ExecOptions = {}): Promise<ExecResult> {
    this.lines.push(cmd.line);
    // The host's docker: the probe sees no images; load and inspect are stood in for.
    const line = cmd.line
      .replace(/info=\$\(docker info[^\n]*/, "info='/var/lib/docker|[]'")
      .replace(/ids=\$\(docker image ls[^\n]*/, 'ids=')
      .replace(/\| docker load -q >\/dev\/null/, '> loaded.tar')
      // The streamed load: unpacks what arrives and, as Docker does, refuses a layer whose bytes are not its diff ID.
      .replace(/docker load -q < load\.fifo > \/dev\/null/, `(${STREAMED_LOAD}) < load.fifo`)
      .replace(/got=\$\(docker image inspect[^)]*\) \|\| exit 1/, `got=${'sha256:' + 'e'.repeat(64)}`);
    await new Promise((r) => setTimeout(r, 30));
    return new Promise((res) => {
      const child = spawn('sh', ['-c', line], { env: { PATH: process.env.PATH, HOME: this.home }, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => res({ stdout: out, stderr: err, code: code ?? 1 }));
      const stdin = opts.stdin;
      if (stdin && typeof stdin !== 'string' && !Buffer.isBuffer(stdin)) {
        // As the SSH executor does: a failing source ends the channel, the command sees short input.
        stdin.on('error', () => child.stdin.end());
        stdin.pipe(child.stdin);
      }
      else child.stdin.end(stdin ?? '');
    });
  }
  async upload(): Promise<void> {}
  async close(): Promise<void> {}
}

let dir = '';
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'hoist-ship-image-'));
  mkdirSync(join(dir, 'home'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

function imageOf(sizes: number[]): ShipImage {
  const layers = sizes.map((n, i) => {
    const data = Buffer.alloc(n, i + 1);
    const file = join(dir, `layer${i}.tar`);
    writeFileSync(file, data);
    return { diffId: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: n, file };
  });
  return { id: `sha256:${'e'.repeat(64)}`, config: Buffer.from('{"rootfs":{}}'), layers };
}
const ctx = (notes: string[]) => ({ progress: () => undefined, note: (m: string) => notes.push(m), commandTimeoutMs: 60_000 });

test('first ship: the load reads a tar of every byte of every layer although the channel reads its input late; the note counts them', async () => {
  const image = imageOf([300_000, 5]);
  const exec = new LateStdinExecutor(join(dir, 'home'));
  const notes: string[] = [];
  const r = await shipImage(exec, 'app', image, 'hoist/app/web:R', ctx(notes));
  assert.equal(r, { layers: 2, present: 0, bytesSent: 300_005 });
  assert.equal(notes, ['image hoist/app/web:R: 2 of 2 layers sent, 300005 bytes, loaded as they arrived; 0 already on the host']);
  // What the load read (GNU tar unpacked it): the manifest, the config and each layer, byte for byte.
  const loaded = join(dir, 'home/loaded');
  assert.equal(JSON.parse(readFileSync(join(loaded, 'manifest.json'), 'utf8')), [
    { Config: 'config.json', RepoTags: ['hoist/app/web:R'], Layers: image.layers.map((l) => `layers/${l.diffId.slice(7)}`) },
  ]);
  assert.ok(readFileSync(join(loaded, 'config.json')).equals(image.config));
  for (const l of image.layers) assert.ok(readFileSync(join(loaded, 'layers', l.diffId.slice(7))).equals(readFileSync(l.file)), l.diffId);
  assert.is(exec.lines.filter((l) => l.includes('docker load')).length, 1, 'one command: shipped and loaded together');
  assert.ok(exec.lines.some((l) => l.includes('rm -rf apps/app/ship')), 'the staging folder goes after the load');
  assert.not.ok(existsSync(join(dir, 'home/apps/app/ship')));
});

test('a cut layer resumes from its staged part; a staged one is not sent again', async () => {
  const image = imageOf([1000, 2000]);
  const layers = join(dir, 'home/apps/app/ship/layers');
  mkdirSync(layers, { recursive: true });
  const hex = (i: number) => image.layers[i]!.diffId.slice(7);
  writeFileSync(join(layers, hex(0)), readFileSync(image.layers[0]!.file));
  writeFileSync(join(layers, `${hex(1)}.part`), readFileSync(image.layers[1]!.file).subarray(0, 1500));
  const notes: string[] = [];
  const r = await shipImage(new LateStdinExecutor(join(dir, 'home')), 'app', image, 'hoist/app/web:R', ctx(notes));
  assert.is(r.bytesSent, 500);
  assert.equal(notes, ['image hoist/app/web:R: 2 of 2 layers sent, 500 bytes, resumed after 1500 bytes already there, 1 staged before; 0 already on the host']);
});

test('a fresh layer whose bytes are not its diff ID: the load refuses it (exit 4), it is not kept; the whole good one is kept as staged, the FIFO is gone', async () => {
  const image = imageOf([3000, 4000]);
  writeFileSync(image.layers[1]!.file, Buffer.alloc(4000, 9));
  const err = await shipImage(new LateStdinExecutor(join(dir, 'home')), 'app', image, 'hoist/app/web:R', ctx([])).then(
    () => null,
    (e: Error) => e.message,
  );
  assert.match(err ?? '', /exit 4/);
  assert.match(err ?? '', /invalid diffID/);
  assert.match(err ?? '', new RegExp(`layer ${image.layers[1]!.diffId.slice(7, 19)}: content does not match its digest`));
  assert.equal(readdirSync(join(dir, 'home/apps/app/ship/layers')), [image.layers[0]!.diffId.slice(7)]);
  assert.not.ok(existsSync(join(dir, 'home/apps/app/ship/load.fifo')));
});

test('a fresh layer cut short: the part is kept for the resume (exit 3), the FIFO is gone', async () => {
  const image = imageOf([4000]);
  writeFileSync(image.layers[0]!.file, readFileSync(image.layers[0]!.file).subarray(0, 1000));
  const err = await shipImage(new LateStdinExecutor(join(dir, 'home')), 'app', image, 'hoist/app/web:R', ctx([])).then(
    () => null,
    (e: Error) => e.message,
  );
  assert.match(err ?? '', /received 1000 of 4000 bytes/);
  assert.equal(readdirSync(join(dir, 'home/apps/app/ship/layers')), [`${image.layers[0]!.diffId.slice(7)}.part`]);
  assert.is(readFileSync(join(dir, 'home/apps/app/ship/layers', `${image.layers[0]!.diffId.slice(7)}.part`)).length, 1000);
  assert.not.ok(existsSync(join(dir, 'home/apps/app/ship/load.fifo')));
});

test.run();
