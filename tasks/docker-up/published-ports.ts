// Ports a compose file publishes on every address (issue #19 item 4). Docker writes its own
// iptables rules for a published port, ahead of ufw's: `ports: ["5432:5432"]` puts the database
// on the internet whatever FIREWALL says. So a release whose compose file publishes a port on
// all addresses (`"5432:5432"`, `"8000"`, long syntax without host_ip, `0.0.0.0:` or `[::]:`) is
// refused, with the fix, before anything starts. Published on loopback (`127.0.0.1:5432:5432`,
// `[::1]:...`) stays allowed: only the host reaches it. A service that is meant to be reached
// from outside says so in the compose file:
//
//     services:
//       mqtt:
//         ports: ["1883:1883"]
//         x-hoist: {public: true}
//
// APP_SERVICE needs no port of its own: hoist publishes it on 127.0.0.1 (its slot port) for Caddy.
import { HoistError } from '../../lib/errors.ts';

export interface PublishedPort {
  /** The address the port is bound to on the host ('' when none: every address). */
  hostIp: string;
  /** The host port or range ('' when Docker picks one). */
  published: string;
  target: string;
}

/** Every address Docker binds when given this host_ip (a named address, loopback or a private one, is the user's choice). */
const allAddresses = (ip: string) => ['', '0.0.0.0', '::', '[::]'].includes(ip);

/** A service's `ports:` entries as compose config prints them (v2: long form; v1: strings or long form). */
export function publishedPorts(ports: unknown): PublishedPort[] {
  if (!Array.isArray(ports)) return [];
  return ports.flatMap((p): PublishedPort[] => {
    if (typeof p === 'number') return [{ hostIp: '', published: '', target: String(p) }];
    if (typeof p === 'string') return [shortSyntax(p)];
    const o = (p ?? {}) as { host_ip?: unknown; published?: unknown; target?: unknown };
    return [{ hostIp: typeof o.host_ip === 'string' ? o.host_ip : '', published: o.published === undefined || o.published === null ? '' : String(o.published), target: String(o.target ?? '') }];
  });
}

/** `[IP:][HOST:]CONTAINER[/PROTO]`; an IPv6 address in brackets (`[::1]:80:80`). */
function shortSyntax(spec: string): PublishedPort {
  const noProto = spec.replace(/\/(tcp|udp|sctp)$/, '');
  let hostIp = '';
  let rest = noProto;
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(.*)$/.exec(noProto);
  if (v6) {
    hostIp = v6[1]!;
    rest = v6[2]!;
  }
  const parts = rest.split(':');
  if (!v6 && parts.length >= 3) hostIp = parts.shift()!;
  const target = parts.pop() ?? '';
  return { hostIp, published: parts.pop() ?? '', target };
}

/** The service's ports reachable from outside the host: on every address. */
export function publicPorts(ports: PublishedPort[]): PublishedPort[] {
  return ports.filter((p) => allAddresses(p.hostIp));
}

export interface ServicePorts {
  name: string;
  ports: PublishedPort[];
  /** `x-hoist: {public: true}`: meant to be reached from outside. */
  public: boolean;
  /** `x-hoist: {stateful: true}`: runs once per app; else one of the blue/green pair, which cannot share a fixed port. */
  stateful: boolean | null;
}

const shown = (p: PublishedPort) => `${p.hostIp ? `${p.hostIp}:` : ''}${p.published ? `${p.published}:` : ''}${p.target}`;

/**
 * Refuses the first service that publishes a port on every address without saying it is meant
 * to; returns what the marked ones publish, for the run's warnings.
 */
export function checkPublishedPorts(services: ServicePorts[], appService: string): string[] {
  const notes: string[] = [];
  for (const s of services) {
    const open = publicPorts(s.ports);
    if (!open.length) continue;
    if (s.public) {
      notes.push(`service ${s.name} publishes ${open.map(shown).join(', ')} on every address of the host (x-hoist: {public: true}): Docker's rules let it past the firewall`);
      continue;
    }
    const first = open[0]!;
    // A fixed host port can be held by one container only: a service of the blue/green pair must run once to keep one.
    const once = s.stateful === true ? '' : ' and run it once per app (`x-hoist: {stateful: true}`: the blue/green pair cannot share a fixed port)';
    const fix =
      s.name === appService
        ? `remove its ports: hoist already publishes ${appService} on 127.0.0.1 (its slot port) for Caddy`
        : `publish it on loopback only ("127.0.0.1:${first.published || first.target}:${first.target}")${once}, or not at all (the app's services reach each other by service name)`;
    const mark = s.stateful === true || s.name === appService ? '{public: true}' : '{public: true, stateful: true}';
    throw new HoistError(
      `service ${s.name} publishes ${open.map(shown).join(', ')} on every address of the host: Docker opens it past the firewall (ufw does not see Docker's rules), so anyone can reach it. Fix: ${fix}; if it is meant to be public, mark it in the compose file with \`x-hoist: ${mark}\` under services.${s.name}`,
    );
  }
  return notes;
}
