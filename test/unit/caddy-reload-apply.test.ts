// caddy-reload's apply, rollback and verify against a recording executor: the order of writes,
// validate and reload; a rejected config is never reloaded and the files go back byte for byte;
// a failed reload puts the files back and reloads them; rollback reloads only if files differ.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ApplyContext, TaskInput } from '../../lib/engine/task.ts';
import { VerifyError } from '../../lib/errors.ts';
import { RecordingExecutor, type Responder } from '../../lib/exec/recording-executor.ts';
import { caddyReload, type CaddyFact, type CaddyStep, type CaddyWanted } from '../../tasks/caddy-reload.ts';
import { planCaddy } from '../../tasks/caddy-reload/plan.ts';
import { CaddyError } from '../../tasks/caddy-reload/types.ts';
import { testHost } from '../harness/settings.ts';

const input: TaskInput = { host: testHost({ appName: 'api', domains: ['api.example.com'], caddyTls: 'off', bluePort: 18001, greenPort: 18002 }), loginUser: 'deploy' };
const w = caddyReload.want(input) as CaddyWanted;
const OLD_SITE = 'api.example.com {\n\treverse_proxy 127.0.0.1:18002\n}\n';
const CADDYFILE = ':80 {\n}\n';
const before: CaddyFact = { site: null, caddyfile: CADDYFILE, caddyfileMode: '640', caddyfileOwner: 'root:caddy', running: true, activeSlot: null, recordedPorts: null, caRoot: null, port: 18001 };
const ctxFor = (b: CaddyFact): ApplyContext<CaddyWanted, CaddyFact> => ({
  wanted: w,
  before: b,
  input,
  progress: () => undefined,
  freshConnection: () => {
    throw new Error('not used');
  },
});
const stepsFor = (b: CaddyFact): CaddyStep[] => {
  const plan = planCaddy(w, b);
  if (!plan.changes) throw new Error('expected changes');
  return plan.steps;
};
const ok = { code: 0, stdout: '', stderr: '' };
const is = (re: RegExp, r: { code: number; stdout: string; stderr: string }): Responder => (line) => (re.test(line) ? r : undefined);
const VALIDATE = /caddy validate/;
const RELOAD = /caddy reload/;
const BAD = "{\"level\":\"info\",\"msg\":\"using provided configuration\"}\nError: adapting config using caddyfile: /etc/caddy/sites/hoist-api.caddy:5: unrecognized directive: bogus_directive\n";
const summary = (e: RecordingExecutor) => e.calls.map((c) => (c.kind === 'upload' ? `upload ${c.path} ${c.mode?.toString(8)}` : c.line!.replace(/^(?:\{ .*tcp_migrate_req.*?; )?if id -u caddy.*caddy (validate|reload) .*$/, 'caddy $1')));

test('apply: folder, site file (644), Caddyfile (its own mode), validate, reload; nothing else', async () => {
  const exec = new RecordingExecutor([is(/./, ok)]);
  await caddyReload.apply(exec, stepsFor(before), ctxFor(before));
  assert.equal(summary(exec), [
    'install -d -m 755 -o root -g root /etc/caddy/sites',
    'upload /etc/caddy/sites/hoist-api.caddy 644',
    'upload /etc/caddy/Caddyfile 640',
    'caddy validate',
    'caddy reload',
  ]);
  assert.ok(exec.calls.every((c) => c.sudo));
  assert.is(exec.calls[2]!.content, `${CADDYFILE}import /etc/caddy/sites/*.caddy\n`);
});

test('apply: a config caddy rejects is never reloaded; new file removed, Caddyfile back byte for byte', async () => {
  const exec = new RecordingExecutor([is(VALIDATE, { code: 1, stdout: '', stderr: BAD }), is(/./, ok)]);
  try {
    await caddyReload.apply(exec, stepsFor(before), ctxFor(before));
    assert.unreachable('apply should fail');
  } catch (e) {
    assert.instance(e, CaddyError);
    assert.is(
      (e as Error).message,
      'caddy validate rejected the new config, so Caddy was not reloaded and the previous files are back: Error: adapting config using caddyfile: /etc/caddy/sites/hoist-api.caddy:5: unrecognized directive: bogus_directive',
    );
  }
  assert.equal(summary(exec).slice(3), ['caddy validate', 'rm -f /etc/caddy/sites/hoist-api.caddy', 'upload /etc/caddy/Caddyfile 640']);
  assert.is(exec.calls.at(-1)!.content, CADDYFILE);
  assert.not.ok(exec.lines.some((l) => RELOAD.test(l)));
});

test('apply: an existing site file is put back with its old content when validation fails', async () => {
  const had = { ...before, site: OLD_SITE, caddyfile: `${CADDYFILE}import /etc/caddy/sites/*.caddy\n` };
  const exec = new RecordingExecutor([is(VALIDATE, { code: 1, stdout: '', stderr: BAD }), is(/./, ok)]);
  await caddyReload.apply(exec, stepsFor(had), ctxFor(had)).catch(() => undefined);
  assert.equal(summary(exec), ['install -d -m 755 -o root -g root /etc/caddy/sites', 'upload /etc/caddy/sites/hoist-api.caddy 644', 'caddy validate', 'upload /etc/caddy/sites/hoist-api.caddy 644']);
  assert.is(exec.calls.at(-1)!.content, OLD_SITE);
});

test('apply: a failed reload puts the files back and reloads them', async () => {
  let reloads = 0;
  const exec = new RecordingExecutor([(line) => (RELOAD.test(line) ? (++reloads === 1 ? { code: 1, stdout: '', stderr: 'Error: sending configuration to instance: connection refused\n' } : ok) : undefined), is(/./, ok)]);
  try {
    await caddyReload.apply(exec, stepsFor(before), ctxFor(before));
    assert.unreachable('apply should fail');
  } catch (e) {
    assert.is((e as Error).message, 'caddy reload failed (Error: sending configuration to instance: connection refused); the previous files are back and reloaded');
  }
  assert.equal(summary(exec).slice(3), ['caddy validate', 'caddy reload', 'rm -f /etc/caddy/sites/hoist-api.caddy', 'upload /etc/caddy/Caddyfile 640', 'caddy reload']);
});

const probeAnswer = (site: string | null, caddyfile: string): Responder => (line) =>
  line.includes('base64 -w0')
    ? { code: 0, stdout: [`site=${site === null ? '-' : Buffer.from(site).toString('base64')}`, `caddyfile=${Buffer.from(caddyfile).toString('base64')}`, 'caddyfile_stat=640 root:caddy', 'caddy=running', 'slot=-', ''].join('\n'), stderr: '' }
    : undefined;

test('rollback: files as the probe saw them already: nothing written, no reload', async () => {
  const exec = new RecordingExecutor([probeAnswer(null, CADDYFILE), is(/./, ok)]);
  await caddyReload.rollback!(exec, ctxFor(before));
  assert.is(exec.calls.length, 1, 'only the probe');
});

test('rollback: after a completed apply both files go back, then one reload', async () => {
  const exec = new RecordingExecutor([probeAnswer('new\n', `${CADDYFILE}import /etc/caddy/sites/*.caddy\n`), is(/./, ok)]);
  await caddyReload.rollback!(exec, ctxFor(before));
  assert.equal(summary(exec).slice(1), ['rm -f /etc/caddy/sites/hoist-api.caddy', 'upload /etc/caddy/Caddyfile 640', 'caddy reload']);
  const had = { ...before, site: OLD_SITE };
  const exec2 = new RecordingExecutor([probeAnswer('new\n', CADDYFILE), is(/./, ok)]);
  await caddyReload.rollback!(exec2, ctxFor(had));
  assert.equal(summary(exec2).slice(1), ['upload /etc/caddy/sites/hoist-api.caddy 644', 'caddy reload']);
  assert.is(exec2.calls[1]!.content, OLD_SITE);
});

test('apply: a host where the kernel cannot be told to keep queued connections over a reload says so; the reload stands', async () => {
  const said: string[] = [];
  const exec = new RecordingExecutor([is(RELOAD, { code: 0, stdout: 'hoist: net.ipv4.tcp_migrate_req is not 1\n', stderr: '' }), is(/./, ok)]);
  await caddyReload.apply(exec, stepsFor(before), { ...ctxFor(before), progress: (m) => said.push(m) });
  assert.is(summary(exec).at(-1), 'caddy reload');
  assert.ok(said.some((m) => m.startsWith('net.ipv4.tcp_migrate_req could not be set to 1 here')), said.join('\n'));
});

test('verify: re-probe must need nothing, then Caddy must answer for the domain', async () => {
  const plan = planCaddy(w, before);
  if (!plan.changes) throw new Error('expected changes');
  const site = plan.files!.find((f) => f.path.endsWith('.caddy'))!.after!;
  const done = probeAnswer(site, `${CADDYFILE}import /etc/caddy/sites/*.caddy\n`);
  const good = new RecordingExecutor([done, is(/curl/, { code: 0, stdout: 'api.example.com 502\n', stderr: '' })]);
  await caddyReload.verify!(good, ctxFor(before));
  assert.is(good.calls.length, 2);
  const refused = new RecordingExecutor([done, is(/curl/, { code: 1, stdout: '', stderr: 'Caddy did not answer for api.example.com on http://127.0.0.1:80: curl: (7) Failed to connect 000\n' })]);
  await caddyReload.verify!(refused, ctxFor(before)).then(
    () => assert.unreachable('verify should fail'),
    (e: Error) => {
      assert.instance(e, VerifyError);
      assert.match(e.message, /does not answer: Caddy did not answer for api\.example\.com/);
    },
  );
  const stale = new RecordingExecutor([probeAnswer(null, CADDYFILE)]);
  await caddyReload.verify!(stale, ctxFor(before)).then(
    () => assert.unreachable('verify should fail'),
    (e: Error) => assert.match(e.message, /still differ: create \/etc\/caddy\/sites\/hoist-api\.caddy/),
  );
});

test.run();
