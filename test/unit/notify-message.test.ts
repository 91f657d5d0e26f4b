// Run messages (lib/notify): the text and fields a failed and a good run give, each format's body
// by exact text, secrets hidden in a failure's reason, and delivery against a real local HTTP
// server: retried on 5xx and on a refused connection (bounded), not on a 4xx, never naming the URL.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HostReport, RunReport } from '../../lib/report/run-report.ts';
import { deliver } from '../../lib/notify/deliver.ts';
import { DISCORD_MAX, shapeBody } from '../../lib/notify/message.ts';
import { runMessage } from '../../lib/notify/run-message.ts';
import { addSecret, clearSecrets } from '../../lib/secrets/redact.ts';

const host = (o: Partial<HostReport>): HostReport => ({
  name: 'web1', address: '127.0.0.1:22', status: 'ok', batch: 1, release: { before: null, after: null }, startedAt: '2026-01-01T00:00:00.000Z',
  endedAt: '2026-01-01T00:00:03.000Z', durationMs: 3200, error: null, note: null, warnings: [], commands: 2, tasks: [], ...o,
});
const task = (name: string, status: 'changed' | 'unchanged' | 'failed' | 'rolled-back', error?: string) => ({ task: name, status, steps: [], attempts: 1, durationMs: 1, ...(error ? { error } : {}) });
const REL_A = '20260101000000-aaaaaaaaaaaa';
const REL_B = '20260102000000-bbbbbbbbbbbb';
const report = (hosts: HostReport[], exitCode: number): RunReport => ({
  hoist: 1, run: '20260101T000000-abc123', pipeline: 'release', dryRun: false, startedAt: '2026-01-01T00:00:00.000Z', durationMs: 12_345, exitCode, interrupted: null,
  rollout: { concurrency: 10, batch: null, canary: null, maxFail: null, fleetRollback: false, batches: 1 }, hosts,
});

const failed = report(
  [
    host({ name: 'web1', release: { before: REL_A, after: REL_B }, tasks: [task('git-sync', 'changed'), task('docker-up', 'changed')] }),
    host({ name: 'web2', status: 'failed', release: { before: REL_A, after: REL_A }, tasks: [task('git-sync', 'rolled-back'), task('docker-up', 'failed', 'web did not turn healthy in 15s.\nLast log lines:\nDATABASE_URL=postgres://u:hunter2hunter2@db/x')] }),
  ],
  1,
);

test('a failed run: the title counts hosts, each failed host names its task and reason; secrets hidden', () => {
  clearSecrets();
  addSecret('hunter2hunter2', 'APP_ENV_FILE DATABASE_URL');
  const m = runMessage(failed);
  clearSecrets();
  assert.is(m.title, `hoist release FAILED: 1 of 2 hosts ok, release ${REL_B}, ${REL_A} (12.3s)`);
  assert.equal(m.lines, [
    'web2: failed in docker-up: web did not turn healthy in 15s. / Last log lines: / DATABASE_URL=postgres://u:[secret APP_ENV_FILE DATABASE_URL]@db/x',
    'look: hoist status; the report: .hoist/runs/20260101T000000-abc123-release.json',
  ]);
  assert.equal(m.fields.failures, [{ host: 'web2', status: 'failed', task: 'docker-up', reason: 'web did not turn healthy in 15s. / Last log lines: / DATABASE_URL=postgres://u:[secret APP_ENV_FILE DATABASE_URL]@db/x' }]);
  assert.is(m.fields.ok, false);
  assert.equal(m.fields.release, [REL_B, REL_A]);
});

test('a good run: one line, the release; each format by exact text', () => {
  const m = runMessage(report([host({ release: { before: REL_A, after: REL_B } })], 0));
  const text = `hoist release ok: 1 of 1 hosts ok, release ${REL_B} (12.3s)`;
  assert.is(shapeBody('slack', m), JSON.stringify({ text }));
  assert.is(shapeBody('discord', m), JSON.stringify({ content: text }));
  assert.is(
    shapeBody('json', m),
    JSON.stringify({ hoist: 'run', pipeline: 'release', run: '20260101T000000-abc123', ok: true, exitCode: 0, durationMs: 12345, release: REL_B, hosts: [{ name: 'web1', status: 'ok', release: REL_B }], failures: [], text }),
  );
});

test('discord: a body longer than it takes is cut to its limit', () => {
  const long = runMessage(report([host({ status: 'failed', tasks: [task('docker-up', 'failed', 'x'.repeat(300))] }), host({ name: 'web2', status: 'failed', error: 'y'.repeat(300) }), ...Array.from({ length: 10 }, (_, i) => host({ name: `w${i}`, status: 'failed', error: 'z'.repeat(300) }))], 1));
  const content = (JSON.parse(shapeBody('discord', long)) as { content: string }).content;
  assert.is(content.length, DISCORD_MAX);
  assert.ok(content.endsWith('…'));
});

// ------------------------------------------------------------------ delivery, against a real server

async function server(answers: number[]): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let n = 0;
  const s: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(answers[Math.min(n++, answers.length - 1)]!).end());
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/hooks/SECRETPATH`;
  return { url, hits: () => n, close: () => new Promise((r) => { s.closeAllConnections(); s.close(() => r()); }) };
}
const quick = { backoffMs: () => 10, attemptMs: 2000 };

test('deliver: 5xx twice, then accepted: ok after 3 attempts', async () => {
  const s = await server([503, 500, 204]);
  const d = await deliver(s.url, '{}', quick);
  await s.close();
  assert.equal(d, { ok: true, attempts: 3, error: null });
  assert.is(s.hits(), 3);
});

test('deliver: a 4xx is the answer, not retried', async () => {
  const s = await server([404]);
  const d = await deliver(s.url, '{}', quick);
  await s.close();
  assert.equal(d, { ok: false, attempts: 1, error: 'the receiver answered HTTP 404' });
});

test('deliver: user:password in NOTIFY_URL (ntfy with basic auth) goes as an Authorization header, as the hosts\' curl sends it', async () => {
  const seen: { auth?: string; url?: string }[] = [];
  const s: Server = createServer((req, res) => {
    seen.push({ auth: req.headers.authorization, url: req.url });
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const d = await deliver(`http://al%40ice:p%3Ass@127.0.0.1:${(s.address() as AddressInfo).port}/alerts?x=1`, '{}', quick);
  await new Promise((r) => { s.closeAllConnections(); s.close(() => r(undefined)); });
  assert.equal(d, { ok: true, attempts: 1, error: null });
  assert.equal(seen, [{ auth: `Basic ${Buffer.from('al@ice:p:ss').toString('base64')}`, url: '/alerts?x=1' }]);
});

test('deliver: a receiver that is down: bounded attempts, the reason, never the URL', async () => {
  const s = await server([204]);
  await s.close();
  clearSecrets();
  addSecret(s.url, 'NOTIFY_URL');
  const d = await deliver(s.url, '{}', quick);
  clearSecrets();
  assert.equal(d, { ok: false, attempts: 3, error: 'could not reach the receiver (ECONNREFUSED)' });
  assert.not.ok(JSON.stringify(d).includes('SECRETPATH'));
});

test.run();
