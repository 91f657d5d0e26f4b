// dns-verify's apply is a bounded wait: polled at min(5 s, DNS_WAIT/20) but never faster than
// 200 ms, done as soon as the records are right, and on giving up an error that lists the
// exact records to enter. A fake clock makes it instant.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Plan } from '../../lib/engine/task.ts';
import { DnsLookupError, DnsNotReadyError } from '../../lib/dns/errors.ts';
import type { DnsStep } from '../../lib/dns/record-diff.ts';
import { pollIntervalMs, waitForRecords } from '../../lib/dns/wait.ts';
import { isTransient } from '../../lib/errors.ts';

function fakeClock() {
  let t = 0;
  const sleeps: number[] = [];
  return { sleeps, now: () => t, sleep: async (ms: number) => void (sleeps.push(ms), (t += ms)) };
}

const missing: DnsStep = {
  domain: 'app.example.com',
  family: 'A',
  record: 'A  app.example.com → 203.0.113.7',
  now: 'none',
  via: '127.0.0.1:5353',
  describe: 'A  app.example.com → 203.0.113.7 (now: none)',
};
const wrong: Plan<DnsStep> = { changes: true, steps: [missing] };
const right: Plan<DnsStep> = { changes: false, reason: 'app.example.com A → 203.0.113.7 (as wanted)' };

test('poll interval: DNS_WAIT/20, at most 5 s, at least 200 ms', () => {
  assert.is(pollIntervalMs(600_000), 5000);
  assert.is(pollIntervalMs(60_000), 3000);
  assert.is(pollIntervalMs(1000), 200);
});

test('returns as soon as a look finds the records right, reporting progress on the way', async () => {
  const clock = fakeClock();
  const answers = [wrong, wrong, right];
  const progress: string[] = [];
  const reason = await waitForRecords({ waitMs: 60_000, first: [missing], check: async () => answers.shift()!, progress: (m) => progress.push(m), clock });
  assert.is(reason, right.reason);
  assert.equal(clock.sleeps, [3000, 3000, 3000]);
  assert.is(progress[0], 'waiting for DNS (60s left): A  app.example.com → 203.0.113.7 (now: none)');
  assert.match(progress.at(-1)!, /^DNS right after 9\.0s: app\.example\.com A → 203\.0\.113\.7 \(as wanted\)/);
});

test('gives up at the bound with the exact records to create; the error is not worth retrying', async () => {
  const clock = fakeClock();
  let looks = 0;
  try {
    await waitForRecords({ waitMs: 3000, first: [missing], check: async () => (looks++, wrong), progress: () => {}, clock });
    assert.unreachable('should give up');
  } catch (e) {
    assert.instance(e, DnsNotReadyError);
    assert.is(isTransient(e), false);
    assert.is(
      (e as Error).message,
      'DNS for app.example.com is not right after 3s. Create or fix these records at your DNS provider:\n' +
        '  A  app.example.com → 203.0.113.7\n' +
        'Seen now: A app.example.com: none (from 127.0.0.1:5353)',
    );
  }
  assert.is(clock.now(), 3000, 'waited exactly the bound');
  assert.is(looks, 15, 'looked every 200 ms');
});

test('a look that could not be made (transient) is tried again; any other error stops the wait', async () => {
  const clock = fakeClock();
  const answers: (Plan<DnsStep> | Error)[] = [new DnsLookupError('ETIMEOUT', true), right];
  const reason = await waitForRecords({
    waitMs: 10_000,
    first: [missing],
    check: async () => {
      const a = answers.shift()!;
      if (a instanceof Error) throw a;
      return a;
    },
    progress: () => {},
    clock,
  });
  assert.is(reason, right.reason);
  const stop = waitForRecords({ waitMs: 10_000, first: [missing], check: async () => { throw new DnsLookupError('no such HOST', false); }, progress: () => {}, clock });
  try {
    await stop;
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /no such HOST/);
  }
});

test.run();
