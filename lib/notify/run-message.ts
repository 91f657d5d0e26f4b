// The message after a run, from its report: the pipeline, which hosts are ok or failed, the
// release, how long it took and, for each failed host, the failing task and its reason. Reasons
// come from hosts (stderr, a log tail): secrets are hidden (lib/secrets/redact.ts) and the text is
// cut, so a receiver gets a readable line, not a log.
import { redact } from '../secrets/redact.ts';
import type { RunReport } from '../report/run-report.ts';
import type { Message } from './message.ts';

const REASON_MAX = 400;

export function runMessage(report: RunReport): Message {
  const count = (s: string) => report.hosts.filter((h) => h.status === s).length;
  const ok = count('ok');
  const failed = report.hosts.filter((h) => h.status !== 'ok');
  const releases = [...new Set(report.hosts.map((h) => h.release.after).filter((r): r is string => !!r))];
  const seconds = (report.durationMs / 1000).toFixed(1);
  const outcome = report.exitCode === 0 ? 'ok' : report.interrupted ? `interrupted (${report.interrupted})` : 'FAILED';
  const title = `hoist ${report.pipeline} ${outcome}: ${ok} of ${report.hosts.length} hosts ok${releases.length ? `, release ${releases.join(', ')}` : ''} (${seconds}s)`;
  const failures = failed.map((h) => {
    const task = h.tasks.find((t) => t.status === 'failed');
    const reason = oneLine(redact(task?.error ?? h.error ?? h.note ?? h.status));
    return { host: h.name, status: h.status, task: task?.task ?? null, reason };
  });
  const lines = failures.map((f) => `${f.host}: ${f.status}${f.task ? ` in ${f.task}` : ''}: ${f.reason}`);
  if (failures.length) lines.push(`look: hoist status; the report: .hoist/runs/${report.run}-${report.pipeline}.json`);
  return {
    kind: 'run',
    title,
    lines,
    fields: {
      pipeline: report.pipeline,
      run: report.run,
      ok: report.exitCode === 0,
      exitCode: report.exitCode,
      durationMs: report.durationMs,
      release: releases.length === 1 ? releases[0] : releases.length ? releases : null,
      hosts: report.hosts.map((h) => ({ name: h.name, status: h.status, release: h.release.after })),
      failures,
    },
  };
}

function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' / ').trim();
  return flat.length > REASON_MAX ? `${flat.slice(0, REASON_MAX - 1)}…` : flat;
}
