// A host that is down when a fleet run starts, with the real CLI against real sshd hosts: the
// others finish, --max-fail is honoured (no new host starts once it is exceeded), and the
// summary names the host and why. Each run is made twice: the outcome must be the same.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { docker } from '../harness/docker.ts';
import { Testbed, type CliResult, type TestHost } from '../harness/testbed.ts';

const test = suite('a host down at the start of a fleet run, end to end');
const tb = new Testbed();
let down: TestHost;

test.before(async () => {
  await tb.start({ count: 4, deployUser: true });
  down = tb.hosts[1]!;
  tb.writeEnv({ APP_NAME: 'app', CRON_FILE: tb.file('jobs.crontab', '@hourly echo fleet\n'), SSH_CONNECT_TIMEOUT: '3', RETRIES: '1' });
  tb.writeInventory();
  await docker('pause', down.container);
});
test.after(async () => {
  await docker('unpause', down.container).catch(() => undefined);
  await tb.stop();
});

const run = (extra: string[]): Promise<{ r: CliResult; report: RunReport }> =>
  tb.hoistWithReport(['run', 'cron', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, ...extra]);
const jobsOf = async (h: TestHost) => (await h.sh('crontab -l 2>/dev/null', 'deploy')).stdout;

test('--max-fail 1: the three others finish; the down host is failed with the reason; exit 1 (twice)', async () => {
  for (let round = 1; round <= 2; round++) {
    const { r, report } = await run(['--max-fail', '1', '--concurrency', '4']);
    assert.is(r.code, 1, r.stderr);
    const byName = Object.fromEntries(report.hosts.map((h) => [h.name, h]));
    assert.is(byName[down.name]!.status, 'failed');
    assert.match(byName[down.name]!.error!, /timed out|did not answer|handshake/i);
    for (const h of tb.hosts.filter((x) => x !== down)) {
      assert.is(byName[h.name]!.status, 'ok');
      assert.is(byName[h.name]!.tasks[0]!.status, round === 1 ? 'changed' : 'unchanged');
      assert.match(await jobsOf(h), /@hourly echo fleet/);
    }
    assert.match(r.stdout, new RegExp(`\\n${down.name}\\s+-\\s+failed\\s+\\S+\\s+.*(timed out|did not answer|handshake)`, 'i'));
    assert.match(r.stdout, /3 of 4 hosts ok, 1 failed/);
  }
});

test('--batch 1 --max-fail 0: the host after the down one is never started (twice)', async () => {
  for (let round = 1; round <= 2; round++) {
    const { r, report } = await run(['--batch', '1', '--max-fail', '0']);
    assert.is(r.code, 1);
    assert.equal(report.hosts.map((h) => h.status), ['ok', 'failed', 'skipped', 'skipped']);
    for (const h of report.hosts.slice(2)) {
      assert.match(h.note!, /not started: 1 host\(s\) failed, more than --max-fail allows \(0\)/);
      assert.is(h.startedAt, null);
    }
    assert.match(r.stdout, /1 of 4 hosts ok, 1 failed, 2 skipped/);
  }
});

test.run();
