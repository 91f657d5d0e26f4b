// The deploy user's ~/.ssh/config is edited only between hoist's markers: the block is added,
// replaced in place and read back, every other line survives, and damaged markers are refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import { sshBlockLines, sshBlockMarkers, sshBlockOf, withSshBlock } from '../../tasks/deploy-key/ssh-config-block.ts';

const { begin, end } = sshBlockMarkers('api');
const USER = 'Host work\n  HostName work.example.com\n  User me\n';

test('the block: a Host alias with the key, pinned host keys only, never StrictHostKeyChecking no', () => {
  const repo = parseRepoUrl('ssh://git@forge.example.com:2222/acme/api.git')!;
  const lines = sshBlockLines({ alias: 'hoist-api-repo', repo, keyFile: '.ssh/hoist_api_deploy' });
  assert.equal(lines, [
    'Host hoist-api-repo',
    '  HostName forge.example.com',
    '  User git',
    '  Port 2222',
    '  IdentityFile ~/.ssh/hoist_api_deploy',
    '  IdentitiesOnly yes',
    '  StrictHostKeyChecking yes',
    '  UserKnownHostsFile ~/.ssh/known_hosts',
    '  BatchMode yes',
    'Match all',
  ]);
  assert.not.ok(lines.join('\n').match(/StrictHostKeyChecking\s+(no|accept-new)/i));
});

test('adds the block after the user\'s lines, byte for byte', () => {
  const after = withSshBlock(USER, 'api', ['Host x']);
  assert.is(after, `${USER}${begin}\nHost x\n${end}\n`);
  assert.equal(sshBlockOf(after, 'api'), ['Host x']);
});

test('an empty or missing config gets just the block; a last line without newline is kept', () => {
  assert.is(withSshBlock('', 'api', ['Host x']), `${begin}\nHost x\n${end}\n`);
  assert.is(withSshBlock('Host a', 'api', ['Host x']), `Host a\n${begin}\nHost x\n${end}\n`);
});

test('replaces the block in place; lines before and after survive', () => {
  const before = `# mine\n${begin}\nHost old\n${end}\nHost after\n  User z\n`;
  const after = withSshBlock(before, 'api', ['Host new', '  Port 22']);
  assert.is(after, `# mine\n${begin}\nHost new\n  Port 22\n${end}\nHost after\n  User z\n`);
  assert.is(withSshBlock(after, 'api', ['Host new', '  Port 22']), after, 'idempotent');
});

test('an older marker text still counts as the block; other apps\' blocks are not touched', () => {
  const other = sshBlockMarkers('web');
  const before = `# BEGIN hoist:api\nHost old\n${end}\n${other.begin}\nHost web\n${other.end}\n`;
  assert.equal(sshBlockOf(before, 'api'), ['Host old']);
  const after = withSshBlock(before, 'api', ['Host new']);
  assert.ok(after.endsWith(`${other.begin}\nHost web\n${other.end}\n`));
  assert.equal(sshBlockOf(after, 'web'), ['Host web']);
  assert.is(sshBlockOf(USER, 'api'), null);
});

test('damaged markers are refused with a fix, never guessed at', () => {
  assert.throws(() => withSshBlock(`${begin}\nHost x\n`, 'api', []), /damaged.*BEGIN on line\(s\) 1, END on line\(s\) none/);
  assert.throws(() => sshBlockOf(`${end}\n${begin}\n`, 'api'), /damaged/);
  assert.throws(() => sshBlockOf(`${begin}\n${end}\n${begin}\n${end}\n`, 'api'), /damaged/);
});

test.run();
