// The round trip's shared stat and sha256sum (lib/exec/shared-reads.ts), run by a real /bin/sh in
// a scratch home: a probe reads the same answer from the shared reads as from reads of its own.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mergeReads, sha256Of, sharedReadCommand, statLine, statLines, type SharedReads } from '../../lib/exec/shared-reads.ts';
import { sh } from '../../lib/shell-quote.ts';

const run = (home: string, script: string) => spawnSync('/bin/sh', ['-c', script], { cwd: home, encoding: 'utf8' }).stdout;

test('a probe reads its stat lines and sha256 from the shared reads, or makes its own: the same answer', () => {
  const home = mkdtempSync(join(tmpdir(), 'hoist-shared-'));
  try {
    // Two release links, one whose target holds a line break (C quoting keeps it on one line), and a .env.
    execFileSync('/bin/sh', ['-c', 'mkdir -p a/r1 a/r2 && ln -s ../../x a/r1/.env && ln -s "$(printf "odd\\nname")" a/r2/.env'], { cwd: home });
    writeFileSync(join(home, 'a/env'), 'K=v\n', { mode: 0o640 });
    const mine: SharedReads = { stat: [sh`a/env`, sh`a/*/.env`], sha256: [sh`a/env`] };
    const other: SharedReads = { stat: [sh`/etc/hostname`], sha256: [sh`a/missing`] };
    const probe = `${statLines(mine).line}; ${statLine('m', sh`a/env`).line}; ${statLine('gone', sh`a/missing`).line}; ${sha256Of('h', sh`a/env`).line}; ${sha256Of('none', sh`a/missing`).line}
printf 'mode=%s\\nmissing=%s\\nsha=%s\\nnone=%s\\n' "$m" "$gone" "$h" "$none"
case $st in *"$nl\\"a/r1/.env\\" -> \\"../../x\\" 777 "*) echo r1=linked;; esac
case $st in *"$nl\\"a/r2/.env\\" -> \\"odd\\\\nname\\" 777 "*) echo r2=one-line;; esac`;
    const alone = run(home, probe);
    const shared = run(home, `${sharedReadCommand([sh`.`], mergeReads([other, mine])).line}; (${probe})`);
    const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
    const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
    const sha = createHash('sha256').update('K=v\n').digest('hex');
    assert.is(alone, `mode=640 ${user} ${group}\nmissing=\nsha=${sha}\nnone=\nr1=linked\nr2=one-line\n`);
    assert.is(shared, alone);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('the shared reads are one stat and one sha256sum over every path, each once', () => {
  const line = sharedReadCommand([sh`.hoist`], mergeReads([{ stat: [sh`a`, sh`b/*/.env`], sha256: [sh`e`] }, { stat: [sh`a`], sha256: [sh`e`] }])).line;
  assert.is(line, "hoist_stat=$(QUOTING_STYLE=c stat -c '%N %a %U %G' -- .hoist a b/*/.env 2>/dev/null); hoist_sha=$(sha256sum -- e 2>/dev/null)");
});

test.run();
