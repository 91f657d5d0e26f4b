// Renders BENCHMARKS.md from one benchmark run: machine and versions, medians per fleet size,
// the ratios the issue sets targets for (all from this one run), a verdict per target with the
// numbers, what a run costs in CPU on the hosts and here, where hoist's time goes, and every raw
// sample. Renders runs saved before a measurement existed too (--from-json): "not measured".
import type { AnsibleSample } from './ansible.ts';
import type { BenchArgs } from './args.ts';
import { CURRENT_PIECES, type Diagnosis, type Startup } from './diagnose.ts';
import type { FloorSample } from './floor.ts';
import type { HoistSample } from './hoist-noop.ts';
import type { HoistFrom, MachineInfo, MachineLoad } from './machine.ts';
import type { RunCpu } from './measure.ts';
import { procsSection, type PidsInfo } from './report-procs.ts';
import { median, ratio } from './stats.ts';

export interface RunSample {
  hosts: number;
  run: number;
  order: string[];
  hoist: HoistSample;
  ansible: AnsibleSample;
  floor: FloorSample;
}

export interface ReportInput {
  args: BenchArgs;
  command: string;
  machine: MachineInfo;
  samples: RunSample[];
  tasks: number;
  startup: Startup;
  diagnoses: Diagnosis[];
  pieces: { what: string; medianMs: number }[];
  memoryMethod: string;
  busyBefore: string;
  busyAfter: string;
  date: Date;
  // Absent in runs saved before they were measured:
  /** Where the timed hoist came from (absent: dist/, the only way before). */
  hoistFrom?: HoistFrom;
  /** How the hosts' CPU counters were found, or why not. */
  hostCpu?: HostCpuInfo;
  /** Idle hosts' CPU, ms per second per host, read before each fleet size's timed runs. */
  idle?: { hosts: number; msPerS: number[] }[];
  /** One plain `ssh host true` on host 1: its CPU there by exit, in the second after, and here. */
  sshCheck?: { hostMs: number; tailMs: number; idleMsPerS: number; localMs: number };
  /** How busy the machine was over the timed runs (/proc/stat). */
  timedLoad?: MachineLoad;
  /** The hosts' PID counters: idle rates, traces (counts per run are in each sample's cpu.hostPids). */
  pids?: PidsInfo;
}

export type HostCpuInfo = ({ method: string; example: string[]; nestedOutside: number; nestedInside: number; stable: boolean } | { error: string }) & {
  /** How the CPU here was read: the run's own cgroup, wait4's rusage, or not at all. */
  localMethod: 'cgroup' | 'rusage' | 'none';
};

/** One tool's CPU at one fleet size, medians over runs, ms; NaN: not measured. */
interface Cpu {
  /** Host CPU per host: the fleet's total / hosts. */
  host: number;
  /** The busiest host's. */
  hostMax: number;
  /** Of `host`, the part spent in the host's nested containers (the app's), per host. */
  nested: number;
  /** Here: the run's cgroup (else rusage). */
  local: number;
  /** Here, wait4's rusage only (the process and the children it waited for). */
  rusage: number;
}

interface Row {
  n: number;
  hoist: number;
  pipeline: number;
  ansible: number;
  floor: number;
  peakMiB: number | null;
  taskMs: Record<string, number>;
  cpu: Record<Tool, Cpu>;
}

type Tool = 'hoist' | 'ansible' | 'floor';
const TOOLS: [Tool, string][] = [['hoist', 'hoist'], ['ansible', 'Ansible'], ['floor', 'floor']];

/** One run's CPU of one tool: per host (mean, max), here (cgroup, else rusage), rusage; NaN where not measured. */
function cpuOf(c: RunCpu | undefined): Cpu {
  const hosts = c?.hostMs ?? null;
  const complete = (v: (number | null)[] | null | undefined) => (v && v.length && v.every((n) => n !== null) ? (v as number[]) : null);
  const all = complete(hosts);
  const nested = complete(c?.nestedMs);
  return {
    host: all ? all.reduce((a, b) => a + b, 0) / all.length : NaN,
    hostMax: all ? Math.max(...all) : NaN,
    nested: nested ? nested.reduce((a, b) => a + b, 0) / nested.length : NaN,
    local: c?.local.cgroupMs ?? c?.local.rusageMs ?? NaN,
    rusage: c?.local.rusageMs ?? NaN,
  };
}

