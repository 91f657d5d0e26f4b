// dns-verify through the real CLI against a real DNS server (dnsmasq on loopback): right records
// are unchanged, a record that appears while it waits is changed, wrong and stale records fail
// within DNS_WAIT naming the exact records to enter, a dry run never waits, the authoritative
// answer beats a stale cache, and not one connection to the host is attempted.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport, TaskReport } from '../../lib/report/run-report.ts';
import { DnsServer, nsRecordArg } from '../harness/dns-server.ts';
import { assertNothingChanged, runTwice } from '../harness/run-twice.ts';
import { REPO_ROOT, Testbed, type CliResult } from '../harness/testbed.ts';

const test = suite('dns-verify, end to end');
const FIXTURE = join(REPO_ROOT, 'test/fixtures/pipelines/dns-only.ts');
const DOMAIN = 'app.hoist.test';
const tb = new Testbed();
let dns: DnsServer;
/** Where the inventory says the host's sshd is: it only counts who knocks. */
let trap: Server;
let knocks = 0;

test.before(async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hoist-test', '-f', tb.keyPath]);
  trap = createServer((s) => {
    knocks++;
    s.destroy();
  });
  await new Promise<void>((res) => trap.listen(0, '127.0.0.1', res));
  const port = (trap.address() as { port: number }).port;
  tb.file('inventory.json', JSON.stringify({ hosts: { web1: { host: '127.0.0.1', port } } }));
  dns = await DnsServer.start();
});
test.after(async () => {
  await dns?.stop();
  await new Promise((res) => trap.close(res));
  rmSync(tb.dir, { recursive: true, force: true });
});

