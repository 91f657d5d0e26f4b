// The loopback ports of each app's blue/green slots on a host that several apps share. Chosen
// on the host by hoist the first time an app is released there, recorded in apps/APP/ports,
// and kept: releases and rollbacks of that app reuse them, other apps never take them. One
// module says where the record lives, how it reads and how a pair is chosen (pure; the host's
// view comes from docker-up's probe).
import { HoistError } from '../errors.ts';

export type SlotPorts = { blue: number; green: number };

/** Where an app's ports are recorded, relative to the deploy user's home. */
export const portsFile = (app: string): string => `apps/${app}/ports`;

/** The record's text: one `slot port` line each, as `parsePortsRecord` reads it. */
export function portsRecord(p: SlotPorts): string {
  return `blue ${p.blue}\ngreen ${p.green}\n`;
}

/** A record read back from the host; null when absent or not two distinct ports. */
export function parsePortsRecord(text: string | null | undefined): SlotPorts | null {
  if (!text) return null;
  const found: Partial<SlotPorts> = {};
  for (const line of text.split(/[\n;]/)) {
    const m = /^\s*(blue|green)\s+(\d{1,5})\s*$/.exec(line);
    if (m) found[m[1] as 'blue' | 'green'] = Number(m[2]);
  }
  const { blue, green } = found;
  if (!isPort(blue) || !isPort(green) || blue === green) return null;
  return { blue, green };
}

const isPort = (n: number | undefined): n is number => n !== undefined && Number.isInteger(n) && n >= 1 && n <= 65535;

/** What holds a TCP port on the host: a container (by name) or a process (by its socket's uid). */
export type PortHolder = { kind: 'container'; name: string } | { kind: 'process'; uid: number; user?: string };

export interface PortView {
  app: string;
  /** BLUE_PORT/GREEN_PORT when the user set them. */
  explicit: SlotPorts | null;
  /** This app's record on the host. */
  recorded: SlotPorts | null;
  /** Every other app's record on the host. */
  others: Record<string, SlotPorts>;
  /** Ports something listens on, and who. */
  listening: Map<number, PortHolder>;
  /** This app's own containers' compose projects (APP-blue, APP-green): their ports are ours. */
  ownProjects: Map<number, string>;
}

/** The range hoist chooses from: two ports an app, blue first. */
export const FIRST_PORT = 18001;
export const LAST_PORT = 18999;

export class PortConflictError extends HoistError {}

/**
 * The app's ports: BLUE_PORT/GREEN_PORT when set, else its record, else the lowest free pair
 * from 18001 (free: no other app records it and nothing listens on it).
 */
export function choosePorts(v: PortView): SlotPorts {
  const byOther = new Map<number, string>();
  for (const [app, p] of Object.entries(v.others)) if (app !== v.app) for (const port of [p.blue, p.green]) byOther.set(port, app);
  if (v.explicit) {
    for (const [slot, port] of Object.entries(v.explicit)) {
      const other = byOther.get(port);
      if (other) {
        throw new PortConflictError(
          `${slot.toUpperCase()}_PORT=${port} is the port of app ${other} on this host (${portsFile(other)}); leave BLUE_PORT and GREEN_PORT empty and hoist picks free ports, or pick others`,
        );
      }
    }
    return v.explicit;
  }
  if (v.recorded) return v.recorded;
  const free = (port: number) => !byOther.has(port) && (!v.listening.has(port) || v.ownProjects.has(port));
  for (let port = FIRST_PORT; port < LAST_PORT; port += 2) {
    if (free(port) && free(port + 1)) return { blue: port, green: port + 1 };
  }
  throw new PortConflictError(`no two free loopback ports between ${FIRST_PORT} and ${LAST_PORT} on this host; set BLUE_PORT and GREEN_PORT to free ports`);
}

/**
 * Refuses a slot port that something other than this app's own slot listens on, naming it, before
 * anything starts (compose would fail half-way with "port is already allocated").
 */
export function checkPortFree(v: Pick<PortView, 'listening' | 'ownProjects' | 'app'>, slot: 'blue' | 'green', port: number): void {
  const holder = v.listening.get(port);
  if (!holder) return;
  const own = v.ownProjects.get(port);
  if (own === `${v.app}-${slot}`) return;
  const who = describeHolder(holder);
  const fix = `stop it, or set ${slot.toUpperCase()}_PORT to a free port (or leave BLUE_PORT/GREEN_PORT empty so hoist picks free ones)`;
  throw new PortConflictError(`127.0.0.1:${port}, the ${slot} slot's port, is already held by ${who}; nothing was started. Fix: ${fix}`);
}

export function describeHolder(h: PortHolder): string {
  if (h.kind === 'container') return `the container ${h.name}`;
  return `a process of ${h.user ?? `uid ${h.uid}`} (sudo ss -ltnp shows which)`;
}