/** Median over runs of each field, the runs without a number left out. */
function medianCpu(runs: Cpu[]): Cpu {
  const m = (k: keyof Cpu) => {
    const v = runs.map((r) => r[k]).filter((n) => Number.isFinite(n));
    return v.length ? median(v) : NaN;
  };
  return { host: m('host'), hostMax: m('hostMax'), nested: m('nested'), local: m('local'), rusage: m('rusage') };
}

const s = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : 'n/a');
const signed = (ms: number) => `${ms >= 0 ? '+' : '−'}${s(Math.abs(ms))}`;
const x = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : 'n/a');
const ms = (v: number) => (!Number.isFinite(v) ? 'n/a' : Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0));
const mib = (m: number | null) => (m === null ? 'n/a' : `${m.toFixed(0)} MiB (${((m * 2 ** 20) / 1e6).toFixed(0)} MB)`);

export function renderReport(i: ReportInput): string {
  const rows: Row[] = i.args.hosts.map((n) => {
    const at = i.samples.filter((x) => x.hosts === n);
    const peaks = at.map((x) => x.hoist.peakMiB).filter((m): m is number => m !== null);
    const names = Object.keys(at[0]?.hoist.taskMs ?? {});
    return {
      n,
      hoist: median(at.map((x) => x.hoist.wallMs)),
      pipeline: median(at.map((x) => x.hoist.pipelineMs)),
      ansible: median(at.map((x) => x.ansible.wallMs)),
      floor: median(at.map((x) => x.floor.wallMs)),
      // The largest of the runs: a limit is about the worst case, not the typical one.
      peakMiB: peaks.length ? Math.max(...peaks) : null,
      taskMs: Object.fromEntries(names.map((t) => [t, median(at.map((x) => x.hoist.taskMs[t] ?? NaN))])),
      cpu: {
        hoist: medianCpu(at.map((x) => cpuOf(x.hoist.cpu))),
        ansible: medianCpu(at.map((x) => cpuOf(x.ansible.cpu))),
        floor: medianCpu(at.map((x) => cpuOf(x.floor.cpu))),
      },
    };
  });
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const out: string[] = [];
  const p = (line = '') => out.push(line);

  p('# Benchmarks: a no-op release');
  p();
  const fromSources = i.hoistFrom === 'sources';
  p(`Generated by \`${i.command}\` (scripts/bench/) on ${i.date.toISOString().slice(0, 16).replace('T', ' ')} UTC. ` +
    `${i.args.runs} timed run(s) per fleet size and tool; every number below is the median of those runs, and every ratio compares medians from this one run.`);
  p();
  if (fromSources) {
    p('**hoist ran from its TypeScript sources through tsx in this run (`--from-source`, HOIST_FROM_SOURCE=1), not compiled from dist/ as users run it: ' +
      'its start-up, and with it hoist\'s wall time and CPU here, is higher than a user\'s (see the start-up table), most visibly at small fleets. What the hosts pay does not depend on it.**');
    p();
  }
  p('A no-op release is a release of the commit that is already live on every host: hoist must report every task `unchanged`, Ansible `changed=0`, or the benchmark stops instead of reporting. ' +
    'The hosts are containers on this machine (Debian 12, sshd on a loopback port each, Docker, Caddy, cron inside), made live by a real `hoist run bootstrap` and `hoist run release` before any timing.');
  p();
  p('Reproduce (as root on Debian 12 with Node 20+, after `npm ci`):');
  p();
  p('```sh');
  p(`npm run bench -- --hosts ${i.args.hosts.join(',')} --runs ${i.args.runs}${fromSources ? ' --from-source' : ''} --out BENCHMARKS.md`);
  p('```');
  p();

  p('## Machine');
  p();
  p('| cores | CPU | RAM | kernel | Debian |');
  p('| --- | --- | --- | --- | --- |');
  p(`| ${i.machine.cores} | ${i.machine.cpu} | ${i.machine.ramGiB} GiB | ${i.machine.kernel} | ${i.machine.debian} |`);
  p();
  p(`Every host is a container on these same ${i.machine.cores} cores, and so are hoist, Ansible and the floor: a benchmark of the orchestrator and of the hosts together. ` +
    `The machine is shared with other work; before the timed runs: ${i.busyBefore}; after: ${i.busyAfter}.` +
    (i.timedLoad ? ` ${loadText(i, rows)}` : ''));
  p();
  p('## Versions');
  p();
  p('| what | version |');
  p('| --- | --- |');
  for (const [k, v] of Object.entries(i.machine.versions)) p(`| ${k} | ${v} |`);
  p();

  p('## What is timed');
  p();
  p('Each is timed as wall clock from spawn to exit of its whole process, as a user would wait for it:');
  p();
  p(`- **hoist**: \`node bin/hoist.mjs run release --concurrency N --json FILE\` with an inventory of the N hosts. It connects once per host as the deploy user and runs the release pipeline's ${i.tasks} tasks (${Object.keys(first.taskMs).join(', ')}); each reads the host in one probe and plans nothing. ` +
    `Node, loading hoist (${fromSources ? 'from its TypeScript sources through tsx in this run: see above' : 'compiled to JavaScript in dist/, as `npm ci` builds it'}), ` +
    'config checks, the summary and the JSON report all count. "pipeline" is the report\'s own `durationMs` (inside the process, from the pipeline\'s start to its end).');
  p('- **Ansible**: `ansible-playbook --forks N` of scripts/bench/noop-release.yml (Debian\'s ansible-core): facts off, pipelining on, the Python on the hosts named (no interpreter discovery), ' +
    'OpenSSH with Ansible\'s default connection sharing (ControlPersist; a fresh control folder per run), the same key and known_hosts. Its checks are those of hoist\'s probes: the release dir, the git revision of `current`, the Caddy site file (`copy`, as root), the `.env` file (`copy`), the crontab block, container state and health plus the app answering on its slot port (one \`docker ps\`, one \`docker inspect\` per container, one \`curl\`). ' +
    'hoist\'s probes check a little more (both slots, compose, images of removed releases: see below), as its plans need it.');
  p(`- **floor**: scripts/bench/floor.mjs, plain JavaScript in one Node process: one ssh2 connection per host (host key checked), ${i.tasks} trivial commands (\`true\`, one per hoist task) in order per host, all hosts at once. No tool built on Node and ssh2 can do the same round trips faster here.`);
  p();
  p('GIT_REF is pinned to the live commit\'s full sha for all three, so no tool spends a round trip resolving a branch. ' +
    `Peak memory of the hoist process: ${i.memoryMethod}; the table shows the largest of the runs.`);
  p();

  p(`## Results (medians, seconds)`);
  p();
  p('| hosts | hoist | hoist pipeline | Ansible | floor | Ansible / hoist | hoist / floor | hoist peak memory |');
  p('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    p(`| ${r.n} | ${s(r.hoist)} | ${s(r.pipeline)} | ${s(r.ansible)} | ${s(r.floor)} | ${x(ratio(r.ansible, r.hoist))} | ${x(ratio(r.hoist, r.floor))} | ${mib(r.peakMiB)} |`);
  }
  p();
  if (rows.length > 1) {
    p(`### Growth from ${first.n} to ${last.n} hosts`);
    p();
    p(`| | at ${first.n} | at ${last.n} | growth (×) | added seconds |`);
    p('| --- | --- | --- | --- | --- |');
    for (const [name, key] of [['hoist', 'hoist'], ['hoist pipeline', 'pipeline'], ['floor', 'floor'], ['Ansible', 'ansible']] as const) {
      p(`| ${name} | ${s(first[key])} | ${s(last[key])} | ${x(ratio(last[key], first[key]))} | ${s(last[key] - first[key])} |`);
    }
    p();
  }

  out.push(...cpuSection(i, rows));
  out.push(...procsSection(i.pids, i.samples, i.args.hosts, { before: i.busyBefore, after: i.busyAfter }));

  p('## Targets (issues #5 and #12)');
  p();
  out.push(...verdicts(rows, first, last));
  p();
  out.push(...why(i, rows));

  p('## Where hoist\'s time goes');
  p();
  const st = i.startup;
  const cli = fromSources ? 'hoist\'s CLI from its sources through tsx' : 'hoist\'s compiled CLI';
  if (st.commands?.length) {
    p(`- Start-up, no host contacted (median of ${Math.max(3, i.args.runs)} runs each, interleaved; each is Node loading ${cli} and returning before any settings are read or any host is contacted; CPU here as in the CPU section):`);
    p();
    p('  | command | wall s | CPU ms | peak memory |');
    p('  | --- | --- | --- | --- |');
    for (const c of st.commands) p(`  | ${c.what}${c.code === 0 ? '' : ` (exit ${c.code})`} | ${s(c.wallMs)} | ${c.cpuMs === null ? 'n/a' : ms(c.cpuMs)} | ${mib(c.peakMiB)} |`);
    p();
  } else {
    p(`- Startup, no host contacted: \`node -e 0\` ${s(st.nodeMs)} s; \`hoist --version\` ${s(st.hoistVersionMs)} s (Node and ${cli} with every module it imports), peak memory ${mib(st.hoistVersionPeakMiB)}. CPU: not measured in this run.`);
  }
  for (const d of i.diagnoses) {
    p(`- One traced run at ${d.hosts} host(s) (ssh2's Client wrapped by scripts/bench/trace-exec.mjs; not one of the timed runs), ${s(d.wallMs)} s in all: ` +
      `${s(d.toFirstConnectMs)} s from process start to the first SSH connect; handshake ${s(d.handshakeMs)} s (median); ` +
      `per host ${d.connectionsPerHost} connection(s) and ${d.commandsPerHost} commands (the floor: 1 and ${i.tasks}), ${s(d.hostSpanMs)} s from connect to the last command's end (median), of which the commands themselves ${s(d.commandSumMs)} s; ` +
      `${s(d.afterLastCommandMs)} s from the last command to exit.`);
    p();
    p(`  | # | command (hoist's timeout/sudo wrappers removed, shortened) | sudo | median ms | of which opening the channel |`);
    p('  | --- | --- | --- | --- | --- |');
    d.commands.forEach((c, k) => p(`  | ${k + 1} | \`${c.cmd.replace(/\|/g, '\\|').replace(/`/g, "'")}\` | ${c.sudo ? 'yes' : ''} | ${c.medianMs.toFixed(0)} | ${c.openMs.toFixed(0)} |`));
    p();
  }
  p('The pieces those probes are made of, each timed on host 1 itself with its own clock (median of 5, ms, minus the clock\'s own cost; no SSH involved; these are what the tasks\' probes spend on the host, beyond the round trip):');
  p();
  p('| piece | ms |');
  p('| --- | --- |');
  // Saved measurements may name pieces of an earlier probe: shown, but said to be no longer used.
  for (const piece of i.pieces) p(`| ${piece.what}${CURRENT_PIECES.includes(piece.what) ? '' : ' (not in the current probes)'} | ${piece.medianMs.toFixed(1)} |`);
  p();
  p('Per task, from hoist\'s JSON report (median over hosts, then over runs; a no-op task is its probe and plan), ms:');
  p();
  const names = Object.keys(first.taskMs);
  p(`| hosts | ${names.join(' | ')} |`);
  p(`| --- | ${names.map(() => '---').join(' | ')} |`);
  for (const r of rows) p(`| ${r.n} | ${names.map((t) => (r.taskMs[t] ?? NaN).toFixed(0)).join(' | ')} |`);
  p();

  p('## Every run');
  p();
  p('| hosts | run | order | hoist | hoist pipeline | hoist peak MiB | Ansible | floor |');
  p('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of i.samples) {
    p(`| ${r.hosts} | ${r.run} | ${r.order.join(' → ')} | ${s(r.hoist.wallMs)} | ${s(r.hoist.pipelineMs)} | ${r.hoist.peakMiB?.toFixed(0) ?? 'n/a'} | ${s(r.ansible.wallMs)} | ${s(r.floor.wallMs)} |`);
  }
  p();
  if (i.samples.some((r) => r.hoist.cpu || r.ansible.cpu || r.floor.cpu)) {
    p('CPU of every run, ms: host CPU per host (the busiest host\'s), and here (Ansible: in parentheses, what wait4 counts):');
    p();
    p('| hosts | run | hoist hosts | Ansible hosts | floor hosts | hoist here | Ansible here | floor here |');
    p('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of i.samples) {
      const [h, a, f] = [cpuOf(r.hoist.cpu), cpuOf(r.ansible.cpu), cpuOf(r.floor.cpu)];
      p(`| ${r.hosts} | ${r.run} | ${hostCell(h)} | ${hostCell(a)} | ${hostCell(f)} | ${ms(h.local)} | ${ms(a.local)}${Number.isFinite(a.rusage) && a.rusage !== a.local ? ` (${ms(a.rusage)})` : ''} | ${ms(f.local)} |`);
    }
    p();
  }
  return `${out.join('\n')}\n`;
}

