// dns-verify's probe against fake resolvers: where the expected addresses come from, "no
// records" kept apart from "could not ask", and the authoritative servers found by walking up
// the labels, whose answer wins when they gave one. Real DNS is in test/e2e/dns-verify.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findZoneServers } from '../../lib/dns/authoritative.ts';
import { expectedSource } from '../../lib/dns/expected.ts';
import { observe, type DnsWanted } from '../../lib/dns/observe.ts';
import type { Asker } from '../../lib/dns/resolve-records.ts';

type Zone = Record<string, Partial<Record<'A' | 'AAAA' | 'NS' | 'CNAME', string[] | string>>>;

/** An asker answering from a table; a string value is an error code. Records every query. */
function fakeAsker(zone: Zone, log: string[] = [], label = 'r'): Asker {
  const ask = (type: 'A' | 'AAAA' | 'NS' | 'CNAME') => async (name: string) => {
    log.push(`${label} ${type} ${name}`);
    const entry = zone[name];
    if (!entry) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    const v = entry[type];
    if (typeof v === 'string') throw Object.assign(new Error(v), { code: v });
    if (!v) throw Object.assign(new Error('no data'), { code: 'ENODATA' });
    return v;
  };
  return { resolve4: ask('A'), resolve6: ask('AAAA'), resolveNs: ask('NS'), resolveCname: ask('CNAME') };
}

const wanted = (over: Partial<DnsWanted> = {}): DnsWanted => ({
  domains: ['app.example.com'],
  resolvers: ['127.0.0.1:5353'],
  authoritative: false,
  authoritativePort: 53,
  waitMs: 1000,
  expected: { addresses: ['203.0.113.7'], from: 'PUBLIC_IPS' },
  ...over,
});

test('expected source: PUBLIC_IPS first, then HOST if it is an address, else HOST to resolve', () => {
  assert.equal(expectedSource(['203.0.113.7', '2001:0db8::7'], '198.51.100.1'), { addresses: ['203.0.113.7', '2001:db8::7'], from: 'PUBLIC_IPS' });
  assert.equal(expectedSource([], '198.51.100.1'), { addresses: ['198.51.100.1'], from: 'HOST 198.51.100.1' });
  assert.equal(expectedSource([], 'vps1.example.net'), { resolve: 'vps1.example.net' });
});

test('probe: no records (ENODATA, ENOTFOUND) is an answer; a timeout is "could not ask", not "none"', async () => {
  const zone: Zone = { 'app.example.com': { A: ['203.0.113.7'], AAAA: 'ETIMEOUT' } };
  const fact = await observe(wanted({ domains: ['app.example.com', 'gone.example.com'] }), () => fakeAsker(zone));
  assert.equal(fact.domains, [
    { domain: 'app.example.com', A: { via: '127.0.0.1:5353', addresses: ['203.0.113.7'] }, AAAA: { via: '127.0.0.1:5353', error: 'ETIMEOUT' } },
    { domain: 'gone.example.com', A: { via: '127.0.0.1:5353', addresses: [] }, AAAA: { via: '127.0.0.1:5353', addresses: [] } },
  ]);
});

test('probe: HOST given as a name is resolved (both families); without any address it is an error', async () => {
  const zone: Zone = { 'vps1.example.net': { A: ['203.0.113.7'], AAAA: ['2001:db8::7'] }, 'app.example.com': {} };
  const fact = await observe(wanted({ expected: { resolve: 'vps1.example.net' } }), () => fakeAsker(zone));
  assert.equal(fact.expected, { A: ['203.0.113.7'], AAAA: ['2001:db8::7'], from: 'HOST vps1.example.net (resolved)' });
  try {
    await observe(wanted({ expected: { resolve: 'nowhere.example.net' } }), () => fakeAsker(zone));
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, /HOST nowhere\.example\.net has no A or AAAA record.*PUBLIC_IPS/);
  }
});

test('probe: no domains, no lookups at all', async () => {
  const log: string[] = [];
  const fact = await observe(wanted({ domains: [] }), () => fakeAsker({}, log));
  assert.equal(fact.domains, []);
  assert.equal(log, []);
});

test('authoritative: walks up the labels to the zone with NS records, then finds their addresses', async () => {
  const log: string[] = [];
  const zone: Zone = {
    'app.eu.example.com': { A: ['198.51.100.1'] },
    'example.com': { NS: ['ns2.dns.test', 'ns1.dns.test'] },
    'ns1.dns.test': { A: ['192.0.2.53'] },
    'ns2.dns.test': { A: ['192.0.2.54'] },
  };
  const found = await findZoneServers('app.eu.example.com', fakeAsker(zone, log), 5300);
  assert.equal(found, { zone: 'example.com', names: ['ns1.dns.test', 'ns2.dns.test'], servers: ['192.0.2.53:5300', '192.0.2.54:5300'] });
  assert.equal(log.filter((l) => l.includes(' NS ')), ['r NS app.eu.example.com', 'r NS eu.example.com', 'r NS example.com']);
  assert.equal(await findZoneServers('a.b.test', fakeAsker({})), { error: 'found no NS records for a.b.test or its parent domains' });
});

test('authoritative: its answer wins over a stale cache; when it cannot be asked the cache stands, marked', async () => {
  const cache: Zone = {
    'app.example.com': { A: ['198.51.100.1'] },
    'example.com': { NS: ['ns1.example.com'] },
    'ns1.example.com': { A: ['192.0.2.53'] },
  };
  const source: Zone = { 'app.example.com': { A: ['203.0.113.7'], AAAA: 'ETIMEOUT' } };
  const make = (servers: string[]) => (servers[0] === '192.0.2.53' ? fakeAsker(source, [], 'ns') : fakeAsker(cache));
  const fact = await observe(wanted({ authoritative: true }), make);
  const seen = fact.domains[0]!;
  assert.equal(seen.A, { via: 'ns1.example.com (authoritative for example.com)', addresses: ['203.0.113.7'], authoritative: true });
  assert.equal(seen.AAAA, { via: '127.0.0.1:5353', addresses: [] }, 'authoritative timed out: the resolver answer stands');

  const noNs = await observe(wanted({ authoritative: true }), () => fakeAsker({ 'app.example.com': { A: ['203.0.113.7'] } }));
  assert.match(noNs.domains[0]!.A.via, /^127\.0\.0\.1:5353 \(authoritative servers not asked: found no NS records/);
});

test('authoritative: a CNAME into another zone leaves the addresses to the resolvers', async () => {
  const cache: Zone = {
    'app.example.com': { A: ['203.0.113.7'] },
    'example.com': { NS: ['ns1.example.com'] },
    'ns1.example.com': { A: ['192.0.2.53'] },
  };
  const source: Zone = { 'app.example.com': { CNAME: ['vps1.example.net'] } };
  const make = (servers: string[]) => (servers[0] === '192.0.2.53' ? fakeAsker(source, [], 'ns') : fakeAsker(cache));
  const seen = (await observe(wanted({ authoritative: true }), make)).domains[0]!;
  assert.equal(seen.A, { via: '127.0.0.1:5353 (app.example.com is an alias of vps1.example.net)', addresses: ['203.0.113.7'] });
});

test.run();
