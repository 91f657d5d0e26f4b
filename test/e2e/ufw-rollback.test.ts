// FIREWALL=ufw and a bootstrap that fails after ufw went on: never locked out. ssh-bootstrap
// enables ufw before it hardens sshd; when the hardening then fails (here: an SSHD_OPTIONS line
// sshd -t rejects), the rollback turns off the ufw this run turned on, so the host's firewall and
// its logins are as before. A ufw the user had already enabled, with their own rules, is left
// exactly as it was. Each failing bootstrap runs twice; once the cause is fixed the bootstrap
// converges and a further run changes nothing.
// Real hosts: the ready image plus ufw (no apt at test time: apt points at a local repository),
// Docker and Caddy already running so the firewall rules compared are only ufw's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskReport } from '../../lib/report/run-report.ts';
import { localAptRepo } from '../harness/faults.ts';
import { readyUfwImage, startReadyServices } from '../harness/images.ts';
import { tryLogin } from '../harness/ssh-login.ts';
import { REPO_ROOT, Testbed, type TestHost } from '../harness/testbed.ts';
import { loginAccess } from '../harness/host-access.ts';

const test = suite('ufw rollback of a failed ssh-bootstrap');
const tb = new Testbed();
const FIXTURE = join(REPO_ROOT, 'test/fixtures/pipelines/ssh-bootstrap-only.ts');
/** sshd -t rejects it: the hardening step, which comes after the firewall step, fails. */
const BAD_SSHD = 'Bogus yes';
let key: Buffer;
let fresh: TestHost;
let own: TestHost;

test.before(async () => {
  const image = await readyUfwImage();
  await tb.start({ count: 2, dockerInside: true, image });
  [fresh, own] = tb.hosts as [TestHost, TestHost];
  key = readFileSync(tb.keyPath);
  await Promise.all(tb.hosts.map(async (h) => {
    await localAptRepo(h, 1);
    await startReadyServices(h.container);
  }));
});
test.after(() => tb.stop());

async function bootstrap(host: TestHost, vars: Record<string, string>): Promise<{ code: number; out: string; task: TaskReport }> {
  tb.writeEnv({ SSH_USER: 'root', DEPLOY_USER: 'deploy', FIREWALL: 'ufw', SSH_COMMAND_TIMEOUT: '600', ...vars });
  tb.writeInventory([host]);
  const r = await tb.runPipeline(FIXTURE);
  return { code: r.code, out: r.out, task: r.report.hosts[0]!.tasks[0]! };
}

/** The packet filter as the kernel has it (iptables-save, ip6tables-save: on Debian the nft backend), without counters or dates. */
async function packetFilter(host: TestHost): Promise<string> {
  const r = await host.sh(`{ echo @v4; iptables-save; echo @v6; ip6tables-save; } | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'`);
  assert.is(r.code, 0, r.stderr);
  return r.stdout;
}

/**
 * What of it filters: every rule (per family and table) and every built-in chain's policy other
 * than ACCEPT. `ufw disable` (ufw's own way off) empties its chains but leaves them, the jumps
 * to them from INPUT/FORWARD/OUTPUT, and an ip6tables filter table with nothing in it; an empty
 * chain passes every packet on, so those jumps are left out here. A rule inside a ufw chain is
 * not, and would differ from before.
 */
function filtering(save: string): string {
  let family = '';
  let table = '';
  const out: string[] = [];
  for (const l of save.split('\n')) {
    if (l.startsWith('@')) family = l.slice(1);
    else if (l.startsWith('*')) table = l.slice(1);
    else if (/^-A (INPUT|FORWARD|OUTPUT) -j ufw6?-[a-z-]+$/.test(l)) continue;
    else if (l.startsWith('-A ') || /^:(INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) (?!ACCEPT)/.test(l)) out.push(`${family} ${table} ${l}`);
  }
  return out.join('\n');
}

async function ufwStatus(host: TestHost): Promise<string> {
  const r = await host.sh('ufw status verbose');
  assert.is(r.code, 0, r.stderr);
  return r.stdout;
}


const login = (host: TestHost, user: string) => tryLogin({ port: host.port, user, privateKey: key, command: user === 'root' ? 'id -un' : 'sudo -n true && id -un' });

const allowed = (status: string) =>
  status
    .split('\n')
    .filter((l) => /ALLOW|LIMIT/.test(l))
    .map((l) => l.split(/\s{2,}/)[0])
    .sort();

