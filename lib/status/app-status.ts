// Each hoist app on a host as `hoist status` shows it, pure (from apps-probe's fact): its live
// release, active slot, ports, whether its live slot serves (docker-up's own slot check) and its
// disk use; its stateful services (project APP-state) with their health, and its volumes. The
// settings' app is judged by its HEALTH_PATH (2xx/3xx, as docker-up's gate); another app's
// HEALTH_PATH is in its own settings, so its live port must answer `/` with any status below 500
// (a 404 there is an app that answers). A container whose health check has not passed yet after
// a start (Docker's "starting", as after a reboot) makes the app "starting", not unhealthy.
import type { SlotPorts } from '../release/app-ports.ts';
import type { SlotContainer } from '../../tasks/docker-up/probe.ts';
import { slotProblem } from '../../tasks/docker-up/slot-health.ts';
import { legacyImageRepo, parseImageRef } from '../../tasks/docker-up/image-name.ts';
import type { Slot } from '../../tasks/docker-up/slots.ts';
import { stateProject } from '../../tasks/docker-up/stateful.ts';
import { slotVolumeName } from '../../tasks/docker-up/volumes.ts';
import type { AppFolder, AppsFact, DfContainer } from './apps-probe.ts';
import type { AppDisk, DiskUse } from './disk-use.ts';
import { healthState, type HealthState } from './health-state.ts';

export interface AppCheck {
  ok: boolean;
  /** ok: healthy; starting: nothing wrong but a health check that has not passed yet since a start. */
  state: HealthState;
  detail: string;
}

/** A stateful service of the app (x-hoist: {stateful: true}), run once in APP-state. */
export interface StatefulService {
  name: string;
  service: string;
  /** running, exited, ... */
  state: string;
  /** healthy, unhealthy, starting, or none (no health check defined). */
  health: string;
}

/** One of the app's Docker volumes, or a per-slot copy a migration kept (`kept`: no longer used). */
export interface AppVolume {
  name: string;
  /** The compose file's volume key it backs; for a kept copy, the key it was made for. */
  key: string;
  /** Bytes in it, as Docker's /system/df counts them; null when Docker did not say. */
  bytes: number | null;
  /** A per-slot copy left by the move to one volume per app: hoist no longer uses it; the user removes it. */
  kept: boolean;
}

export interface AppStatus {
  name: string;
  release: string | null;
  slot: Slot | null;
  ports: SlotPorts | null;
  health: AppCheck;
  containers: (SlotContainer & { name: string })[];
  stateful: StatefulService[];
  volumes: AppVolume[];
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
  const all = f.df?.containers ?? [];
  return f.apps.map((a) => {
    const containers = all.flatMap((c) => {
      const slot: Slot | null = c.project === `${a.name}-blue` ? 'blue' : c.project === `${a.name}-green` ? 'green' : null;
      return slot ? [{ name: c.name, slot, service: c.service, release: c.release, state: c.state, health: c.health }] : [];
    });
    const stateful = statefulOf(a.name, all);
    return { name: a.name, release: a.current, slot: a.active, ports: a.ports, health: health(a, containers, stateful, o), containers, stateful, volumes: volumesOf(a, f), disk: disk.apps[a.name]! };
  });
}

function statefulOf(app: string, all: DfContainer[]): StatefulService[] {
  return all
    .filter((c) => c.project === stateProject(app))
    .map((c) => ({ name: c.name, service: c.service, state: c.state, health: c.health }))
    .sort((x, y) => x.service.localeCompare(y.service));
}

/**
 * The volumes apps/APP/volumes records (hoist.APP.KEY, or the live slot's old per-slot volume a
 * migration took over), then per-slot volumes (APP-blue_KEY, APP-green_KEY) that no record names:
 * the copy a migration kept, listed until the user removes it.
 */
function volumesOf(a: AppFolder, f: AppsFact): AppVolume[] {
  const onHost = new Map((f.df?.volumes ?? []).map((v) => [v.name, v]));
  const recorded = new Set(a.volumeRecord.values());
  const own: AppVolume[] = [...a.volumeRecord].sort(([x], [y]) => x.localeCompare(y)).map(([key, name]) => ({ name, key, bytes: onHost.get(name)?.bytes ?? null, kept: false }));
  const kept: AppVolume[] = [];
  for (const v of f.df?.volumes ?? []) {
    if (recorded.has(v.name)) continue;
    for (const slot of ['blue', 'green'] as const) {
      const prefix = slotVolumeName(a.name, slot, '');
      const key = v.name.slice(prefix.length);
      // Made by compose for that slot's project, under the name it gives a key: nothing else's.
      if (v.name.startsWith(prefix) && key && v.project === `${a.name}-${slot}` && a.volumeRecord.has(key)) kept.push({ name: v.name, key, bytes: v.bytes, kept: true });
    }
  }
  return [...own, ...kept.sort((x, y) => x.name.localeCompare(y.name))];
}

function health(a: AppFolder, containers: SlotContainer[], stateful: StatefulService[], o: AppStatusInput): AppCheck {
  const no = (detail: string): AppCheck => ({ ok: false, state: 'unhealthy', detail });
  if (o.docker) return no(o.docker);
  if (a.stateProblem) return no(a.stateProblem);
  const slot = a.active;
  if (!slot) return no(a.current ? `no active slot (~/apps/${a.name}/active-slot): its release is not running` : 'no release is live');
  const mine = a.name === o.app;
  const service = mine ? o.service : serviceOf(a, slot, containers);
  const path = mine ? o.healthPath : '/';
  // Another app answers when its port does, below 500: slotProblem wants 2xx/3xx, so such a code counts as one.
  const code = !mine && a.http >= 200 && a.http < 500 ? 200 : a.http;
  const live = containers.filter((c) => c.slot === slot);
  const problems = [slotProblem({ containers, http: { blue: 0, green: 0, [slot]: code } }, slot, service)?.replace('the health path', path), statefulProblem(stateful)].filter((p): p is string => !!p);
  if (problems.length) {
    // Its service's container missing is no start-up: nothing would come by waiting.
    const state = live.some((c) => c.service === service) ? healthState([...live, ...stateful]) : 'unhealthy';
    return { ok: false, state, detail: `${state === 'starting' ? 'starting: ' : ''}${problems.join('; ')}` };
  }
  return { ok: true, state: 'healthy', detail: `${live.length} running in the ${slot} slot, ${path} answers ${a.http}${stateful.length ? `; ${stateful.map((s) => `${s.service} ${s.health === 'none' ? s.state : s.health}`).join(', ')}` : ''}` };
}

/** A stateful service not running, or not healthy where it has a health check. */
function statefulProblem(stateful: StatefulService[]): string | null {
  const sick = stateful.filter((s) => s.state !== 'running' || !(s.health === 'healthy' || s.health === 'none'));
  return sick.length ? sick.map((s) => `${s.service} (stateful) ${s.state}${s.health !== 'none' ? `/${s.health}` : ''}`).join(', ') : null;
}

/** The app's service: named in its slot override's image (hoist/APP/SERVICE:RELEASE, or the old hoist-APP-SERVICE:RELEASE), else the container with a release label. */
function serviceOf(a: AppFolder, slot: Slot, containers: SlotContainer[]): string {
  const ref = a.slotImages[slot];
  const named = ref ? parseImageRef(ref) : null;
  if (named) return named.service;
  if (ref) return ref.slice(legacyImageRepo(a.name, '').length, ref.lastIndexOf(':'));
  return containers.find((c) => c.slot === slot && c.release)?.service ?? containers.find((c) => c.slot === slot)?.service ?? '?';
}
