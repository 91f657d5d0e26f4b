import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCli, USAGE } from '../../lib/cli/args.ts';
import { main } from '../../lib/cli/main.ts';
import { EXIT, exitCodeFor, UsageError } from '../../lib/errors.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(REPO_ROOT, 'bin', 'hoist.mjs');

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function usageError(args: string[], mustContain?: string): string {
  const e = thrown(() => parseCli(args));
  assert.instance(e, UsageError, `parseCli(${JSON.stringify(args)}) did not throw a UsageError`);
  assert.is(exitCodeFor(e), EXIT.usage);
  const message = (e as Error).message;
  if (mustContain !== undefined) assert.ok(message.includes(mustContain), `"${message}" does not contain "${mustContain}"`);
  return message;
}

test('no arguments, help, --help and -h give help', () => {
  for (const args of [[], ['help'], ['--help'], ['-h']]) assert.equal(parseCli(args), { command: 'help' });
});

test('version and --version give version', () => {
  assert.equal(parseCli(['version']), { command: 'version' });
  assert.equal(parseCli(['--version']), { command: 'version' });
});

test('unknown command is rejected', () => {
  usageError(['deploy', 'cron'], '"deploy"');
  usageError(['--dry-run'], '"--dry-run"');
});

test('run with only a pipeline gives the defaults', () => {
  assert.equal(parseCli(['run', 'cron']), {
    command: 'run',
    pipeline: 'cron',
    hosts: [],
    dryRun: false,
    concurrency: 10,
    acceptNew: false,
    tags: [],
    fleetRollback: false,
  });
});

test('every flag, separate values', () => {
  const args = ['run', 'release', '--env-file', 'prod.env', '--inventory', 'fleet.yml', '--hosts', 'web1,web2', '--dry-run', '--json', 'out.json', '--concurrency', '4', '--accept-new'];
  assert.equal(parseCli(args), {
    command: 'run',
    pipeline: 'release',
    envFile: 'prod.env',
    inventory: 'fleet.yml',
    hosts: ['web1', 'web2'],
    dryRun: true,
    json: 'out.json',
    concurrency: 4,
    acceptNew: true,
    tags: [],
    fleetRollback: false,
  });
});

test('every flag, --flag=value form and flags before the pipeline', () => {
  const args = ['run', '--env-file=a/.env', '--inventory=hosts.json', '--hosts=db1', '--json=-', '--concurrency=500', '--accept-new', '--dry-run', './deploy/nightly.ts'];
  assert.equal(parseCli(args), {
    command: 'run',
    pipeline: './deploy/nightly.ts',
    envFile: 'a/.env',
    inventory: 'hosts.json',
    hosts: ['db1'],
    dryRun: true,
    json: '-',
    concurrency: 500,
    acceptNew: true,
    tags: [],
    fleetRollback: false,
  });
});

test('--json - (stdout) is taken as a value', () => {
  const r = parseCli(['run', 'cron', '--json', '-']);
  assert.is(r.command === 'run' ? r.json : undefined, '-');
});

test('--hosts splits on commas, trims and drops empty names', () => {
  const hosts = (v: string) => {
    const r = parseCli(['run', 'cron', '--hosts', v]);
    return r.command === 'run' ? r.hosts : null;
  };
  assert.equal(hosts('a,b'), ['a', 'b']);
  assert.equal(hosts('a'), ['a']);
  assert.equal(hosts(' a , ,b,'), ['a', 'b']);
  assert.equal(hosts(','), []);
  assert.equal(hosts('web-1.example.com,2001:db8::1'), ['web-1.example.com', '2001:db8::1']);
});

test('--concurrency must be a whole number from 1 to 500', () => {
  for (const bad of ['0', 'abc', '-1', '501', '1.5', '', '1e2', ' 4']) usageError(['run', 'cron', `--concurrency=${bad}`], '--concurrency');
  usageError(['run', 'cron', '--concurrency', '0'], '--concurrency 0');
  usageError(['run', 'cron', '--concurrency', 'abc'], '--concurrency abc');
  for (const [given, n] of [['1', 1], ['500', 500], ['07', 7]] as const) {
    const r = parseCli(['run', 'cron', '--concurrency', given]);
    assert.is(r.command === 'run' ? r.concurrency : null, n);
  }
});

test('unknown flags are rejected, not ignored', () => {
  usageError(['run', 'cron', '--dryrun'], '--dryrun');
  usageError(['run', 'cron', '--host', 'a'], '--host');
  usageError(['run', 'cron', '-x'], '-x');
  usageError(['run', 'cron', '--verbose'], 'Fix:');
});

test('flags missing their value are rejected', () => {
  usageError(['run', 'cron', '--env-file'], '--env-file');
  usageError(['run', 'cron', '--inventory'], '--inventory');
  usageError(['run', 'cron', '--json'], '--json');
  usageError(['run', 'cron', '--env-file', '--dry-run'], '--env-file');
});

test('boolean flags take no value', () => {
  usageError(['run', 'cron', '--dry-run=yes'], '--dry-run');
  usageError(['run', 'cron', '--accept-new=true'], '--accept-new');
});

test('missing pipeline and two pipelines are rejected', () => {
  usageError(['run'], 'got 0');
  usageError(['run', '--dry-run'], 'got 0');
  usageError(['run', 'cron', 'release'], 'got 2');
  usageError(['run', 'cron', '--hosts', 'a', 'b'], 'got 2');
});

test('USAGE lists every flag parseCli knows', () => {
  for (const flag of ['--env-file', '--inventory', '--hosts', '--dry-run', '--json', '--concurrency', '--accept-new']) {
    assert.ok(USAGE.includes(flag), `USAGE does not mention ${flag}`);
  }
});

