import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AuthError, CommandTimeoutError, ConnectionLostError, HostKeyError } from '../../lib/errors.ts';
import { SshExecutor } from '../../lib/exec/ssh-executor.ts';
import { argv, sh } from '../../lib/shell-quote.ts';
import type { SshTarget } from '../../lib/ssh/connect.ts';
import { firstMismatch, generateWords, mulberry32 } from '../harness/hostile-words.ts';
import { Testbed, type TestHost } from '../harness/testbed.ts';

// SshExecutor against a real sshd (a debootstrapped Debian container): quoting through the real
// remote shell, stdin, one shared connection, atomic uploads, timeouts, reconnects, host keys.

const run = promisify(execFile);

let tb: Testbed;
let host: TestHost;
let ex: SshExecutor;
const others: SshExecutor[] = [];

function target(over: Partial<SshTarget> = {}): SshTarget {
  return {
    host: '127.0.0.1',
    port: host.port,
    user: 'deploy',
    privateKey: readFileSync(tb.keyPath),
    knownHostsPath: tb.knownHostsPath,
    acceptNew: false,
    connectTimeoutMs: 10_000,
    ...over,
  };
}

function executor(over: Partial<SshTarget> = {}): SshExecutor {
  const e = new SshExecutor({ targets: [target(over)], commandTimeoutMs: 30_000 });
  others.push(e);
  return e;
}

/** Runs a script on the host as root, outside SSH (docker exec); throws on failure. */
async function onHost(script: string): Promise<string> {
  const r = await host.sh(script);
  if (r.code !== 0) throw new Error(`on host: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** SSH connections of `deploy` open on the host: one unprivileged `sshd: deploy@notty` each. */
async function sessions(): Promise<number> {
  const r = await host.sh(`pgrep -c -f '^sshd: deploy@'`);
  return Number(r.stdout.trim());
}

/** The host's sshd log so far (sshd -e logs to the container's stderr), as lines. */
async function sshdLog(): Promise<string[]> {
  const { stdout, stderr } = await run('docker', ['logs', host.container], { maxBuffer: 64 * 1024 * 1024 });
  // sshd -e ends its lines with CRLF.
  return (stdout + stderr).split(/\r?\n/);
}

/** Logins sshd accepted so far. */
async function acceptedLogins(): Promise<number> {
  return (await sshdLog()).filter((l) => l.includes('Accepted publickey for deploy')).length;
}

/**
 * Connections of `deploy` that ended before logging in: sshd logs one "Disconnected from" (the
 * client said goodbye) or "Connection closed by" line for each, with "authenticating user".
 */
async function refusedLogins(): Promise<number> {
  return (await sshdLog()).filter((l) => / authenticating user deploy .*\[preauth\]$/.test(l) && /^(Disconnected from|Connection closed by) /.test(l)).length;
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, got a result');
}

async function fingerprintsOf(file: string): Promise<string[]> {
  const { stdout } = await run('ssh-keygen', ['-lf', file]);
  return stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[1]!);
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------
// Deterministic word generator (same idea as test/unit/shell-quote.test.ts).


const WORDS = generateWords(300, 0xc0ffee);

/** Sends `words` through one remote printf, NUL-separated, and checks they all come back. */
async function roundTrip(e: SshExecutor, words: string[], sudo = false): Promise<void> {
  const r = await e.exec(argv('printf', '%s\\0', ...words), { sudo });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, '');
  const want = words.map((w) => w + '\0').join('');
  if (r.stdout !== want) assert.unreachable(firstMismatch(r.stdout.split('\0').slice(0, -1), words));
}

// ---------------------------------------------------------------------------------------------

test.before(async () => {
  tb = await new Testbed().start({ count: 1, deployUser: true });
  host = tb.hosts[0]!;
  ex = new SshExecutor({ targets: [target()], commandTimeoutMs: 30_000 });
});

test.after(async () => {
  await ex?.close();
  for (const e of others) await e.close();
  await tb?.stop();
});

test('exec returns stdout, stderr and the exit code separately', async () => {
  const r = await ex.exec(sh`sh -c ${'echo out; echo err >&2; exit 3'}`);
  assert.equal(r, { stdout: 'out\n', stderr: 'err\n', code: 3 });
  assert.equal(await ex.exec(argv('true')), { stdout: '', stderr: '', code: 0 });
  assert.is((await ex.exec(argv('false'))).code, 1);
  const missing = await ex.exec(argv('ls', '/no/such/path'));
  assert.is(missing.code, 2);
  assert.is(missing.stdout, '');
  assert.match(missing.stderr, /No such file or directory/);
  assert.is(ex.label, `deploy@127.0.0.1:${host.port}`);
});

test('exec runs as the login user, and as root with sudo', async () => {
  assert.is((await ex.exec(argv('id', '-un'))).stdout, 'deploy\n');
  assert.is((await ex.exec(argv('id', '-u'), { sudo: true })).stdout, '0\n');
  assert.is((await ex.exec(sh`id -un; echo "$HOME"`, { sudo: true })).stdout.split('\n')[0], 'root');
});

test('property: 300 generated words pass through the remote shell byte for byte', async () => {
  const all = WORDS.join('');
  for (const needle of ["'", '"', '`', '$(', '${', '\\', '\n', '*', '~', '😀', '漢', '\x7f']) {
    assert.ok(all.includes(needle), `generator lacks ${JSON.stringify(needle)}`);
  }
  // A few alone, exactly as `printf %s WORD`, so the simplest form is covered too (5 at a time:
  // sshd's default MaxSessions is 10 channels per connection).
  const single = WORDS.slice(0, 25);
  for (let i = 0; i < single.length; i += 5) {
    await Promise.all(
      single.slice(i, i + 5).map(async (w) => {
        const r = await ex.exec(argv('printf', '%s', w));
        assert.is(r.code, 0, r.stderr);
        assert.is(r.stdout, w, JSON.stringify(w));
      }),
    );
  }
  // Then all of them, 50 words per remote printf.
  for (let i = 0; i < WORDS.length; i += 50) await roundTrip(ex, WORDS.slice(i, i + 50));
  // Nothing in the words ran: no file was touched.
  assert.is((await host.sh('test -e /tmp/pwned')).code, 1, '/tmp/pwned exists: a word was run as shell');
});

test('property: the words survive sudo (sh -c nested in the login shell) byte for byte', async () => {
  for (const w of WORDS.slice(0, 10)) {
    const r = await ex.exec(argv('printf', '%s', w), { sudo: true });
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, w, JSON.stringify(w));
  }
  for (let i = 0; i < WORDS.length; i += 50) await roundTrip(ex, WORDS.slice(i, i + 50), true);
  assert.is((await host.sh('test -e /tmp/pwned')).code, 1);
});

