// A watchdog alert as a Message: the fields the host's awk program (tasks/ssh-bootstrap/
// watchdog-script.ts DECIDE) writes, so a unit test can hold its bodies equal to shapeBody's.
import type { Message } from './message.ts';

export interface Alert {
  host: string;
  /** The app, or '-' for the host itself (disk). */
  app: string;
  check: 'app' | 'disk' | 'certificate';
  /** '-' when first seen. */
  from: string;
  to: string;
  since: string;
  title: string;
}

/** Where to look, as the alert says it. */
export function lookCommand(host: string, app: string): string {
  return app === '-' ? `look: hoist status --hosts ${host}` : `look: hoist logs --hosts ${host} --since 15m (app ${app}); hoist status --hosts ${host}`;
}

export function alertMessage(a: Alert): Message {
  const look = lookCommand(a.host, a.app);
  return {
    kind: 'alert',
    title: a.title,
    lines: [look],
    fields: { host: a.host, app: a.app, check: a.check, state: a.to, previous: a.from, since: a.since, look },
  };
}