test('ufw enabled by this run, then sshd -t fails: ufw is off again, the packet filter as before, root still logs in; twice; fixed, it converges', async () => {
  assert.match(await ufwStatus(fresh), /^Status: inactive$/m);
  const filter = filtering(await packetFilter(fresh));
  assert.not.match(filter, /ufw/, 'ufw was never on here');
  const before = await loginAccess(fresh);
  for (const run of [1, 2]) {
    const r = await bootstrap(fresh, { SSHD_OPTIONS: BAD_SSHD });
    assert.is(r.code, 1, r.out);
    assert.is(r.task.status, 'failed', `run ${run}`);
    assert.match(r.task.error ?? '', /sshd -t rejected/, `run ${run}`);
    assert.is(r.task.rollbackError, undefined, `run ${run}: the rollback finished: ${r.task.rollbackError}`);
    // The firewall step ran before the hardening failed: ufw recorded the rules it was given.
    const steps = r.task.steps ?? [];
    const fw = steps.findIndex((s) => s.startsWith('ufw: allow 22/tcp (sshd), 80/tcp, 443/tcp'));
    assert.ok(fw >= 0 && fw < steps.findIndex((s) => s.startsWith('harden sshd')), `run ${run}: ufw went on before the hardening: ${steps.join(' | ')}`);
    assert.match(await host(fresh, 'ufw show added'), /ufw allow 22\/tcp/, `run ${run}: the firewall step ran`);
    assert.match(await ufwStatus(fresh), /^Status: inactive$/m, `run ${run}: ufw is off again`);
    const now = filtering(await packetFilter(fresh));
    assert.not.match(now, /ufw/, `run ${run}: no rule in a ufw chain`);
    assert.is(now, filter, `run ${run}: the packet filter filters as before`);
    assert.is(await loginAccess(fresh), before, `run ${run}: users, sudoers and sshd as before`);
    const root = await login(fresh, 'root');
    assert.ok(root.ok, `run ${run}: root (the provider's user) still logs in: ${root.error}`);
  }

  const fixed = await bootstrap(fresh, {});
  assert.is(fixed.code, 0, fixed.out);
  assert.is(fixed.task.status, 'changed');
  const status = await ufwStatus(fresh);
  assert.match(status, /^Status: active$/m, status);
  assert.equal(allowed(status), ['22/tcp', '22/tcp (v6)', '443/tcp', '443/tcp (v6)', '80/tcp', '80/tcp (v6)'], status);
  const deploy = await login(fresh, 'deploy');
  assert.ok(deploy.ok, `deploy logs in through ufw: ${deploy.error}`);
  const filter2 = await packetFilter(fresh);
  const again = await bootstrap(fresh, {});
  assert.is(again.code, 0, again.out);
  assert.is(again.task.status, 'unchanged', JSON.stringify(again.task));
  assert.is(await ufwStatus(fresh), status);
  assert.is(await packetFilter(fresh), filter2, 'the third run changed no rule');
});

test("ufw already on with the user's own rules: a failed bootstrap leaves it on, rules and packet filter untouched; twice; fixed, it converges", async () => {
  const setup = await own.sh("ufw allow 22/tcp && ufw allow 8081/tcp comment 'the user own' && ufw limit 2222/tcp && ufw deny from 192.0.2.0/24 && ufw --force enable");
  assert.is(setup.code, 0, setup.stderr);
  const status = await ufwStatus(own);
  assert.match(status, /^Status: active$/m, status);
  const filter = await packetFilter(own);
  const added = await host(own, 'ufw show added');
  for (const run of [1, 2]) {
    const r = await bootstrap(own, { SSHD_OPTIONS: BAD_SSHD });
    assert.is(r.code, 1, r.out);
    assert.is(r.task.status, 'failed', `run ${run}`);
    assert.match(r.task.error ?? '', /sshd -t rejected/, `run ${run}`);
    assert.is(r.task.rollbackError, undefined, `run ${run}: the rollback finished: ${r.task.rollbackError}`);
    assert.is(await ufwStatus(own), status, `run ${run}: ufw still on, with the user's rules`);
    assert.is(await host(own, 'ufw show added'), added, `run ${run}: no rule added or removed`);
    assert.is(await packetFilter(own), filter, `run ${run}: the packet filter as before`);
    const root = await login(own, 'root');
    assert.ok(root.ok, `run ${run}: root still logs in: ${root.error}`);
  }
  const fixed = await bootstrap(own, {});
  assert.is(fixed.code, 0, fixed.out);
  assert.is(fixed.task.status, 'changed');
  assert.is(await ufwStatus(own), status, "a ufw the user runs is theirs: hoist leaves its rules alone");
  const deploy = await login(own, 'deploy');
  assert.ok(deploy.ok, `deploy logs in: ${deploy.error}`);
  const again = await bootstrap(own, {});
  assert.is(again.code, 0, again.out);
  assert.is(again.task.status, 'unchanged', JSON.stringify(again.task));
  assert.is(await packetFilter(own), filter);
});

async function host(h: TestHost, script: string): Promise<string> {
  const r = await h.sh(script);
  assert.is(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
}

test.run();
