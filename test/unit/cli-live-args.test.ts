// Arguments of hoist logs / exec / ssh: hoist's flags before `--`, the command's words after it
// untouched; every mistake is a usage error (exit 2) naming the flag and the fix, before anything
// connects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCli, USAGE } from '../../lib/cli/args.ts';
import { EXIT, exitCodeFor, UsageError } from '../../lib/errors.ts';

const hostDefaults = { hosts: [], tags: [], acceptNew: false, concurrency: 10 };

function usageError(args: string[], mustContain: string): void {
  let e: unknown;
  try {
    parseCli(args);
  } catch (err) {
    e = err;
  }
  assert.instance(e, UsageError, `parseCli(${JSON.stringify(args)}) did not throw a UsageError`);
  assert.is(exitCodeFor(e), EXIT.usage);
  assert.ok((e as Error).message.includes(mustContain), `"${(e as Error).message}" does not contain "${mustContain}"`);
}

test('logs: defaults, then every flag', () => {
  assert.equal(parseCli(['logs']), { command: 'logs', ...hostDefaults, follow: false, jobs: false });
  assert.equal(parseCli(['logs', '--lines', '20', '--since', '10m', '--follow', '--service', 'worker', '--hosts', 'web1,web2', '--tag', 'web', '--env-file', 'prod.env', '--inventory', 'hosts.yml']), {
    command: 'logs',
    envFile: 'prod.env',
    inventory: 'hosts.yml',
    hosts: ['web1', 'web2'],
    tags: ['web'],
    acceptNew: false,
    concurrency: 10,
    service: 'worker',
    lines: 20,
    since: '10m',
    follow: true,
    jobs: false,
  });
  assert.equal(parseCli(['logs', '--jobs', '--follow']), { command: 'logs', ...hostDefaults, follow: true, jobs: true });
});

test('logs: --since takes durations, dates, times and unix times', () => {
  for (const since of ['10m', '1h30m', '45s', '1.5h', '2024-01-31', '2024-01-31T10:00', '2024-01-31T10:00:00Z', '2024-01-31T10:00:00.123+02:00', '1706695200', '1706695200.5']) {
    assert.is((parseCli(['logs', '--since', since]) as { since?: string }).since, since, since);
  }
});

test('logs: bad values and combinations name the flag and the fix', () => {
  usageError(['logs', '--lines', '0'], '--lines 0: must be a whole number from 1 to 100000');
  usageError(['logs', '--lines', 'many'], '--lines many');
  usageError(['logs', '--since', 'yesterday'], '--since "yesterday": not a time. Fix: a duration (--since 10m');
  usageError(['logs', '--since', '10m; rm -rf ~'], '--since "10m; rm -rf ~": not a time');
  usageError(['logs', '--jobs', '--since', '10m'], '--since with --jobs');
  usageError(['logs', '--jobs', '--service', 'web'], '--service with --jobs');
  usageError(['logs', '--service', '../x'], '--service "../x": not a compose service name');
  usageError(['logs', 'web'], '"hoist logs" takes no command, got "web"');
  usageError(['logs', '--', 'ls'], '"hoist logs" takes no command after --');
  usageError(['logs', '--json', '-'], '--json: "hoist logs" writes no report. Fix: leave --json out');
  usageError(['logs', '--tail', '5'], "Unknown option '--tail'");
});

test('exec: the words after -- are kept as they are, hoist flags and all', () => {
  assert.equal(parseCli(['exec', '--hosts', 'web1', '--', 'sh', '-c', 'echo "$X"; exit 3', '--help', '--hosts', 'x']), {
    command: 'exec',
    ...hostDefaults,
    hosts: ['web1'],
    words: ['sh', '-c', 'echo "$X"; exit 3', '--help', '--hosts', 'x'],
  });
  assert.equal(parseCli(['exec', '--service', 'worker', '--concurrency', '2', '--', 'rake', 'jobs:work']), { command: 'exec', ...hostDefaults, concurrency: 2, service: 'worker', words: ['rake', 'jobs:work'] });
});

test('exec: a command is needed, after --', () => {
  usageError(['exec'], '"hoist exec" needs a command after --. Fix: hoist exec -- bin/rails db:migrate');
  usageError(['exec', '--'], '"hoist exec" needs a command after --');
  usageError(['exec', 'ls', '-la'], "Unknown option '-l'");
  usageError(['exec', 'ls'], '"hoist exec" takes the command after --, got "ls" before it. Fix: hoist exec -- ls');
});

test('ssh: a shell, or the words after --', () => {
  assert.equal(parseCli(['ssh', '--hosts', 'web1']), { command: 'ssh', ...hostDefaults, hosts: ['web1'], words: [] });
  assert.equal(parseCli(['ssh', '--', 'id', '-un']), { command: 'ssh', ...hostDefaults, words: ['id', '-un'] });
  assert.equal(parseCli(['ssh', '--accept-new', '--', 'ls', '-h']), { command: 'ssh', ...hostDefaults, acceptNew: true, words: ['ls', '-h'] });
  usageError(['ssh', 'uptime'], '"hoist ssh" takes the command after --, got "uptime" before it. Fix: hoist ssh -- uptime');
});

test('--help before -- is hoist\'s; after it, the command\'s', () => {
  assert.equal(parseCli(['logs', '--help']), { command: 'help' });
  assert.equal(parseCli(['exec', '-h', '--', 'ls']), { command: 'help' });
  assert.equal((parseCli(['ssh', '--', 'ls', '--help']) as { words: string[] }).words, ['ls', '--help']);
});

test('hoist help lists the three commands and their flags', () => {
  for (const text of ['hoist logs [--lines N] [--since T] [--follow] [--service S | --jobs]', 'hoist exec [--service S] [--hosts a,b] [--tag t] -- CMD [ARG...]', 'hoist ssh [--hosts NAME] [-- CMD [ARG...]]', '--jobs ', '--since T', '--follow']) {
    assert.ok(USAGE.includes(text), text);
  }
});

test.run();
