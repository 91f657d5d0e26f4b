// ssh-bootstrap's rollback as data (it runs only when ssh-bootstrap itself failed): what it puts
// back, in which order, and what it says when it cannot finish. The order is the promise: sshd
// first and the user last, so stopping half-way never leaves fewer ways in than before the run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ExecResult } from '../../lib/exec/executor.ts';
import { RecordingExecutor } from '../../lib/exec/recording-executor.ts';
import type { ApplyContext, TaskInput } from '../../lib/engine/task.ts';
import { BootstrapError, sshBootstrap, type BootstrapWanted } from '../../tasks/ssh-bootstrap.ts';
import { SSHD_DROP_IN, sshdDropIn, sudoersContent, sudoersPath } from '../../tasks/ssh-bootstrap/files.ts';
import { parseBootstrapFact, type BootstrapFact } from '../../tasks/ssh-bootstrap/probe.ts';
import { testHost } from '../harness/settings.ts';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJmYXJ0ZXN0a2V5Zm9ydW5pdHRlc3RzMDAwMDAw hoist';

/** The probe's answer for a host with or without the deploy user, sudoers and hoist's sshd file. */
function probeOutput(o: { user: boolean; sudoers: boolean; hardened: boolean }): string {
  return [
    'os=debian 12',
    o.user ? 'user=present' : 'user=absent',
    ...(o.user ? ['home=/home/deploy', 'groups=deploy docker'] : []),
    `file:authorized_keys=${o.user ? b64(`${KEY}\n`) : '-'}`,
    `file:sudoers=${o.sudoers ? b64(sudoersContent('deploy')) : '-'}`,
    `file:sshd_drop_in=${o.hardened ? b64(sshdDropIn([])) : '-'}`,
    'pkg docker.io installed',
    'compose=v1',
    'service docker running',
    'service caddy running',
    'service cron running',
    'include=yes',
    `sshd permitrootlogin ${o.hardened ? 'no' : 'yes'}`,
    `sshd passwordauthentication ${o.hardened ? 'no' : 'yes'}`,
    'firewall=absent',
    '',
  ].join('\n');
}

const input: TaskInput = { host: testHost({}), loginUser: 'root' };
const wanted = sshBootstrap.want(input) as BootstrapWanted;
const FRESH: BootstrapFact = parseBootstrapFact(ok(probeOutput({ user: false, sudoers: false, hardened: false })));

function ctx(before: BootstrapFact): ApplyContext<BootstrapWanted, BootstrapFact> {
  return { wanted, before, input, progress: () => undefined, freshConnection: () => assert.unreachable('no new login in a rollback') as never };
}

/** Answers the probe with `now`; `fail` names the command that fails, with its stderr. */
function host(now: string, fail?: { match: RegExp; stderr: string }): RecordingExecutor {
  return new RecordingExecutor([
    (line) => (fail && fail.match.test(line) ? { code: 1, stdout: '', stderr: fail.stderr } : undefined),
    (line) => (line.includes('os=') || line.includes('dpkg-query') ? ok(now) : undefined),
    () => ok(),
  ]);
}

async function rollbackError(exec: RecordingExecutor, before: BootstrapFact): Promise<string> {
  try {
    await sshBootstrap.rollback!(exec, ctx(before));
  } catch (e) {
    assert.ok(e instanceof BootstrapError, String(e));
    return (e as Error).message;
  }
  return '';
}

test('a user this run created: sudoers removed, then its processes ended and the user removed', async () => {
  const exec = host(probeOutput({ user: true, sudoers: true, hardened: false }));
  assert.is(await rollbackError(exec, FRESH), '');
  const lines = exec.calls.filter((c) => c.kind === 'exec').map((c) => c.line!).slice(1);
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.is(lines[0], `rm -f ${sudoersPath('deploy')}`);
  assert.match(lines[1]!, /pkill -KILL -u deploy.*userdel --remove deploy/);
});

test('userdel refused ("currently used by process N"): says where it stopped, what it put back and what it left; root login as before', async () => {
  const exec = host(probeOutput({ user: true, sudoers: true, hardened: false }), { match: /userdel/, stderr: 'userdel: user deploy is currently used by process 4242' });
  const message = await rollbackError(exec, FRESH);
  assert.match(message, /the rollback of ssh-bootstrap stopped at "user deploy removed"/);
  assert.ok(message.includes(`Put back: ${sudoersPath('deploy')} as before.`), message);
  assert.match(message, /Left as this run made it: user deploy with the keys in AUTHORIZED_KEYS, in the docker group\./);
  assert.match(message, /Logins that worked before the run still work/);
});

test('sshd cannot be put back: it stops there and keeps the deploy user, its keys and sudo (the way in)', async () => {
  const exec = host(probeOutput({ user: true, sudoers: true, hardened: true }), { match: /HUP/, stderr: 'no sshd to reload' });
  const message = await rollbackError(exec, FRESH);
  assert.match(message, /stopped at "sshd config/);
  assert.match(message, /Nothing was put back\./);
  assert.ok(message.includes(`sshd config as this run left it (${SSHD_DROP_IN}: no root or password logins)`), message);
  assert.ok(message.includes(`${sudoersPath('deploy')} (sudo for deploy)`), message);
  assert.match(message, /Log in as deploy \(its keys and sudo are kept for that\) or through the provider's console/);
  const lines = exec.calls.filter((c) => c.kind === 'exec').map((c) => c.line!).slice(1); // after the probe
  assert.not.ok(lines.some((l) => l.includes('userdel') || l.includes(sudoersPath('deploy'))), `nothing after sshd was touched: ${lines.join('\n')}`);
});

test('a user that existed before the run is never removed', async () => {
  const before = parseBootstrapFact(ok(probeOutput({ user: true, sudoers: false, hardened: false })));
  const exec = host(probeOutput({ user: true, sudoers: true, hardened: false }));
  assert.is(await rollbackError(exec, before), '');
  assert.not.ok(exec.calls.some((c) => c.line?.includes('userdel')));
});

test.run();