test('stdin is delivered exactly', async () => {
  const text = "line 1\nit's $(id) `x` \\ \t tab\r\n😀 漢字 e\u0301\nno final newline";
  assert.is((await ex.exec(argv('cat'), { stdin: text })).stdout, text);
  assert.is((await ex.exec(argv('cat'), { stdin: text, sudo: true })).stdout, text);
  assert.is((await ex.exec(argv('cat'), { stdin: '' })).stdout, '');
  assert.is((await ex.exec(argv('cat'))).stdout, '', 'no stdin means EOF at once');
  const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const r = await ex.exec(sh`od -An -v -tx1 | tr -d ' \n'`, { stdin: bin });
  assert.is(r.stdout, bin.toString('hex'));
});

test('stdin: 1 MiB payload arrives intact (sha256)', async () => {
  const rnd = mulberry32(42);
  const payload = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(Math.floor(rnd() * 0x1_0000_0000), i);
  const r = await ex.exec(sh`tee /tmp/hoist-stdin.bin | sha256sum && wc -c </tmp/hoist-stdin.bin && rm -f /tmp/hoist-stdin.bin`, { stdin: payload });
  assert.is(r.code, 0, r.stderr);
  const [sumLine, size] = r.stdout.trim().split('\n');
  assert.is(sumLine!.split(' ')[0], sha256(payload));
  assert.is(size!.trim(), String(payload.length));
});

