// caddy-reload against a real Caddy, through the real CLI: the app's domain proxied to the active
// slot (blue, then green), a second run that changes and reloads nothing, an operator's own site
// that keeps answering, a bad directive that is never reloaded, internal TLS, a dry run, and
// reloads that reset no client's connection.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { readyImage, startReadyServices } from '../harness/images.ts';
import { assertNothingChanged } from '../harness/run-twice.ts';
import { REPO_ROOT, Testbed, type CliResult, type TestHost } from '../harness/testbed.ts';
import { MIGRATE_REQ, MIGRATE_REQ_UNSET, reloadCaddy } from '../../tasks/caddy-reload/commands.ts';

const test = suite('caddy-reload, end to end');
const tb = new Testbed();
const FIXTURE = join(REPO_ROOT, 'test/fixtures/pipelines/caddy-only.ts');
const SITE = '/etc/caddy/sites/hoist-shop.caddy';
const OTHER_SITE = '\n# the operator\'s own site\nhttp://other.hoist.test {\n\trespond "other"\n}\n';
// No docker-up here records the slots' ports on the host: caddy-reload alone takes them from the settings.
const ENV = { APP_NAME: 'shop', APP_DOMAIN: 'app.hoist.test', CADDY_TLS: 'off', BLUE_PORT: '18001', GREEN_PORT: '18002' };
let host: TestHost;
let operatorCaddyfile = '';
const timings: string[] = [];

test.before(async () => {
  const started = Date.now();
  await tb.start({ count: 1, deployUser: true, dockerInside: true, image: await readyImage() });
  host = tb.hosts[0]!;
  await startReadyServices(host.container);
  // The app's two slots, and a site the operator configured by hand in the main Caddyfile.
  const setup = await host.sh(`set -e
for slot in blue green; do mkdir -p /srv/$slot; echo $slot > /srv/$slot/index.html; done
busybox httpd -p 127.0.0.1:18001 -h /srv/blue
busybox httpd -p 127.0.0.1:18002 -h /srv/green
cat >> /etc/caddy/Caddyfile
caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile 2>/dev/null`, 'root', OTHER_SITE);
  assert.is(setup.code, 0, setup.stderr);
  operatorCaddyfile = await cat('/etc/caddy/Caddyfile');
  assert.ok(operatorCaddyfile.endsWith(OTHER_SITE));
  assert.is(await ask('other.hoist.test'), 'other');
  timings.push(`host ready in ${Date.now() - started} ms`);
  tb.writeEnv(ENV);
  tb.writeInventory();
});
test.after(async () => {
  console.log(`    timing: ${timings.join('; ')}`);
  await tb.stop();
});

async function cat(path: string): Promise<string> {
  const r = await host.sh(`cat ${path} 2>/dev/null || printf none`);
  return r.stdout;
}

/** What Caddy on the host answers for `domain` (plain HTTP on 80, or HTTPS on 443 with -k). */
async function ask(domain: string, https = false): Promise<string> {
  const url = https ? `--resolve ${domain}:443:127.0.0.1 https://${domain}/` : `--resolve ${domain}:80:127.0.0.1 http://${domain}/`;
  const r = await host.sh(`curl -sS -k --max-time 5 ${url}`);
  return r.code === 0 ? r.stdout.trim() : `curl failed: ${r.stderr.trim()}`;
}

/** How many configs Caddy's admin API was handed (`caddy reload` POSTs /load), from Caddy's log. */
async function loads(): Promise<number> {
  const r = await host.sh(`grep -c '"uri":"/load"' /var/log/hoist-caddy.log || true`);
  return Number(r.stdout.trim());
}

/** mtime and inode of the files caddy-reload may write: equal means not even rewritten. */
async function stamps(): Promise<string> {
  return (await host.sh(`stat -c '%n %Y %i' ${SITE} /etc/caddy/Caddyfile 2>&1`)).stdout;
}

