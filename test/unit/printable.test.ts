// What reaches the operator's terminal from a host (stderr, a log tail, a diff, a lock record, a
// link's target) is escaped: no ESC, CR, BEL, C0/C1 control or bidi override gets through, in the
// error line, the summary table, the dry run's plan, the status table and the JSON; line breaks
// stay where several lines are meant. Hostile strings from test/harness/hostile-words.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { printable, printableJson, printableLines } from '../../lib/printable.ts';
import { planText } from '../../lib/render/plan-text.ts';
import { statusTable } from '../../lib/render/status-table.ts';
import { summaryTable } from '../../lib/render/summary-table.ts';
import type { HostReport, RunReport } from '../../lib/report/run-report.ts';
import type { HostStatus } from '../../lib/status/host-status.ts';
import { generateWords } from '../harness/hostile-words.ts';

/** Anything a terminal acts on instead of showing (what must never be printed raw). */
// eslint-disable-next-line no-control-regex
const ACTS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;
// Clears the screen, retitles the window, rings, goes back over the line, a C1 CSI, reverses the text.
const HOSTILE = 'log \x1b[2J\x1b]0;owned\x07 100%\rok \x9b31m \u202eevil\u202c \u2066x\u2069 \u2028y \x00z \x7f';

test('printable: one line, every control escaped as \\uXXXX (line breaks and tabs too)', () => {
  assert.is(printable(HOSTILE), 'log \\u001b[2J\\u001b]0;owned\\u0007 100%\\u000dok \\u009b31m \\u202eevil\\u202c \\u2066x\\u2069 \\u2028y \\u0000z \\u007f');
  assert.is(printable('a\nb\tc'), 'a\\u000ab\\u0009c');
  assert.is(printable('plain ✓ 漢字 e\u0301 שלום 😀'), 'plain ✓ 漢字 e\u0301 שלום 😀', 'text that is only text is left alone (RTL script too)');
});

test('printableLines: line breaks and tabs kept (CRLF is a line break), everything else as printable', () => {
  assert.is(printableLines(`line 1\r\n\tline 2\n${HOSTILE}`), `line 1\n\tline 2\n${printable(HOSTILE)}`);
  assert.is(printableLines('50%\r100%'), '50%\\u000d100%', 'a lone CR (overwrite the line) is escaped');
});

test('hostile words: printed forms hold nothing a terminal acts on; JSON still reads back exactly', () => {
  for (const w of generateWords(400, 14)) {
    assert.not.ok(ACTS.test(printable(w)) || /[\n\t]/.test(printable(w)), JSON.stringify(w));
    assert.not.ok(ACTS.test(printableLines(w)), JSON.stringify(w));
    const json = printableJson({ w });
    assert.not.ok(ACTS.test(json), JSON.stringify(w));
    assert.is((JSON.parse(json) as { w: string }).w, w);
  }
});

// ------------------------------------------------------------------ the renderers

const task = (over: Partial<HostReport['tasks'][number]>): HostReport['tasks'][number] => ({ task: 'docker-up', status: 'failed', steps: [], attempts: 1, durationMs: 5, ...over });
function report(hosts: Partial<HostReport>[], dryRun = false): RunReport {
  return {
    hoist: 1,
    run: 'r1',
    pipeline: 'release',
    dryRun,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1000,
    exitCode: 1,
    interrupted: null,
    rollout: { concurrency: 1, batch: null, canary: null, maxFail: null, fleetRollback: false, batches: 1 },
    hosts: hosts.map((h) => ({ name: 'web1', address: '127.0.0.1:22', status: 'failed', batch: 1, release: { before: null, after: null }, startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:00:01.000Z', durationMs: 1000, error: null, note: null, warnings: [], commands: 2, tasks: [], ...h })),
  };
}

test('summary table: a failed release\'s log tail keeps its lines, with no control character; a hostile release cell stays one cell', () => {
  const tail = `v3 did not turn healthy. Last log lines:\n${HOSTILE}\nlast`;
  const text = summaryTable(report([{ tasks: [task({ error: tail })], release: { before: 'x\x1b[2J\ny', after: 'x\x1b[2J\ny' }, warnings: [`lock \x1b]0;t\x07`] }]));
  assert.not.ok(ACTS.test(text), text);
  assert.ok(text.includes(`  ${printable(HOSTILE)}\n  last`), text);
  assert.match(text, /\nweb1 +x\\u001b\[2J\\u000ay \(same\) +failed /);
  assert.ok(text.includes('warning: web1: lock \\u001b]0;t\\u0007'), text);
});

test('dry run plan: a diff of a host file and a host\'s error, escaped, lines kept', () => {
  const diff = `--- /etc/caddy/Caddyfile\n+++ /etc/caddy/Caddyfile\n@@ -1 +1 @@\n-old \x1b[8m hidden\r\n+new`;
  const text = planText(report([{ status: 'ok', tasks: [task({ task: 'caddy-reload', status: 'changed', steps: ['write it'], files: [{ path: '/etc/caddy/Caddyfile', secret: false, diff }] }), task({ task: 'x', status: 'skipped', reason: `probe: \x1b[2J` })] }], true));
  assert.not.ok(ACTS.test(text), text);
  assert.ok(text.includes('    -old \\u001b[8m hidden\n    +new'), text);
  assert.ok(text.includes('x: skipped (probe: \\u001b[2J)'), text);
});

test('status table: a release and a detail from the host, escaped; the row stays one row', () => {
  const ok = { ok: true, detail: 'fine' };
  const host: HostStatus = { name: 'web1', address: '127.0.0.1:22', reachable: ok, release: 'r\nweb9  ok', commit: null, containers: { ok: false, detail: `exited: ${HOSTILE}` }, dns: ok, caddy: ok, lock: { held: true, detail: 'unknown (\x1b]0;x\x07)' }, healthy: false, state: 'unhealthy' };
  const text = statusTable([host]);
  assert.not.ok(ACTS.test(text), text);
  assert.is(text.split('\n')[1]!.split(/\s+/)[2], 'r\\u000aweb9', 'the release cell');
  assert.ok(text.includes(`web1: containers: exited: ${printable(HOSTILE)}`), text);
  assert.ok(text.includes('web1: lock: held by unknown (\\u001b]0;x\\u0007)'), text);
});

test.run();
