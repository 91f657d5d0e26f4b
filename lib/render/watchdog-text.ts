// Under `hoist status`'s table: each host's watchdog, its last alerts per app (newest last), when
// it last ran, and its last log line when it has one. Text from the host is escaped.
import { printable } from '../printable.ts';
import type { WatchdogView } from '../status/last-alerts.ts';

export function watchdogText(hosts: { name: string; watchdog?: WatchdogView | null }[]): string {
  const out: string[] = [];
  for (const h of hosts) {
    const w = h.watchdog;
    if (!w || (!w.lastRun && !w.alerts.length && !w.lastLog)) continue;
    out.push(`${h.name}: watchdog ${w.lastRun ? `last ran ${printable(w.lastRun)}` : 'has not run yet'}${w.alerts.length ? '; last alerts:' : '; no alerts'}`);
    for (const a of w.alerts) out.push(`  ${printable(a.app === '-' ? 'host' : a.app)}: ${printable(a.to)} since ${printable(a.since)}${a.outcome === 'undelivered' ? ' (not delivered)' : ''}: ${printable(a.text)}`);
    if (w.lastLog) out.push(`  watchdog log: ${printable(w.lastLog)}`);
  }
  return out.join('\n');
}
