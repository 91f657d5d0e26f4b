// Whether a slot serves the app: every container of its compose project running (and healthy
// where it has a health check), the app's service among them, and the health path answering
// 2xx/3xx on the slot's port. docker-up's gate and `hoist status` ask the same question; this
// says why not, in words the status table shows.
import type { DockerUpFact } from './probe.ts';
import type { Slot } from './slots.ts';

/** Null when `slot` serves the app healthy; else what is wrong. */
export function slotProblem(f: Pick<DockerUpFact, 'containers' | 'http'>, slot: Slot, service: string): string | null {
  const mine = f.containers.filter((c) => c.slot === slot);
  if (!mine.some((c) => c.service === service)) return `no ${service} container in the ${slot} slot`;
  const sick = mine.filter((c) => c.state !== 'running' || !(c.health === 'healthy' || c.health === 'none'));
  if (sick.length) return sick.map((c) => `${c.service} ${c.state}${c.health !== 'none' ? `/${c.health}` : ''}`).join(', ');
  const code = f.http[slot];
  if (code < 200 || code >= 400) return `${mine.length} running, but the health path answers ${code || 'nothing'}`;
  return null;
}