test('one connection carries every command, also concurrent ones', async () => {
  const results: string[] = [];
  for (let round = 0; round < 4; round++) {
    const batch = await Promise.all(
      Array.from({ length: 5 }, (_, i) => ex.exec(sh`sleep 0.2; echo ${`cmd ${round * 5 + i}`}`)),
    );
    results.push(...batch.map((r) => r.stdout));
  }
  assert.equal(results, Array.from({ length: 20 }, (_, i) => `cmd ${i}\n`));
  assert.is(ex.connectionsOpened, 1);
  assert.is(await sessions(), 1, 'sshd should serve exactly one deploy session');
  assert.is(await acceptedLogins(), 1, 'sshd should have accepted exactly one login');
});

test('upload writes a file with its mode, atomically, leaving no temp file', async () => {
  await ex.exec(argv('mkdir', '-p', '/home/deploy/up'));
  const content = "hello\nit's $(id)\n😀 漢字\n";
  await ex.upload('/home/deploy/up/a.txt', content, { mode: 0o640 });
  assert.is((await ex.exec(argv('stat', '-c', '%a %U:%G', '/home/deploy/up/a.txt'))).stdout, '640 deploy:deploy\n');
  assert.is((await ex.exec(argv('cat', '/home/deploy/up/a.txt'))).stdout, content);

  // Binary, larger than one SFTP packet, and executable.
  const rnd = mulberry32(7);
  const bin = Buffer.from(Array.from({ length: 300_000 }, () => Math.floor(rnd() * 256)));
  await ex.upload('/home/deploy/up/tool', bin, { mode: 0o755 });
  assert.is((await ex.exec(argv('stat', '-c', '%a', '/home/deploy/up/tool'))).stdout, '755\n');
  assert.is((await ex.exec(argv('sha256sum', '/home/deploy/up/tool'))).stdout.split(' ')[0], sha256(bin));

  // Replacing an existing file: a new inode takes the path (rename), with the new mode.
  await ex.exec(sh`printf old >/home/deploy/up/b.txt && chmod 644 /home/deploy/up/b.txt`);
  const inodeBefore = (await ex.exec(argv('stat', '-c', '%i', '/home/deploy/up/b.txt'))).stdout;
  await ex.upload('/home/deploy/up/b.txt', 'new secret', { mode: 0o600 });
  const after = (await ex.exec(argv('stat', '-c', '%i %a', '/home/deploy/up/b.txt'))).stdout.trim().split(' ');
  assert.is.not(after[0], inodeBefore.trim(), 'the file was rewritten in place instead of renamed over');
  assert.is(after[1], '600');
  assert.is((await ex.exec(argv('cat', '/home/deploy/up/b.txt'))).stdout, 'new secret');

  // An empty file.
  await ex.upload('/home/deploy/up/empty', '', { mode: 0o600 });
  assert.is((await ex.exec(argv('stat', '-c', '%s %a', '/home/deploy/up/empty'))).stdout, '0 600\n');

  assert.is((await ex.exec(argv('ls', '-A', '/home/deploy/up'))).stdout, 'a.txt\nb.txt\nempty\ntool\n');
});

test('upload with sudo places a root-owned file and cleans up', async () => {
  const content = 'SECRET=1\nquote=\'"$x"\'\n';
  await ex.upload('/etc/hoist-test-file', content, { sudo: true, owner: 'root:root', mode: 0o600 });
  assert.is(await onHost('stat -c "%U:%G %a" /etc/hoist-test-file'), 'root:root 600\n');
  assert.is(await onHost('cat /etc/hoist-test-file'), content);
  const asDeploy = await ex.exec(argv('cat', '/etc/hoist-test-file'));
  assert.is.not(asDeploy.code, 0, 'deploy can read a 600 root file');

  // Replacing it keeps the guarantees; other owners and the default owner work too.
  await ex.upload('/etc/hoist-test-file', 'v2', { sudo: true, owner: 'root:root', mode: 0o600 });
  assert.is(await onHost('stat -c "%U:%G %a" /etc/hoist-test-file && cat /etc/hoist-test-file'), 'root:root 600\nv2');
  await ex.upload('/etc/hoist-test-owned', 'x', { sudo: true, owner: 'deploy:deploy', mode: 0o640 });
  assert.is(await onHost('stat -c "%U:%G %a" /etc/hoist-test-owned'), 'deploy:deploy 640\n');
  await ex.upload('/etc/hoist-test-default', 'y', { sudo: true, mode: 0o644 });
  assert.is(await onHost('stat -c "%U:%G %a" /etc/hoist-test-default'), 'root:root 644\n');

  const leftovers = await onHost('ls -a /tmp /etc /home/deploy /home/deploy/up | grep -F .hoist- || true');
  assert.is(leftovers, '', 'temporary files were left behind');
});

