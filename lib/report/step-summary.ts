// The run as Markdown for a CI page: GitHub Actions shows what a step appends to the file named
// by GITHUB_STEP_SUMMARY. Made from the run report only (so it holds no secret the report does
// not), one table row per host: release before -> after, status, time, note. Host names, release
// names and notes may hold what a host said: every ASCII punctuation character is escaped
// (Markdown) and < > & are written as entities (HTML), so no text from a host can add a link,
// an image, a table cell, a mention or markup.
import { appendFileSync } from 'node:fs';
import { printable } from '../printable.ts';
import { hostNote } from '../render/summary-table.ts';
import type { HostReport, RunReport } from './run-report.ts';

/** A table note longer than this is cut; the whole text is in the JSON report. */
const NOTE_MAX = 400;

const STATUS_MARK: Record<HostReport['status'], string> = {
  ok: '✅ ok',
  failed: '❌ failed',
  'rolled-back': '↩️ rolled back',
  skipped: '⏭️ skipped',
};

/** `text` as literal Markdown text in one table cell. */
export function markdownText(text: string): string {
  return printable(text).replace(/[!"#$%'()*+,\-./:;=?@[\\\]^_`{|}~]/g, (c) => `\\${c}`).replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);
}

export function stepSummary(report: RunReport): string {
  const count = (s: HostReport['status']) => report.hosts.filter((h) => h.status === s).length;
  const parts = [`${count('ok')} of ${report.hosts.length} hosts ok`];
  for (const s of ['failed', 'rolled-back', 'skipped'] as const) if (count(s)) parts.push(`${count(s)} ${s}`);
  const flags = [report.dryRun ? 'dry run' : '', report.interrupted ? `interrupted by ${report.interrupted}` : ''].filter(Boolean);
  const lines = [
    `### ${report.exitCode === 0 ? '✅' : '❌'} hoist run ${markdownText(report.pipeline)}${flags.length ? ` (${flags.join(', ')})` : ''}`,
    '',
    `${parts.join(', ')} in ${(report.durationMs / 1000).toFixed(1)}s; run ${markdownText(report.run)}, exit code ${report.exitCode}.`,
    '',
    '| host | release | status | time | note |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const h of report.hosts) {
    const note = hostNote(h, report.dryRun).replace(/\s*\n\s*/g, ' / ');
    const cut = note.length > NOTE_MAX ? `${note.slice(0, NOTE_MAX)}… (the whole text is in the JSON report)` : note;
    lines.push(`| ${markdownText(h.name)} | ${release(h)} | ${STATUS_MARK[h.status]} | ${h.startedAt ? `${(h.durationMs / 1000).toFixed(1)}s` : '-'} | ${markdownText(cut)} |`);
  }
  const warnings = [
    ...report.hosts.flatMap((h) => h.warnings.map((w) => `- ${markdownText(h.name)}: ${markdownText(w.replace(/\s*\n\s*/g, ' / '))}`)),
    ...(report.warnings ?? []).map((w) => `- ${markdownText(w.replace(/\s*\n\s*/g, ' / '))}`),
  ];
  if (warnings.length) lines.push('', '**Warnings**', '', ...warnings);
  const fromEnv = Object.entries(report.settings ?? {}).filter(([, s]) => s.startsWith('the environment')).map(([k, s]) => (s.endsWith('(content)') ? `${k} (content)` : k));
  if (fromEnv.length) lines.push('', `Settings from the environment: ${markdownText(fromEnv.join(', '))}.`);
  return `${lines.join('\n')}\n\n`;
}

function release(h: HostReport): string {
  const { before, after } = h.release;
  if (!before && !after) return '-';
  const [b, a] = [before, after].map((r) => (r === null ? '-' : markdownText(r)));
  return before === after ? `${b} (same)` : `${b} → ${a}`;
}

/** Appends the summary when GITHUB_STEP_SUMMARY names a file; returns a warning if it could not. */
export function appendStepSummary(report: RunReport, env: NodeJS.ProcessEnv = process.env): string | null {
  const path = env.GITHUB_STEP_SUMMARY;
  if (!path) return null;
  try {
    appendFileSync(path, stepSummary(report));
    return null;
  } catch (e) {
    return `the step summary could not be written to GITHUB_STEP_SUMMARY (${(e as Error).message})`;
  }
}
