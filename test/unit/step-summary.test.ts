// The Markdown summary for GITHUB_STEP_SUMMARY (issue #13): a fleet run with one failed host, from
// a report fixture, by exact text; text from hosts cannot add markup; appended, not replaced.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HostReport, RunReport } from '../../lib/report/run-report.ts';
import { appendStepSummary, markdownText, stepSummary } from '../../lib/report/step-summary.ts';

const host = (o: Partial<HostReport>): HostReport => ({
  name: 'web1', address: '127.0.0.1:22', status: 'ok', batch: 1, release: { before: null, after: null }, startedAt: '2026-01-01T00:00:00.000Z',
  endedAt: '2026-01-01T00:00:03.000Z', durationMs: 3200, error: null, note: null, warnings: [], commands: 2, tasks: [], ...o,
});
const task = (name: string, status: 'changed' | 'unchanged' | 'failed' | 'rolled-back', error?: string) => ({ task: name, status, steps: [], attempts: 1, durationMs: 1, ...(error ? { error } : {}) });

const fleet: RunReport = {
  hoist: 1, run: '20260101T000000-abc123', pipeline: 'release', dryRun: false, startedAt: '2026-01-01T00:00:00.000Z', durationMs: 12_345, exitCode: 1, interrupted: null,
  rollout: { concurrency: 10, batch: null, canary: null, maxFail: null, fleetRollback: false, batches: 1 },
  settings: { HOST: '/x/.env', SSH_KEY: 'the environment (content)', APP_NAME: 'the environment' },
  hosts: [
    host({ name: 'web1', release: { before: '20260101-aaa', after: '20260102-bbb' }, tasks: [task('git-sync', 'changed'), task('docker-up', 'changed')] }),
    host({ name: 'web2', status: 'failed', durationMs: 15_000, release: { before: '20260101-aaa', after: '20260101-aaa' }, error: 'x',
      tasks: [task('git-sync', 'rolled-back'), task('docker-up', 'failed', 'web did not turn healthy in 15s.\nLast log lines:\n<script>alert(1)</script> | [x](http://evil) @admin')] }),
    host({ name: 'web3', status: 'ok', release: { before: '20260102-bbb', after: '20260102-bbb' }, warnings: ['waited 12s for the deploy lock held by ci@runner'], tasks: [task('git-sync', 'unchanged')] }),
  ],
};

test('a fleet run with one failed host: header, one row per host, warnings, settings from the environment', () => {
  assert.is(
    stepSummary(fleet),
    [
      '### ❌ hoist run release',
      '',
      '2 of 3 hosts ok, 1 failed in 12.3s; run 20260101T000000\\-abc123, exit code 1.',
      '',
      '| host | release | status | time | note |',
      '| --- | --- | --- | --- | --- |',
      '| web1 | 20260101\\-aaa → 20260102\\-bbb | ✅ ok | 3.2s | changed\\: git\\-sync\\, docker\\-up |',
      '| web2 | 20260101\\-aaa (same) | ❌ failed | 15.0s | docker\\-up failed \\(rolled back\\)\\: web did not turn healthy in 15s\\. \\/ Last log lines\\: \\/ &lt;script&gt;alert\\(1\\)&lt;\\/script&gt; \\| \\[x\\]\\(http\\:\\/\\/evil\\) \\@admin |',
      '| web3 | 20260102\\-bbb (same) | ✅ ok | 3.2s | no changes |',
      '',
      '**Warnings**',
      '',
      '- web3: waited 12s for the deploy lock held by ci\\@runner',
      '',
      'Settings from the environment: SSH\\_KEY \\(content\\)\\, APP\\_NAME.',
      '',
      '',
    ].join('\n'),
  );
});

test('host text cannot open markup, a cell, a link or a control sequence', () => {
  const evil = '<img src=x onerror=alert(1)> | ![i](http://x/i.png) **b** `c` \x1b[2J\nnext';
  const out = markdownText(evil);
  assert.not.match(out, /<|>|(?<!\\)\||(?<!\\)\[|(?<!\\)`|\x1b|\n/);
  assert.match(out, /\\u001b\[2J|\\u001b\\\[2J/);
});

test('appended to the file GITHUB_STEP_SUMMARY names; nothing without it; an unwritable file is a warning', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-summary-'));
  try {
    const file = join(dir, 'summary.md');
    writeFileSync(file, 'earlier step\n');
    assert.is(appendStepSummary(fleet, { GITHUB_STEP_SUMMARY: file }), null);
    assert.ok(readFileSync(file, 'utf8').startsWith('earlier step\n### ❌ hoist run release'));
    assert.is(appendStepSummary(fleet, {}), null);
    assert.match(appendStepSummary(fleet, { GITHUB_STEP_SUMMARY: join(dir, 'no/such/dir/x.md') }) ?? '', /could not be written/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
