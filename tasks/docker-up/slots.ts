// Blue/green slots: two compose projects per app on two loopback ports. A new release starts on
// the slot the live one is not using, so the live one keeps serving until the new one is healthy.
import type { Settings } from '../../lib/config/settings.ts';
import type { SlotPorts } from '../../lib/release/app-ports.ts';
import { imageRef } from './image-name.ts';

export type Slot = 'blue' | 'green';

export const other = (slot: Slot): Slot => (slot === 'blue' ? 'green' : 'blue');

/** BLUE_PORT/GREEN_PORT when the user set them; null when hoist picks them on the host. */
export function explicitPorts(s: Pick<Settings, 'bluePort' | 'greenPort'>): SlotPorts | null {
  return s.bluePort !== null && s.greenPort !== null ? { blue: s.bluePort, green: s.greenPort } : null;
}

/** Compose project name of an app's slot: containers, networks and volumes are scoped by it. */
export function projectOf(app: string, slot: Slot): string {
  return `${app}-${slot}`;
}

/** Paths (relative to the deploy user's home) of the slot state docker-up and caddy-reload share. */
export function slotPaths(app: string) {
  const root = `apps/${app}`;
  return {
    /** The slot traffic should go to: written by docker-up once its slot is healthy. */
    active: `${root}/active-slot`,
    /** hoist's compose override per slot: ports on 127.0.0.1 and the release's image name. */
    override: (slot: Slot) => `${root}/slots/${slot}.yaml`,
    dir: `${root}/slots`,
  };
}

/**
 * The override hoist adds to the app's compose file for one slot: APP_SERVICE published on the
 * slot's loopback port only (Caddy is the way in), its image tagged by release so a rollback
 * finds it without a rebuild, restarted by dockerd (at a reboot, after a crash) unless hoist
 * stopped it, and a label saying which release the container runs.
 */
export function overrideYaml(o: { service: string; port: number; appPort: number; app: string; release: string; env?: { path: string; sha256: string } | null; volumes?: string[] }): string {
  return [
    '# Written by hoist for one blue/green slot; do not edit (it is rewritten on every release).',
    'services:',
    // Quoted: YAML would read a service named `on`, `no`, `null` or `1` as a boolean, null or
    // number, and compose would then not merge this into the app's service of that name.
    `  ${JSON.stringify(o.service)}:`,
    `    image: "${imageRef(o.app, o.service, o.release)}"`,
    // Without a policy a rebooted VPS comes back without its app (proven on a systemd test host:
    // vps-debian13.test.ts). The retired slot is removed, not stopped, so only the live one returns.
    '    restart: "unless-stopped"',
    // The app's settings (APP_ENV_FILE, as shared/.env) in its container's environment, with no
    // edit to the user's compose file; compose's own ${'${VAR}'} substitution reads the same file as
    // the project's .env. Its hash is a label, so a changed value is a change to release.
    ...(o.env ? ['    env_file:', `      - ${JSON.stringify(o.env.path)}`] : []),
    '    ports:',
    `      - "127.0.0.1:${o.port}:${o.appPort}"`,
    '    labels:',
    `      hoist.release: "${o.release}"`,
    ...(o.env ? [`      hoist.env: "${o.env.sha256}"`] : []),
    // The app's named volumes, one Docker volume per app whichever slot runs (docker-up/volumes.ts).
    ...(o.volumes ?? []),
    '',
  ].join('\n');
}
