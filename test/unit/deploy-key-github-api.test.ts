// hoist's GitHub deploy-key client against the OpenAPI-checked fake: the exact requests it
// makes, pagination, "already registered" by key material, and the messages for 401/403/404,
// an outage and an unreachable API — none of which may contain the token.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GitHubApiError } from '../../lib/forge/github-api-errors.ts';
import { GitHubDeployKeys, sameKey } from '../../lib/forge/github-deploy-keys.ts';
import { FakeGitHub } from '../harness/fake-github.ts';

const TOKEN = 'ghp_CANARYunit1234567890abcdefABCDEF0123';
const READ_ONLY = 'ghp_CANARYreadonly000000000000000000000';
const REF = { owner: 'acme', repo: 'app' };
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJmYXJ0ZXN0a2V5Zm9ydW5pdHRlc3RzMDAwMDAw hoist deploy key for app on web1';
const fake = new FakeGitHub({ token: TOKEN, readOnlyToken: READ_ONLY, repos: ['acme/app', 'acme/big'], prefix: '/api/v3' });
const client = (token = TOKEN) => new GitHubDeployKeys({ apiUrl: fake.url, token });

test.before(async () => {
  await fake.start();
  // 150 other keys: the one we look for is on the second page.
  fake.seed(
    'acme/big',
    Array.from({ length: 150 }, (_, i) => ({ key: `ssh-ed25519 ${Buffer.from(`key-${i}`.padEnd(51, '.')).toString('base64')}`, title: `k${i}` })),
  );
});
test.after(async () => {
  await fake.stop();
});

/** A loopback port nobody listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function failure(p: Promise<unknown>): Promise<GitHubApiError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, GitHubApiError);
    assert.not.ok((e as Error).message.includes(TOKEN) || (e as Error).message.includes(READ_ONLY), 'no token in the message');
    return e as GitHubApiError;
  }
  throw new Error('expected a GitHubApiError');
}

test('sameKey compares type and base64, not comments', () => {
  assert.ok(sameKey('ssh-ed25519 AAAA one', 'ssh-ed25519 AAAA'));
  assert.not.ok(sameKey('ssh-ed25519 AAAA', 'ssh-ed25519 AAAB'));
  assert.not.ok(sameKey('ssh-rsa AAAA', 'ssh-ed25519 AAAA'));
});

test('ensure: lists, then adds a read-only key with the documented headers (GHE /api/v3 root)', async () => {
  const before = fake.requests.length;
  const r = await client().ensure(REF, KEY, 'hoist web1');
  assert.ok(r.created);
  const calls = fake.requests.slice(before);
  assert.equal(calls.map((c) => `${c.method} ${c.path}${c.query}`), ['GET /api/v3/repos/acme/app/keys?per_page=100&page=1', 'POST /api/v3/repos/acme/app/keys']);
  const post = calls[1]!;
  assert.equal(post.body, { title: 'hoist web1', key: KEY, read_only: true });
  assert.is(post.headers.accept, 'application/vnd.github+json');
  assert.is(post.headers.authorization, 'Bearer (redacted)');
  assert.is(post.headers['x-github-api-version'], '2022-11-28');
  assert.is(post.headers['user-agent'], 'hoist');
  assert.is(r.key.read_only, true);
});

test('ensure again: the key is found by its material (comment ignored), nothing is added', async () => {
  const before = fake.requests.length;
  const r = await client().ensure(REF, KEY.replace(/ hoist.*$/, ' another comment'), 'hoist web1');
  assert.not.ok(r.created);
  assert.equal(fake.requests.slice(before).map((c) => c.method), ['GET']);
});

test('list follows pages until there is no next', async () => {
  const before = fake.requests.length;
  const keys = await client().list({ owner: 'acme', repo: 'big' });
  assert.is(keys.length, 150);
  assert.equal(fake.requests.slice(before).map((c) => c.query), ['?per_page=100&page=1', '?per_page=100&page=2']);
  const target = keys[140]!.key;
  assert.is((await client().find({ owner: 'acme', repo: 'big' }, `${target} c`))?.title, 'k140');
});

test('remove deletes, and a key already gone counts as deleted', async () => {
  const { key } = await client().ensure(REF, KEY, 'x');
  await client().remove(REF, key.id);
  await client().remove(REF, key.id);
  assert.is(fake.calls('repos/delete-deploy-key').map((c) => c.status).join(','), '204,404');
});

test('401: names GITHUB_TOKEN and the permission, never the token, not retried', async () => {
  const e = await failure(client('ghp_CANARYwrong').list(REF));
  assert.is(e.status, 401);
  assert.match(e.message, /GitHub refused GITHUB_TOKEN while listing the deploy keys of acme\/app \(401 Bad credentials\)/);
  assert.match(e.message, /Administration/);
  assert.not.ok(e.message.includes('ghp_CANARYwrong'));
  assert.not.ok(e.transient);
});

test('403: the token lacks the permission, and the message says which one', async () => {
  const e = await failure(client(READ_ONLY).ensure(REF, KEY, 'x'));
  assert.is(e.status, 403);
  assert.match(e.message, /GITHUB_TOKEN may not manage the deploy keys of acme\/app.*"Administration" repository permission \(read and write\)/);
});

test('404: names APP_REPO', async () => {
  const e = await failure(client().list({ owner: 'acme', repo: 'gone' }));
  assert.match(e.message, /GitHub knows no repository acme\/gone that GITHUB_TOKEN can see.*Fix: check APP_REPO/);
});

test('an outage (502) is worth retrying; an unreachable API names GITHUB_API_URL', async () => {
  fake.failNext.push(502);
  const e = await failure(client().list(REF));
  assert.is(e.status, 502);
  assert.ok(e.transient);
  const closed = await freePort();
  const down = await failure(new GitHubDeployKeys({ apiUrl: `http://127.0.0.1:${closed}`, token: TOKEN }).list(REF));
  assert.ok(down.transient);
  assert.match(down.message, new RegExp(`cannot reach GitHub's API at http://127\\.0\\.0\\.1:${closed} .*ECONNREFUSED.*GITHUB_API_URL`));
});

test('a redirect (renamed repository) is not followed: the token goes nowhere else', async () => {
  let elsewhere = 0;
  const target = createHttpServer((_req, res) => {
    elsewhere++;
    res.end('[]');
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const moved = createHttpServer((_req, res) => {
    res.writeHead(301, { Location: `http://127.0.0.1:${(target.address() as AddressInfo).port}/repos/acme/new/keys` });
    res.end('{"message":"Moved Permanently"}');
  });
  await new Promise<void>((r) => moved.listen(0, '127.0.0.1', r));
  try {
    const e = await failure(new GitHubDeployKeys({ apiUrl: `http://127.0.0.1:${(moved.address() as AddressInfo).port}`, token: TOKEN }).list(REF));
    assert.is(e.status, 301);
    assert.match(e.message, /renamed or transferred\. Fix: set APP_REPO/);
    assert.is(elsewhere, 0);
  } finally {
    moved.close();
    target.close();
  }
});

test('the token is not visible on the client object', () => {
  const c = client();
  assert.not.ok(JSON.stringify(c).includes(TOKEN));
  assert.not.ok(Object.values(c).some((v) => v === TOKEN));
});

test('every request the client made was valid per GitHub\'s OpenAPI description', () => {
  assert.equal(fake.violations, []);
  assert.not.ok(JSON.stringify(fake.requests).includes('CANARY'));
});

test.run();
