// The deploy lock's commands run here by a real /bin/sh in a scratch HOME: what the host's shell
// makes of them, including the first task's probe carried in the same round trip.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { acquireCommand, newLockInfo, parseLockProbe, peekCommand, releaseCommand, type CarriedCommands } from '../../lib/engine/host-lock.ts';
import type { ExecResult } from '../../lib/exec/executor.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';

/** Runs as an SSH exec does: in HOME, which is where the lock lives. */
function inHome(home: string, cmd: Cmd): ExecResult {
  const r = spawnSync('/bin/sh', ['-c', cmd.line], { cwd: home, env: { PATH: process.env.PATH, HOME: home }, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status ?? -1 };
}

function scratchHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'hoist-lock-'));
  execFileSync('/bin/sh', ['-c', 'mkdir -p apps/app/releases/r1 && ln -s releases/r1 apps/app/current'], { cwd: home });
  return home;
}

// A probe whose output has no final newline, looks like the lock's own lines, goes to stderr too
// and exits non-zero: it must read back exactly as if it had been sent alone.
const probe = sh`cd apps && printf 'lock held {}\\ncurrent x\\nlast line, no newline'; echo oops >&2; exit 3`;
// A second one (every task's probe rides along): no output at all; a third: stderr without a
// final newline, stdout that looks like the frame of the command after it, and `exit` in a loop.
const quiet = sh`true`;
const tricky = sh`printf 'hoist-carried-0123456789abcdef.3\\n'; printf 'warn 1 2' >&2; for i in 1; do exit 0; done`;
const carried: CarriedCommands = { commands: [probe, quiet, tricky], marker: 'hoist-carried-0123456789abcdef' };
const framed = (c: CarriedCommands) => ({ marker: c.marker, count: c.commands.length });

