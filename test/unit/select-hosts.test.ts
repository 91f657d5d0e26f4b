import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HostArgs } from '../../lib/cli/args.ts';
import { loadSelectedConfig } from '../../lib/cli/select-hosts.ts';
import { UsageError } from '../../lib/errors.ts';

let dir = '';
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hoist-select-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  writeFileSync(join(dir, '.env'), `APP_NAME=app\nSSH_KEY=${join(dir, 'id')}\nKNOWN_HOSTS=${join(dir, 'known_hosts')}\n`);
  writeFileSync(join(dir, 'known_hosts'), '');
  writeFileSync(
    join(dir, 'hosts.yml'),
    'hosts:\n  web1: {host: 10.0.0.1, tags: [web]}\n  web2: {host: 10.0.0.2, tags: [web, edge]}\n  gpu1: {host: 10.0.0.3, tags: [gpu]}\n  db1: {host: 10.0.0.4}\n',
  );
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

const select = (o: Partial<HostArgs>) =>
  loadSelectedConfig({ envFile: join(dir, '.env'), inventory: join(dir, 'hosts.yml'), hosts: [], tags: [], acceptNew: false, concurrency: 10, ...o }).hosts.map((h) => h.name);

test('--tag keeps hosts with any of the tags, in inventory order; --hosts narrows first', () => {
  assert.equal(select({}), ['web1', 'web2', 'gpu1', 'db1']);
  assert.equal(select({ tags: ['web'] }), ['web1', 'web2']);
  assert.equal(select({ tags: ['gpu', 'edge'] }), ['web2', 'gpu1']);
  assert.equal(select({ hosts: ['web2', 'gpu1'], tags: ['web'] }), ['web2']);
});

test('a tag no selected host has is a usage error listing the tags there are', () => {
  try {
    select({ tags: ['cache'] });
    assert.unreachable('no error');
  } catch (e) {
    assert.instance(e, UsageError);
    assert.match((e as Error).message, /--tag cache: no selected host has that tag\. Fix: use one of: edge, gpu, web/);
  }
});

test.run();
