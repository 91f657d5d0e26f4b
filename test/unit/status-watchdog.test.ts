// `hoist status`'s watchdog part: the host's alerts file read back (the last 3 per app, newest
// last; lines cut short or foreign ignored), and the text under the table, host text escaped.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lastAlertsCommand, parseLastAlerts } from '../../lib/status/last-alerts.ts';
import { watchdogText } from '../../lib/render/watchdog-text.ts';

const line = (since: string, app: string, to: string, outcome = 'delivered') => `alert\t${since}\t${app}\tapp\tx\t${to}\t${outcome}\tweb1: ${app} is ${to}`;

test('the last three alerts of each app, newest last; the last run and log line', () => {
  const stdout = ['run 2026-12-07T04:40:00Z', 'log 2026-12-07T04:39:00Z alert for a (app up -> down) not delivered', ...['T1', 'T2', 'T3', 'T4'].map((t) => line(t, 'a', `s${t}`)), line('T5', 'b', 'down', 'undelivered'), 'alert\tcut', 'end', ''].join('\n');
  const v = parseLastAlerts({ stdout, code: 0 })!;
  assert.is(v.lastRun, '2026-12-07T04:40:00Z');
  assert.equal(v.alerts.map((a) => `${a.app} ${a.to} ${a.since}`), ['a sT2 T2', 'a sT3 T3', 'a sT4 T4', 'b down T5']);
  assert.is(
    watchdogText([{ name: 'web1', watchdog: v }]),
    [
      'web1: watchdog last ran 2026-12-07T04:40:00Z; last alerts:',
      '  a: sT2 since T2: web1: a is sT2',
      '  a: sT3 since T3: web1: a is sT3',
      '  a: sT4 since T4: web1: a is sT4',
      '  b: down since T5 (not delivered): web1: b is down',
      '  watchdog log: 2026-12-07T04:39:00Z alert for a (app up -> down) not delivered',
    ].join('\n'),
  );
});

test('no watchdog yet, a cut answer, escaped host text', () => {
  assert.equal(parseLastAlerts({ stdout: 'run \nlog \nend\n', code: 0 }), { lastRun: null, lastLog: null, alerts: [] });
  assert.is(parseLastAlerts({ stdout: 'run x\n', code: 0 }), null);
  assert.is(watchdogText([{ name: 'web1', watchdog: { lastRun: null, lastLog: null, alerts: [] } }]), '');
  const v = parseLastAlerts({ stdout: `${line('T1', 'a', 'down\x1b[31m')}\nend\n`, code: 0 })!;
  assert.not.ok(watchdogText([{ name: 'web1', watchdog: v }]).includes('\x1b'));
});

test('the command, run by sh in a home with a watchdog folder, gives what the parser reads', () => {
  const home = mkdtempSync(join(tmpdir(), 'hoist-home-'));
  mkdirSync(join(home, '.hoist/watchdog'), { recursive: true });
  writeFileSync(join(home, '.hoist/watchdog/alerts'), 'T1\ta\tapp\tup\tdown\tkept\tweb1: a is DOWN\n');
  writeFileSync(join(home, '.hoist/watchdog/last-run'), 'T9\n');
  const r = spawnSync('sh', ['-c', lastAlertsCommand().line], { env: { HOME: home, PATH: process.env.PATH }, encoding: 'utf8' });
  rmSync(home, { recursive: true, force: true });
  assert.equal(parseLastAlerts({ stdout: r.stdout, code: r.status ?? 1 }), { lastRun: 'T9', lastLog: null, alerts: [{ since: 'T1', app: 'a', check: 'app', from: 'up', to: 'down', outcome: 'kept', text: 'web1: a is DOWN' }] });
});

test.run();
