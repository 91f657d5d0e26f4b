// `hoist status` for people: one line per host, a column per check, the details of what is
// wrong below the table. The release and the details come from the host (a link's target, a
// command's stderr): escaped (lib/printable.ts), the cells before they are measured.
import { printable, printableLines } from '../printable.ts';
import type { HostStatus } from '../status/host-status.ts';

export function statusTable(hosts: HostStatus[]): string {
  const mark = (ok: boolean) => (ok ? 'ok' : 'NO');
  const rows = [['HOST', 'REACHABLE', 'RELEASE', 'CONTAINERS', 'DNS', 'CADDY', 'LOCK']];
  const problems: string[] = [];
  for (const h of hosts) {
    rows.push([h.name, mark(h.reachable.ok), h.release === null ? '-' : printable(h.release), mark(h.containers.ok), mark(h.dns.ok), mark(h.caddy.ok), h.lock.held ? 'HELD' : 'free']);
    for (const [what, c] of [['reachable', h.reachable], ['containers', h.containers], ['dns', h.dns], ['caddy', h.caddy]] as const) {
      if (!c.ok) problems.push(`${h.name}: ${what}: ${printableLines(c.detail)}`);
    }
    if (h.lock.held) problems.push(`${h.name}: lock: held by ${printableLines(h.lock.detail)}`);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
  const healthy = hosts.filter((h) => h.healthy).length;
  return [...lines, ...(problems.length ? ['', ...problems] : []), '', `${healthy} of ${hosts.length} hosts healthy`].join('\n');
}
