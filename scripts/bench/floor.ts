// One timed run of the floor (floor.mjs) as its own process, spawn to exit, like hoist's.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestHost } from '../../test/harness/testbed.ts';
import type { HostCpuReader } from './host-cpu.ts';
import { measure, runCpu, type RunCpu } from './measure.ts';

const FLOOR = join(dirname(fileURLToPath(import.meta.url)), 'floor.mjs');

export interface FloorSample {
  wallMs: number;
  /** CPU here and on each host (absent in runs saved before it was measured). */
  cpu?: RunCpu;
}

export async function floorRun(o: { dir: string; hosts: TestHost[]; user: string; keyPath: string; commands: number; tag: string; hostCpu?: HostCpuReader }): Promise<FloorSample> {
  const config = join(o.dir, `floor-${o.tag}.json`);
  const hosts = o.hosts.map((h) => ({ name: h.name, host: '127.0.0.1', port: h.port, hostKey: h.knownHostsLine.split(' ')[2] }));
  writeFileSync(config, JSON.stringify({ user: o.user, keyPath: o.keyPath, commands: o.commands, hosts }));
  const r = await measure(process.execPath, [FLOOR, config], { cwd: o.dir, timeoutMs: 3 * 60_000, hosts: o.hostCpu });
  if (r.code !== 0) throw new Error(`the floor failed on ${o.hosts.length} host(s) (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  return { wallMs: r.wallMs, cpu: runCpu(r) };
}
