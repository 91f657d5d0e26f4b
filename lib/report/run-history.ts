// Every run leaves its JSON report under .hoist/runs/ (beside the project, not on the hosts), so
// "what did last Tuesday's release do on web3?" has an answer without having passed --json.
// Reports hold no secrets (see run-report.ts); the folder is private to the user anyway.
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { printableJson } from '../printable.ts';
import type { RunReport } from './run-report.ts';

/** Older reports beyond this many are removed: the folder must not grow without bound. */
const KEEP = 200;

export function saveRunReport(report: RunReport, dir = join('.hoist', 'runs')): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = join(dir, `${report.run}-${report.pipeline.replace(/[^A-Za-z0-9_.-]/g, '_')}${report.dryRun ? '-dry-run' : ''}.json`);
  writeFileSync(file, `${printableJson(report)}\n`, { mode: 0o600 });
  const reports = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  for (const old of reports.slice(0, Math.max(0, reports.length - KEEP))) rmSync(join(dir, old), { force: true });
  return file;
}
