// `pipeline:bootstrap` as a newcomer runs it, all three tasks for real: a fresh Debian VPS
// reached as root, a DNS server that answers for the app's domain, a git server on the docker
// bridge and the OpenAPI-checked stand-in for GitHub. Afterwards the deploy user can read the
// repo; the second run changes nothing. The token shows up nowhere.
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { DnsServer } from '../harness/dns-server.ts';
import { FakeGitHub } from '../harness/fake-github.ts';
import { startGitServer, type GitServer } from '../harness/git-host.ts';
import { Testbed } from '../harness/testbed.ts';

const test = suite('bootstrap pipeline, end to end');
const tb = new Testbed();
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
let git: GitServer;
let dns: DnsServer;
let fake: FakeGitHub;

test.before(async () => {
  [git] = await Promise.all([startGitServer(['app']), tb.start({ count: 1, dockerInside: true })]);
  dns = await DnsServer.start({ records: { 'app.hoist.test': ['127.0.0.1'] } });
  fake = await new FakeGitHub({ token: TOKEN, repos: ['acme/app'], onGrant: (k) => git.grant(k.key), onRevoke: (k) => git.revoke(k.key) }).start();
  tb.writeEnv({
    SSH_USER: 'root',
    APP_NAME: 'app',
    APP_DOMAIN: 'app.hoist.test',
    DNS_RESOLVERS: dns.address,
    DNS_WAIT: '5',
    APP_REPO: git.repoUrl('app'),
    FORGE_KNOWN_HOSTS: tb.file('forge_known_hosts', `${git.knownHostsLine}\n`),
    GITHUB_API_URL: fake.url,
    SSH_COMMAND_TIMEOUT: '600',
  });
  tb.writeInventory();
});
test.after(async () => {
  await fake?.stop();
  await dns?.stop();
  await git?.stop();
  await tb.stop();
});

async function bootstrap(): Promise<{ code: number; out: string; report: RunReport }> {
  const r = await tb.hoist(['run', 'bootstrap', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', '-'], { GITHUB_TOKEN: TOKEN });
  return { code: r.code, out: r.stdout + r.stderr, report: JSON.parse(r.stdout) as RunReport };
}

test('a fresh VPS: bootstrap makes it ready and the deploy user reads the repo; the second run changes nothing', async () => {
  const host = tb.hosts[0]!;
  const first = await bootstrap();
  assert.is(first.code, 0, first.out);
  assert.equal(first.report.hosts[0]!.tasks.map((t) => [t.task, t.status]), [
    ['ssh-bootstrap', 'changed'],
    ['dns-verify', 'unchanged'],
    ['deploy-key', 'changed'],
  ]);
  const lsRemote = await host.sh(`git ls-remote ${git.repoUrl('app')}`, 'deploy');
  assert.is(lsRemote.code, 0, lsRemote.stderr);
  assert.match(lsRemote.stdout, /refs\/heads\/main/);
  assert.is(fake.requests.filter((r) => r.method === 'POST').length, 1);

  const second = await bootstrap();
  assert.is(second.code, 0, second.out);
  assert.equal(second.report.hosts[0]!.tasks.map((t) => t.status), ['unchanged', 'unchanged', 'unchanged']);
  assert.is(fake.requests.filter((r) => r.method === 'POST').length, 1, 'no second registration');
  assert.equal(fake.violations, [], 'every API request matched GitHub\'s OpenAPI description');
  for (const text of [first.out, second.out, JSON.stringify(first.report), JSON.stringify(second.report)]) {
    assert.not.ok(text.includes(TOKEN), 'the token appears in no output or report');
  }
});

test.run();
