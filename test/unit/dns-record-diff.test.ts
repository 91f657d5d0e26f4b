// dns-verify's plan as data: a table of {expected addresses, what resolvers answered} -> the
// exact records to create, fix or remove, or the reason nothing is needed. No DNS involved.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { byFamily } from '../../lib/dns/expected.ts';
import { diffRecords, type DnsFact } from '../../lib/dns/record-diff.ts';
import type { Answer } from '../../lib/dns/resolve-records.ts';

const VIA = '127.0.0.1:5353';
const has = (...addresses: string[]): Answer => ({ via: VIA, addresses });
const none = has();
const failed = (error: string): Answer => ({ via: VIA, error });
const fact = (expected: string[], seen: [string, Answer, Answer][]): DnsFact => ({
  expected: byFamily(expected, 'PUBLIC_IPS'),
  domains: seen.map(([domain, A, AAAA]) => ({ domain, A, AAAA })),
});

const cases: { name: string; fact: DnsFact; steps?: string[]; reason?: string }[] = [
  {
    name: 'IPv4 only, right',
    fact: fact(['203.0.113.7'], [['api.example.com', has('203.0.113.7'), none]]),
    reason: 'api.example.com A → 203.0.113.7 (as wanted)',
  },
  {
    name: 'IPv4 only, missing',
    fact: fact(['203.0.113.7'], [['app.example.com', none, none]]),
    steps: ['A  app.example.com → 203.0.113.7 (now: none)'],
  },
  {
    name: 'IPv4 only, pointing elsewhere',
    fact: fact(['203.0.113.7'], [['app.example.com', has('198.51.100.1'), none]]),
    steps: ['A  app.example.com → 203.0.113.7 (now: 198.51.100.1)'],
  },
  {
    name: 'IPv6 only, right; no A wanted and none there',
    fact: fact(['2001:db8::7'], [['v6.example.com', none, has('2001:db8::7')]]),
    reason: 'v6.example.com AAAA → 2001:db8::7 (as wanted)',
  },
  {
    name: 'IPv6 only, missing, and a stray A',
    fact: fact(['2001:db8::7'], [['v6.example.com', has('203.0.113.9'), none]]),
    steps: ['remove A v6.example.com → 203.0.113.9', 'AAAA v6.example.com → 2001:db8::7 (now: none)'],
  },
  {
    name: 'IPv6 written long in PUBLIC_IPS matches the compressed answer',
    fact: fact(['2001:0db8:0:0::7'], [['v6.example.com', none, has('2001:db8::7')]]),
    reason: 'v6.example.com AAAA → 2001:db8::7 (as wanted)',
  },
  {
    name: 'both families, right, two domains',
    fact: fact(['203.0.113.7', '2001:db8::7'], [
      ['a.example.com', has('203.0.113.7'), has('2001:db8::7')],
      ['b.example.com', has('203.0.113.7'), has('2001:db8::7')],
    ]),
    reason: 'a.example.com A → 203.0.113.7, AAAA → 2001:db8::7 (as wanted); b.example.com A → 203.0.113.7, AAAA → 2001:db8::7 (as wanted)',
  },
  {
    name: 'both families wanted, only A there',
    fact: fact(['203.0.113.7', '2001:db8::7'], [['a.example.com', has('203.0.113.7'), none]]),
    steps: ['AAAA a.example.com → 2001:db8::7 (now: none)'],
  },
  {
    name: 'extra A record beside the right one',
    fact: fact(['203.0.113.7'], [['app.example.com', has('198.51.100.1', '203.0.113.7'), none]]),
    steps: ['A  app.example.com → 203.0.113.7 (now: 198.51.100.1, 203.0.113.7)'],
  },
  {
    name: 'two wanted A records, one there',
    fact: fact(['203.0.113.7', '203.0.113.8'], [['app.example.com', has('203.0.113.7'), none]]),
    steps: ['A  app.example.com → 203.0.113.7, 203.0.113.8 (now: 203.0.113.7)'],
  },
  {
    name: 'stale AAAA while only IPv4 is known: must be removed',
    fact: fact(['203.0.113.7'], [['app.example.com', has('203.0.113.7'), has('2001:db8::1')]]),
    steps: ['remove AAAA app.example.com → 2001:db8::1'],
  },
  {
    name: 'could not ask for A: shown, not taken as "none"',
    fact: fact(['203.0.113.7'], [['app.example.com', failed('ETIMEOUT'), none]]),
    steps: [`A  app.example.com → 203.0.113.7 (now: unknown, could not ask ${VIA}: ETIMEOUT)`],
  },
  {
    name: 'could not ask for AAAA while none is wanted',
    fact: fact(['203.0.113.7'], [['app.example.com', has('203.0.113.7'), failed('ESERVFAIL')]]),
    steps: [`no AAAA record for app.example.com (now: unknown, could not ask ${VIA}: ESERVFAIL)`],
  },
  {
    name: 'one domain right, one wrong: only the wrong one is a step',
    fact: fact(['203.0.113.7'], [
      ['a.example.com', has('203.0.113.7'), none],
      ['b.example.com', none, none],
    ]),
    steps: ['A  b.example.com → 203.0.113.7 (now: none)'],
  },
  { name: 'no domains', fact: fact(['203.0.113.7'], []), reason: 'no APP_DOMAIN set' },
];

for (const c of cases) {
  test(`plan: ${c.name}`, () => {
    const plan = diffRecords(c.fact);
    if (c.reason !== undefined) {
      assert.is(plan.changes, false, JSON.stringify(plan));
      if (!plan.changes) assert.is(plan.reason, c.reason);
    } else {
      assert.ok(plan.changes, JSON.stringify(plan));
      if (plan.changes) assert.equal(plan.steps.map((s) => s.describe), c.steps);
    }
  });
}

test('plan: each step also carries the bare record to enter, without the "now" part', () => {
  const plan = diffRecords(fact(['203.0.113.7'], [['app.example.com', has('198.51.100.1'), has('2001:db8::1')]]));
  assert.ok(plan.changes);
  if (plan.changes) assert.equal(plan.steps.map((s) => s.record), ['A  app.example.com → 203.0.113.7', 'remove AAAA app.example.com → 2001:db8::1']);
});

test('plan: an authoritative answer is named in the reason', () => {
  const auth: Answer = { via: 'ns1.example.com (authoritative for example.com)', authoritative: true, addresses: ['203.0.113.7'] };
  const plan = diffRecords(fact(['203.0.113.7'], [['app.example.com', auth, none]]));
  assert.equal(plan, { changes: false, reason: 'app.example.com A → 203.0.113.7 (as wanted, per ns1.example.com (authoritative for example.com))' });
});

test.run();
