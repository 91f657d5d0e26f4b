// The test stand-in for GitHub's API is only worth something if it refuses what GitHub would:
// requests off GitHub's OpenAPI description are answered 4xx and recorded as violations, and
// the JSON-schema subset it checks bodies with behaves.
import { request } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { description, FakeGitHub, validate } from '../harness/fake-github.ts';

const TOKEN = 'ghp_FAKEUNITTOKEN';
const fake = new FakeGitHub({ token: TOKEN, repos: ['acme/app'] });
const GOOD = { Authorization: `Bearer ${TOKEN}`, 'User-Agent': 'test', Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28' };
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJmYXJ0ZXN0a2V5Zm9ydW5pdHRlc3RzMDAwMDAw a comment';

test.before(async () => {
  await fake.start();
});
test.after(async () => {
  await fake.stop();
});
test.before.each(() => {
  fake.violations.length = 0;
});

const call = (method: string, path: string, headers: Record<string, string> = GOOD, body?: string) =>
  fetch(`${fake.url}${path}`, { method, headers: { ...headers, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) }, ...(body !== undefined ? { body } : {}) });

test('valid requests pass and are answered like GitHub', async () => {
  const created = await call('POST', '/repos/acme/app/keys', GOOD, JSON.stringify({ title: 't', key: KEY, read_only: true }));
  assert.is(created.status, 201);
  const key = (await created.json()) as { id: number; key: string; read_only: boolean };
  assert.is(key.key, KEY.split(' ').slice(0, 2).join(' '), 'the comment is dropped, as GitHub does');
  assert.is(key.read_only, true);
  const list = await call('GET', '/repos/acme/app/keys?per_page=100&page=1');
  assert.is(list.status, 200);
  assert.is(((await list.json()) as unknown[]).length, 1);
  assert.is((await call('GET', `/repos/acme/app/keys/${key.id}`)).status, 200);
  assert.is((await call('DELETE', `/repos/acme/app/keys/${key.id}`)).status, 204);
  assert.is((await call('DELETE', `/repos/acme/app/keys/${key.id}`)).status, 404);
  assert.equal(fake.violations, []);
  const recorded = fake.calls('repos/create-deploy-key')[0]!;
  assert.is(recorded.headers.authorization, 'Bearer (redacted)');
  assert.not.ok(JSON.stringify(fake.requests).includes(TOKEN), 'the token is never recorded');
});

/** A request with exactly these headers (fetch would add its own User-Agent). */
const bare = (method: string, path: string, headers: Record<string, string>) =>
  new Promise<Response>((resolve, reject) => {
    const req = request(`${fake.url}${path}`, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(new Response(null, { status: res.statusCode ?? 0 })));
    });
    req.on('error', reject);
    req.end();
  });

