// deploy-key's apply commands as exact strings, and the two that edit files run for real with
// /bin/sh in a throwaway HOME: appending pins and making the key are safe to run twice, and a
// known_hosts without a final newline is not glued onto.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import type { Cmd } from '../../lib/shell-quote.ts';
import { deployKey, type DeployKeyWanted } from '../../tasks/deploy-key.ts';
import { deployKeyCommands, keyComment } from '../../tasks/deploy-key/commands.ts';
import { testHost } from '../harness/settings.ts';

const w = deployKey.want({ host: testHost({ appName: 'api', repo: parseRepoUrl('git@github.com:acme/api.git')! }), loginUser: 'deploy' }) as DeployKeyWanted;
const cmds = deployKeyCommands(w);

test('exact command lines', () => {
  assert.is(
    cmds.makeKey(keyComment('api', 'vps-1')).line,
    "cd && mkdir -p -m 700 .ssh && if [ ! -f .ssh/hoist_api_deploy ]; then rm -f .ssh/hoist_api_deploy.pub && ssh-keygen -q -t ed25519 -N '' -C 'hoist deploy key for api on vps-1' -f .ssh/hoist_api_deploy </dev/null; fi && if [ ! -f .ssh/hoist_api_deploy.pub ]; then ssh-keygen -y -f .ssh/hoist_api_deploy >.ssh/hoist_api_deploy.pub; fi && chmod 600 .ssh/hoist_api_deploy && head -n 1 .ssh/hoist_api_deploy.pub",
  );
  assert.is(cmds.keyMode.line, 'cd && chmod 600 .ssh/hoist_api_deploy');
  assert.is(
    cmds.gitUrl.line,
    'cd && { git config --global --get-all url.git@hoist-api-repo:acme/api.git.insteadof | grep -qxF -e git@github.com:acme/api.git || git config --global --add url.git@hoist-api-repo:acme/api.git.insteadof git@github.com:acme/api.git; }',
  );
  assert.is(cmds.lsRemote(20).line, 'cd && timeout 20 git ls-remote -q git@github.com:acme/api.git </dev/null >/dev/null');
});

const run = (cmd: Cmd, home: string, input?: string) => execFileSync('sh', ['-c', cmd.line], { env: { ...process.env, HOME: home }, encoding: 'utf8', ...(input !== undefined ? { input } : {}) });

test('pinning appends only missing lines, after a last line without newline', () => {
  const home = mkdtempSync(join(tmpdir(), 'hoist-dk-home-'));
  execFileSync('mkdir', ['-m', '700', join(home, '.ssh')]);
  writeFileSync(join(home, '.ssh/known_hosts'), 'mine ssh-ed25519 AAAA');
  run(cmds.pinHostKeys, home, 'github.com ssh-ed25519 BBBB\ngithub.com ssh-rsa CCCC\n');
  run(cmds.pinHostKeys, home, 'github.com ssh-ed25519 BBBB\ngithub.com ssh-rsa CCCC\n');
  assert.is(readFileSync(join(home, '.ssh/known_hosts'), 'utf8'), 'mine ssh-ed25519 AAAA\ngithub.com ssh-ed25519 BBBB\ngithub.com ssh-rsa CCCC\n');
});

test('making the key twice keeps the first key; a lost .pub is written again; mode 600; only the public line is printed', () => {
  const home = mkdtempSync(join(tmpdir(), 'hoist-dk-home-'));
  const first = run(cmds.makeKey('hoist deploy key for api on test'), home);
  assert.match(first, /^ssh-ed25519 \S+ hoist deploy key for api on test\n$/);
  assert.is(statSync(join(home, '.ssh/hoist_api_deploy')).mode & 0o777, 0o600);
  assert.is(statSync(join(home, '.ssh')).mode & 0o777, 0o700);
  assert.is(run(cmds.makeKey('other comment'), home), first);
  execFileSync('rm', [join(home, '.ssh/hoist_api_deploy.pub')]);
  const again = run(cmds.makeKey('x'), home);
  assert.is(again.split(' ').slice(0, 2).join(' '), first.split(' ').slice(0, 2).join(' '));
  assert.not.ok(first.includes('PRIVATE'));
});

test.run();