async function hoist(vars: Record<string, string>, extra: string[] = [], env: Record<string, string> = {}, pipeline = FIXTURE) {
  tb.writeEnv({ APP_DOMAIN: DOMAIN, DNS_RESOLVERS: dns.address, DNS_WAIT: '5', ...vars });
  const jsonPath = join(tb.dir, `report-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
  const r: CliResult = await tb.hoist(['run', pipeline, '--env-file', tb.envPath, '--inventory', join(tb.dir, 'inventory.json'), '--json', jsonPath, ...extra], env);
  let report: RunReport;
  try {
    report = JSON.parse(readFileSync(jsonPath, 'utf8')) as RunReport;
  } catch {
    throw new Error(`no JSON report (exit ${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  const task = report.hosts[0]!.tasks[0]!;
  return { r, report, task, all: `${r.stdout}\n${r.stderr}` };
}

const show = (r: CliResult, task: TaskReport) => `exit ${r.code}\n${r.stdout}\n${r.stderr}\n${JSON.stringify(task, null, 2)}`;

test('right record: unchanged with the reason, twice', async () => {
  await dns.setRecords({ [DOMAIN]: ['127.0.0.1'] });
  for (let run = 1; run <= 2; run++) {
    const { r, task } = await hoist({});
    assert.is(r.code, 0, show(r, task));
    assert.is(task.status, 'unchanged', show(r, task));
    assert.is(task.reason, 'app.hoist.test A → 127.0.0.1 (as wanted)');
    assert.ok(r.stdout.includes('app.hoist.test A → 127.0.0.1 (as wanted)'), r.stdout);
  }
});

test('no APP_DOMAIN: nothing to check, twice', async () => {
  const { r, task } = await runTwice('no APP_DOMAIN', () => hoist({ APP_DOMAIN: '' }));
  assert.is(r.code, 0, show(r, task));
  assert.is(task.status, 'unchanged');
  assert.is(task.reason, 'no APP_DOMAIN set');
});

test('a record that appears while it waits: changed (it waited), then unchanged', async () => {
  await dns.setRecords({});
  const asked = dns.queriesFor(DOMAIN);
  const running = hoist({ DNS_WAIT: '30' });
  // The first probe has seen no record (its A and AAAA queries arrived); 2 s later it appears.
  await dns.waitForQueries(DOMAIN, asked + 2);
  await new Promise((res) => setTimeout(res, 2000));
  await dns.setRecords({ [DOMAIN]: ['127.0.0.1'] });
  const askedWhenSet = dns.queriesFor(DOMAIN);
  const { r, task } = await running;
  // dnsmasq's log reaches us through a pipe: let the last lines arrive (bounded).
  await dns.waitForQueries(DOMAIN, askedWhenSet + 4);
  const askedAfter = dns.queriesFor(DOMAIN) - askedWhenSet;
  assert.is(r.code, 0, show(r, task));
  assert.is(task.status, 'changed', show(r, task));
  assert.equal(task.steps, ['A  app.hoist.test → 127.0.0.1 (now: none)']);
  assert.ok(r.stdout.includes('waiting for DNS (30s left): A  app.hoist.test → 127.0.0.1 (now: none)'), r.stdout);
  assert.ok(task.durationMs >= 2000, `waited ${task.durationMs} ms`);
  // Polled every 1.5 s (30 s / 20), each look an A and an AAAA query. After the record appeared:
  // the look that saw it (or one more, if a look was under way as it changed), then verify's
  // look, and no more (waiting out the 30 s would be some 18 more looks).
  assert.ok(askedAfter >= 4 && askedAfter <= 6, `${askedAfter} queries after the record appeared`);
  console.log(`    timing: record appeared after ~2 s, run took ${r.durationMs} ms (task ${task.durationMs} ms, ${askedAfter} queries after it appeared)`);
  const again = await hoist({ DNS_WAIT: '30' });
  assert.is(again.r.code, 0);
  assert.is(again.task.status, 'unchanged', show(again.r, again.task));
  assertNothingChanged(again.report, 'the record that appeared, run again');
});

test('a wrong record: exit 1 within DNS_WAIT, naming the exact record to create', async () => {
  await dns.setRecords({ [DOMAIN]: ['127.0.0.2'] });
  const asked = dns.queriesFor(DOMAIN);
  const { r, task, all } = await hoist({ DNS_WAIT: '3' });
  assert.is(r.code, 1, show(r, task));
  assert.is(task.status, 'failed');
  assert.ok(task.durationMs >= 3000, `task ${task.durationMs} ms`);
  await dns.waitForQueries(DOMAIN, asked + 4);
  // It gave up at DNS_WAIT, counted in looks (A + AAAA each): the probe's, then 3 s / 200 ms = 15
  // (fewer on a busy machine, never more; one more for a timer firing a hair early). Waiting
  // twice as long would be 15 more.
  const looks = (dns.queriesFor(DOMAIN) - asked) / 2;
  assert.ok(looks >= 2 && looks <= 17, `${looks} looks in a 3 s wait`);
  console.log(`    timing: DNS_WAIT=3, run took ${r.durationMs} ms (task ${task.durationMs} ms, ${looks} looks)`);
  assert.match(task.error ?? '', /^DNS for app\.hoist\.test is not right after 3s\. Create or fix these records at your DNS provider:\n {2}A {2}app\.hoist\.test → 127\.0\.0\.1\n/);
  assert.match(task.error ?? '', /Seen now: A app\.hoist\.test: 127\.0\.0\.2/);
  assert.ok(all.includes('A  app.hoist.test → 127.0.0.1'), all);
  // Again: it fails the same way (nothing changed at the DNS provider).
  const again = await hoist({ DNS_WAIT: '3' });
  assert.is(again.r.code, 1, show(again.r, again.task));
  assert.is(again.task.error, task.error);
});

test('a stale AAAA beside the right A: reported as a record to remove', async () => {
  await dns.setRecords({ [DOMAIN]: ['127.0.0.1', '2001:db8::1'] });
  // Twice: it fails the same way both times.
  for (const round of [1, 2]) {
    const { r, task } = await hoist({ DNS_WAIT: '1' });
    assert.is(r.code, 1, `round ${round}: ${show(r, task)}`);
    assert.equal(task.steps, ['remove AAAA app.hoist.test → 2001:db8::1']);
    assert.ok((task.error ?? '').includes('\n  remove AAAA app.hoist.test → 2001:db8::1\n'), task.error);
  }
});

test('--dry-run with a wrong record prints the record to create and exits 0 without waiting', async () => {
  await dns.setRecords({ [DOMAIN]: ['127.0.0.2'] });
  const asked = dns.queriesFor(DOMAIN);
  const { r, task, report } = await hoist({ DNS_WAIT: '600' }, ['--dry-run']);
  assert.is(r.code, 0, show(r, task));
  assert.ok(report.dryRun);
  assert.is(task.status, 'changed');
  assert.ok(r.stdout.includes('- A  app.hoist.test → 127.0.0.1 (now: 127.0.0.2)'), r.stdout);
  // Did not wait: the probe's one look (an A and an AAAA query), no polling.
  await dns.waitForQueries(DOMAIN, asked + 2);
  assert.is(dns.queriesFor(DOMAIN) - asked, 2, 'queries of a dry run');
});

test('DNS_AUTHORITATIVE: the zone\'s own server is asked and beats a stale resolver cache', async () => {
  // The resolver still serves the old address; the zone's name server (ns1.hoist.test, on its
  // own loopback port) already has the new one.
  const source = await DnsServer.start({
    records: { [DOMAIN]: ['127.0.0.1'], 'ns1.hoist.test': ['127.0.0.1'] },
    extraArgs: ['--auth-zone=hoist.test', '--auth-server=ns1.hoist.test,127.0.0.1'],
  });
  const cache = await DnsServer.start({ records: { [DOMAIN]: ['127.0.0.2'], 'ns1.hoist.test': ['127.0.0.1'] }, extraArgs: [nsRecordArg('hoist.test', 'ns1.hoist.test')] });
  try {
    const vars = { DNS_RESOLVERS: cache.address, DNS_WAIT: '2' };
    const env = { HOIST_DNS_AUTH_PORT: String(source.port) };
    const cached = await hoist({ ...vars, DNS_AUTHORITATIVE: 'false' }, ['--dry-run'], env);
    assert.equal(cached.task.steps, ['A  app.hoist.test → 127.0.0.1 (now: 127.0.0.2)'], show(cached.r, cached.task));
    const { r, task } = await runTwice('DNS_AUTHORITATIVE', () => hoist({ ...vars, DNS_AUTHORITATIVE: 'true' }, [], env));
    assert.is(r.code, 0, show(r, task));
    assert.is(task.status, 'unchanged');
    assert.is(task.reason, 'app.hoist.test A → 127.0.0.1 (as wanted, per ns1.hoist.test (authoritative for hoist.test))');
  } finally {
    await source.stop();
    await cache.stop();
  }
});

test('no connection to the host was attempted by any run above; a remote pipeline would have knocked', async () => {
  assert.is(knocks, 0, 'dns-verify never connects');
  // Control: the same inventory with a task that needs the host does reach the trap; twice, each
  // run knocking again (it fails by design: nothing answers SSH there).
  let before = knocks;
  for (const round of [1, 2]) {
    const { r } = await hoist({ RETRIES: '0' }, [], {}, 'cron');
    assert.is(r.code, 1);
    assert.ok(knocks > before, `round ${round}: the trap counts real attempts (${knocks})`);
    before = knocks;
  }
});

test.run();
