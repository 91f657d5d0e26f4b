// Which loopback port Caddy sends the app's traffic to. A small interface, so the release
// pipeline can hand caddy-reload the slot docker-up just started; by default it is the slot the
// host's state file names (~DEPLOY_USER/apps/APP/active-slot: blue or green), read in the probe,
// at the port the host records for that slot (apps/APP/ports, written by docker-up).
import type { TaskInput } from '../../lib/engine/task.ts';
import { portsFile, type SlotPorts } from '../../lib/release/app-ports.ts';
import { CaddyError } from './types.ts';
import { hostSources, slotFromHost } from '../../lib/release/host-value.ts';

export interface PortInput extends TaskInput {
  /** The state file's content, trimmed; null when it does not exist. */
  activeSlot: string | null;
  /** The app's slot ports as recorded on the host; null when there is no record. */
  recordedPorts: SlotPorts | null;
}

/** Called at probe time (right before apply, after earlier tasks applied), not in `want`. */
export type PortSource = (input: PortInput) => number;

/** The state file, relative to the deploy user's home. */
export function activeSlotFile(app: string): string {
  return `apps/${app}/active-slot`;
}

/**
 * The active slot's port (no active-slot file, or an empty one: blue): the host's record first
 * (what docker-up started the slot on), else BLUE_PORT/GREEN_PORT; anything else is refused.
 */
export const portOfActiveSlot: PortSource = ({ host, activeSlot, recordedPorts }) => {
  const s = host.settings;
  const slot = slotFromHost(activeSlot ?? '', hostSources(s.appName, `~${s.deployUser}`).active) ?? 'blue';
  if (recordedPorts) return recordedPorts[slot];
  const set = slot === 'green' ? s.greenPort : s.bluePort;
  if (set !== null) return set;
  throw new CaddyError(`${s.appName} has no ports on this host yet (~${s.deployUser}/${portsFile(s.appName)}): the release pipeline's docker-up picks and records them; run it first`);
};