const hostCell = (c: Cpu) => (Number.isFinite(c.host) ? `${ms(c.host)} (${ms(c.hostMax)})` : 'n/a');

/** How busy the machine was over the timed runs, and how much of that the measured runs account for. */
function loadText(i: ReportInput, rows: Row[]): string {
  const l = i.timedLoad!;
  let ours = 0;
  let complete = rows.length > 0;
  for (const r of i.samples) {
    for (const [tool] of TOOLS) {
      const c = r[tool].cpu;
      const local = c?.local.cgroupMs ?? c?.local.rusageMs ?? null;
      const hosts = c?.hostMs ?? null;
      if (local === null || hosts === null || hosts.some((v) => v === null)) complete = false;
      else ours += local + (hosts as number[]).reduce((a, b) => a + b, 0);
    }
  }
  return `Over the timed runs (${(l.seconds / 60).toFixed(1)} min) the machine's cores were ${l.busyPct.toFixed(0)}% busy (/proc/stat; ${l.busyCoreSeconds.toFixed(0)} core-seconds; steal ${l.stealPct.toFixed(1)}%)` +
    (complete ? `, of which the timed tools and their hosts, as measured below, ${(ours / 1000).toFixed(0)} core-seconds; the rest is other work on the machine (other people's tests, dockerd, this benchmark's own process).` : '.');
}