test('a refused first login falls back to the next account, which the label then names', async () => {
  const fallback = new SshExecutor({ targets: [target({ user: 'nobody-here' }), target({ user: 'root' })], commandTimeoutMs: 30_000 });
  others.push(fallback);
  assert.is((await fallback.exec(argv('id', '-un'))).stdout, 'root\n');
  assert.is(fallback.user, 'root');
  assert.equal([fallback.connectAttempts, fallback.connectionsOpened], [2, 1]);
  assert.match(fallback.label, /^root@127\.0\.0\.1:/);
});

test('a reconnect logs in as the account it had, though an earlier one can log in by now', async () => {
  // As in a bootstrap: the run starts as root (the deploy user does not exist yet), creates the
  // deploy user, then loses the connection; its rollback must go on as root.
  const e = new SshExecutor({ targets: [target({ user: 'late' }), target({ user: 'root' })], commandTimeoutMs: 30_000 });
  others.push(e);
  const cut = async (seconds: string) => {
    const pending = rejection(e.exec(argv('sleep', seconds)));
    await waitFor(`sleep ${seconds} on the host`, async () => (await host.sh(`pgrep -f '^sleep ${seconds}$'`)).code === 0);
    await host.sh(`pkill -KILL -f '^sshd: (root|late)'`);
    assert.instance(await pending, ConnectionLostError);
  };
  try {
    assert.is((await e.exec(argv('id', '-un'))).stdout, 'root\n');
    await onHost('useradd -m late && install -d -m 700 -o late -g late /home/late/.ssh && install -m 600 -o late -g late /root/.ssh/authorized_keys /home/late/.ssh/');
    await cut('23');
    assert.is((await e.exec(argv('id', '-un'))).stdout, 'root\n', 'still root after the reconnect');
    assert.is(e.connectionsOpened, 2);
    // Once the account it had is refused, the others are tried in order.
    await onHost("echo 'DenyUsers root' >/etc/ssh/sshd_config.d/90-test.conf && kill -HUP 1");
    await waitFor('root refused', async () => {
      const probe = new SshExecutor({ targets: [target({ user: 'root' })], commandTimeoutMs: 30_000 });
      const outcome = await probe.exec(argv('true')).then(() => null, (x: Error) => x);
      await probe.close();
      return outcome instanceof AuthError;
    }, 10_000);
    await cut('24');
    assert.is((await e.exec(argv('id', '-un'))).stdout, 'late\n');
  } finally {
    await e.close();
    await host.sh('rm -f /etc/ssh/sshd_config.d/90-test.conf && kill -HUP 1; sleep 0.5; pkill -KILL -u late; userdel -r late 2>/dev/null; true');
  }
});

test('a command running past its timeout is stopped and the executor keeps working', async () => {
  const started = Date.now();
  const err = await rejection(ex.exec(argv('sleep', '30'), { timeoutMs: 1000 }));
  const took = Date.now() - started;
  assert.instance(err, CommandTimeoutError);
  assert.ok(took >= 900, `gave up after ${took} ms, before its 1 s limit`);
  // Killed on the host too, not just abandoned (it would hold locks otherwise). This also proves
  // the host's `timeout` stopped it, not our backstop (limit + 10 s), which leaves the remote
  // `sleep 30` running: no upper bound on `took` needed.
  await waitFor('sleep 30 gone from the host', async () => (await host.sh(`pgrep -u deploy -f '^sleep 30$'`)).code === 1);
  assert.is((await ex.exec(argv('echo', 'still here'))).stdout, 'still here\n');
  assert.is(ex.connectionsOpened, 1);
});

