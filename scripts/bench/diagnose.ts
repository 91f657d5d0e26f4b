// Where hoist's no-op release spends its time, from one extra UNTIMED run with trace-exec.mjs
// preloaded: time to the first SSH connect (Node + hoist's compiled modules + config), the
// handshake, each command per host (how many round trips, how long each took), and the time
// from the last command to exit. Also the start-up, wall clock and CPU, of `node` and of hoist's
// commands that contact no host (`--version`, `help`, `run release --help`).
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestHost } from '../../test/harness/testbed.ts';
import { HOIST_BIN } from './fleet.ts';
import { measure } from './measure.ts';
import { median } from './stats.ts';

const TRACE = join(dirname(fileURLToPath(import.meta.url)), 'trace-exec.mjs');

interface Trace {
  exitAt: number;
  connects: { id: string; start: number; ready: number }[];
  commands: { id: string; cmd: string; sudo: boolean; start: number; opened: number; end: number }[];
}

export interface Diagnosis {
  hosts: number;
  wallMs: number;
  /** Process start to the first SSH connect: Node, hoist's modules, config, every `want`. */
  toFirstConnectMs: number;
  handshakeMs: number;
  /** Per host: SSH connections and commands (each command: channel open + exec + exit = round trips). */
  connectionsPerHost: number;
  commandsPerHost: number;
  /** In order, for the first host: the command (shortened) and its median time over hosts. */
  commands: { cmd: string; sudo: boolean; medianMs: number; openMs: number }[];
  /** Last command's end to process exit: closing connections, report, summary. */
  afterLastCommandMs: number;
  /** Median per host from connect start to its last command's end. */
  hostSpanMs: number;
  /** Median per host of the commands' own times added up (each from exec to channel close). */
  commandSumMs: number;
}