async function run(args: string[] = [], label = ''): Promise<{ r: CliResult; report: RunReport; task: RunReport['hosts'][number]['tasks'][number] }> {
  const jsonPath = join(tb.dir, `report-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
  const r = await tb.hoist(['run', FIXTURE, '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', jsonPath, ...args]);
  let report: RunReport;
  try {
    report = JSON.parse(readFileSync(jsonPath, 'utf8')) as RunReport;
  } catch {
    throw new Error(`no JSON report (exit ${r.code})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  if (label) timings.push(`${label} ${report.durationMs} ms`);
  return { r, report, task: report.hosts[0]!.tasks[0]! };
}

test('dry run prints the diff of the site file and of the Caddyfile import, and changes nothing', async () => {
  const loadsBefore = await loads();
  const { r, report, task } = await run(['--dry-run'], 'dry run');
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.ok(report.dryRun);
  assert.is(task.status, 'changed');
  for (const line of [`+++ ${SITE}`, '+http://app.hoist.test {', '+\treverse_proxy 127.0.0.1:18001', '+import /etc/caddy/sites/*.caddy']) {
    assert.ok(r.stdout.includes(line), `dry run shows ${JSON.stringify(line)}:\n${r.stdout}`);
  }
  assert.is(await cat(SITE), 'none', 'no site file written');
  assert.is(await cat('/etc/caddy/Caddyfile'), operatorCaddyfile, 'Caddyfile untouched');
  assert.is(await loads(), loadsBefore, 'Caddy not reloaded');
});

test('first run proxies the domain to blue; second run is unchanged and reloads nothing; the other site answers', async () => {
  const loadsBefore = await loads();
  const first = await run([], 'first run');
  assert.is(first.r.code, 0, first.r.stdout + first.r.stderr);
  assert.is(first.task.status, 'changed');
  assert.is(await ask('app.hoist.test'), 'blue');
  assert.is(await ask('other.hoist.test'), 'other');
  assert.is(await loads(), loadsBefore + 1, 'exactly one reload');
  assert.is(await cat('/etc/caddy/Caddyfile'), `${operatorCaddyfile}import /etc/caddy/sites/*.caddy\n`, 'one line appended, every other byte kept');
  assert.ok((await cat(SITE)).includes('http://app.hoist.test {\n\treverse_proxy 127.0.0.1:18001\n}\n'));
  assert.is((await host.sh(`stat -c '%a %U:%G' ${SITE}`)).stdout.trim(), '644 root:root');

  const stampsBefore = await stamps();
  const second = await run([], 'second run');
  assert.is(second.r.code, 0, second.r.stdout + second.r.stderr);
  assert.is(second.task.status, 'unchanged');
  assertNothingChanged(second.report, 'caddy-reload, run again');
  assert.is(second.task.reason, 'Caddy already proxies app.hoist.test → 127.0.0.1:18001');
  assert.is(await loads(), loadsBefore + 1, 'second run did not reload Caddy');
  assert.is(await stamps(), stampsBefore, 'second run rewrote no file');
  assert.is(await ask('app.hoist.test'), 'blue');
  assert.is(await ask('other.hoist.test'), 'other');
});

test('the active slot switched to green moves the traffic to green; the run after is unchanged', async () => {
  const slot = await host.sh('mkdir -p ~/apps/shop && echo green > ~/apps/shop/active-slot', 'deploy');
  assert.is(slot.code, 0, slot.stderr);
  const loadsBefore = await loads();
  const switched = await run([], 'switch to green');
  assert.is(switched.r.code, 0, switched.r.stdout + switched.r.stderr);
  assert.is(switched.task.status, 'changed');
  assert.match(switched.task.steps.join('\n'), /update \/etc\/caddy\/sites\/hoist-shop\.caddy: app\.hoist\.test → 127\.0\.0\.1:18002/);
  assert.is(await ask('app.hoist.test'), 'green');
  assert.is(await ask('other.hoist.test'), 'other');
  assert.is(await loads(), loadsBefore + 1);
  assert.is(await cat('/etc/caddy/Caddyfile'), `${operatorCaddyfile}import /etc/caddy/sites/*.caddy\n`, 'import not added twice');

  const again = await run();
  assert.is(again.task.status, 'unchanged');
  assertNothingChanged(again.report, 'caddy-reload on green, run again');
  assert.is(await loads(), loadsBefore + 1, 'no reload on the run after');
});

// Caddy opens a new socket on :80 for each config it loads (SO_REUSEPORT) and closes the old one:
// a connection the kernel had queued on the old one, not yet accepted, was reset (curl: `000`,
// "Connection reset by peer", or "Couldn't connect"), more often when the CPU is busy. CI saw one
// such request fail during releases with two test files side by side. hoist's reload first sets
// net.ipv4.tcp_migrate_req=1 (commands.ts, keepQueuedConnections): the kernel hands them to the new
// socket. Here clients ask all along while hoist's own reload command switches the route back
// and forth on a busy CPU, and no request fails.
// No negative control (issue #22): the same load with the setting held at 0 (a read-only bind
// mount over /proc/sys/net/ipv4/tcp_migrate_req, so hoist's reload could not turn it on and said
// so on every reload) reset 0 of 438 requests over 80 switches and 1 of 1113 over 200 switches
// (session 6, 2 cores under heavy load). Resets without the setting are too rare here to assert,
// so this test shows only that no request fails with it, not that the setting is what prevents
// them (the kernel documents that it does; the earlier "60 switches reset 5 to 11" was not
// reproduced).

/**
 * `reloads` switches of the route between the two slots, each by hoist's own reload command,
 * while 4 clients ask all along and 2 busy loops load the CPU. Returns `COUNT OUTCOME` lines
 * (`123 200`, `2 000 Recv failure: Connection reset by peer`) and how many reloads printed
 * MIGRATE_REQ_UNSET (could not turn the setting on).
 */
async function switchUnderLoad(reloads: number): Promise<{ lines: string[]; answered: number; unset: number }> {
  const r = await host.sh(`set -u
rm -f /tmp/switch.*; end=$(( $(date +%s) + 600 )); : >/tmp/switch.out
for b in 1 2; do timeout 600 sh -c 'while [ ! -e /tmp/switch.stop ]; do :; done' & done
for n in 1 2 3 4; do
  (while [ ! -e /tmp/switch.stop ] && [ $(date +%s) -lt $end ]; do curl -s -o /dev/null --max-time 8 -w '%{http_code} %{errormsg}\\n' --resolve app.hoist.test:80:127.0.0.1 http://app.hoist.test/; done >/tmp/switch.$n.log) &
done
sleep 1
for k in $(seq ${reloads}); do
  if [ $((k % 2)) = 1 ]; then from=18002 to=18001; else from=18001 to=18002; fi
  sed -i "s/127.0.0.1:$from/127.0.0.1:$to/" ${SITE}
  { ${reloadCaddy().line}; } >>/tmp/switch.out 2>/tmp/switch.err || { echo "reload $k failed: $(tail -n 3 /tmp/switch.err)"; break; }
  sleep 0.2
done
sleep 0.5; touch /tmp/switch.stop; wait
cat /tmp/switch.[1-4].log | sed 's/ *$//' | sort | uniq -c | sed 's/^ *//'
echo "unset $(grep -c '^${MIGRATE_REQ_UNSET}$' /tmp/switch.out)"`);
  assert.is(r.code, 0, r.stderr);
  const all = r.stdout.trim().split('\n');
  const unset = Number(all.pop()?.replace(/^unset /, ''));
  const answered = Number(all.find((l) => l.endsWith(' 200'))?.split(' ')[0] ?? 0);
  return { lines: all, answered, unset };
}

test('a reload resets no connection: clients asking all along, the route switched 40 times on a busy CPU', async () => {
  const migrate = await host.sh(`cat ${MIGRATE_REQ}`);
  assert.is(migrate.code, 0, `this machine's kernel has no net.ipv4.tcp_migrate_req (Linux 5.14+): ${migrate.stderr}`);
  assert.is(migrate.stdout.trim(), '1', "hoist's reload turned net.ipv4.tcp_migrate_req on");
  const loadsBefore = await loads();
  const { lines, answered, unset } = await switchUnderLoad(40);
  timings.push(`40 switches under load: ${answered} requests`);
  assert.ok(answered > 100, `the clients asked (${lines.join('; ')})`);
  assert.equal(lines.filter((l) => !l.endsWith(' 200')), [], 'every request answered 200');
  assert.is(unset, 0, 'every reload had the setting on');
  assert.is(await loads(), loadsBefore + 40, 'every switch was a reload');
  assert.is(await ask('app.hoist.test'), 'green', 'back on green');
});

test('a bad CADDY_EXTRA fails with caddy\'s message, is never reloaded, and the old route keeps answering', async () => {
  // An allowed directive (lib/config/caddy-extra.ts) with an argument only Caddy knows is wrong.
  tb.writeEnv({ ...ENV, CADDY_EXTRA: 'encode gzip; encode bogus_encoder' });
  try {
    const siteBefore = await cat(SITE);
    const caddyfileBefore = await cat('/etc/caddy/Caddyfile');
    const loadsBefore = await loads();
    for (let attempt = 1; attempt <= 2; attempt++) {
      const { r, task } = await run([], attempt === 1 ? 'rejected config' : '');
      assert.is(r.code, 1, r.stdout + r.stderr);
      assert.is(task.status, 'failed');
      assert.match(task.error ?? '', /caddy validate rejected the new config.*bogus_encoder/);
      assert.match(r.stdout + r.stderr, /bogus_encoder/);
      assert.is(await cat(SITE), siteBefore, `run ${attempt}: site file back byte for byte`);
      assert.is(await cat('/etc/caddy/Caddyfile'), caddyfileBefore);
      assert.is(await loads(), loadsBefore, `run ${attempt}: Caddy never reloaded`);
      assert.is(await ask('app.hoist.test'), 'green');
      assert.is(await ask('other.hoist.test'), 'other');
    }
  } finally {
    tb.writeEnv(ENV);
  }
});

test('CADDY_TLS=internal serves the domain over HTTPS with Caddy\'s own CA; the run after is unchanged', async () => {
  tb.writeEnv({ ...ENV, CADDY_TLS: 'internal' });
  try {
    const loadsBefore = await loads();
    const first = await run([], 'internal TLS');
    assert.is(first.r.code, 0, first.r.stdout + first.r.stderr);
    assert.is(first.task.status, 'changed');
    assert.ok((await cat(SITE)).includes('app.hoist.test {\n\ttls internal\n\treverse_proxy 127.0.0.1:18002\n}\n'));
    assert.is(await ask('app.hoist.test', true), 'green');
    assert.is(await ask('other.hoist.test'), 'other');
    const second = await run();
    assert.is(second.task.status, 'unchanged');
    assertNothingChanged(second.report, 'caddy-reload with internal TLS, run again');
    assert.is(await loads(), loadsBefore + 1, 'one reload over both runs');
  } finally {
    tb.writeEnv(ENV);
  }
});

test('no APP_DOMAIN: exit 2 naming APP_DOMAIN, before connecting', async () => {
  tb.writeEnv({ APP_NAME: 'shop', CADDY_TLS: 'off', BLUE_PORT: '18001', GREEN_PORT: '18002' });
  try {
    const r = await tb.hoist(['run', FIXTURE, '--env-file', tb.envPath, '--inventory', tb.inventoryPath]);
    assert.is(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /APP_DOMAIN is empty; caddy-reload needs the domain/);
  } finally {
    tb.writeEnv(ENV);
  }
});

test.run();