test('more commands at once than sshd allows channels all succeed on the one connection', async () => {
  const results = await Promise.all(Array.from({ length: 14 }, (_, i) => ex.exec(sh`sleep 0.3; echo ${String(i)}`)));
  assert.equal(results.map((r) => r.stdout.trim()), Array.from({ length: 14 }, (_, i) => String(i)));
  assert.is(ex.connectionsOpened, 1);
});

test('a connection killed from the host side is reported as lost and reopened on the next exec', async () => {
  const pending = rejection(ex.exec(argv('sleep', '21')));
  await waitFor('sleep 21 on the host', async () => (await host.sh(`pgrep -u deploy -f '^sleep 21$'`)).code === 0);
  // What the connection went through, heard on the executor's own ssh2 client: 'end' is the host
  // closing the TCP connection; keepalives going unanswered (the first goes out after
  // KEEPALIVE_INTERVAL_MS, the loss declared KEEPALIVE_COUNT_MAX of them later) would show as an
  // error "Keepalive timeout" and the socket destroyed from this side, with no 'end'.
  const client = (ex as unknown as { client: import('ssh2').Client }).client;
  const heard: string[] = [];
  client.on('end', () => heard.push('end'));
  client.on('close', () => heard.push('close'));
  client.on('error', (e: Error) => heard.push(`error: ${e.message}`));
  await host.sh(`pkill -f '[s]shd: deploy'`);
  const err = await pending;
  heard.push('rejected');
  assert.instance(err, ConnectionLostError, String(err));
  assert.ok((err as ConnectionLostError).transient);
  // Noticed from the connection closing (a loss noticed by the command's backstop would be a
  // CommandTimeoutError): the host's 'end' came first, no keepalive gave up.
  assert.is(heard[0], 'end', heard.join(', '));
  assert.ok(heard.every((h) => !/Keepalive/i.test(h)), heard.join(', '));

  assert.is((await ex.exec(argv('id', '-un'))).stdout, 'deploy\n');
  assert.is(ex.connectionsOpened, 2);
  await waitFor('one session after the reconnect', async () => (await sessions()) === 1);
  // Uploads reconnect too (the SFTP channel died with the old connection).
  await ex.upload('/home/deploy/up/after-reconnect', 'ok', { mode: 0o600 });
  assert.is((await ex.exec(argv('cat', '/home/deploy/up/after-reconnect'))).stdout, 'ok');
  assert.is(ex.connectionsOpened, 2);
  await host.sh(`pkill -u deploy -x sleep || true`);
});

// ---------------------------------------------------------------------------------------------
// Host keys and client keys. The shared executor is closed first, so sshd has no deploy session.

test('close ends the session on the host', async () => {
  await ex.close();
  await waitFor('no deploy session', async () => (await sessions()) === 0);
});

test('a changed host key is refused before anything runs, naming both fingerprints', async () => {
  const fakeKey = join(tb.dir, 'fake_host_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fake', '-f', fakeKey]);
  const fakePub = readFileSync(`${fakeKey}.pub`, 'utf8').trim().split(' ');
  const file = join(tb.dir, 'known_hosts_changed');
  writeFileSync(file, `[127.0.0.1]:${host.port} ${fakePub[0]} ${fakePub[1]}\n`);
  const [expected] = await fingerprintsOf(file);
  const [real] = await fingerprintsOf(tb.knownHostsPath);
  assert.ok(expected && real && expected !== real);

  const logins = await acceptedLogins();
  for (const acceptNew of [false, true]) {
    const e = executor({ knownHostsPath: file, acceptNew });
    const err = await rejection(e.connect());
    assert.instance(err, HostKeyError, String(err));
    assert.not.ok((err as HostKeyError).transient);
    assert.ok(err.message.includes(expected!), `${err.message} lacks the pinned ${expected}`);
    assert.ok(err.message.includes(real!), `${err.message} lacks the offered ${real}`);
    assert.match(err.message, /HOST KEY CHANGED/);
    // exec connects first, so it cannot run the command either.
    const execErr = await rejection(e.exec(argv('touch', '/home/deploy/hoist-marker')));
    assert.instance(execErr, HostKeyError);
    assert.is(e.connectionsOpened, 0);
  }
  assert.is((await host.sh('test -e /home/deploy/hoist-marker')).code, 1, 'a command ran despite the wrong host key');
  assert.is(await sessions(), 0);
  assert.is(await acceptedLogins(), logins, 'sshd accepted a login despite the wrong host key');
  assert.is(readFileSync(file, 'utf8'), `[127.0.0.1]:${host.port} ${fakePub[0]} ${fakePub[1]}\n`, 'known_hosts was changed');
});