export async function diagnose(o: { dir: string; envPath: string; inventoryPath: string; hosts: number }): Promise<Diagnosis> {
  const file = join(o.dir, `trace-${o.hosts}.json`);
  const json = join(o.dir, `trace-report-${o.hosts}.json`);
  rmSync(file, { force: true });
  const r = await measure(
    process.execPath,
    ['--import', TRACE, HOIST_BIN, 'run', 'release', '--env-file', o.envPath, '--inventory', o.inventoryPath, '--concurrency', String(o.hosts), '--json', json],
    { cwd: o.dir, env: { ...process.env, BENCH_TRACE_FILE: file }, timeoutMs: 5 * 60_000 },
  );
  if (r.code !== 0) throw new Error(`traced hoist run failed (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  const t = JSON.parse(readFileSync(file, 'utf8')) as Trace;
  const byHost = new Map<string, Trace['commands']>();
  for (const c of [...t.commands].sort((a, b) => a.start - b.start)) byHost.set(c.id, [...(byHost.get(c.id) ?? []), c]);
  const first = [...byHost.values()][0] ?? [];
  const perPosition = first.map((c, i) => ({
    cmd: c.cmd,
    sudo: c.sudo,
    medianMs: median([...byHost.values()].map((cs) => (cs[i] ? cs[i]!.end - cs[i]!.start : NaN)).filter((x) => !Number.isNaN(x))),
    openMs: median([...byHost.values()].map((cs) => (cs[i] ? cs[i]!.opened - cs[i]!.start : NaN)).filter((x) => !Number.isNaN(x))),
  }));
  const connectsPerHost = new Map<string, number>();
  for (const c of t.connects) connectsPerHost.set(c.id, (connectsPerHost.get(c.id) ?? 0) + 1);
  const lastEnd = Math.max(...t.commands.map((c) => c.end));
  return {
    hosts: o.hosts,
    wallMs: r.wallMs,
    toFirstConnectMs: Math.min(...t.connects.map((c) => c.start)),
    handshakeMs: median(t.connects.map((c) => c.ready - c.start)),
    connectionsPerHost: median([...connectsPerHost.values()]),
    commandsPerHost: median([...byHost.values()].map((cs) => cs.length)),
    commands: perPosition,
    afterLastCommandMs: t.exitAt - lastEnd,
    commandSumMs: median([...byHost.values()].map((cs) => cs.reduce((sum, c) => sum + (c.end - c.start), 0))),
    hostSpanMs: median(
      [...byHost.entries()].map(([id, cs]) => Math.max(...cs.map((c) => c.end)) - Math.min(...t.connects.filter((c) => c.id === id).map((c) => c.start))),
    ),
  };
}

export interface StartupCommand {
  what: string;
  /** Medians over the runs: wall clock spawn to exit, CPU here (see LocalCpu: the cgroup's, else rusage), peak memory. */
  wallMs: number;
  cpuMs: number | null;
  peakMiB: number | null;
  /** Exit code of the last run (each should exit 0). */
  code: number;
}

export interface Startup {
  nodeMs: number;
  hoistVersionMs: number;
  hoistVersionPeakMiB: number | null;
  /** Every start-up command timed, with its CPU (absent in runs saved before it was measured). */
  commands?: StartupCommand[];
}

/** Commands that start and stop without contacting any host: Node alone, and hoist's cheapest ones. */
const startupCommands = (): [string, string, string[]][] => [
  ['`true` (the measuring wrapper alone: sh and GNU time around a no-op)', '/bin/true', []],
  ['`node -e 0`', process.execPath, ['-e', '0']],
  ['`hoist --version`', process.execPath, [HOIST_BIN, '--version']],
  ['`hoist help`', process.execPath, [HOIST_BIN, 'help']],
  ['`hoist run release --help`', process.execPath, [HOIST_BIN, 'run', 'release', '--help']],
];

/** The start-up commands, interleaved `runs` times (the machine drifts; each gets its share of it). */
export async function startup(runs: number): Promise<Startup> {
  const STARTUP = startupCommands();
  const got = STARTUP.map(() => ({ wall: [] as number[], cpu: [] as number[], mem: [] as number[], code: 0 }));
  for (let i = 0; i < runs; i++) {
    for (const [k, [, cmd, args]] of STARTUP.entries()) {
      const m = await measure(cmd, args, { timeoutMs: 60_000, memory: true });
      const g = got[k]!;
      g.wall.push(m.wallMs);
      const cpu = m.cpu.cgroupMs ?? m.cpu.rusageMs;
      if (cpu !== null) g.cpu.push(cpu);
      if (m.peakMiB !== null) g.mem.push(m.peakMiB);
      g.code = m.code;
    }
  }
  const commands = STARTUP.map(([what], k) => {
    const g = got[k]!;
    return { what, wallMs: median(g.wall), cpuMs: g.cpu.length ? median(g.cpu) : null, peakMiB: g.mem.length ? median(g.mem) : null, code: g.code };
  });
  const version = commands[2]!;
  return { nodeMs: commands[1]!.wallMs, hoistVersionMs: version.wallMs, hoistVersionPeakMiB: version.peakMiB, commands };
}

/** The pieces of hoist's release probes, each timed on the host itself (no SSH): what each costs there. */
const PIECES: [string, string][] = [
  ['sh -c true (the floor\'s command)', 'sh -c true'],
  ['timeout -k 5 900 sh -c true (hoist\'s wrapper of every command)', 'timeout -k 5 900 sh -c true'],
  ['sudo -n true (caddy-reload\'s probe runs under sudo)', 'sudo -n true'],
  ['curl Docker\'s API socket for the app\'s containers (docker-up)', `curl -s --max-time 10 --unix-socket /var/run/docker.sock -G http://docker/containers/json --data-urlencode all=1 --data-urlencode 'filters={"label":["com.docker.compose.project"]}'`],
  ['curl Docker\'s API socket for the release images (docker-up)', `curl -s --max-time 10 --unix-socket /var/run/docker.sock -G http://docker/images/json --data-urlencode 'filters={"reference":["hoist-app-web"]}'`],
  ['docker ps (one docker CLI run, for comparison: docker-up\'s first probe made five)', 'docker ps -q'],
  ['curl the slot port (docker-up: once per slot)', "curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:18001/"],
  ['git cat-file -e (git-sync)', 'git --git-dir=apps/app/repo.git cat-file -e HEAD'],
  ['crontab -l (cron-install)', 'crontab -l'],
];

/** The pieces the probes are made of now (a saved run may have timed an earlier probe's). */
export const CURRENT_PIECES: string[] = PIECES.map(([what]) => what);

/**
 * Median time of each piece on `host`, minus the cost of timing nothing (the two `date` calls
 * around it), so each row is what the piece itself adds to a probe.
 */
export async function probePieces(host: TestHost, user: string, repeats = 5): Promise<{ what: string; medianMs: number }[]> {
  const time = async (cmd: string) => {
    const script = `cd && id=$(docker ps -q | head -n 1); for i in $(seq ${repeats}); do s=$(date +%s%N); ${cmd} >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000 )); done`;
    const r = await host.sh(script, user);
    const us = r.stdout.trim().split('\n').map(Number).filter((n) => Number.isFinite(n) && n > 0);
    return us.length ? median(us) / 1000 : NaN;
  };
  const empty = await time(':');
  const out: { what: string; medianMs: number }[] = [];
  for (const [what, cmd] of PIECES) out.push({ what, medianMs: Math.max(0, (await time(cmd)) - empty) });
  return out;
}
