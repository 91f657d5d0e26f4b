// The engine's promises, proven with the real CLI against real sshd hosts: cron-install on a
// fleet (changed, then unchanged), dry run touches nothing, rollback of a completed task when a
// later one fails, retry after a dropped connection, no retry of a wrong key, refusal of a
// changed host key, and hosts worked on in parallel.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { assertNothingChanged, runTwice } from '../harness/run-twice.ts';
import { REPO_ROOT, Testbed, type CliResult, type TestHost } from '../harness/testbed.ts';

const test = suite('cron pipeline, end to end');
const tb = new Testbed();
const USER_CRONTAB = '# my own jobs\nMAILTO=""\n17 3 * * * /usr/local/bin/backup --all   # keep\n';
const JOBS = '# scheduled jobs of the app\n*/15 * * * * cd ~/current && ./bin/refresh-model\n@daily ~/current/bin/cleanup\n';
let cronFile = '';

test.before(async () => {
  await tb.start({ count: 5, deployUser: true });
  cronFile = tb.file('jobs.crontab', JOBS);
});
test.after(async () => {
  await tb.stop();
});

const crontabOf = async (h: TestHost) => (await h.sh('crontab -l 2>/dev/null', 'deploy')).stdout;
const spoolStamp = async (h: TestHost) => (await h.sh('stat -c %Y.%i /var/spool/cron/crontabs/deploy 2>/dev/null || echo none')).stdout;
const acceptedCount = (h: TestHost) => {
  // sshd -e logs to stderr, which docker keeps: one "Accepted publickey" per connection.
  const r = execFileSync('sh', ['-c', `docker logs ${h.container} 2>&1 | grep -c 'Accepted publickey' || true`], { encoding: 'utf8' });
  return Number(r.trim());
};
/** Connections that ended before logging in: one "Disconnected from" / "Connection closed by" line each. */
const refusedCount = (h: TestHost) => {
  const r = execFileSync('sh', ['-c', `docker logs ${h.container} 2>&1 | grep -cE '^(Disconnected from|Connection closed by) authenticating user ' || true`], { encoding: 'utf8' });
  return Number(r.trim());
};
/** `refusedCount` once it is above `than` (sshd logs a connection's end a moment after the client left); bounded. */
async function refusedAbove(h: TestHost, than: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const n = refusedCount(h);
    if (n > than || Date.now() > deadline) return n;
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function resetCrontabs(hosts: TestHost[]): Promise<void> {
  for (const h of hosts) {
    const r = await h.sh('rm -f ~/.hoist-dropped; crontab -', 'deploy', USER_CRONTAB);
    assert.is(r.code, 0, r.stderr);
  }
}

async function hoist(args: string[], env: Record<string, string> = {}): Promise<{ r: CliResult; report: RunReport }> {
  const { r, report } = await tb.hoistWithReport([...args, '--env-file', tb.envPath], env);
  return { r, report };
}

const statuses = (report: RunReport, task: string) => report.hosts.map((h) => h.tasks.find((t) => t.task === task)?.status);

test('cron-install on 3 hosts: changed, then unchanged; the user\'s own lines survive; dry run touches nothing', async () => {
  const hosts = tb.hosts.slice(0, 3);
  await resetCrontabs(hosts);
  tb.writeEnv({ APP_NAME: 'sentiment', CRON_FILE: cronFile });
  tb.writeInventory(hosts);
  const before = await Promise.all(hosts.map(crontabOf));
  const stampsBefore = await Promise.all(hosts.map(spoolStamp));

  const dry = await hoist(['run', 'cron', '--inventory', tb.inventoryPath, '--dry-run']);
  assert.is(dry.r.code, 0, dry.r.stderr);
  assert.ok(dry.r.stdout.includes('+*/15 * * * * cd ~/current && ./bin/refresh-model'), 'dry run prints the diff');
  assert.ok(dry.r.stdout.includes('+# BEGIN hoist:sentiment'), dry.r.stdout);
  assert.equal(statuses(dry.report, 'cron-install'), ['changed', 'changed', 'changed']);
  assert.ok(dry.report.dryRun);
  assert.equal(await Promise.all(hosts.map(crontabOf)), before, 'dry run left every crontab byte-identical');
  assert.equal(await Promise.all(hosts.map(spoolStamp)), stampsBefore, 'dry run did not even rewrite the spool file');

  const first = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
  assert.is(first.r.code, 0, first.r.stdout + first.r.stderr);
  assert.equal(statuses(first.report, 'cron-install'), ['changed', 'changed', 'changed']);
  for (const h of hosts) {
    const now = await crontabOf(h);
    assert.ok(now.startsWith(USER_CRONTAB), `user lines kept byte for byte on ${h.name}: ${JSON.stringify(now)}`);
    assert.ok(now.includes('\n@daily ~/current/bin/cleanup\n# END hoist:sentiment\n'), now);
  }
  const afterFirst = await Promise.all(hosts.map(crontabOf));
  const stampsAfterFirst = await Promise.all(hosts.map(spoolStamp));

  const second = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
  assert.is(second.r.code, 0);
  assert.equal(statuses(second.report, 'cron-install'), ['unchanged', 'unchanged', 'unchanged']);
  assertNothingChanged(second.report, 'cron, run again');
  assert.ok(second.report.hosts.every((h) => h.tasks[0]!.reason?.includes('up to date')));
  assert.equal(await Promise.all(hosts.map(crontabOf)), afterFirst, 'second run changed nothing');
  assert.equal(await Promise.all(hosts.map(spoolStamp)), stampsAfterFirst, 'second run did not rewrite the crontab');

  // A job removed from the file is removed from the block; the user's lines still stay.
  tb.file('jobs.crontab', '@daily ~/current/bin/cleanup\n');
  const third = await runTwice('cron after a job was removed', () => hoist(['run', 'cron', '--inventory', tb.inventoryPath, '--hosts', 'web1']));
  assert.is(third.r.code, 0);
  const web1 = await crontabOf(hosts[0]!);
  assert.not.ok(web1.includes('refresh-model'), 'unwanted entry removed');
  assert.ok(web1.startsWith(USER_CRONTAB));
  tb.file('jobs.crontab', JOBS);
});

test('a failing second task rolls the first back: crontab exactly as before, exit 1, report says rolled-back', async () => {
  const host = tb.hosts[0]!;
  await resetCrontabs([host]);
  tb.writeEnv({ APP_NAME: 'sentiment', CRON_FILE: cronFile });
  tb.writeInventory([host]);
  const before = await crontabOf(host);
  const fixture = join(REPO_ROOT, 'test/fixtures/pipelines/cron-then-fail.ts');
  for (let run = 1; run <= 2; run++) {
    const { r, report } = await hoist(['run', fixture, '--inventory', tb.inventoryPath]);
    assert.is(r.code, 1, r.stdout + r.stderr);
    const tasks = report.hosts[0]!.tasks;
    assert.is(tasks[0]!.status, 'rolled-back', JSON.stringify(tasks));
    assert.is(tasks[1]!.status, 'failed');
    assert.match(tasks[1]!.error ?? '', /failing on purpose/);
    assert.is(await crontabOf(host), before, `run ${run}: crontab byte-identical after rollback`);
  }
});

test('a dropped connection is retried and the run succeeds; the re-run changes nothing', async () => {
  const host = tb.hosts[1]!;
  await resetCrontabs([host]);
  tb.writeEnv({ APP_NAME: 'sentiment', CRON_FILE: cronFile });
  tb.writeInventory([host]);
  const fixture = join(REPO_ROOT, 'test/fixtures/pipelines/drop-connection.ts');
  const logins = acceptedCount(host);
  const { r, report } = await hoist(['run', fixture, '--inventory', tb.inventoryPath]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const [drop, cron] = report.hosts[0]!.tasks;
  assert.is(drop!.status, 'changed');
  assert.ok(drop!.attempts >= 2, `retried: ${JSON.stringify(drop)}`);
  assert.is(cron!.status, 'changed');
  assert.is(acceptedCount(host) - logins, 2, 'exactly one reconnection after the drop');
  assert.ok((await crontabOf(host)).includes('# END hoist:sentiment'));

  const again = await hoist(['run', fixture, '--inventory', tb.inventoryPath]);
  assert.is(again.r.code, 0);
  assert.equal(again.report.hosts[0]!.tasks.map((t) => t.status), ['unchanged', 'unchanged']);
  assertNothingChanged(again.report, 'after the dropped connection, run again');
});

test('a wrong key fails at once with a clear message and is not retried', async () => {
  const host = tb.hosts[2]!;
  const otherKey = join(tb.dir, 'wrong_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
  tb.writeEnv({ SSH_KEY: otherKey, RETRIES: '3' });
  tb.writeInventory([host]);
  const before = await crontabOf(host);
  const logins = acceptedCount(host);
  for (let run = 1; run <= 2; run++) {
    // Counted on the host: with RETRIES=3, a retried key would show up to 4 refused connections.
    const refused = refusedCount(host);
    const { r, report } = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
    assert.is(r.code, 1);
    assert.match(report.hosts[0]!.error ?? '', /refused the key/);
    assert.match(r.stdout + r.stderr, /refused the key/);
    assert.is((await refusedAbove(host, refused)) - refused, 1, `run ${run}: one connection tried the key`);
    assert.is(await crontabOf(host), before, `run ${run} changed nothing`);
  }
  assert.is(acceptedCount(host), logins, 'no login was accepted');
});

test('a host whose key changed is refused with both fingerprints, and nothing runs on it', async () => {
  const host = tb.hosts[3]!;
  await resetCrontabs([host]);
  const fake = join(tb.dir, 'fake_host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', fake]);
  const fakePub = readFileSync(`${fake}.pub`, 'utf8').trim().split(' ');
  const knownHosts = tb.file('known_hosts_changed', `[127.0.0.1]:${host.port} ${fakePub[0]} ${fakePub[1]}\n`);
  const expected = execFileSync('ssh-keygen', ['-lf', `${fake}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  const realPub = (await host.sh('cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout;
  const actual = execFileSync('ssh-keygen', ['-lf', '-'], { input: realPub, encoding: 'utf8' }).split(' ')[1]!;
  tb.writeEnv({ KNOWN_HOSTS: knownHosts, APP_NAME: 'sentiment', CRON_FILE: cronFile });
  tb.writeInventory([host]);
  const logins = acceptedCount(host);
  const before = await crontabOf(host);
  for (let run = 1; run <= 2; run++) {
    const { r, report } = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
    assert.is(r.code, 1);
    const error = report.hosts[0]!.error ?? '';
    assert.match(error, /HOST KEY CHANGED/);
    assert.ok(error.includes(expected) && error.includes(actual), `both fingerprints in: ${error}`);
    assert.is(acceptedCount(host), logins, `run ${run} never logged in`);
    assert.is(await crontabOf(host), before);
    assert.equal(report.hosts[0]!.tasks.map((t) => t.status), ['skipped']);
  }
});

test('--accept-new pins an unknown host key, then the host is known', async () => {
  const host = tb.hosts[3]!;
  const knownHosts = join(tb.dir, 'known_hosts_empty');
  tb.writeEnv({ KNOWN_HOSTS: knownHosts });
  tb.writeInventory([host]);
  // Refused once: the run that follows, with --accept-new, is its converged form (then again).
  const refused = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
  assert.is(refused.r.code, 1);
  assert.match(refused.report.hosts[0]!.error ?? '', /--accept-new/);
  const pinned = await hoist(['run', 'cron', '--inventory', tb.inventoryPath, '--accept-new']);
  assert.is(pinned.r.code, 0, pinned.r.stdout);
  assert.ok(readFileSync(knownHosts, 'utf8').includes(host.knownHostsLine.split(' ').slice(1).join(' ')));
  const again = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
  assert.is(again.r.code, 0);
  assertNothingChanged(again.report, 'cron after --accept-new, run again');
});

test('bad config exits 2 with one line naming the key, before any connection', async () => {
  const host = tb.hosts[4]!;
  tb.writeInventory([host]);
  const logins = acceptedCount(host);
  const cases: [Record<string, string>, RegExp][] = [
    [{ SSH_PROT: '22' }, /SSH_PROT.*did you mean SSH_PORT/],
    [{ CRON_FILE: tb.file('bad.crontab', '* * * * * ok\n61 * * * * broken\n') }, /CRON_FILE=.*line 2.*minute "61" is outside 0-59/],
    [{ SSH_KEY: join(tb.dir, 'no-such-key') }, /SSH_KEY=.*cannot read/],
    [{ DEPLOY_USER: 'Deploy User' }, /DEPLOY_USER=/],
  ];
  for (const [vars, pattern] of cases) {
    tb.writeEnv(vars);
    const r = await tb.hoist(['run', 'cron', '--env-file', tb.envPath, '--inventory', tb.inventoryPath]);
    assert.is(r.code, 2, `${JSON.stringify(vars)}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^hoist: config error: /);
    assert.match(lines[0]!, pattern);
  }
  tb.writeEnv({});
  tb.file('inventory-bad.yml', `hosts:\n  web5:\n    host: "bad host!"\n    port: ${host.port}\n`);
  const malformed = await tb.hoist(['run', 'cron', '--env-file', tb.envPath, '--inventory', join(tb.dir, 'inventory-bad.yml')]);
  assert.is(malformed.code, 2);
  assert.match(malformed.stderr, /hosts\.web5\.host.*bad host!/);
  assert.is(acceptedCount(host), logins, 'no connection was made for any bad config');
});

test('one failing host does not stop the others; the summary names each outcome', async () => {
  const hosts = tb.hosts.slice(0, 3);
  await resetCrontabs(hosts);
  tb.writeEnv({ APP_NAME: 'sentiment', CRON_FILE: cronFile });
  tb.writeInventory(hosts);
  // web2's deploy user may not use crontab: its install fails, for real.
  await hosts[1]!.sh('echo root > /etc/cron.allow');
  try {
    const { r, report } = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
    assert.is(r.code, 1);
    assert.equal(report.hosts.map((h) => h.status), ['ok', 'failed', 'ok']);
    assert.equal(statuses(report, 'cron-install'), ['changed', 'failed', 'changed']);
    assert.match(r.stdout, /web2\s+-\s+failed\s+\S+\s+cron-install failed: /);
    assert.match(r.stdout, /2 of 3 hosts ok, 1 failed/);
    const again = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
    assert.is(again.r.code, 1);
    assert.equal(statuses(again.report, 'cron-install'), ['unchanged', 'failed', 'unchanged']);
  } finally {
    await hosts[1]!.sh('rm -f /etc/cron.allow');
  }
});

test('a pipeline\'s prepare runs once, and every host gets what it found', async () => {
  tb.writeEnv({});
  tb.writeInventory(tb.hosts);
  const { r, report } = await hoist(['run', join(REPO_ROOT, 'test/fixtures/pipelines/shared-fact.ts'), '--inventory', tb.inventoryPath]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(statuses(report, 'write-shared'), Array(5).fill('changed'));
  for (const h of tb.hosts) assert.is((await h.sh('cat ~/.hoist-shared', 'deploy')).stdout, 'web1\n', `${h.name} got web1's hostname`);
  const again = await hoist(['run', join(REPO_ROOT, 'test/fixtures/pipelines/shared-fact.ts'), '--inventory', tb.inventoryPath]);
  assert.equal(statuses(again.report, 'write-shared'), Array(5).fill('unchanged'));
  assertNothingChanged(again.report, 'shared-fact, run again');
});

test('5 hosts run in parallel: their runs overlap and take well under 5x one host', async () => {
  await resetCrontabs(tb.hosts);
  tb.writeEnv({ APP_NAME: 'sentiment', CRON_FILE: cronFile });
  tb.writeInventory([tb.hosts[4]!]);
  // Once: a yardstick for the printed timing only; every crontab is reset right after it.
  const one = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
  tb.writeInventory(tb.hosts);
  await resetCrontabs(tb.hosts);
  const five = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
  assert.is(five.r.code, 0, five.r.stdout);
  assert.equal(statuses(five.report, 'cron-install'), Array(5).fill('changed'));
  const spans = five.report.hosts.map((h) => [Date.parse(h.startedAt!), Date.parse(h.startedAt!) + h.durationMs] as const);
  const latestStart = Math.max(...spans.map((s) => s[0]));
  const earliestEnd = Math.min(...spans.map((s) => s[1]));
  assert.ok(latestStart < earliestEnd, 'all five hosts were in progress at the same moment');
  console.log(`    timing: 1 host ${one.report.durationMs} ms, 5 hosts ${five.report.durationMs} ms (pipeline time, from the JSON reports)`);
  const again = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
  assert.equal(statuses(again.report, 'cron-install'), Array(5).fill('unchanged'));
  assertNothingChanged(again.report, 'cron on 5 hosts, run again');
});

// Issue #22 item 4: cron applies a `KEY=value` line to every later line of the crontab, so one
// app's PATH or SHELL would change the next app's jobs. Run by the host's real cron: app alpha's
// variables are refused (exit 2, value hidden, the fix named), alpha's jobs keep their variable in
// the command, and beta's job, in the block after alpha's, sees cron's own environment.
test('one app\'s variables never reach another app\'s jobs: refused with the fix, and the real cron runs beta with its defaults', async () => {
  const host = tb.hosts[0]!;
  await resetCrontabs([host]);
  tb.writeInventory([host]);
  const ALPHA_PATH = '/opt/alpha-secret-bin:/usr/bin:/bin';
  const alphaVars = tb.file('alpha-vars.crontab', `PATH=${ALPHA_PATH}\nSHELL=/bin/bash\n* * * * * echo "alpha $PATH $SHELL" > ~/alpha-env\n`);
  const alpha = tb.file('alpha.crontab', '* * * * * PATH=/opt/alpha/bin:$PATH; echo "alpha $PATH $SHELL" > ~/alpha-env\n');
  const beta = tb.file('beta.crontab', '* * * * * echo "beta $PATH $SHELL" > ~/beta-env\n');
  const before = await crontabOf(host);
  for (let run = 1; run <= 2; run++) {
    tb.writeEnv({ APP_NAME: 'alpha', CRON_FILE: alphaVars });
    const r = await tb.hoist(['run', 'cron', '--env-file', tb.envPath, '--inventory', tb.inventoryPath]);
    assert.is(r.code, 2, `run ${run}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /CRON_FILE=.*line 1 "PATH=\(hidden\)": sets the cron variable PATH, which cron applies to every later line of the crontab.*set it in the job's command instead/);
    assert.not.ok((r.stdout + r.stderr).includes('alpha-secret-bin'), 'the value is not shown');
    assert.is(await crontabOf(host), before, `run ${run}: nothing installed`);
  }
  for (const [app, file] of [['alpha', alpha], ['beta', beta]] as const) {
    tb.writeEnv({ APP_NAME: app, CRON_FILE: file });
    const first = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
    assert.is(first.r.code, 0, first.r.stdout + first.r.stderr);
    assert.equal(statuses(first.report, 'cron-install'), ['changed']);
    const again = await hoist(['run', 'cron', '--inventory', tb.inventoryPath]);
    assert.equal(statuses(again.report, 'cron-install'), ['unchanged']);
  }
  const installed = await crontabOf(host);
  assert.ok(installed.indexOf('# END hoist:alpha') < installed.indexOf('# BEGIN hoist:beta'), `beta's block comes after alpha's:\n${installed}`);
  // The host's own cron daemon runs the jobs at the next minute (bounded wait: 3 minutes).
  // cron writes its pid file once it has forked: waited for, bounded (5 s).
  const started = await host.sh('rm -f ~deploy/alpha-env ~deploy/beta-env; /usr/sbin/cron && i=0; until [ -s /run/crond.pid ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done; cat /run/crond.pid');
  assert.is(started.code, 0, started.stderr);
  assert.match(started.stdout, /^\d+\n$/);
  try {
    let seen = '';
    for (let i = 0; i < 180 && !/^alpha .*\nbeta /s.test(seen); i++) {
      await new Promise((res) => setTimeout(res, 1000));
      seen = (await host.sh('cat ~/alpha-env ~/beta-env 2>/dev/null', 'deploy')).stdout;
    }
    assert.is(seen, 'alpha /opt/alpha/bin:/usr/bin:/bin /bin/sh\nbeta /usr/bin:/bin /bin/sh\n', 'alpha\'s PATH is its own job\'s; beta sees cron\'s defaults');
  } finally {
    await host.sh(`kill ${Number(started.stdout.trim())}`);
    await resetCrontabs([host]);
  }
});

test.run();
