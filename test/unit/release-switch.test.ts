// release-switch: the plan keeps the live release with the retire step, apply runs the guarded
// retire command, and the guard itself, run by a real /bin/sh: the old slot is stopped after the
// drain only while the run is still there (its output still read) and `current` still names the
// release being kept — an orphaned drain after a lost connection and a rollback stops nothing.
// The drain itself runs against real sockets here: a TCP server on this machine's loopback with
// a connection whose request is unanswered (in flight), then answered (idle keep-alive).
import { execFile, spawn } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ApplyContext, TaskInput } from '../../lib/engine/task.ts';
import { RecordingExecutor } from '../../lib/exec/recording-executor.ts';
import { sh } from '../../lib/shell-quote.ts';
import { DockerUnavailableError } from '../../tasks/docker-up/docker-daemon.ts';
import type { DockerUpFact } from '../../tasks/docker-up/probe.ts';
import { NO_PORTS } from '../harness/docker-up-facts.ts';
import { afterDrainIfLive, releaseSwitch, retireSlot, type SwitchWanted } from '../../tasks/release-switch.ts';
import { drainSummary, parseDrained, waitForRequests } from '../../tasks/release-switch/drain.ts';
import { testHost } from '../harness/settings.ts';

const R1 = '20240101000000-aaaaaaaaaaaa';
const R2 = '20240102000000-bbbbbbbbbbbb';
const input: TaskInput = { host: testHost({ appName: 'app' }), loginUser: 'deploy' };
const w = releaseSwitch.want(input) as SwitchWanted;
const fact: DockerUpFact = {
  home: '/home/deploy',
  docker: 'running',
  systemd: true,
  pending: R2,
  current: R1,
  active: 'green',
  compose: 'v1',
  containers: [
    { slot: 'blue', service: 'web', release: R1, state: 'running', health: 'none' },
    { slot: 'green', service: 'web', release: R2, state: 'running', health: 'none' },
  ],
  http: { blue: 200, green: 200 },
  images: [R1, R2],
  releases: [R1, R2],
  ...NO_PORTS,
  // What Docker says the blue slot's container publishes: the port the drain watches.
  ownPorts: new Map([[18001, 'app-blue'], [18002, 'app-green']]),
};

test('plan: switch current to the active slot\'s release, then retire the other slot, keeping that release', () => {
  const plan = releaseSwitch.plan(w, fact, input);
  assert.ok(plan.changes);
  if (!plan.changes) return;
  assert.equal(
    plan.steps.map(({ describe: _d, ...rest }) => rest),
    [
      { kind: 'switch-current', release: R2 },
      { kind: 'retire-slot', slot: 'blue', live: R2, port: 18001 },
    ],
  );
});

test('plan: a host whose Docker is not running is refused in words, not read as "no release runs"', () => {
  assert.throws(() => releaseSwitch.plan(w, { ...fact, docker: 'stopped', containers: [] }, input), (e: Error) => e instanceof DockerUnavailableError && /^Docker is not running on this host/.test(e.message));
});

test('apply: the retire command is the guarded one (drain, still connected, current unchanged, then stop)', async () => {
  const plan = releaseSwitch.plan(w, fact, input);
  if (!plan.changes) throw new Error('expected changes');
  const exec = new RecordingExecutor([() => ({ code: 0, stdout: 'drained: 0 2 ss 130\n', stderr: '' })]);
  const said: string[] = [];
  const ctx: ApplyContext<SwitchWanted, DockerUpFact> = {
    wanted: w,
    before: fact,
    input,
    progress: (m) => said.push(m),
    freshConnection: () => {
      throw new Error('not used');
    },
  };
  await releaseSwitch.apply(exec, plan.steps, ctx);
  const retire = exec.calls[1]!.line!;
  assert.is(retire, retireSlot('app', 'blue', R2, 18001, 30).line);
  const at = (s: string) => retire.indexOf(s);
  assert.ok(at("'( sport = :18001 )'") >= 0 && at("'( sport = :18001 )'") < at('echo drained:') && at('echo drained:') < at('readlink') && at('readlink') < at('docker ps'), retire);
  assert.ok(retire.includes(`= releases/${R2}`), retire);
  assert.equal(said, ['the blue slot stopped with 0 requests in flight on 127.0.0.1:18001 (waited 0.1 s; 2 idle keep-alive connections closed with it)']);
});

