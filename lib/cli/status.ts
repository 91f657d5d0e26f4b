// `hoist status [--json F|-]`: every selected host checked at once (bounded by --concurrency),
// printed as a table or JSON. Exit 1 when any host is not healthy, so cron or CI can alert on it.
import { writeFileSync } from 'node:fs';
import { EXIT } from '../errors.ts';
import { printableJson } from '../printable.ts';
import { executorOptions } from '../exec/executor-options.ts';
import { statusTable } from '../render/status-table.ts';
import { watchdogText } from '../render/watchdog-text.ts';
import type { HostStatus } from '../status/host-status.ts';
import type { StatusArgs } from './args.ts';
import { loadSelectedConfig } from './select-hosts.ts';
import { mapLimit } from './map-limit.ts';

export async function runStatus(args: StatusArgs): Promise<number> {
  const config = loadSelectedConfig(args);
  // The checks (docker-up's, caddy-reload's and dns-verify's probes) and the connection load once
  // the settings are good: a config error is told without them.
  const [{ SshExecutor }, { hostStatus }] = await Promise.all([import('../exec/ssh-executor.ts'), import('../status/host-status.ts')]);
  const statuses: HostStatus[] = await mapLimit(config.hosts, args.concurrency, async (host) => {
    const exec = new SshExecutor(executorOptions(host, 'deploy', args));
    try {
      return await hostStatus(host, exec);
    } finally {
      await exec.close();
    }
  });
  const json = `${printableJson({ hoist: 1, checkedAt: new Date().toISOString(), hosts: statuses })}\n`;
  if (args.json === '-') process.stdout.write(json);
  else {
    if (args.json) writeFileSync(args.json, json);
    process.stdout.write(`${statusTable(statuses)}\n`);
    const alerts = watchdogText(statuses);
    if (alerts) process.stdout.write(`\n${alerts}\n`);
  }
  return statuses.every((s) => s.healthy) ? EXIT.ok : EXIT.taskFailed;
}
