// Issue #18 item 4, the pure parts of backups: the command line, the stateful service's backup
// commands carried as labels of its container (compose must not interpolate them), the host
// script's settings and syntax, what the CLI reads back from it, the progress line.
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { backupScript, backupScriptPath, backupScriptSha256 } from '../../lib/backup/host-script.ts';
import { progressText } from '../../lib/backup/progress.ts';
import { defaultBackupPath, parseArchiveLine } from '../../lib/cli/backup.ts';
import { parseCli } from '../../lib/cli/args.ts';
import { HoistError, UsageError } from '../../lib/errors.ts';
import { networkOverrideYaml, planStateful, stateOverrideYaml } from '../../tasks/docker-up/stateful.ts';
import { readComposeConfig } from '../../tasks/docker-up/volumes.ts';

const DIR = '/home/deploy/apps/api/releases/20261207-aaa';
const compose = (xhoist: string) =>
  parse(`services:
  web:
    build: .
  db:
    image: postgres:16
    x-hoist: ${xhoist}
    volumes: [pgdata:/var/lib/postgresql/data]
volumes:
  pgdata: {}
`);

test('hoist backup / restore: flags, and what is refused', () => {
  assert.equal(parseCli(['backup']), { command: 'backup', hosts: [], tags: [], acceptNew: false, concurrency: 10, hostOnly: false });
  assert.equal(parseCli(['backup', '--output', 'b.tar', '--hosts', 'web1']), { command: 'backup', hosts: ['web1'], tags: [], acceptNew: false, concurrency: 10, output: 'b.tar', hostOnly: false });
  assert.equal((parseCli(['backup', '--host-only']) as { hostOnly: boolean }).hostOnly, true);
  assert.equal(parseCli(['restore', 'b.tar', '--hosts', 'web1']), { command: 'restore', hosts: ['web1'], tags: [], acceptNew: false, concurrency: 10, file: 'b.tar' });
  assert.throws(() => parseCli(['backup', '--output', 'b.tar', '--host-only']), (e: Error) => e instanceof UsageError && /--output with --host-only/.test(e.message));
  assert.throws(() => parseCli(['restore']), (e: Error) => e instanceof UsageError && /takes one archive, got 0/.test(e.message));
  assert.throws(() => parseCli(['backup', 'b.tar']), (e: Error) => e instanceof UsageError && /Fix: hoist backup --output b.tar/.test(e.message));
  assert.throws(() => parseCli(['backup', '--json', '-']), (e: Error) => e instanceof UsageError);
});

test('x-hoist.backup rides as labels of the stateful service, $ kept from compose', () => {
  const release = readComposeConfig(compose('{stateful: true, backup: {dump: "pg_dump -U $$USER app", restore: "psql -U $$USER app"}}'), 'api-blue', DIR);
  const plan = planStateful(release, 'web');
  const doc = parse(stateOverrideYaml(networkOverrideYaml('api', plan), release, plan)) as { services: Record<string, { labels: Record<string, string> }> };
  assert.equal(doc.services.db!.labels, { 'hoist.backup.dump': 'pg_dump -U $$$$USER app', 'hoist.backup.restore': 'psql -U $$$$USER app' }, 'doubled again: compose reads the override and halves them');
});

test('x-hoist.backup needs both commands, on a stateful service', () => {
  const refused = (x: string, why: RegExp) =>
    assert.throws(() => planStateful(readComposeConfig(compose(x), 'api-blue', DIR), 'web'), (e: Error) => e instanceof HoistError && why.test(e.message) && /Fix: under services.db/.test(e.message));
  refused('{stateful: true, backup: {dump: "pg_dump"}}', /needs both dump and restore/);
  refused('{stateful: true, backup: "pg_dump"}', /needs both dump and restore/);
  refused('{stateful: false, backup: {dump: "a", restore: "b"}}', /read only on a service marked stateful: true/);
});

test('the host script: settings baked in, sh syntax, BACKUP_KEEP=0 keeps the newest on the host', () => {
  const script = backupScript({ app: 'api', image: 'busybox:1.36', keep: 0 });
  assert.match(script, /^app=api$/m);
  assert.match(script, /^image=busybox:1.36$/m);
  assert.match(script, /^keep=1$/m);
  assert.match(backupScript({ app: 'api', image: 'b', keep: 7 }), /^keep=7$/m);
  execFileSync('sh', ['-n'], { input: script });
  assert.is(backupScriptPath('api'), 'apps/api/bin/hoist-backup');
  assert.is(backupScriptSha256(script).length, 64);
  assert.not.equal(backupScriptSha256(script), backupScriptSha256(backupScript({ app: 'api', image: 'busybox:1.36', keep: 2 })));
});

test('what the CLI reads back: the archive line; where the archive goes; progress', () => {
  const sum = 'a'.repeat(64);
  assert.equal(parseArchiveLine(`noise\narchive api-20261207T040000Z.tar 10240 ${sum}\n`), { name: 'api-20261207T040000Z.tar', size: 10240, sha256: sum });
  assert.is(parseArchiveLine('archive ../x 1 2\n'), null);
  assert.is(defaultBackupPath('web 1/x', 'api-1.tar', '/w'), '/w/.hoist/backups/web_1_x/api-1.tar');
  assert.is(progressText(5 * 1024 * 1024, 10 * 1024 * 1024, 2000), '5.00 MiB of 10.0 MiB (50%), 2.50 MiB/s');
  assert.is(progressText(0, null, 0), '0 B, 0 B/s');
});

test.run();
