// deploy-key's want, local only: APP_REPO is required, the forge keys come from FORGE_KNOWN_HOSTS
// (only lines for the repo's host and port) or GitHub's shipped keys, and how the key will be
// registered (API with a token, else a page to add it by hand) is decided here.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import type { Settings } from '../../lib/config/settings.ts';
import { ConfigError } from '../../lib/errors.ts';
import { GITHUB_HOST_KEYS } from '../../lib/forge/github-host-keys.ts';
import { deployKey, type DeployKeyWanted } from '../../tasks/deploy-key.ts';
import { testHost } from '../harness/settings.ts';

const dir = mkdtempSync(join(tmpdir(), 'hoist-dk-want-'));
const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJmYXJ0ZXN0a2V5Zm9ydW5pdHRlc3RzMDAwMDAw';
const want = (s: Partial<Settings>) => deployKey.want({ host: testHost({ appName: 'api', ...s }, 'web1'), loginUser: 'deploy' }) as DeployKeyWanted;
const repo = (url: string) => parseRepoUrl(url)!;
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const configError = (fn: () => unknown, key: string, pattern: RegExp) => {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.is((e as ConfigError).key, key);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable('no ConfigError');
};

test('APP_REPO is required', () => {
  configError(() => want({}), 'APP_REPO', /APP_REPO is not set.*Fix: set APP_REPO/);
});

test('github.com without FORGE_KNOWN_HOSTS: GitHub\'s published keys, the token decides registration', () => {
  const w = want({ repo: repo('git@github.com:acme/api.git'), githubToken: 'ghp_x' });
  assert.equal(w.pins.lines, GITHUB_HOST_KEYS.map((k) => `github.com ${k}`));
  assert.is(w.pins.lookupName, 'github.com');
  assert.equal(w.registration, { kind: 'github-api', apiUrl: 'https://api.github.com' });
  assert.is(w.keyFile, '.ssh/hoist_api_deploy');
  assert.is(w.alias, 'hoist-api-repo');
  assert.is(w.aliasUrl, 'git@hoist-api-repo:acme/api.git');
  assert.is(w.hostName, 'web1');
  assert.not.ok(JSON.stringify(w).includes('ghp_x'), 'the token is not part of what is wanted');
  const manual = want({ repo: repo('git@github.com:acme/api.git'), deployKeyWaitMs: 5000 });
  assert.equal(manual.registration, { kind: 'manual', page: 'https://github.com/acme/api/settings/keys/new', waitMs: 5000 });
});

test('ssh.github.com on port 443 is pinned as [ssh.github.com]:443; ssh:// keeps its form in the alias URL', () => {
  const w = want({ repo: repo('ssh://git@ssh.github.com:443/acme/api.git') });
  assert.is(w.pins.lines[0], `[ssh.github.com]:443 ${GITHUB_HOST_KEYS[0]}`);
  assert.is(w.aliasUrl, 'ssh://git@hoist-api-repo/acme/api.git');
});

test('another forge needs FORGE_KNOWN_HOSTS; only the lines for its host and port are pinned', () => {
  configError(() => want({ repo: repo('git@git.example.com:acme/api.git') }), 'FORGE_KNOWN_HOSTS', /not github\.com, so hoist ships no keys/);
  const path = file('forge', `# comment\nother.example.com ${ED}\ngit.example.com,10.0.0.5 ${ED} comment\n[git.example.com]:2222 ${ED}\n`);
  const w = want({ repo: repo('git@git.example.com:acme/api.git'), forgeKnownHosts: path });
  assert.equal(w.pins.lines, [`git.example.com,10.0.0.5 ${ED}`]);
  assert.match(w.pins.source, /FORGE_KNOWN_HOSTS/);
  const p2222 = want({ repo: repo('ssh://git@git.example.com:2222/acme/api.git'), forgeKnownHosts: path });
  assert.equal(p2222.pins.lines, [`[git.example.com]:2222 ${ED}`]);
  configError(() => want({ repo: repo('ssh://git@git.example.com:2200/acme/api.git'), forgeKnownHosts: path }), 'FORGE_KNOWN_HOSTS', /no key line for \[git\.example\.com\]:2200.*ssh-keyscan -p 2200 git\.example\.com/);
});

test('without a token on another forge there is no page to name, only the key', () => {
  const path = file('forge2', `git.example.com ${ED}\n`);
  const w = want({ repo: repo('git@git.example.com:acme/api.git'), forgeKnownHosts: path });
  assert.equal(w.registration, { kind: 'manual', page: null, waitMs: 600_000 });
});

test('GitHub Enterprise: the API URL gives the page; a token for a non-GitHub forge is refused', () => {
  const path = file('ghe', `ghe.example.com ${ED}\n`);
  const ghe = want({ repo: repo('git@ghe.example.com:acme/api.git'), forgeKnownHosts: path, githubApiUrl: 'https://ghe.example.com/api/v3' });
  assert.equal(ghe.registration, { kind: 'manual', page: 'https://ghe.example.com/acme/api/settings/keys/new', waitMs: 600_000 });
  configError(() => want({ repo: repo('git@ghe.example.com:acme/api.git'), forgeKnownHosts: path, githubToken: 'ghp_secret' }), 'GITHUB_TOKEN', /is set, but APP_REPO's host ghe\.example\.com is not github\.com/);
  try {
    want({ repo: repo('git@ghe.example.com:acme/api.git'), forgeKnownHosts: path, githubToken: 'ghp_secret' });
  } catch (e) {
    assert.not.ok((e as Error).message.includes('ghp_secret'));
  }
});

test.run();
