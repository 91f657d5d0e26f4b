// The watchdog script itself, run by dash in a folder standing in for the deploy user's home (no
// Docker here: its socket path does not answer, which the script says and goes on): a deploy lock
// left by a run that died does not silence health checks, a fresh one does; a lock file of the
// watchdog's own from a run that died is taken over after 10 minutes, not before; a certificate
// it cannot read is not tried (and logged) every minute.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DECIDE, SEE, WATCHDOG_SCRIPT } from '../../tasks/ssh-bootstrap/watchdog-script.ts';

/** A home with one app whose live slot's port has nothing listening (a closed port: "down"). */
async function home(): Promise<string> {
  const h = mkdtempSync(join(tmpdir(), 'hoist-watchdog-home-'));
  const w = join(h, '.hoist', 'watchdog');
  mkdirSync(w, { recursive: true });
  writeFileSync(join(w, 'run'), WATCHDOG_SCRIPT, { mode: 0o755 });
  writeFileSync(join(w, 'see.awk'), SEE);
  writeFileSync(join(w, 'decide.awk'), DECIDE);
  writeFileSync(join(w, 'config'), 'host=web1\nformat=json\ndisk_min_kb=0\n');
  const app = join(h, 'apps', 'app');
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'active-slot'), 'blue\n');
  writeFileSync(join(app, 'ports'), `blue ${await closedPort()}\n`);
  return h;
}

/** A loopback port nothing listens on: one the kernel gave a server that is closed again. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function runWatchdog(h: string): { code: number | null; state: string; log: string } {
  const r = spawnSync('dash', [join(h, '.hoist', 'watchdog', 'run')], { env: { HOME: h, PATH: process.env.PATH! }, encoding: 'utf8', timeout: 30_000 });
  const read = (f: string) => (existsSync(join(h, '.hoist', 'watchdog', f)) ? readFileSync(join(h, '.hoist', 'watchdog', f), 'utf8') : '');
  return { code: r.status, state: read('state'), log: read('log') };
}

/** `touch -h -d`: a symlink's own time (the deploy lock is a symlink; find -mmin reads its own). */
const age = (path: string, when: string) => assert.is(spawnSync('touch', ['-h', '-d', when, path]).status, 0);

test('a deploy lock older than an hour (a run that died) does not hold health checks back: said in the log; a fresh one does', async () => {
  const h = await home();
  const lock = join(h, '.hoist', 'lock');
  symlinkSync('web1 1 20261207T000000 release', lock);
  age(lock, '2 hours ago');
  const stale = runWatchdog(h);
  assert.is(stale.code, 0, stale.log);
  assert.match(stale.state, /^state app:app down \S+ 0 0$/m, 'the app was judged: down');
  assert.match(stale.log, /the deploy lock is older than 60 min \(a run that died\?\): health judged anyway; hoist unlock removes it/);
  rmSync(h, { recursive: true, force: true });

  const h2 = await home();
  symlinkSync('web1 1 20261207T000000 release', join(h2, '.hoist', 'lock'));
  const fresh = runWatchdog(h2);
  assert.is(fresh.code, 0, fresh.log);
  assert.not.match(fresh.state, /app:app/, 'a release in progress: health not judged');
  assert.not.match(fresh.log, /older than 60 min/);
  rmSync(h2, { recursive: true, force: true });
});

test('the watchdog\'s own lock: a run finding one skips; one older than 10 minutes is taken over', async () => {
  const h = await home();
  const running = join(h, '.hoist', 'watchdog', 'running');
  writeFileSync(running, '');
  const held = runWatchdog(h);
  assert.is(held.code, 0);
  assert.match(held.log, /skipped: the previous run is still going/);
  assert.is(held.state, '', 'nothing looked at');
  age(running, '11 minutes ago');
  const taken = runWatchdog(h);
  assert.match(taken.state, /^state app:app down /m);
  assert.not.ok(existsSync(running), 'the lock is gone after the run');
  rmSync(h, { recursive: true, force: true });
});

test('a certificate that cannot be read (no https yet) is logged once and asked again at minute 17, not every minute', async () => {
  const h = await home();
  // Nothing serves https on this machine's 127.0.0.1:443: the handshake fails at once.
  writeFileSync(join(h, 'apps', 'app', 'watch'), 'health=/\ndomain=app.hoist.test\n');
  const minute = (w: string) => Number(readFileSync(join(w, 'last-run'), 'utf8').slice(14, 16));
  const w = join(h, '.hoist', 'watchdog');
  const first = runWatchdog(h);
  assert.is(first.code, 0, first.log);
  assert.is(first.log.match(/no certificate read for app\.hoist\.test \(is https on\?\); asked again at minute 17/g)?.length, 1, first.log);
  assert.is(readFileSync(join(w, 'cert-misses'), 'utf8'), 'app:app.hoist.test\n');
  const second = runWatchdog(h);
  // At minute 17 it is asked (and logged) again; at any other minute not.
  const want = minute(w) === 17 ? 2 : 1;
  assert.is(second.log.match(/no certificate read for app\.hoist\.test/g)?.length, want, second.log);
  assert.is(readFileSync(join(w, 'cert-misses'), 'utf8'), 'app:app.hoist.test\n', 'still missing');
  rmSync(h, { recursive: true, force: true });
});

test.run();
