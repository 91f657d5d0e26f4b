// deploy-key's probe: one command (one round trip) that carries no secret, and its parse from
// recorded answers into the typed fact, including base64-carried file contents.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import type { RemoteProbe } from '../../lib/engine/task.ts';
import { deployKey, type DeployKeyFact, type DeployKeyWanted } from '../../tasks/deploy-key.ts';
import { testHost } from '../harness/settings.ts';

const TOKEN = 'ghp_PROBEUNITCANARY0000000000000000000000';
const input = { host: testHost({ appName: 'api', repo: parseRepoUrl('git@github.com:acme/api.git')!, githubToken: TOKEN }), loginUser: 'deploy' };
const w = deployKey.want(input) as DeployKeyWanted;
const probe = deployKey.probe(w, input) as RemoteProbe<DeployKeyFact>;
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('probe: one remote command, as the deploy user, without the token', () => {
  assert.not.ok('local' in probe);
  assert.not.ok(probe.sudo);
  const line = probe.command.line;
  assert.not.ok(line.includes(TOKEN));
  assert.ok(line.startsWith('cd || exit 97\n'));
  assert.ok(line.includes('stat -c %a .ssh/hoist_api_deploy'));
  assert.ok(line.includes('head -n 1 .ssh/hoist_api_deploy.pub'));
  assert.ok(line.includes('git config --global --get-all url.git@hoist-api-repo:acme/api.git.insteadof'), line);
  assert.ok(line.includes('err=$(timeout 20 git ls-remote -q git@github.com:acme/api.git </dev/null 2>&1 >/dev/null)'), line);
  // the known_hosts grep names every published key blob
  assert.is(line.match(/ -e '?AAAA/g)?.length, 3);
});

test('probe: parses a fresh host', () => {
  const stdout = ['home=/home/deploy', 'hostname=web1', 'git=yes', 'keymode=', 'pub=', 'sshconfig=-', 'knownhosts=', 'insteadof=', 'lsremote=128', `lserror=${b64('Host key verification failed.\nfatal: Could not read from remote repository.\n')}`, ''].join('\n');
  assert.equal(probe.parse({ code: 0, stdout, stderr: '' }), {
    home: '/home/deploy',
    hostname: 'web1',
    git: true,
    keyMode: null,
    publicKey: null,
    sshConfig: null,
    insteadOf: [],
    knownHosts: '',
    lsRemote: { ok: false, error: 'Host key verification failed. | fatal: Could not read from remote repository.' },
  });
});

test('probe: parses a set-up host; contents with = and newlines survive', () => {
  const config = 'Host a=b\n  Port 22\n';
  const stdout = [
    'home=/home/deploy',
    'hostname=vps-1',
    'git=yes',
    'keymode=600',
    'pub=ssh-ed25519 AAAAC3Nz hoist deploy key for api on vps-1',
    `sshconfig=${b64(config)}`,
    `knownhosts=${b64('github.com ssh-ed25519 AAAAC3Nz\n')}`,
    `insteadof=${b64('git@github.com:acme/api.git\n')}`,
    'lsremote=0',
    'lserror=',
  ].join('\n');
  const f = probe.parse({ code: 0, stdout, stderr: '' });
  assert.is(f.sshConfig, config);
  assert.is(f.keyMode, '600');
  assert.is(f.publicKey, 'ssh-ed25519 AAAAC3Nz hoist deploy key for api on vps-1');
  assert.equal(f.insteadOf, ['git@github.com:acme/api.git']);
  assert.equal(f.lsRemote, { ok: true, error: '' });
  assert.is(probe.parse({ code: 0, stdout: stdout.replace(`sshconfig=${b64(config)}`, 'sshconfig='), stderr: '' }).sshConfig, '', 'an empty file is not a missing one');
});

test('probe: no git, a timed-out ls-remote, a failed probe', () => {
  const base = ['home=/h', 'hostname=x', 'keymode=', 'pub=', 'sshconfig=-', 'knownhosts='];
  assert.equal(probe.parse({ code: 0, stdout: [...base, 'git=no'].join('\n'), stderr: '' }).lsRemote, { ok: false, error: 'git is not installed' });
  assert.equal(probe.parse({ code: 0, stdout: [...base, 'git=yes', 'insteadof=', 'lsremote=124', 'lserror='].join('\n'), stderr: '' }).lsRemote, { ok: false, error: 'timed out after 20s' });
  assert.throws(() => probe.parse({ code: 97, stdout: '', stderr: 'cd: no home' }), /probing the deploy key failed \(exit 97\): cd: no home/);
});

test.run();
