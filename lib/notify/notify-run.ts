// After a run: the message to NOTIFY_URL, if one is set (a dry run sends nothing). Every host of a
// run has the same NOTIFY_URL unless the inventory gives hosts their own .env values; each
// distinct (URL, format) gets the message once. A delivery that failed is a warning, never a
// failed run.
import type { LoadedConfig } from '../config/load-config.ts';
import type { RunReport } from '../report/run-report.ts';
import { deliver, type DeliverOptions } from './deliver.ts';
import { shapeBody } from './message.ts';
import { runMessage } from './run-message.ts';

export interface RunNotice {
  sent: number;
  /** What the run's report shows under warnings. */
  warnings: string[];
}

export async function notifyRun(report: RunReport, config: LoadedConfig, opts: DeliverOptions = {}): Promise<RunNotice> {
  if (report.dryRun) return { sent: 0, warnings: [] };
  const targets = new Map<string, { url: string; format: LoadedConfig['hosts'][number]['settings']['notifyFormat'] }>();
  for (const h of config.hosts) {
    const { notifyUrl, notifyFormat } = h.settings;
    if (notifyUrl) targets.set(`${notifyFormat} ${notifyUrl}`, { url: notifyUrl, format: notifyFormat });
  }
  const message = runMessage(report);
  const results = await Promise.all([...targets.values()].map((t) => deliver(t.url, shapeBody(t.format, message), opts)));
  return {
    sent: results.filter((r) => r.ok).length,
    warnings: results.filter((r) => !r.ok).map((r) => `the run's message to NOTIFY_URL was not delivered after ${r.attempts} attempt(s): ${r.error}. The run itself is not affected`),
  };
}
