// What https serves, read from recorded output: curl's %{certs} (a leaf and its issuer, as curl
// 7.88 prints them), the status and redirect, the problems that keep a release from counting as
// served over https, `hoist status`'s days left and warnings, and Caddy's own reasons from its
// JSON log (only those logged since the last config load, only for the app's domains).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  caddyLogTail,
  certificateCheck,
  certificateStatus,
  obtainErrors,
  parseCertDate,
  parseCertificateCheck,
  parseFirstCertificate,
  servingProblems,
  type DomainServing,
} from '../../tasks/caddy-reload/certificate.ts';
import { REPO_ROOT } from '../harness/testbed.ts';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test/fixtures/caddy', name), 'utf8');
const CHAIN = fixture('curl-certs-chain.txt');
const MARK = '=== hoist-cert';
const answer = (https: string, http = 'status=308\nlocation=https://app.hoist.test/\n') => `${MARK} https app.hoist.test\n${https}\n${MARK} http app.hoist.test\n${http}${MARK} end\n`;

test('command: https with the domain as SNI and Host on 127.0.0.1, then http, per domain; framed', () => {
  assert.is(
    certificateCheck(['app.hoist.test'], '/health?x=1').line,
    `for d in app.hoist.test; do
  echo '=== hoist-cert'" https $d"
  curl -sS -k -o /dev/null --max-time 5 --resolve "$d:443:127.0.0.1" -w 'status=%{http_code}\\n%{certs}' "https://$d"'/health?x=1' 2>&1 | head -c 65536
  echo
  echo '=== hoist-cert'" http $d"
  curl -sS -o /dev/null --max-time 5 --resolve "$d:80:127.0.0.1" -w 'status=%{http_code}\\nlocation=%{redirect_url}\\n' "http://$d"'/health?x=1' 2>&1 | head -c 4096
done
echo '=== hoist-cert'" end"`,
  );
  assert.match(caddyLogTail().line, /journalctl -u caddy -o cat -n 1000 --no-pager/);
  assert.match(caddyLogTail().line, /readlink \/proc\/\$pid\/fd\/2/);
});

test('parse: the leaf of the chain (not its issuer), names, serial, expiry', () => {
  assert.equal(parseFirstCertificate(CHAIN), {
    subject: '',
    issuer: 'CN = Pebble Intermediate CA 26c5ec',
    serial: '62be43b1651c6e19',
    names: ['app.hoist.test'],
    notAfter: '2026-12-31T15:09:56.000Z',
  });
  assert.is(parseFirstCertificate('status=000\ncurl: (35) error:0A000438:SSL routines::tlsv1 alert internal error'), null);
  assert.is(parseCertDate('Mar  1 15:09:56 2027 GMT'), '2027-03-01T15:09:56.000Z');
  assert.is(parseCertDate('Mar 12 05:09:56 2027 GMT'), '2027-03-12T05:09:56.000Z');
  assert.is(parseCertDate('12/03/2027'), null);
});

test('parse: status, certificate and redirect per domain; a curl error is kept; a domain missing from the answer is "not checked"', () => {
  const [s] = parseCertificateCheck(answer(CHAIN), ['app.hoist.test']);
  assert.is(s!.status, 200);
  assert.is(s!.certificate!.serial, '62be43b1651c6e19');
  assert.is(s!.error, null);
  assert.equal(s!.http, { status: 308, location: 'https://app.hoist.test/' });
  const [failed] = parseCertificateCheck(answer('curl: (35) error:0A000438:SSL routines::tlsv1 alert internal error\nstatus=000\n'), ['app.hoist.test']);
  assert.equal({ status: failed!.status, certificate: failed!.certificate, error: failed!.error }, { status: null, certificate: null, error: 'curl: (35) error:0A000438:SSL routines::tlsv1 alert internal error' });
  const [, missing] = parseCertificateCheck(answer(CHAIN), ['app.hoist.test', 'www.hoist.test']);
  assert.is(missing!.error, 'not checked');
});

