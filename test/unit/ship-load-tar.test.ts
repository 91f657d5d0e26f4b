// The tar of a streamed first ship (lib/ship/load-tar.ts) and the host command that splits it
// (host-commands.ts streamLoad): headers GNU tar accepts, sizes past ustar's 8 GiB in base-256,
// pieces that add up to whole 512-byte blocks, and a splitter that copies each piece exactly.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { streamLoad } from '../../lib/ship/host-commands.ts';
import { loadTarPieces, shapeOf, tarHeader } from '../../lib/ship/load-tar.ts';

const layer = (hexChar: string, size: number) => ({ diffId: `sha256:${hexChar.repeat(64)}`, size, file: '/nonexistent' });

test('a header GNU tar lists with its name and size; its checksum is right', () => {
  const content = Buffer.from('hello\n');
  const tar = Buffer.concat([tarHeader('layers/abc', content.length), content, Buffer.alloc(512 - content.length), Buffer.alloc(1024)]);
  const out = execFileSync('tar', ['-tvf', '-'], { input: tar, encoding: 'utf8' });
  assert.match(out, /^-rw-r--r-- 0\/0\s+6 .* layers\/abc\n$/);
});

test('a size of 8 GiB or more is written in base-256 (ustar octal stops below it), smaller ones in octal', () => {
  const big = tarHeader('layers/x', 9 * 1024 ** 3);
  assert.is(big[124], 0x80);
  assert.is(big.subarray(125, 136).readUIntBE(5, 6), 9 * 1024 ** 3);
  assert.is(tarHeader('layers/x', 8 ** 11 - 1).subarray(124, 135).toString('ascii'), '77777777777');
});

test('pieces: framing and layers alternate, everything adds up to whole blocks and ends with two zero blocks', () => {
  const pieces = loadTarPieces('[]', Buffer.from('{}'), [layer('a', 1000), layer('b', 512)]);
  assert.equal(
    pieces.map((p) => p.kind),
    ['frame', 'layer', 'frame', 'layer', 'frame'],
  );
  const total = pieces.map(shapeOf).reduce((n, p) => n + p.size, 0);
  assert.is(total % 512, 0);
  const last = pieces.at(-1)!;
  assert.ok(last.kind === 'frame' && last.bytes.subarray(-1024).equals(Buffer.alloc(1024)));
  // After layer a (1000 bytes): 24 bytes of padding, then b's header; after b (512): none.
  assert.is((pieces[2] as { bytes: Buffer }).bytes.length, 24 + 512);
  assert.is((pieces[4] as { bytes: Buffer }).bytes.length, 1024);
});

test('streamLoad names each piece to the splitter in order, a layer with its part; the splitter copies exactly those lengths', () => {
  const line = streamLoad('app', [{ kind: 'frame', size: 2048 }, { kind: 'layer', hex: 'a'.repeat(64), size: 1000 }, { kind: 'frame', size: 1048 }], 'sha256:' + 'e'.repeat(64), 'hoist/app/web:R').line;
  assert.ok(line.includes(` f:2048 l:1000:layers/${'a'.repeat(64)}.part f:1048 > load.fifo`), line);
  assert.ok(line.includes('docker load -q < load.fifo'));
  // The splitter itself, run here: the rest of the input stays unread, the part gets its bytes.
  const script = /perl -e '((?:[^']|'\\'')*)'/.exec(line)![1]!.replace(/'\\''/g, "'");
  const dir = mkdtempSync(join(tmpdir(), 'hoist-split-'));
  try {
    const input = Buffer.concat([Buffer.alloc(10, 1), Buffer.alloc(3_000_000, 2), Buffer.alloc(5, 3), Buffer.from('rest')]);
    const out = execFileSync('sh', ['-c', 'perl -e "$0" f:10 l:3000000:p f:5; echo " exit $?"; cat', script], { cwd: dir, input, maxBuffer: 16 * 1024 * 1024 });
    assert.ok(out.subarray(0, 3_000_015).equals(input.subarray(0, 3_000_015)));
    assert.is(out.subarray(3_000_015).toString(), ' exit 0\nrest');
    assert.ok(readFileSync(join(dir, 'p')).equals(Buffer.alloc(3_000_000, 2)));
    // Cut short: what arrived is staged, exit 3.
    const short = execFileSync('sh', ['-c', 'perl -e "$0" f:10 l:3000000:q > /dev/null; echo $?', script], { cwd: dir, input: input.subarray(0, 1000) });
    assert.is(short.toString().trim(), '3');
    assert.is(readFileSync(join(dir, 'q')).length, 990);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