test('taking the lock carries the first probe: its answer reads back as if it were sent alone', () => {
  const home = scratchHome();
  try {
    const alone = inHome(home, probe);
    const info = newLockInfo('run1', 'release', 'abc');
    const r = parseLockProbe(inHome(home, acquireCommand(info, 'apps/app/current', carried)), framed(carried));
    assert.is(r.heldBy, null);
    assert.is(r.current, 'r1');
    assert.equal(r.then, [alone, inHome(home, quiet), inHome(home, tricky)]);
    assert.equal(alone, { stdout: 'lock held {}\ncurrent x\nlast line, no newline', stderr: 'oops\n', code: 3 });
    assert.equal(r.then![2], { stdout: 'hoist-carried-0123456789abcdef.3\n', stderr: 'warn 1 2', code: 0 });
    // Sent again (a retry after a lost answer): our own record counts as ours, the probe runs.
    const again = parseLockProbe(inHome(home, acquireCommand(info, 'apps/app/current', carried)), framed(carried));
    assert.equal([again.heldBy, again.then?.[0]], [null, alone]);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('a lock held by another run: the carried probe does not run', () => {
  const home = scratchHome();
  try {
    const other = newLockInfo('run0', 'release', 'old');
    assert.is(parseLockProbe(inHome(home, acquireCommand(other, 'apps/app/current'))).heldBy, null);
    const r = parseLockProbe(inHome(home, acquireCommand(newLockInfo('run1', 'release', 'abc'), 'apps/app/current', carried)), framed(carried));
    assert.equal(r.heldBy, other);
    assert.is(r.then, null);
    assert.is(r.current, 'r1');
    // A peek (dry run) carries the probe whoever holds the lock, and takes nothing.
    const peek = parseLockProbe(inHome(home, peekCommand('apps/app/current', carried)), framed(carried));
    assert.equal([peek.heldBy, peek.then?.[0]?.code, peek.then?.[0]?.stdout.endsWith('no newline'), peek.then?.length], [other, 3, true, 3]);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

// issue #20: the folder's and the audit log's modes come from the round trip's one stat, not an
// install -d and a chmod every time; both are still put right when someone changed them.
test('the lock\'s round trip puts ~/.hoist back to 700 and reports the audit log\'s mode; freeing it sets 600 only when needed', () => {
  const home = scratchHome();
  const mode = (p: string) => (statSync(join(home, p)).mode & 0o777).toString(8);
  try {
    const info = newLockInfo('run1', 'release', 'abc');
    const first = parseLockProbe(inHome(home, acquireCommand(info, 'apps/app/current', carried)), framed(carried));
    assert.equal([first.heldBy, first.current, first.auditMode, mode('.hoist')], [null, 'r1', '', '700'], 'a fresh home: no audit log yet');
    const freed = parseLockProbe(inHome(home, releaseCommand(info, 'line 1', 'apps/app/current', first.auditMode)));
    assert.equal([freed.current, existsSync(join(home, '.hoist/lock')), mode('.hoist/audit.log')], ['r1', false, '600']);
    chmodSync(join(home, '.hoist'), 0o755);
    chmodSync(join(home, '.hoist/audit.log'), 0o644);
    const info2 = newLockInfo('run2', 'release', 'abc');
    const second = parseLockProbe(inHome(home, acquireCommand(info2, 'apps/app/current', carried)), framed(carried));
    assert.equal([second.heldBy, second.auditMode, mode('.hoist')], [null, '644', '700'], 'the folder put right at once');
    parseLockProbe(inHome(home, releaseCommand(info2, 'line 2', 'apps/app/current', second.auditMode)));
    assert.is(mode('.hoist/audit.log'), '600', 'the audit log put right when the lock is freed');
    // Seen as 600: freeing the lock runs no chmod (a log changed in between is put right next time).
    chmodSync(join(home, '.hoist/audit.log'), 0o640);
    parseLockProbe(inHome(home, releaseCommand(info2, 'line 3', 'apps/app/current', '600')));
    assert.is(mode('.hoist/audit.log'), '640');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('freeing the lock removes only our own, and reads current with or without a lock there', () => {
  const home = scratchHome();
  try {
    const mine = newLockInfo('run1', 'release', 'abc');
    const other = newLockInfo('run2', 'release', 'def');
    parseLockProbe(inHome(home, acquireCommand(other, 'apps/app/current')));
    const r = parseLockProbe(inHome(home, releaseCommand(mine, 'line', 'apps/app/current')));
    assert.is(r.current, 'r1');
    assert.is(readlinkSync(join(home, '.hoist/lock')), JSON.stringify(other), 'another run\'s lock stays');
    rmSync(join(home, '.hoist/lock'));
    assert.is(parseLockProbe(inHome(home, releaseCommand(mine, 'line', 'apps/app/current'))).current, 'r1', 'no lock at all');
    assert.is(parseLockProbe(inHome(home, releaseCommand(mine, 'line', null))).current, null);
    execFileSync('/bin/sh', ['-c', 'rm apps/app/current'], { cwd: home });
    parseLockProbe(inHome(home, acquireCommand(mine, 'apps/app/current')));
    const gone = parseLockProbe(inHome(home, releaseCommand(mine, 'line', 'apps/app/current')));
    assert.equal([gone.current, existsSync(join(home, '.hoist/lock'))], [null, false], 'no current: ours removed all the same');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('a home where the lock cannot be made fails the command instead of reading as free', () => {
  const home = scratchHome();
  try {
    execFileSync('/bin/sh', ['-c', 'touch .hoist'], { cwd: home });
    const r = inHome(home, acquireCommand(newLockInfo('run1', 'release', 'abc'), null, carried));
    assert.is.not(r.code, 0);
    assert.throws(() => parseLockProbe(r, framed(carried)), /reading the deploy lock failed \(exit 1\)/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('taking over a dead holder\'s lock removes that lock only, and only once at a time', () => {
  const home = scratchHome();
  const link = () => execFileSync('/bin/sh', ['-c', 'readlink .hoist/lock'], { cwd: home, encoding: 'utf8' }).trim();
  try {
    const dead = newLockInfo('run0', 'release', 'old');
    inHome(home, acquireCommand(dead, null));
    const raw = link();
    const mine = newLockInfo('run1', 'release', 'abc');
    // The lock changed since it was read (another run took it over first): nothing is removed.
    const stillOld = parseLockProbe(inHome(home, acquireCommand(mine, null, undefined, raw.replace('run0', 'runX'))));
    assert.equal([stillOld.heldBy?.run, link()], ['run0', raw]);
    // Another takeover is in its look-and-remove step (its mkdir is there): this one waits its turn.
    execFileSync('/bin/sh', ['-c', 'mkdir .hoist/takeover'], { cwd: home });
    assert.is(parseLockProbe(inHome(home, acquireCommand(mine, null, undefined, raw))).heldBy?.run, 'run0');
    execFileSync('/bin/sh', ['-c', 'rmdir .hoist/takeover'], { cwd: home });
    const taken = parseLockProbe(inHome(home, acquireCommand(mine, 'apps/app/current', carried, raw)), framed(carried));
    assert.equal([taken.heldBy, taken.current, taken.then?.map((t) => t.code)], [null, 'r1', [3, 0, 0]]);
    assert.is(link(), JSON.stringify(mine));
    assert.is(parseLockProbe(inHome(home, peekCommand(null))).heldRaw, JSON.stringify(mine));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('an answer cut short or garbled after the lock: the lock is still ours, nothing rode along (the tasks ask again)', () => {
  const cut = parseLockProbe({ stdout: `lock ours\ncurrent r1\n${carried.marker}.0\npartial`, stderr: '', code: 0 }, framed(carried));
  assert.equal([cut.heldBy, cut.current, cut.then], [null, 'r1', null]);
  // The first command's frame is whole, a later one's is cut: none is used.
  const half = parseLockProbe({ stdout: `lock ours\ncurrent r1\n${carried.marker}.0\nout\n${carried.marker}.0 0\n\n${carried.marker}.0.end\n${carried.marker}.1\n`, stderr: '', code: 0 }, framed(carried));
  assert.equal([half.heldBy, half.then], [null, null]);
  // The host's `timeout` ended the command after the lock was taken: the lock is ours (finish
  // frees it); without `lock ours` it is an error.
  const late = parseLockProbe({ stdout: `lock ours\ncurrent r1\n${carried.marker}.0\n`, stderr: '', code: 124 }, framed(carried));
  assert.equal([late.heldBy, late.then], [null, null]);
  assert.throws(() => parseLockProbe({ stdout: '', stderr: 'Terminated', code: 124 }, framed(carried)), /reading the deploy lock failed \(exit 124\)/);
});

test('a carried command that leaves a process writing later, or ends in a comment, keeps its status and its neighbours', () => {
  const home = scratchHome();
  try {
    const lingering = sh`(sleep 1; echo late >&2) & echo started`;
    const comment = sh`echo ok
# a last line that is a comment`;
    const c: CarriedCommands = { commands: [lingering, comment, quiet], marker: carried.marker };
    const r = parseLockProbe(inHome(home, acquireCommand(newLockInfo('run1', 'release', 'abc'), 'apps/app/current', c)), framed(c));
    assert.is(r.heldBy, null);
    assert.equal(r.then?.map((t) => [t.stdout, t.code]), [['started\n', 0], ['ok\n', 0], ['', 0]]);
    assert.match(r.then![0]!.stderr, /late/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test.run();
