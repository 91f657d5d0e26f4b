// `hoist status [--wait S] [--json F|-]`: every selected host checked at once (bounded by
// --concurrency), printed as a table or JSON. Exit 0 when every host is healthy, 3 when nothing is
// wrong but health checks that have not passed yet since a start ("starting"), else 1: cron or CI
// can alert on it. --wait S looks again every 2 s, over the same connections, at the hosts not
// yet healthy, until all are or S seconds have passed; then reports the last look.
import { writeFileSync } from 'node:fs';
import { EXIT } from '../errors.ts';
import { printable, printableJson } from '../printable.ts';
import { executorOptions } from '../exec/executor-options.ts';
import { statusTable } from '../render/status-table.ts';
import { watchdogText } from '../render/watchdog-text.ts';
import type { HostStatus } from '../status/host-status.ts';
import type { StatusArgs } from './args.ts';
import { loadSelectedConfig } from './select-hosts.ts';
import { mapLimit } from './map-limit.ts';

/** Between two looks of --wait. */
const WAIT_STEP_MS = 2000;

export async function runStatus(args: StatusArgs): Promise<number> {
  const config = loadSelectedConfig(args);
  // The checks (docker-up's, caddy-reload's and dns-verify's probes) and the connection load once
  // the settings are good: a config error is told without them.
  const [{ SshExecutor }, { hostStatus }] = await Promise.all([import('../exec/ssh-executor.ts'), import('../status/host-status.ts')]);
  const execs = config.hosts.map((host) => new SshExecutor(executorOptions(host, 'deploy', args)));
  const deadline = Date.now() + (args.wait ?? 0) * 1000;
  let statuses: HostStatus[] = [];
  try {
    const look = (only: (i: number) => boolean) =>
      mapLimit(config.hosts.map((host, i) => ({ host, i })), args.concurrency, async ({ host, i }) => (only(i) ? hostStatus(host, execs[i]!) : statuses[i]!));
    statuses = await look(() => true);
    // Bounded by the deadline: each look is itself bounded by the probes' own timeouts.
    for (let n = 0; args.wait && n < args.wait * 2 + 1 && !statuses.every((s) => s.healthy) && Date.now() + WAIT_STEP_MS <= deadline; n++) {
      // On stderr, so `--json -` stays one document: who is waited for, and for how long at most.
      const waiting = statuses.filter((s) => !s.healthy).map((s) => `${printable(s.name)} ${s.state}`);
      process.stderr.write(`status: not healthy yet: ${waiting.join(', ')}; looking again in ${WAIT_STEP_MS / 1000} s (at most ${Math.ceil((deadline - Date.now()) / 1000)} s more)\n`);
      await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
      statuses = await look((i) => !statuses[i]!.healthy);
    }
  } finally {
    await Promise.all(execs.map((e) => e.close()));
  }
  const json = `${printableJson({ hoist: 1, checkedAt: new Date().toISOString(), hosts: statuses })}\n`;
  if (args.json === '-') process.stdout.write(json);
  else {
    if (args.json) writeFileSync(args.json, json);
    process.stdout.write(`${statusTable(statuses)}\n`);
    const alerts = watchdogText(statuses);
    if (alerts) process.stdout.write(`\n${alerts}\n`);
  }
  if (statuses.every((s) => s.healthy)) return EXIT.ok;
  return statuses.every((s) => s.state !== 'unhealthy') ? EXIT.starting : EXIT.taskFailed;
}