/**
 * What a no-op release costs in CPU: on each host (its counter over the run), and on this
 * machine (the tool's process tree), with how it is measured and what the numbers include.
 */
function cpuSection(i: ReportInput, rows: Row[]): string[] {
  const lines: string[] = ['## CPU: what a no-op release costs the hosts and this machine', ''];
  const info = i.hostCpu;
  if (!info) {
    lines.push('Not measured: this run predates the CPU counters (re-rendered from its saved measurements).', '');
    return lines;
  }
  const n1 = rows[0]!;
  if ('error' in info) lines.push(`Host CPU: not measured (${info.error}).`, '');
  else {
    const where =
      info.nestedOutside > 0
        ? `The app's containers, which each host's own dockerd runs, are **not** inside the host container's cgroup here: the hosts run with \`--cgroupns host\` and the machine's /sys/fs/cgroup mounted, so the inner dockerd puts its containers beside the host (\`/docker/<id>\`), not below it. ` +
          `They are found from the process tree (a process outside every host's cgroup whose parent chain reaches one in host H's, like the app under H's containerd-shim, is H's) and their counters are added: ${info.nestedOutside} per host (median); host 1 is \`${info.example.join('` + `')}\`.` +
          (info.nestedInside > 0 ? ` ${info.nestedInside} nested cgroup(s) per host are below the host's and already in its counter.` : '')
        : info.nestedInside > 0
          ? `The app's containers, which each host's own dockerd runs, are in cgroups below the host container's (${info.nestedInside} per host), so its counter already includes them (hierarchical).`
          : 'No nested containers were found running on the hosts.';
    lines.push(
      `**Host CPU** is each host container's CPU counter (${info.method}; the cgroup from \`docker inspect\`'s PID and /proc/PID/cgroup), read right before a tool starts and right after it exits: everything that host ran meanwhile (sshd, each login's shell and commands, \`timeout\`, sudo, Python for Ansible, the docker CLI, dockerd, containerd, the app). ` +
        `${where}${info.stable ? '' : ' **The set of nested cgroups changed during the run: some host numbers may miss a container.**'} ` +
        'Per host is the fleet\'s total divided by the number of hosts (in parentheses: the busiest host\'s); each is the median over runs.',
    );
    lines.push('');
    const idle = i.idle?.find((d) => d.hosts === n1.n);
    if (idle) {
      const rate = median(idle.msPerS);
      lines.push(
        `Not all of it is the tool's: an idle host uses ${ms(rate)} ms of CPU per second (median over hosts, read for 3 s with nothing running before the timed runs at ${n1.n} host(s); ` +
          `${(i.idle ?? []).map((d) => `${ms(median(d.msPerS))} at ${d.hosts}`).join(', ')}), so at ${n1.n} host(s) about ${ms(rate * n1.hoist / 1000)} ms of hoist's, ${ms(rate * n1.ansible / 1000)} ms of Ansible's and ${ms(rate * n1.floor / 1000)} ms of the floor's number per host is background (idle rate × the run's wall time).`,
      );
      lines.push('');
    }
    if (i.sshCheck) {
      const c = i.sshCheck;
      lines.push(
        `For scale: one plain OpenSSH login running \`true\` (\`ssh deploy@host true\` from this machine, median of 3) costs host 1 ${ms(c.hostMs)} ms of CPU by the client's exit and ${ms(c.tailMs)} ms in the second after it (idle alone: ${ms(c.idleMsPerS)} ms per second), and ${ms(c.localMs)} ms here. ` +
          'The timed runs stop reading at the tool\'s exit, so what sshd still does after a session is gone is not counted, for every tool alike.',
      );
      lines.push('');
    }
  }
  const local =
    info.localMethod === 'cgroup'
      ? 'from a cpuacct cgroup made for each run, which the tool is started in (through `sh`, which moves itself in and execs GNU time and the tool): user + system time of the tool and of every process it started, exact; it includes that wrapper (the start-up table\'s `true`). ' +
        'For hoist and the floor that is one Node process with its threads. For Ansible it is ansible-playbook, its forked workers, every ssh client and the ssh ControlPersist masters, which detach and are never waited for, so wait4\'s rusage (GNU time `%U` + `%S`, in parentheses) misses their share.'
      : info.localMethod === 'rusage'
        ? 'user + system time from wait4 (GNU time `%U` + `%S`, 10 ms steps): the tool and the children it waited for. For Ansible that misses the ssh ControlPersist masters, which detach and are never waited for (no cgroup could be made here to count them).'
        : 'not measured (neither a cgroup nor GNU time here).';
  lines.push(`**CPU here** (this machine): ${local}`);
  lines.push('');
  lines.push('| hosts | hoist: host CPU per host | Ansible: host CPU per host | floor: host CPU per host | hoist / floor (host CPU) | Ansible / hoist (host CPU) | hoist here | Ansible here | floor here |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const { hoist: h, ansible: a, floor: f } = r.cpu;
    lines.push(
      `| ${r.n} | ${hostCell(h)} | ${hostCell(a)} | ${hostCell(f)} | ${x(ratio(h.host, f.host))} | ${x(ratio(a.host, h.host))} | ${ms(h.local)} | ${ms(a.local)}${Number.isFinite(a.rusage) && a.rusage !== a.local ? ` (${ms(a.rusage)})` : ''} | ${ms(f.local)} |`,
    );
  }
  lines.push('', '(ms, medians over runs.)', '');
  const nestedRows = rows.filter((r) => TOOLS.some(([t]) => Number.isFinite(r.cpu[t].nested)));
  if (nestedRows.length && !('error' in info) && info.nestedOutside > 0) {
    lines.push(
      'Of the host CPU per host, the app\'s containers (the nested cgroups added above) took: ' +
        nestedRows.map((r) => `at ${r.n} host(s) ${TOOLS.map(([t, name]) => `${name} ${ms(r.cpu[t].nested)} ms`).join(', ')}`).join('; ') +
        '. The rest is the host container itself: sshd and what each login runs, dockerd, containerd.',
      '',
    );
  }
  return lines;
}

