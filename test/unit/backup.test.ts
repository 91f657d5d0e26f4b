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
import { cronInstall, type CronWanted } from '../../tasks/cron-install.ts';
import { runnerScript } from '../../tasks/cron-install/app-run.ts';
import type { RemoteProbe, TaskInput } from '../../lib/engine/task.ts';

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

test('a hoist-backup job: installed as the app\'s backup script (once: compared by hash), its output in the job log; words refused', () => {
  const script = backupScript({ app: 'api', image: 'busybox:1.36', keep: 3 });
  const wanted = (entries: string[]): CronWanted => ({ app: 'api', user: 'deploy', asOther: false, entries, runner: runnerScript({ app: 'api', service: 'web', composeFile: null }), backupScript: script });
  const probe = cronInstall.probe(wanted([]), {} as TaskInput) as RemoteProbe<unknown>;
  assert.match(probe.command.line, /b="\$h"\/apps\/api\/bin\/hoist-backup; if \[ -f "\$b" \]; then set -- \$\(sha256sum < "\$b"\); echo "backup \$1"; else echo 'backup -'; fi; crontab -l$/);
  assert.equal(probe.parse({ code: 1, stdout: 'home /home/deploy\nrunner -\nbackup -\n', stderr: 'no crontab for deploy\n' }), { exists: false, content: '', home: '/home/deploy', runnerSha256: null, backupSha256: null });
  assert.throws(() => probe.parse({ code: 1, stdout: 'home /home/deploy\nrunner -\n', stderr: 'no crontab for deploy\n' }), /cut short/);
  const fact = { exists: false, content: '', home: '/home/deploy', runnerSha256: null, backupSha256: null };
  const plan = cronInstall.plan(wanted(['17 3 * * * hoist-backup']), fact, {} as TaskInput);
  assert.ok(plan.changes);
  if (!plan.changes) return;
  assert.is(plan.steps.length, 1);
  assert.is(plan.steps[0]!.backupScript, script);
  assert.is(plan.steps[0]!.runner, undefined, 'no hoist-run job, no runner');
  assert.match(plan.steps[0]!.describe, /^install ~\/apps\/api\/bin\/hoist-backup \(runs hoist-backup jobs: an archive of the app's volumes on the host\); add the hoist:api block/);
  assert.match(plan.steps[0]!.content, /\n17 3 \* \* \* mkdir -p "\$HOME"\/apps\/api\/logs && "\$HOME"\/apps\/api\/bin\/hoist-backup create >> "\$HOME"\/apps\/api\/logs\/cron.log 2>&1\n/);
  const installed = { ...fact, exists: true, content: plan.steps[0]!.content, backupSha256: backupScriptSha256(script) };
  assert.is(cronInstall.plan(wanted(['17 3 * * * hoist-backup']), installed, {} as TaskInput).changes, false);
  const stale = cronInstall.plan(wanted(['17 3 * * * hoist-backup']), { ...installed, backupSha256: 'e'.repeat(64) }, {} as TaskInput);
  assert.ok(stale.changes && stale.steps[0]!.backupScript === script && stale.steps[0]!.content === installed.content);
  assert.throws(() => cronInstall.plan(wanted(['17 3 * * * hoist-backup --keep 9']), fact, {} as TaskInput), /hoist-backup takes no words/);
  assert.is(cronInstall.plan(wanted(['17 3 * * * /usr/bin/true']), fact, {} as TaskInput).changes && (cronInstall.plan(wanted(['17 3 * * * /usr/bin/true']), fact, {} as TaskInput) as { steps: { backupScript?: string }[] }).steps[0]!.backupScript, undefined);
});

test.run();