/** Runs the real CLI (bin/hoist.mjs) in `cwd` without blocking this process (a test may be serving it). */
function runBin(args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Runs main() with console.log and stderr captured. */
async function runMain(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = console.log;
  const write = process.stderr.write.bind(process.stderr);
  console.log = (...a: unknown[]) => {
    out += `${a.map(String).join(' ')}\n`;
  };
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    console.log = log;
    process.stderr.write = write;
  }
}

test('main: help prints USAGE, version prints the package version, both exit 0', async () => {
  const help = await runMain(['help']);
  assert.is(help.code, 0);
  assert.is(help.out, `${USAGE}\n`);
  const version = await runMain(['--version']);
  assert.is(version.code, 0);
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.is(version.out, `${pkg.version}\n`);
});

test('main: a usage error exits 2 with one "hoist: usage error:" line', async () => {
  const r = await runMain(['run', 'cron', '--bogus']);
  assert.is(r.code, 2);
  assert.is(r.out, '');
  assert.ok(r.err.startsWith('hoist: usage error: '), r.err);
  assert.ok(r.err.includes('--bogus'), r.err);
  assert.is(r.err.split('\n').length, 2, r.err);
});

test('the real CLI: bad config exits 2 with one config error line, before connecting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-cli-test-'));
  // HOST and SSH_PORT are good and point at a listener here: a connection would be counted.
  let connections = 0;
  const listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((res) => listener.listen(0, '127.0.0.1', res));
  try {
    const port = (listener.address() as AddressInfo).port;
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    writeFileSync(join(dir, 'bad.env'), `HOST=127.0.0.1\nSSH_KEY=id\nSSH_PORT=${port}\nSSH_CONNECT_TIMEOUT=abc\n`);
    const r = await runBin(['run', 'cron', '--env-file', 'bad.env'], dir);
    assert.is(r.status, 2, `exit ${r.status}, stderr: ${r.stderr}`);
    assert.ok(r.stderr.endsWith('\n'), JSON.stringify(r.stderr));
    const lines = r.stderr.slice(0, -1).split('\n');
    assert.is(lines.length, 1, `stderr is not one line: ${r.stderr}`);
    assert.ok(lines[0]!.startsWith('hoist: config error:'), r.stderr);
    assert.ok(lines[0]!.includes('SSH_CONNECT_TIMEOUT'), r.stderr);
    assert.ok(lines[0]!.includes('abc'), r.stderr);
    assert.ok(lines[0]!.includes(join(dir, 'bad.env')), r.stderr);
    assert.is(r.stdout, '');
    assert.is(connections, 0, 'hoist connected to the host despite the bad config');
  } finally {
    await new Promise((res) => listener.close(res));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the real CLI: an unknown pipeline exits 2 listing the ones there are', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-cli-test-'));
  try {
    const r = spawnSync(process.execPath, [BIN, 'run', 'deploy-everything'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    assert.is(r.error, undefined);
    assert.is(r.status, 2, `exit ${r.status}, stderr: ${r.stderr}`);
    assert.ok(r.stderr.includes('no pipeline named "deploy-everything"'), r.stderr);
    assert.ok(/bootstrap, cron, release, remove, rollback/.test(r.stderr), r.stderr);
    assert.ok(r.stderr.startsWith('hoist: usage error:'), r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rollout flags: canary, batch as count or share, failure budget, fleet rollback, tags', () => {
  const a = parseCli(['run', 'release', '--canary', '1', '--batch', '25%', '--max-fail', '2', '--fleet-rollback', '--tag', 'web,gpu']);
  assert.equal(
    { ...a },
    { command: 'run', pipeline: 'release', hosts: [], tags: ['web', 'gpu'], acceptNew: false, concurrency: 10, dryRun: false, canary: 1, batch: { percent: 25 }, maxFail: { hosts: 2 }, fleetRollback: true },
  );
  const b = parseCli(['run', 'release', '--batch', '3', '--max-fail', '10%']);
  assert.equal([(b as { batch: unknown }).batch, (b as { maxFail: unknown }).maxFail], [{ hosts: 3 }, { percent: 10 }]);
});

test('bad rollout flags are usage errors that say what to give', () => {
  usageError(['run', 'release', '--batch', 'two'], '--batch two');
  usageError(['run', 'release', '--batch', '0'], 'at least one host');
  usageError(['run', 'release', '--batch', '150%'], '--batch 150%');
  usageError(['run', 'release', '--max-fail', '-1'], '--max-fail');
  usageError(['run', 'release', '--canary', '0'], '--canary 0');
  usageError(['run', 'release', '--fleet-rollback'], '--max-fail');
});

test('status and unlock take the host flags and no pipeline', () => {
  assert.equal(parseCli(['status', '--json', '-', '--tag', 'web']), { command: 'status', hosts: [], tags: ['web'], json: '-', acceptNew: false, concurrency: 10 });
  assert.equal(parseCli(['unlock', '--hosts', 'web1']), { command: 'unlock', hosts: ['web1'], tags: [], acceptNew: false, concurrency: 10 });
  usageError(['status', 'release'], 'takes no pipeline');
  usageError(['unlock', '--dry-run'], '--dry-run');
});

test('status --wait S: whole seconds from 1 to 3600; unlock does not take it', () => {
  assert.equal(parseCli(['status', '--wait', '120']), { command: 'status', hosts: [], tags: [], acceptNew: false, concurrency: 10, wait: 120 });
  usageError(['status', '--wait', '0'], '--wait 0: must be a whole number from 1 to 3600');
  usageError(['status', '--wait', '1.5'], '--wait 1.5');
  usageError(['status', '--wait', '3601'], '--wait 3601');
  usageError(['unlock', '--wait', '5'], '--wait');
});

test.run();