/** One line per target: what was measured, met or missed, by how much. */
function verdicts(rows: Row[], first: Row, last: Row): string[] {
  const lines: string[] = ['| target | measured | verdict |', '| --- | --- | --- |'];
  const at30 = rows.find((r) => r.n === 30) ?? last;
  const speedup = ratio(at30.ansible, at30.hoist);
  lines.push(
    `| hoist ≥ 20× faster than Ansible at 30 hosts | Ansible / hoist = ${x(speedup)} at ${at30.n} hosts | ${at30.n !== 30 ? 'not measured at 30 hosts' : speedup >= 20 ? 'met' : `missed: ${x(speedup)} is ${(20 / speedup).toFixed(2)}× short of 20×`} |`,
  );
  for (const r of rows) {
    const q = ratio(r.hoist, r.floor);
    const inside = ratio(r.pipeline, r.floor);
    lines.push(
      `| hoist within 1.5× of the floor (${r.n} host${r.n > 1 ? 's' : ''}) | hoist / floor = ${x(q)} (the pipeline alone, without process startup: ${x(inside)}) | ${q <= 1.5 ? 'met' : `missed by ${x(q / 1.5)}: ${s(r.hoist - 1.5 * r.floor)} s over 1.5 × floor`} |`,
    );
  }
  if (rows.length > 1) {
    const gh = ratio(last.hoist, first.hoist);
    const gf = ratio(last.floor, first.floor);
    const added = last.hoist - first.hoist;
    const addedFloor = last.floor - first.floor;
    lines.push(
      `| hoist's time grows from ${first.n} to ${last.n} hosts no faster than the floor's | hoist ${x(gh)} (${signed(added)} s), floor ${x(gf)} (${signed(addedFloor)} s) | ${gh <= gf ? 'met as a ratio' : `missed: ${x(gh / gf)} the floor's growth`}${added > addedFloor && addedFloor > 0 ? `; in added seconds hoist grows ${x(ratio(added, addedFloor))} as much as the floor` : ''} |`,
    );
  }
  const cpuRows = rows.some((r) => Number.isFinite(r.cpu.hoist.host) || Number.isFinite(r.cpu.floor.host)) ? rows : [];
  if (!cpuRows.length) lines.push('| host CPU per host of a no-op release ≤ 2× the floor\'s | not measured in this run | not measured |');
  for (const r of cpuRows) {
    const h = r.cpu.hoist.host;
    const f = r.cpu.floor.host;
    const q = ratio(h, f);
    lines.push(
      `| host CPU per host of a no-op release ≤ 2× the floor's (${r.n} host${r.n > 1 ? 's' : ''}) | ` +
        (Number.isFinite(q) ? `hoist ${ms(h)} ms, floor ${ms(f)} ms per host: hoist / floor = ${x(q)} | ${q <= 2 ? 'met' : `missed by ${x(q / 2)}: ${ms(h - 2 * f)} ms per host over 2 × floor`} |` : 'not measured in this run | not measured |'),
    );
  }
  const mem = at30.peakMiB;
  const memMB = mem === null ? NaN : (mem * 2 ** 20) / 1e6;
  lines.push(
    `| peak memory at 30 hosts under 150 MB | ${mib(mem)} at ${at30.n} hosts | ${mem === null ? 'not measured' : at30.n !== 30 ? 'not measured at 30 hosts' : memMB < 150 ? 'met' : `missed by ${(memMB - 150).toFixed(0)} MB`} |`,
  );
  return lines;
}

