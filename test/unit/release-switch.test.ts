// release-switch: the plan keeps the live release with the retire step, apply runs the guarded
// retire command, and the guard itself, run by a real /bin/sh: the old slot is stopped after the
// drain only while the run is still there (its output still read) and `current` still names the
// release being kept — an orphaned drain after a lost connection and a rollback stops nothing.
import { spawn } from 'node:child_process';
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
};

test('plan: switch current to the active slot\'s release, then retire the other slot, keeping that release', () => {
  const plan = releaseSwitch.plan(w, fact, input);
  assert.ok(plan.changes);
  if (!plan.changes) return;
  assert.equal(
    plan.steps.map(({ describe: _d, ...rest }) => rest),
    [
      { kind: 'switch-current', release: R2 },
      { kind: 'retire-slot', slot: 'blue', live: R2 },
    ],
  );
});

test('plan: a host whose Docker is not running is refused in words, not read as "no release runs"', () => {
  assert.throws(() => releaseSwitch.plan(w, { ...fact, docker: 'stopped', containers: [] }, input), (e: Error) => e instanceof DockerUnavailableError && /^Docker is not running on this host/.test(e.message));
});

test('apply: the retire command is the guarded one (drain, still connected, current unchanged, then stop)', async () => {
  const plan = releaseSwitch.plan(w, fact, input);
  if (!plan.changes) throw new Error('expected changes');
  const exec = new RecordingExecutor([() => ({ code: 0, stdout: '', stderr: '' })]);
  const ctx: ApplyContext<SwitchWanted, DockerUpFact> = {
    wanted: w,
    before: fact,
    input,
    progress: () => undefined,
    freshConnection: () => {
      throw new Error('not used');
    },
  };
  await releaseSwitch.apply(exec, plan.steps, ctx);
  const retire = exec.calls[1]!.line!;
  assert.is(retire, retireSlot('app', 'blue', R2).line);
  const at = (s: string) => retire.indexOf(s);
  assert.ok(at('sleep 2') >= 0 && at('sleep 2') < at('echo drained') && at('echo drained') < at('readlink') && at('readlink') < at('docker ps'), retire);
  assert.ok(retire.includes(`= releases/${R2}`), retire);
});

/** Runs `afterDrainIfLive` with /bin/sh in a fake home; `closeOutput` drops the reader at once. */
async function guard(currentTarget: string, closeOutput: boolean): Promise<{ code: number | null; signal: string | null; acted: boolean; stderr: string }> {
  const home = mkdtempSync(join(tmpdir(), 'hoist-switch-'));
  try {
    mkdirSync(join(home, 'apps/app/releases', R1), { recursive: true });
    mkdirSync(join(home, 'apps/app/releases', R2), { recursive: true });
    symlinkSync(`releases/${currentTarget}`, join(home, 'apps/app/current'));
    const marker = join(home, 'stopped');
    const cmd = afterDrainIfLive('app', R2, closeOutput ? 1 : 0, sh`touch ${marker}`, 'left running');
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

test.run();
