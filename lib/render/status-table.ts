// `hoist status` for people: one line per host, a column per check; below it one line per app
// on each host (every hoist app there, not only APP_NAME) with its disk use, and once per host
// what no app owns (the build cache, dangling images), each app's stateful services and volumes;
// then the details of what is wrong. A check still "starting" (health checks not passed yet since
// a start: health-state.ts) says so instead of NO. The
// release, names and details come from the host (a link's target, a command's stderr): escaped
// (lib/printable.ts), the cells before they are measured.
import { formatBytes } from '../byte-size.ts';
import { printable, printableLines } from '../printable.ts';
import type { AppStatus } from '../status/app-status.ts';
import type { HostDisk } from '../status/disk-use.ts';
import type { HostStatus } from '../status/host-status.ts';

export function statusTable(hosts: HostStatus[]): string {
  const mark = (ok: boolean) => (ok ? 'ok' : 'NO');
  const markState = (c: { ok: boolean; state?: string }) => (c.ok ? 'ok' : c.state === 'starting' ? 'starting' : 'NO');
  const rows = [['HOST', 'REACHABLE', 'RELEASE', 'CONTAINERS', 'DNS', 'CADDY', 'LOCK', 'DOCKER DISK FREE']];
  const appRows = [['HOST', 'APP', 'RELEASE', 'SLOT', 'PORTS', 'HEALTH', 'IMAGES', 'RELEASES']];
  const shared: string[] = [];
  const data: string[] = [];
  const problems: string[] = [];
  const certificates: string[] = [];
  for (const h of hosts) {
    rows.push([h.name, mark(h.reachable.ok), h.release === null ? '-' : printable(h.release), markState(h.containers), mark(h.dns.ok), markState(h.caddy), h.lock.held ? 'HELD' : 'free', freeCell(h.disk)]);
    for (const [what, c] of [['reachable', h.reachable], ['containers', h.containers], ['dns', h.dns], ['caddy', h.caddy]] as const) {
      if (!c.ok) problems.push(`${h.name}: ${what}: ${printableLines(c.detail)}`);
    }
    if (h.lock.held) problems.push(`${h.name}: lock: held by ${printableLines(h.lock.detail)}`);
    if (h.appsProblem) problems.push(`${h.name}: apps: ${printableLines(h.appsProblem)}`);
    for (const a of h.apps ?? []) {
      appRows.push([h.name, printable(a.name), a.release === null ? '-' : printable(a.release), a.slot ?? '-', a.ports ? `${a.ports.blue}/${a.ports.green}` : '-', markState(a.health), imagesCell(a), a.disk.releasesBytes === null ? '-' : formatBytes(a.disk.releasesBytes)]);
      // The host's own problems (Docker down) are already said once, under containers.
      if (!a.health.ok && a.health.detail !== h.containers.detail) problems.push(`${h.name}: app ${printable(a.name)}: ${printableLines(a.health.detail)}`);
      data.push(...dataLines(h.name, a));
    }
    if (h.disk?.dockerRoot) shared.push(sharedLine(h.name, h.disk));
    for (const c of h.certificates ?? []) {
      certificates.push(`${h.name}: certificate ${printable(c.domain)}: ${c.issuer === null ? 'none' : `${printable(c.issuer)}, ${c.daysLeft} days left`}`);
      if (c.warning) problems.push(`${h.name}: certificate ${printable(c.domain)}: ${printableLines(c.warning)}`);
    }
  }
  const healthy = hosts.filter((h) => h.healthy).length;
  const starting = hosts.filter((h) => h.state === 'starting').length;
  const withApps = appRows.length > 1 ? ['', ...table(appRows), ...shared, ...data] : [];
  return [...table(rows), ...withApps, ...(certificates.length ? ['', ...certificates] : []), ...(problems.length ? ['', ...problems] : []), '', `${healthy} of ${hosts.length} hosts healthy${starting ? `, ${starting} starting` : ''}`].join('\n');
}

/** The app's stateful services with their health, and its volumes (a kept per-slot copy said as such). */
function dataLines(host: string, a: AppStatus): string[] {
  const lines: string[] = [];
  const size = (b: number | null) => (b === null ? '' : ` ${formatBytes(b)}`);
  if (a.stateful.length) lines.push(`${host}: ${printable(a.name)} stateful: ${a.stateful.map((s) => `${printable(s.service)} ${printable(s.state)}${s.health !== 'none' ? `/${printable(s.health)}` : ''}`).join(', ')}`);
  const own = a.volumes.filter((v) => !v.kept);
  const kept = a.volumes.filter((v) => v.kept);
  if (own.length) lines.push(`${host}: ${printable(a.name)} volumes: ${own.map((v) => `${printable(v.name)}${size(v.bytes)}`).join(', ')}`);
  for (const v of kept) lines.push(`${host}: ${printable(a.name)} kept volume ${printable(v.name)}${size(v.bytes)}: the other slot's copy of ${printable(v.key)} from before one volume per app, no longer used; docker volume rm it once checked`);
  return lines;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
}

function freeCell(d: HostDisk | null | undefined): string {
  if (!d || d.freeBytes === null) return '-';
  return `${formatBytes(d.freeBytes)}${d.totalBytes ? ` of ${formatBytes(d.totalBytes)}` : ''}`;
}

/** `2, 45.0 MiB`: how many images, the space they take (shared layers once); and how many outlived their release. */
function imagesCell(a: AppStatus): string {
  const ids = new Set(a.disk.images.map((i) => i.id));
  const stale = new Set(a.disk.images.filter((i) => !i.releaseOnHost).map((i) => i.id));
  return `${ids.size}, ${formatBytes(a.disk.imagesBytes)}${stale.size ? ` (${stale.size} without release)` : ''}`;
}

function sharedLine(host: string, d: HostDisk): string {
  const cache = d.buildCache.entries ? `${formatBytes(d.buildCache.bytes)} (${formatBytes(d.buildCache.reclaimableBytes)} unused)` : 'empty';
  const dangling = d.dangling.count ? `${d.dangling.count}, ${formatBytes(d.dangling.bytes)}` : 'none';
  return `${host}: all images ${formatBytes(d.imagesBytes)}; build cache ${cache}, not split by app (Docker does not record which app a build was for); dangling images ${dangling}`;
}