/**
 * Why hoist is where it is against the floor, in numbers from the traced runs: its fixed
 * startup, how many commands it sends per host, and what its probes make the hosts do.
 */
function why(i: ReportInput, rows: Row[]): string[] {
  const small = i.diagnoses[0];
  const big = i.diagnoses[i.diagnoses.length - 1];
  if (!small || !big) return [];
  const r1 = rows.find((r) => r.n === small.hosts);
  const rN = rows.find((r) => r.n === big.hosts);
  const lines: string[] = ['Why, in numbers from the traced runs and the probe pieces below:', ''];
  if (r1) {
    lines.push(
      `- **Fixed cost before any host is contacted.** hoist's process needs ${s(small.toFirstConnectMs)} s to its first SSH connect (\`node -e 0\` alone: ${s(i.startup.nodeMs)} s; \`hoist --version\`: ${s(i.startup.hoistVersionMs)} s, i.e. hoist's module graph). ` +
        `At ${r1.n} host(s) that alone is ${x(ratio(small.toFirstConnectMs, r1.floor))} the floor's whole run (${s(r1.floor)} s).`,
    );
  }
  const lockCmds = big.commands.filter((c) => c.cmd.includes('.hoist')).length;
  // The trace keeps 90 characters of each command: the lock's acquire that carries the first
  // probe begins `… || exit 1; if ln -s` (the earlier one did not carry it).
  const carries = big.commands.some((c) => c.cmd.includes('chmod 700 .hoist || exit 1; if ln -s'));
  const heavy = [...big.commands].sort((a, b) => b.medianMs - a.medianMs)[0];
  lines.push(
    `- **More and heavier commands per host.** hoist sends ${big.commandsPerHost} commands per host where the floor sends ${i.tasks} \`true\`s` +
      (lockCmds
        ? carries
          ? ` (the first takes the deploy lock in ~/.hoist and carries ${big.commandsPerHost <= 2 ? "every task's probe" : "the first task's probe"}; the last frees it and appends the audit line). `
          : ` (${lockCmds} of them take and free the deploy lock in ~/.hoist, with the audit line). `
        : '. ') +
      `At ${big.hosts} host(s) the commands take ${s(big.commandSumMs)} s per host added up` +
      (heavy
        ? `; the heaviest is \`${heavy.cmd.slice(0, 40).replace(/`/g, "'")}…\` at ${s(heavy.medianMs)} s (${
            big.commandsPerHost <= 2 && heavy.cmd.includes('.hoist')
              ? "the lock with every task's probe: git-sync's release folders, docker-up's one curl to Docker's API socket and each slot's health port, caddy-reload's file reads, cron-install's crontab -l"
              : "docker-up's probe: the app's containers and release images from Docker's API socket with curl, and the app's health through each slot's port"
          }; each answer costs the host's dockerd or app some CPU; see the pieces table).`
        : '.'),
  );
  if (rN && r1 && rN !== r1) {
    lines.push(
      `- **That work grows with the fleet on shared cores.** Every host here is a container on the same ${i.machine.cores} cores, so the hosts' own work (sshd, shells and their commands, dockerd) of ${rN.n} hosts competes for them: ` +
        `hoist's pipeline goes from ${s(r1.pipeline)} s to ${s(rN.pipeline)} s, the floor (whose \`true\` costs the hosts almost nothing) from ${s(r1.floor)} s to ${s(rN.floor)} s. ` +
        'On real VPSs each host has its own CPU and this part would not add up.',
    );
  }
  const engine = big.hostSpanMs - big.commandSumMs - big.handshakeMs;
  lines.push(
    `- **Not the engine.** At ${big.hosts} host(s) a host's span from connect to its last command is ${s(big.hostSpanMs)} s: handshake ${s(big.handshakeMs)} s, its commands ${s(big.commandSumMs)} s, ` +
      `and ${s(Math.max(0, engine))} s for everything else hoist does between them (parsing, planning, events, listr2). The gap to the floor is what the probes make the hosts do, and hoist's startup.`,
  );
  lines.push('');
  return lines;
}
