// Each hoist app on a host as `hoist status` shows it, pure (from apps-probe's fact): its live
// release, active slot, ports, whether its live slot serves (docker-up's own slot check) and its
// disk use. The settings' app is judged by its HEALTH_PATH (2xx/3xx, as docker-up's gate);
// another app's HEALTH_PATH is in its own settings, so its live port must answer `/` with any
// status below 500 (a 404 there is an app that answers).
import type { SlotPorts } from '../release/app-ports.ts';
import type { SlotContainer } from '../../tasks/docker-up/probe.ts';
import { slotProblem } from '../../tasks/docker-up/slot-health.ts';
import { legacyImageRepo, parseImageRef } from '../../tasks/docker-up/image-name.ts';
import type { Slot } from '../../tasks/docker-up/slots.ts';
import type { AppFolder, AppsFact } from './apps-probe.ts';
import type { AppDisk, DiskUse } from './disk-use.ts';

export interface AppCheck {
  ok: boolean;
  detail: string;
}

export interface AppStatus {
  name: string;
  release: string | null;
  slot: Slot | null;
  ports: SlotPorts | null;
  health: AppCheck;
  containers: (SlotContainer & { name: string })[];
  disk: AppDisk;
}

export interface AppStatusInput {
  /** The settings' app (APP_NAME), its APP_SERVICE and HEALTH_PATH. */
  app: string;
  service: string;
  healthPath: string;
  /** Why Docker cannot be asked (docker-up's words), or null. */
  docker: string | null;
}

export function appStatuses(f: AppsFact, disk: DiskUse, o: AppStatusInput): AppStatus[] {
  return f.apps.map((a) => {
    const containers = (f.df?.containers ?? []).flatMap((c) => {
      const slot: Slot | null = c.project === `${a.name}-blue` ? 'blue' : c.project === `${a.name}-green` ? 'green' : null;
      return slot ? [{ name: c.name, slot, service: c.service, release: c.release, state: c.state, health: c.health }] : [];
    });
    return { name: a.name, release: a.current, slot: a.active, ports: a.ports, health: health(a, containers, o), containers, disk: disk.apps[a.name]! };
  });
}

function health(a: AppFolder, containers: SlotContainer[], o: AppStatusInput): AppCheck {
  if (o.docker) return { ok: false, detail: o.docker };
  if (a.stateProblem) return { ok: false, detail: a.stateProblem };
  const slot = a.active;
  if (!slot) return { ok: false, detail: a.current ? `no active slot (~/apps/${a.name}/active-slot): its release is not running` : 'no release is live' };
  const mine = a.name === o.app;
  const service = mine ? o.service : serviceOf(a, slot, containers);
  const path = mine ? o.healthPath : '/';
  // Another app answers when its port does, below 500: slotProblem wants 2xx/3xx, so such a code counts as one.
  const code = !mine && a.http >= 200 && a.http < 500 ? 200 : a.http;
  const problem = slotProblem({ containers, http: { blue: 0, green: 0, [slot]: code } }, slot, service);
  if (problem) return { ok: false, detail: problem.replace('the health path', path) };
  const running = containers.filter((c) => c.slot === slot).length;
  return { ok: true, detail: `${running} running in the ${slot} slot, ${path} answers ${a.http}` };
}

/** The app's service: named in its slot override's image (hoist/APP/SERVICE:RELEASE, or the old hoist-APP-SERVICE:RELEASE), else the container with a release label. */
function serviceOf(a: AppFolder, slot: Slot, containers: SlotContainer[]): string {
  const ref = a.slotImages[slot];
  const named = ref ? parseImageRef(ref) : null;
  if (named) return named.service;
  if (ref) return ref.slice(legacyImageRepo(a.name, '').length, ref.lastIndexOf(':'));
  return containers.find((c) => c.slot === slot && c.release)?.service ?? containers.find((c) => c.slot === slot)?.service ?? '?';
}