/** Runs `afterDrainIfLive` with /bin/sh in a fake home; `closeOutput` drops the reader at once. */
async function guard(currentTarget: string, closeOutput: boolean): Promise<{ code: number | null; signal: string | null; acted: boolean; stderr: string }> {
  const home = mkdtempSync(join(tmpdir(), 'hoist-switch-'));
  try {
    mkdirSync(join(home, 'apps/app/releases', R1), { recursive: true });
    mkdirSync(join(home, 'apps/app/releases', R2), { recursive: true });
    symlinkSync(`releases/${currentTarget}`, join(home, 'apps/app/current'));
    const marker = join(home, 'stopped');
    const cmd = afterDrainIfLive('app', R2, closeOutput ? sh`sleep 1; echo drained: 0 0 ss 1000` : waitForRequests(null, 0), sh`touch ${marker}`, 'left running');
    const child = spawn('/bin/sh', ['-c', cmd.line], { env: { HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    if (closeOutput) child.stdout.destroy();
    else child.stdout.resume();
    const [code, signal] = await new Promise<[number | null, string | null]>((res) => child.on('close', (c, s) => res([c, s])));
    return { code, signal, acted: existsSync(marker), stderr };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

test('guard: current still names the kept release and the run reads the output: the slot is stopped', async () => {
  const r = await guard(R2, false);
  assert.is(r.code, 0, r.stderr);
  assert.ok(r.acted);
});

test('guard: current was switched back (a rollback): nothing is stopped, exit 3 says why', async () => {
  const r = await guard(R1, false);
  assert.is(r.code, 3);
  assert.not.ok(r.acted);
  assert.match(r.stderr, new RegExp(`current no longer names ${R2}`));
});

test('guard: the session is gone (nobody reads the output): the orphaned drain stops nothing', async () => {
  const r = await guard(R2, true);
  assert.not.ok(r.acted, `stopped anyway (exit ${r.code}, signal ${r.signal})`);
  assert.ok(r.code !== 0 || r.signal !== null);
});

const run = promisify(execFile);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A loopback TCP server and one client connection to it, both ends in hand. */
async function connection(): Promise<{ port: number; client: Socket; server: Socket; close: () => void }> {
  let accepted: (s: Socket) => void;
  const got = new Promise<Socket>((r) => (accepted = r));
  const srv = createServer((s) => accepted(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  const server = await got;
  server.resume();
  client.resume();
  return { port, client, server, close: () => (client.destroy(), server.destroy(), srv.close()) };
}

const drain = async (port: number, seconds: number) => parseDrained((await run('/bin/sh', ['-c', waitForRequests(port, seconds).line])).stdout);

test('drain: a request not yet answered holds it until DRAIN_TIMEOUT, which then reports it; answered, the idle connection does not hold it', async () => {
  const c = await connection();
  try {
    c.client.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await pause(50);
    const held = await drain(c.port, 1);
    assert.equal([held?.inFlight, held?.idle, held?.how], [1, 0, 'ss']);
    assert.ok(held!.waitedMs >= 1000, `waited the whole timeout: ${held!.waitedMs} ms`);
    c.server.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    await pause(50);
    const idle = await drain(c.port, 30);
    assert.equal([idle?.inFlight, idle?.idle, idle?.how], [0, 1, 'ss'], 'the kept-alive connection is idle, not a request');
  } finally {
    c.close();
  }
});

test('drain: the request answered while it waits ends the wait then, with 0 in flight', async () => {
  const c = await connection();
  try {
    c.client.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await pause(50);
    const waiting = drain(c.port, 30);
    await pause(1500);
    c.server.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    const d = await waiting;
    assert.equal([d?.inFlight, d?.idle], [0, 1]);
    assert.ok(d!.waitedMs >= 1000, `it waited for the answer: ${d!.waitedMs} ms`);
  } finally {
    c.close();
  }
});

test('drain: no port known prints at once; the summary names the timeout only when it ran out', async () => {
  assert.equal(parseDrained((await run('/bin/sh', ['-c', waitForRequests(null, 30).line])).stdout), { inFlight: 0, idle: 0, how: 'none', waitedMs: 0 });
  assert.is(drainSummary('green', 18002, 2, { inFlight: 1, idle: 0, how: 'ss', waitedMs: 2050 }), 'the green slot stopped with 1 request still in flight on 127.0.0.1:18002: DRAIN_TIMEOUT (2 s) ran out');
  assert.match(drainSummary('green', 18002, 30, { inFlight: 0, idle: 0, how: 'proc', waitedMs: 10 }), /^the green slot stopped with 0 connections open on 127\.0\.0\.1:18002 \(waited 0\.0 s; no ss here/);
});

test.run();
