// The three files ssh-bootstrap owns, as text: the sudoers rule (and that visudo accepts it),
// the sshd drop-in (and that sshd -t accepts it), and the authorized_keys merge, which must
// never touch a line it did not add.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mergedAuthorizedKeys, SSHD_DROP_IN, sshdDropIn, sudoersContent, sudoersPath } from '../../tasks/ssh-bootstrap/files.ts';

const OURS = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBRXwXfN3oJMnWaxMnBOCH9CWSlPPKTNx12oO1dvdv7Q hoist';
const OURS_MATERIAL = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBRXwXfN3oJMnWaxMnBOCH9CWSlPPKTNx12oO1dvdv7Q';
const SECOND = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICZ91mwTLQaKexRF/HBo09muHXlfPBgaSBb/ub1cFNJL ci@runner';
const OTHER = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIODUuROZj9IOyODS6AazRUyeFzw+qrYbxbIcmCgVndEw alice@laptop';
const OTHER_RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC8uMHjwlFGVbNFrsC3jeDnN9FckaPPGK3RRwIhHHaH bob@desk';

/**
 * Path of a system tool the test needs. A missing one fails the test (not a skip: CI would go
 * green without the check); scripts/testbed-prereqs.sh installs them (packages sudo, openssh-server).
 */
