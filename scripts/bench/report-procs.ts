// The report's section on processes: how many each host created during a no-op release
// (host-pids.ts), per tool, against the floor's, with the idle background and, from one traced
// run per tool (exec-trace.ts), which programs they were. Counts, unlike times, do not depend on
// how busy the shared cores were (issue #20).
import type { ExecTrace } from './exec-trace.ts';
import type { RunCpu } from './measure.ts';
import { median, ratio } from './stats.ts';

export interface PidsInfo {
  /** Why the counters could not be read; absent when they were. */
  error?: string;
  /** Idle hosts before each fleet size's runs: PIDs per second (per host) and what two back-to-back readings showed. */
  idle: { hosts: number; perS: number[]; backToBack: number[] }[];
  /** One traced no-op run at one host per tool (not timed, not counted above). */
  traces: { tool: string; trace: ExecTrace; counted: number | null }[];
}

interface Sample {
  hosts: number;
  hoist: { cpu?: RunCpu };
  ansible: { cpu?: RunCpu };
  floor: { cpu?: RunCpu };
}

const TOOLS = [['hoist', 'hoist'], ['ansible', 'Ansible'], ['floor', 'floor']] as const;

/** Per host (the fleet's total / hosts) and the largest host's, medians over runs; NaN when not counted. */
function counted(samples: Sample[], tool: 'hoist' | 'ansible' | 'floor'): { perHost: number; max: number } {
  const per: number[] = [];
  const max: number[] = [];
  for (const s of samples) {
    const v = s[tool].cpu?.hostPids;
    if (!v || v.some((x) => x === null)) continue;
    per.push((v as number[]).reduce((a, b) => a + b, 0) / v.length);
    max.push(Math.max(...(v as number[])));
  }
  return { perHost: per.length ? median(per) : NaN, max: max.length ? median(max) : NaN };
}

const n0 = (v: number) => (Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : 'n/a');
const x = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : 'n/a');

export function procsSection(pids: PidsInfo | undefined, samples: Sample[], hosts: number[], busy: { before: string; after: string }): string[] {
  const lines = ['## Processes: what a no-op release makes each host create', ''];
  if (!pids) return [...lines, 'Not counted: this run predates the PID counters (re-rendered from its saved measurements).', ''];
  if (pids.error) return [...lines, `Not counted: ${pids.error}.`, ''];
  lines.push(
    'Each host is a container and so its own PID namespace, where Linux hands out PIDs in order. Read right before a tool starts and right after it exits, the last PID handed out ' +
      '(a process started in the host\'s PID namespace with `nsenter -p`, our own `/bin/sh` printing its `$$`) gives every process and thread the host created meanwhile: sshd\'s, the logins\' shells and commands, ' +
      'the docker CLI, new threads of dockerd and containerd, and the app\'s processes in its containers (they have a PID in the host\'s namespace too). ' +
      'The second reading itself is 1 and is taken off; the CPU counters of the section above are read around the same runs. Counts do not depend on how busy the cores are.',
    '',
  );
  const idle = pids.idle.map((d) => `${d.hosts} host(s): ${n0(median(d.perS))} per second per host, two readings back to back ${n0(median(d.backToBack))}`);
  if (idle.length) lines.push(`Idle hosts (read over 3 s with nothing running, before each fleet size's runs): ${idle.join('; ')}. So the background in a count below is its rate × the run's seconds, about 0 here.`, '');
  lines.push('| hosts | hoist per host (largest host) | Ansible per host (largest host) | floor per host (largest host) | hoist / floor | Ansible / floor | target: hoist ≤ 2× floor |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const n of hosts) {
    const at = samples.filter((s) => s.hosts === n);
    const [h, a, f] = TOOLS.map(([t]) => counted(at, t));
    const r = ratio(h!.perHost, f!.perHost);
    lines.push(`| ${n} | ${n0(h!.perHost)} (${n0(h!.max)}) | ${n0(a!.perHost)} (${n0(a!.max)}) | ${n0(f!.perHost)} (${n0(f!.max)}) | ${x(r)} | ${x(ratio(a!.perHost, f!.perHost))} | ${Number.isFinite(r) ? (r <= 2 ? 'met' : `missed: ${x(r)}`) : 'n/a'} |`);
  }
  lines.push('', `(processes and threads, medians over runs.) The machine meanwhile, as above: before the timed runs ${busy.before}; after: ${busy.after}.`, '');
  if (pids.traces.length) {
    lines.push(
      'Which processes, from one run per tool at 1 host (not one of the runs above): strace attached here to the host\'s sshd listener, following every child, records each fork/clone and each program run ' +
        '(`-e trace=execve,clone,clone3,fork,vfork`). Only sshd\'s tree is traced; "counted" is the same run\'s PID counter, so the difference is what the rest of the host (dockerd, the app) created.',
      '',
      '| tool | counted | in sshd\'s tree | of which forks that ran no program (subshells, sshd\'s own) | programs run (times) |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const t of pids.traces) {
      lines.push(`| ${t.tool} | ${t.counted ?? 'n/a'} | ${t.trace.processes}${t.trace.threads ? ` + ${t.trace.threads} threads` : ''} | ${t.trace.forksWithoutExec} | ${t.trace.execs.map((e) => `${e.program} ${e.count}`).join(', ')} |`);
    }
    lines.push('');
  }
  return lines;
}
