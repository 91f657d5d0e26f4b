// `hoist status`'s view of the host's watchdog (tasks/ssh-bootstrap/watchdog-script.ts): its last
// alerts per app, when it last ran and the last thing it logged (why it failed, a post not
// delivered). Read with the other status probes, in the same round trip; parsed here.
import { sh, type Cmd } from '../shell-quote.ts';

/** How many alerts per app (and for the host itself) status shows. */
export const ALERTS_PER_APP = 3;

export interface LastAlert {
  since: string;
  /** The app, or '-' for the host (disk). */
  app: string;
  check: string;
  from: string;
  to: string;
  /** delivered | undelivered | kept (no NOTIFY_URL). */
  outcome: string;
  text: string;
}

export interface WatchdogView {
  /** When it last ran to the end (null: never, or not installed). */
  lastRun: string | null;
  /** The last line of its log, if any. */
  lastLog: string | null;
  alerts: LastAlert[];
}

export function lastAlertsCommand(): Cmd {
  return sh`cd && w=.hoist/watchdog; printf 'run %s\\n' "$(head -c 64 $w/last-run 2>/dev/null)"; printf 'log %s\\n' "$(tail -n 1 $w/log 2>/dev/null | head -c 600)"; tail -n 200 $w/alerts 2>/dev/null | sed 's/^/alert\t/'; echo end`;
}

export function parseLastAlerts(r: { stdout: string; code: number }): WatchdogView | null {
  if (r.code !== 0 || !/^end$/m.test(r.stdout)) return null;
  const view: WatchdogView = { lastRun: null, lastLog: null, alerts: [] };
  const all: LastAlert[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('run ')) view.lastRun = line.slice(4).trim() || null;
    else if (line.startsWith('log ')) view.lastLog = line.slice(4).trim() || null;
    else if (line.startsWith('alert\t')) {
      const [, since, app, check, from, to, outcome, text] = line.split('\t');
      if (since && app && check && to && text) all.push({ since, app, check, from: from ?? '-', to, outcome: outcome ?? '', text });
    }
  }
  // The last few of each app, newest last (the file is in the order they happened).
  const byApp = new Map<string, LastAlert[]>();
  for (const a of all) byApp.set(a.app, [...(byApp.get(a.app) ?? []), a].slice(-ALERTS_PER_APP));
  view.alerts = [...byApp.values()].flat();
  return view;
}
