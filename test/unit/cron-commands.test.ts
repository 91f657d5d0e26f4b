import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { Cmd } from '../../lib/shell-quote.ts';
import { crontabCommands } from '../../tasks/cron-install/commands.ts';

function lines(c: { list: Cmd; install: Cmd; remove: Cmd }): { list: string; install: string; remove: string } {
  return { list: c.list.line, install: c.install.line, remove: c.remove.line };
}

test('the login user edits its own crontab: no -u', () => {
  assert.equal(lines(crontabCommands({ user: 'deploy', asOther: false })), {
    list: 'crontab -l',
    install: 'crontab -',
    remove: 'crontab -r',
  });
  assert.equal(lines(crontabCommands({ user: 'root', asOther: false })), {
    list: 'crontab -l',
    install: 'crontab -',
    remove: 'crontab -r',
  });
});

test('another user: crontab -u USER', () => {
  assert.equal(lines(crontabCommands({ user: 'deploy', asOther: true })), {
    list: 'crontab -u deploy -l',
    install: 'crontab -u deploy -',
    remove: 'crontab -u deploy -r',
  });
  assert.equal(lines(crontabCommands({ user: 'www-data', asOther: true })), {
    list: 'crontab -u www-data -l',
    install: 'crontab -u www-data -',
    remove: 'crontab -u www-data -r',
  });
});

test('the commands are Cmd values', () => {
  const c = crontabCommands({ user: 'deploy', asOther: true });
  assert.ok(c.list instanceof Cmd && c.install instanceof Cmd && c.remove instanceof Cmd);
});

test('a hostile user name is quoted (config validation forbids it, the builder does not rely on that)', () => {
  const cases: Array<[string, string]> = [
    ['x; rm -rf /', "'x; rm -rf /'"],
    ['$(reboot)', "'$(reboot)'"],
    ['`id`', "'`id`'"],
    ["o'brien", `'o'\\''brien'`],
    ['a b', "'a b'"],
    ['evil\nreboot', "'evil\nreboot'"],
    ['*', "'*'"],
    ['', "''"],
  ];
  for (const [user, q] of cases) {
    assert.equal(
      lines(crontabCommands({ user, asOther: true })),
      { list: `crontab -u ${q} -l`, install: `crontab -u ${q} -`, remove: `crontab -u ${q} -r` },
      JSON.stringify(user),
    );
  }
});

test('a hostile user name is ignored for the login user', () => {
  assert.equal(lines(crontabCommands({ user: '$(reboot)', asOther: false })), {
    list: 'crontab -l',
    install: 'crontab -',
    remove: 'crontab -r',
  });
});

test('a hostile user name reaches crontab as exactly one argument (local sh)', () => {
  // A shell function stands in for crontab and prints the words it got.
  for (const user of ['x; touch /tmp/hoist-pwned', '$(id)', "o'brien", 'a b\nc', '-r', '']) {
    const c = crontabCommands({ user, asOther: true });
    for (const [cmd, last] of [
      [c.list, '-l'],
      [c.install, '-'],
      [c.remove, '-r'],
    ] as const) {
      const out = execFileSync('sh', ['-c', `crontab() { printf '%s\\0' "$@"; }; ${cmd.line}`]).toString('utf8');
      assert.equal(out.split('\0').slice(0, -1), ['-u', user, last], `${JSON.stringify(user)}: ${cmd.line}`);
    }
  }
});

test.run();