test('an unknown host is refused without --accept-new', async () => {
  const empty = join(tb.dir, 'known_hosts_empty');
  writeFileSync(empty, '');
  const logins = await acceptedLogins();
  for (const file of [empty, join(tb.dir, 'no-such-known-hosts')]) {
    const err = await rejection(executor({ knownHostsPath: file }).connect());
    assert.instance(err, HostKeyError, String(err));
    assert.not.ok((err as HostKeyError).transient);
    assert.match(err.message, /--accept-new/);
    assert.match(err.message, /SHA256:[A-Za-z0-9+/]{43}/);
    assert.ok(err.message.includes(`[127.0.0.1]:${host.port}`));
  }
  assert.is(readFileSync(empty, 'utf8'), '');
  assert.is(await sessions(), 0);
  assert.is(await acceptedLogins(), logins);
});

test('--accept-new pins the host key; a later run without it connects', async () => {
  const file = join(tb.dir, 'known_hosts_pinned');
  writeFileSync(file, '');
  const first = executor({ knownHostsPath: file, acceptNew: true });
  assert.is((await first.exec(argv('id', '-un'))).stdout, 'deploy\n');
  const found = await run('ssh-keygen', ['-F', `[127.0.0.1]:${host.port}`, '-f', file]);
  assert.match(found.stdout, new RegExp(`\\[127\\.0\\.0\\.1\\]:${host.port} `));
  // The pinned key is one of the host's real keys.
  const pinned = readFileSync(file, 'utf8').trim().split(' ');
  assert.is(pinned.length, 3);
  const hostKeys = await onHost('cat /etc/ssh/ssh_host_*_key.pub');
  assert.ok(hostKeys.includes(`${pinned[1]} ${pinned[2]}`), 'pinned a key the host does not have');
  await first.close();

  const second = executor({ knownHostsPath: file, acceptNew: false });
  assert.is((await second.exec(argv('id', '-un'))).stdout, 'deploy\n');
  await second.close();
  assert.is(readFileSync(file, 'utf8').trim().split('\n').length, 1, 'the key was pinned twice');

  // A known_hosts in a folder that does not exist yet is created, private.
  const nested = join(tb.dir, 'new-dir', 'known_hosts');
  const third = executor({ knownHostsPath: nested, acceptNew: true });
  await third.connect();
  await third.close();
  assert.is(statSync(nested).mode & 0o777, 0o600);
  await run('ssh-keygen', ['-F', `[127.0.0.1]:${host.port}`, '-f', nested]);
});

test('a key the server does not accept is an AuthError, tried once: one connection, counted by the executor and by sshd', async () => {
  const otherKey = join(tb.dir, 'other_client_key');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'intruder', '-f', otherKey]);
  const e = executor({ privateKey: readFileSync(otherKey) });
  const [refusedBefore, acceptedBefore] = [await refusedLogins(), await acceptedLogins()];
  const err = await rejection(e.connect());
  assert.instance(err, AuthError, String(err));
  assert.not.ok((err as AuthError).transient);
  assert.match(err.message, /refused the key/);
  assert.is(e.connectAttempts, 1);
  assert.is(e.connectionsOpened, 0);
  // sshd saw exactly one connection try the key (its line is written as the client leaves).
  await waitFor('sshd to log the refused connection', async () => (await refusedLogins()) > refusedBefore).catch(async (x: Error) => {
    throw new Error(`${x.message}; sshd's last lines:\n${(await sshdLog()).slice(-6).join('\n')}`);
  });
  assert.is(await refusedLogins(), refusedBefore + 1);
  assert.is(await acceptedLogins(), acceptedBefore);
  await waitFor('no deploy session', async () => (await sessions()) === 0);
});

test.run();
