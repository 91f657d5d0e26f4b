// deploy-key's plan as a table: from a wanted state and a probed fact to the steps still
// missing, or the no-op reason. Also: missing git and a foreign key type fail clearly.
import { createHmac } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import { GITHUB_HOST_KEYS } from '../../lib/forge/github-host-keys.ts';
import { deployKey, type DeployKeyFact, type DeployKeyWanted } from '../../tasks/deploy-key.ts';
import { sshBlockLines, withSshBlock } from '../../tasks/deploy-key/ssh-config-block.ts';
import { testHost } from '../harness/settings.ts';

const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJmYXJ0ZXN0a2V5Zm9ydW5pdHRlc3RzMDAwMDAw hoist deploy key for api on web1';
const repo = parseRepoUrl('git@github.com:acme/api.git')!;

function wanted(token = true): DeployKeyWanted {
  const host = testHost({ appName: 'api', repo, ...(token ? { githubToken: 'ghp_unit' } : {}), deployKeyWaitMs: 30_000 }, 'web1');
  return deployKey.want({ host, loginUser: 'deploy' }) as DeployKeyWanted;
}

const w = wanted();
const PINS = GITHUB_HOST_KEYS.map((k) => `github.com ${k}`).join('\n') + '\n';
const CONFIG = withSshBlock('Host mine\n', 'api', sshBlockLines(w));
const done: DeployKeyFact = {
  home: '/home/deploy',
  hostname: 'web1',
  git: true,
  keyMode: '600',
  publicKey: PUB,
  sshConfig: CONFIG,
  insteadOf: [repo.url],
  knownHosts: PINS,
  lsRemote: { ok: true, error: '' },
};
const fresh: DeployKeyFact = { ...done, keyMode: null, publicKey: null, sshConfig: null, insteadOf: [], knownHosts: '', lsRemote: { ok: false, error: 'Host key verification failed.' } };

/** How `ssh-keygen -H` writes a host name: |1|salt|HMAC-SHA1(salt, name). */
const hashed = (name: string) => {
  const salt = Buffer.alloc(20, 7);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
};

const kinds = (f: DeployKeyFact, want = w) => {
  const p = deployKey.plan(want, f);
  return p.changes ? p.steps.map((s) => s.kind) : p.reason;
};

const cases: [string, DeployKeyFact, string[] | string][] = [
  ['everything in place, ls-remote works', done, 'deploy key for acme/api in place and git ls-remote works'],
  ['fresh host', fresh, ['make-key', 'ssh-config', 'git-url', 'pin-host-keys', 'register', 'prove']],
  ['all in place but the forge refuses the key', { ...done, lsRemote: { ok: false, error: 'Permission denied (publickey).' } }, ['register', 'prove']],
  ['private key without .pub', { ...done, publicKey: null }, ['make-key', 'register', 'prove']],
  ['.pub without private key: a new key', { ...done, keyMode: null }, ['make-key', 'register', 'prove']],
  ['key mode 644', { ...done, keyMode: '644' }, ['key-mode', 'prove']],
  ['one GitHub key missing from known_hosts', { ...done, knownHosts: PINS.split('\n').slice(1).join('\n') }, ['pin-host-keys', 'prove']],
  ['ssh config block edited by hand', { ...done, sshConfig: CONFIG.replace('IdentitiesOnly yes', 'IdentitiesOnly no') }, ['ssh-config', 'register', 'prove']],
  ['no url.insteadOf', { ...done, insteadOf: [] }, ['git-url', 'register', 'prove']],
  ['a hashed known_hosts line counts as pinned', { ...done, knownHosts: PINS.replace(/^github\.com /gm, `${hashed('github.com')} `) }, 'deploy key for acme/api in place and git ls-remote works'],
];

for (const [name, fact, expected] of cases) {
  test(`plan: ${name}`, () => {
    assert.equal(kinds(fact), expected);
  });
}

test('plan: a hashed line for another host does not count', () => {
  const other = PINS.split('\n')[0]!.replace(/^github\.com /, `${hashed('gitlab.com')} `);
  const p = deployKey.plan(w, { ...done, knownHosts: [other, ...PINS.split('\n').slice(1)].join('\n') });
  assert.ok(p.changes && p.steps[0]!.kind === 'pin-host-keys' && p.steps[0]!.lines!.length === 1);
});

test('plan: step texts say what and where; the ssh config change carries its diff', () => {
  const p = deployKey.plan(w, fresh);
  assert.ok(p.changes);
  if (!p.changes) return;
  const text = p.steps.map((s) => s.describe);
  assert.match(text[0]!, /generate an ed25519 deploy key ~\/\.ssh\/hoist_api_deploy on the host/);
  assert.match(text[1]!, /add the hoist:api block in ~\/\.ssh\/config \(Host hoist-api-repo: github\.com port 22/);
  assert.match(text[3]!, /pin 3 SSH host keys of github\.com .*GitHub's published SSH host keys/);
  assert.match(text[4]!, /register the key as a read-only deploy key of acme\/api through GitHub's API/);
  assert.match(text[5]!, /prove access: git ls-remote git@github\.com:acme\/api\.git as deploy/);
  assert.equal(p.files, [{ path: '~/.ssh/config', before: null, after: withSshBlock('', 'api', sshBlockLines(w)) }]);
  assert.equal(p.steps[3]!.lines, PINS.trim().split('\n'));
});

test('plan without a token: the step shows the key and the page to add it', () => {
  const manual = wanted(false);
  const p = deployKey.plan(manual, { ...done, lsRemote: { ok: false, error: 'Permission denied' } });
  assert.ok(p.changes);
  if (!p.changes) return;
  const step = p.steps.find((s) => s.kind === 'register')!;
  assert.ok(step.describe.includes(PUB), step.describe);
  assert.ok(step.describe.includes('https://github.com/acme/api/settings/keys/new'), step.describe);
  assert.match(step.describe, /waits up to 30s/);
  const first = deployKey.plan(manual, fresh);
  assert.ok(first.changes && first.steps.find((s) => s.kind === 'register')!.describe.includes('printed once generated'));
});

test('plan: no git on the host fails clearly', () => {
  assert.throws(() => deployKey.plan(w, { ...fresh, git: false }), /git is not installed: run the bootstrap pipeline/);
});

test('plan: a key of another type at hoist\'s path is refused, not replaced', () => {
  assert.throws(() => deployKey.plan(w, { ...done, publicKey: 'ssh-rsa AAAAB3NzaC1yc2E x' }), /is a ssh-rsa key, not ed25519: remove/);
});

test.run();