const served = (over: Partial<DomainServing> = {}): DomainServing => ({ ...parseCertificateCheck(answer(CHAIN), ['app.hoist.test'])[0]!, ...over });

test('serving problems: none when served right; else each reason in words', () => {
  assert.equal(servingProblems([served()], ['app.hoist.test']), []);
  assert.equal(servingProblems([served({ certificate: null, error: 'curl: (35) alert' })], ['app.hoist.test']), ['https://app.hoist.test: no certificate served (curl: (35) alert)']);
  const other = { ...served().certificate!, names: ['app.hoist.test', 'evil.example.com'] };
  assert.equal(servingProblems([served({ certificate: other })], ['app.hoist.test']), ['https://app.hoist.test: the certificate also names evil.example.com']);
  const wrong = { ...served().certificate!, names: ['localhost'] };
  assert.match(servingProblems([served({ certificate: wrong })], ['app.hoist.test'])[0]!, /the certificate names localhost \(issuer CN = Pebble Intermediate CA 26c5ec\), not app\.hoist\.test/);
  assert.equal(servingProblems([served({ status: 502 })], ['app.hoist.test']), ['https://app.hoist.test: the health path answered 502']);
  assert.equal(servingProblems([served({ http: { status: 200, location: '' } })], ['app.hoist.test']), ['http://app.hoist.test: answered 200, not a redirect to https://app.hoist.test']);
});

test('status: issuer, serial, days left (floor), a warning under 14 days, expired, none', () => {
  const cert = served().certificate!;
  const at = (iso: string) => certificateStatus([served()], new Date(iso))[0]!;
  assert.equal(at('2026-12-01T15:09:56Z'), { domain: 'app.hoist.test', issuer: cert.issuer, serial: cert.serial, notAfter: cert.notAfter, daysLeft: 30, warning: null });
  assert.is(at('2026-12-17T15:09:57Z').daysLeft, 13);
  assert.match(at('2026-12-17T15:09:57Z').warning ?? '', /^expires in 13 days \(2026-12-31\)/);
  assert.is(at('2026-12-17T15:09:56Z').warning, null, '14 days left: no warning yet');
  assert.match(at('2027-01-02T00:00:00Z').warning ?? '', /^expired on 2026-12-31/);
  assert.equal(certificateStatus([served({ certificate: null, error: 'curl: (7) refused' })], new Date())[0]!.warning, 'no certificate served (curl: (7) refused)');
});

test("Caddy's reasons: only after the last /load, only the app's domains, the issuer's error first", () => {
  const log = fixture('caddy-obtain-failed.jsonl');
  assert.equal(obtainErrors(log, ['app.hoist.test', 'www.hoist.test']), [
    {
      domain: 'www.hoist.test',
      error: '[www.hoist.test] creating new order: fetching new nonce from server: performing request: Head "https://172.17.0.1:42523/nonce-plz": dial tcp 172.17.0.1:42523: connect: connection refused (ca=https://172.17.0.1:42523/dir)',
    },
  ]);
  assert.equal(obtainErrors(log, ['app.hoist.test']), []);
  assert.equal(obtainErrors('caddy.Version=2.6.2\nnot json\n', ['app.hoist.test']), []);
  // Several issuers: only Caddy's "will retry" (every issuer failed) ends the wait.
  const final = obtainErrors(log, ['www.hoist.test'], { finalOnly: true });
  assert.is(final.length, 1);
  const firstIssuerOnly = log.split('\n').filter((l) => !l.includes('"will retry"')).join('\n');
  assert.equal(obtainErrors(firstIssuerOnly, ['www.hoist.test'], { finalOnly: true }), [], 'another issuer may still succeed');
  assert.is(obtainErrors(firstIssuerOnly, ['www.hoist.test']).length, 1, 'with one issuer (ACME_CA) its failure is the end');
  // The reload fell out of the log tail: nothing is attributed to this release.
  const noLoad = log.split('\n').filter((l) => !l.includes('"/load"')).join('\n');
  assert.equal(obtainErrors(noLoad, ['www.hoist.test']), []);
});

test.run();