const bad: [string, () => Promise<Response>, number, RegExp][] = [
  ['no Authorization', () => call('GET', '/repos/acme/app/keys', { 'User-Agent': 'x' }), 401, /no Authorization header/],
  ['no User-Agent', () => bare('GET', '/repos/acme/app/keys', { Authorization: `Bearer ${TOKEN}` }), 400, /User-Agent/],
  ['unknown API version', () => call('GET', '/repos/acme/app/keys', { ...GOOD, 'X-GitHub-Api-Version': '2020-01-01' }), 400, /not a supported version/],
  ['a path GitHub does not have', () => call('GET', '/repos/acme/app/deploy-keys'), 404, /no operation in GitHub's description matches GET/],
  ['a method the path does not have', () => call('PATCH', '/repos/acme/app/keys', GOOD, '{}'), 404, /PATCH is not an operation of \/repos\/\{owner\}\/\{repo\}\/keys/],
  ['a query parameter the operation does not have', () => call('GET', '/repos/acme/app/keys?perpage=100'), 400, /query parameter perpage is not a parameter of repos\/list-deploy-keys/],
  ['a query parameter of the wrong type', () => call('GET', '/repos/acme/app/keys?page=two'), 400, /query parameter page must be integer/],
  ['a path parameter of the wrong type', () => call('DELETE', '/repos/acme/app/keys/abc'), 400, /path parameter key_id must be integer/],
  ['no body where one is required', () => call('POST', '/repos/acme/app/keys'), 400, /needs a JSON request body/],
  ['a body that is not JSON', () => call('POST', '/repos/acme/app/keys', GOOD, '{title'), 400, /not JSON/],
  ['a body without the required key', () => call('POST', '/repos/acme/app/keys', GOOD, JSON.stringify({ title: 't' })), 422, /body\.key is required/],
  ['a body with a wrong type', () => call('POST', '/repos/acme/app/keys', GOOD, JSON.stringify({ key: KEY, read_only: 'yes' })), 422, /body\.read_only must be boolean/],
  ['a body on an operation that takes none', () => call('DELETE', '/repos/acme/app/keys/1', GOOD, '{"x":1}'), 400, /takes no request body/],
];

for (const [name, send, status, problem] of bad) {
  test(`refused and recorded: ${name}`, async () => {
    const r = await send();
    assert.is(r.status, status);
    assert.is(fake.violations.length, 1, fake.violations.join('\n'));
    assert.match(fake.violations[0]!, problem);
  });
}

test('valid but refused by GitHub: wrong token 401, unknown repo 404, duplicate key 422 (no violations)', async () => {
  assert.is((await call('GET', '/repos/acme/app/keys', { ...GOOD, Authorization: 'Bearer ghp_wrong' })).status, 401);
  assert.is((await call('GET', '/repos/acme/nope/keys')).status, 404);
  const body = JSON.stringify({ key: KEY });
  assert.is((await call('POST', '/repos/acme/app/keys', GOOD, body)).status, 201);
  const again = await call('POST', '/repos/acme/app/keys', GOOD, body);
  assert.is(again.status, 422);
  assert.match(JSON.stringify(await again.json()), /key is already in use/);
  assert.equal(fake.violations, []);
});

test('dropNext: the socket is cut before the work or after it (the key exists, the answer never comes)', async () => {
  fake.keys.set('acme/app', []);
  const key2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJmYXJ0ZXN0a2V5Zm9ydW5pdHRlc3RzMDAwMDAx drop';
  const body = JSON.stringify({ key: key2 });
  fake.dropNext.push({ operationId: 'repos/create-deploy-key', when: 'before' }, { operationId: 'repos/create-deploy-key', when: 'after' });
  const lost = async () => call('POST', '/repos/acme/app/keys', GOOD, body).then(() => 'answered', (e: Error) => e.name);
  assert.is(await lost(), 'TypeError', 'fetch failed: no answer');
  assert.equal(fake.keys.get('acme/app'), [], 'cut before: nothing was done');
  assert.is(await lost(), 'TypeError');
  assert.is(fake.keys.get('acme/app')!.length, 1, 'cut after: the key was made');
  assert.equal(fake.calls('repos/create-deploy-key').slice(-2).map((c) => c.status), [0, 0]);
  assert.is((await call('GET', '/repos/acme/app/keys')).status, 200, 'the next request is answered again');
  assert.equal(fake.dropNext, []);
  assert.equal(fake.violations, []);
});

test('schema subset: type, required, properties, additionalProperties false, enum, items, $ref, nullable', () => {
  const { doc } = description();
  const schema = {
    type: 'object',
    required: ['a'],
    additionalProperties: false,
    properties: { a: { type: 'string', enum: ['x', 'y'] }, list: { type: 'array', items: { type: 'integer' } }, key: { $ref: '#/components/schemas/deploy-key' }, n: { type: 'string', nullable: true } },
  };
  assert.equal(validate(doc, schema, { a: 'x', list: [1, 2], n: null }), []);
  assert.equal(validate(doc, schema, { a: 'z', list: [1, 'b'], extra: 1 }), ['$.a is "z", not one of ["x","y"]', '$.list[1] must be integer, got "b"', '$.extra is not a known property']);
  assert.equal(validate(doc, schema, {}), ['$.a is required']);
  assert.equal(validate(doc, schema, { a: 'x', key: { id: 1 } }), ['$.key.key is required', '$.key.url is required', '$.key.title is required', '$.key.verified is required', '$.key.created_at is required', '$.key.read_only is required']);
  assert.equal(validate(doc, { type: 'integer' }, null), ['$ is null, but must be integer']);
});

test.run();
