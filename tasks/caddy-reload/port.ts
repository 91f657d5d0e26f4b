// Which loopback port Caddy sends the app's traffic to. A small interface, so the release
// pipeline can hand caddy-reload the slot docker-up just started; by default it is the slot the
// host's state file names (~DEPLOY_USER/apps/APP/active-slot: blue or green), read in the probe.
import type { TaskInput } from '../../lib/engine/task.ts';
import { hostSources, slotFromHost } from '../../lib/release/host-value.ts';

export interface PortInput extends TaskInput {
  /** The state file's content, trimmed; null when it does not exist. */
  activeSlot: string | null;
}

/** Called at probe time (right before apply, after earlier tasks applied), not in `want`. */
export type PortSource = (input: PortInput) => number;

/** The state file, relative to the deploy user's home. */
export function activeSlotFile(app: string): string {
  return `apps/${app}/active-slot`;
}

/** blue → BLUE_PORT, green → GREEN_PORT, no file (or an empty one) → BLUE_PORT; anything else is refused. */
export const portOfActiveSlot: PortSource = ({ host, activeSlot }) => {
  const s = host.settings;
  const slot = slotFromHost(activeSlot ?? '', hostSources(s.appName, `~${s.deployUser}`).active);
  return slot === 'green' ? s.greenPort : s.bluePort;
};