function tool(path: string, name: string, pkg: string): string {
  if (existsSync(path)) return path;
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  assert.ok(found.status === 0, `${name} is not installed here (checked ${path} and \`command -v ${name}\`): install the Debian package ${pkg} (bash scripts/testbed-prereqs.sh does)`);
  return found.stdout.trim();
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-files-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------- sudoers

test('sudoersContent: the exact rule, one per deploy user', () => {
  assert.is(sudoersContent('deploy'), "# Managed by hoist: the deploy user runs hoist's steps as root without a password.\ndeploy ALL=(ALL) NOPASSWD:ALL\n");
  assert.is(sudoersContent('app_1'), "# Managed by hoist: the deploy user runs hoist's steps as root without a password.\napp_1 ALL=(ALL) NOPASSWD:ALL\n");
});

test('sudoersPath: in /etc/sudoers.d, and no dot in the file name (sudo would skip it)', () => {
  for (const user of ['deploy', 'app_1', 'web-user']) {
    const path = sudoersPath(user);
    assert.is(path, `/etc/sudoers.d/hoist-${user}`);
    assert.not.ok(basename(path).includes('.'), path);
    assert.not.ok(basename(path).endsWith('~'), path);
  }
});

test('sudoersContent: visudo -cf accepts it', () => {
  const visudo = tool('/usr/sbin/visudo', 'visudo', 'sudo');
  withTempDir((dir) => {
    const file = join(dir, 'hoist-deploy');
    writeFileSync(file, sudoersContent('deploy'));
    chmodSync(file, 0o440);
    const r = spawnSync(visudo, ['-cf', file], { encoding: 'utf8' });
    assert.is(r.status, 0, `visudo -cf rejected the rule: ${r.stdout}${r.stderr}`);
    // And visudo really checks: a broken rule is refused.
    writeFileSync(file, 'deploy ALL=(ALL NOPASSWD ALL\n');
    assert.is.not(spawnSync(visudo, ['-cf', file], { encoding: 'utf8' }).status, 0);
  });
});

// ------------------------------------------------------------------------------- sshd drop-in

test('SSHD_DROP_IN: sorts first in sshd_config.d and ends in .conf (the Include glob)', () => {
  assert.is(SSHD_DROP_IN, '/etc/ssh/sshd_config.d/00-hoist.conf');
});

test('sshdDropIn([]): the exact hardening text', () => {
  assert.is(
    sshdDropIn([]),
    '# Managed by hoist: key logins only, no root login. Checked with sshd -t before every reload.\n' +
      'PasswordAuthentication no\n' +
      'KbdInteractiveAuthentication no\n' +
      'PermitRootLogin no\n' +
      'PubkeyAuthentication yes\n',
  );
});

test('sshdDropIn(extra): extra directives after ours (the first value wins in sshd), one per line', () => {
  assert.is(
    sshdDropIn(['MaxAuthTries 3', 'ClientAliveInterval 300']),
    '# Managed by hoist: key logins only, no root login. Checked with sshd -t before every reload.\n' +
      'PasswordAuthentication no\n' +
      'KbdInteractiveAuthentication no\n' +
      'PermitRootLogin no\n' +
      'PubkeyAuthentication yes\n' +
      'MaxAuthTries 3\n' +
      'ClientAliveInterval 300\n',
  );
  // An operator's "PermitRootLogin yes" comes after ours, so ours is the one sshd uses.
  const text = sshdDropIn(['PermitRootLogin yes']);
  assert.ok(text.indexOf('PermitRootLogin no') < text.indexOf('PermitRootLogin yes'));
});

test('sshdDropIn: sshd -t -f accepts a config made of the drop-in', () => {
  const sshd = tool('/usr/sbin/sshd', 'sshd', 'openssh-server');
  withTempDir((dir) => {
    const hostKey = join(dir, 'host_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    for (const extra of [[], ['MaxAuthTries 3', 'ClientAliveInterval 300']]) {
      const config = join(dir, 'sshd_config');
      writeFileSync(config, `${sshdDropIn(extra)}HostKey ${hostKey}\n`);
      const r = spawnSync(sshd, ['-t', '-f', config], { encoding: 'utf8' });
      const hint = r.stderr.includes('privilege separation directory') ? ' (bash scripts/testbed-prereqs.sh makes /run/sshd)' : '';
      assert.is(r.status, 0, `sshd -t rejected the drop-in ${JSON.stringify(extra)}: ${r.stderr}${hint}`);
    }
    // And sshd -t really checks: a bad value is refused.
    const config = join(dir, 'sshd_config');
    writeFileSync(config, `${sshdDropIn(['PasswordAuthentication maybe'])}HostKey ${hostKey}\n`);
    assert.is.not(spawnSync(sshd, ['-t', '-f', config], { encoding: 'utf8' }).status, 0, 'sshd -t accepted "PasswordAuthentication maybe"');
  });
});

// --------------------------------------------------------------------------- authorized_keys

const OTHERS = [
  '# keys of the people who run this box',
  `from="10.0.0.0/8,192.168.1.*",no-agent-forwarding ${OTHER}`,
  '',
  `command="/usr/local/bin/backup --pull",no-pty,no-port-forwarding ${OTHER_RSA}`,
  '',
  '',
].join('\n');

const keyCases: { name: string; current: string | null; wanted: string[]; expected: string }[] = [
  { name: 'no file yet: just our key', current: null, wanted: [OURS], expected: `${OURS}\n` },
  { name: 'an empty file: just our key', current: '', wanted: [OURS], expected: `${OURS}\n` },
  {
    name: 'other keys kept byte for byte (comments, options, blank lines), ours appended once',
    current: OTHERS,
    wanted: [OURS],
    expected: `${OTHERS}${OURS}\n`,
  },
  {
    name: 'a file without a final newline: a newline, then our key',
    current: `# admin\n${OTHER}`,
    wanted: [OURS],
    expected: `# admin\n${OTHER}\n${OURS}\n`,
  },
  {
    name: 'our key already there with another comment: unchanged',
    current: `${OTHER}\n${OURS_MATERIAL} operator@laptop\n`,
    wanted: [OURS],
    expected: `${OTHER}\n${OURS_MATERIAL} operator@laptop\n`,
  },
  {
    name: 'our key already there, separated by tabs and with CRLF line ends: unchanged',
    current: `${OTHER}\r\n${OURS_MATERIAL.replace(' ', '\t')}\toperator\r\n`,
    wanted: [OURS],
    expected: `${OTHER}\r\n${OURS_MATERIAL.replace(' ', '\t')}\toperator\r\n`,
  },
  {
    name: 'our key already there as the last line, no final newline: unchanged',
    current: `${OTHER}\n${OURS}`,
    wanted: [OURS],
    expected: `${OTHER}\n${OURS}`,
  },
  {
    name: 'our key already there behind options (from=...): unchanged, no unrestricted copy added',
    current: `from="203.0.113.7" ${OURS}\n`,
    wanted: [OURS],
    expected: `from="203.0.113.7" ${OURS}\n`,
  },
  {
    name: 'a commented-out copy of our key does not count: ours is added',
    current: `# ${OURS}\n#${OURS_MATERIAL} old\n`,
    wanted: [OURS],
    expected: `# ${OURS}\n#${OURS_MATERIAL} old\n${OURS}\n`,
  },
  { name: 'several wanted keys, none there: all, in order', current: `${OTHER}\n`, wanted: [OURS, SECOND], expected: `${OTHER}\n${OURS}\n${SECOND}\n` },
  { name: 'several wanted keys, one there: only the missing one', current: `${SECOND}\n${OTHER}\n`, wanted: [OURS, SECOND], expected: `${SECOND}\n${OTHER}\n${OURS}\n` },
  {
    name: 'the same key wanted twice (SSH_KEY also listed in AUTHORIZED_KEYS): added once',
    current: null,
    wanted: [OURS, `${OURS_MATERIAL} operator@laptop`],
    expected: `${OURS}\n`,
  },
];

for (const c of keyCases) {
  test(`mergedAuthorizedKeys: ${c.name}`, () => {
    const merged = mergedAuthorizedKeys(c.current, c.wanted);
    assert.is(merged, c.expected);
    // Whatever was there stays as it was: the result starts with it (plus a newline if it lacked one).
    if (c.current) assert.ok(merged.startsWith(c.current), 'existing content must be a prefix of the result');
  });
}

test('mergedAuthorizedKeys: idempotent, merging twice is merging once', () => {
  for (const c of keyCases) {
    const once = mergedAuthorizedKeys(c.current, c.wanted);
    assert.is(mergedAuthorizedKeys(once, c.wanted), once, c.name);
  }
});

test('mergedAuthorizedKeys: nothing wanted, nothing changed', () => {
  assert.is(mergedAuthorizedKeys(OTHERS, []), OTHERS);
  assert.is(mergedAuthorizedKeys(`${OTHER}\n`, []), `${OTHER}\n`);
});

test.run();
