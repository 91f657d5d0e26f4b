// caddy-reload's probe parse from recorded answers (fresh host, set-up host, odd files), and the
// port source: active-slot file -> BLUE_PORT / GREEN_PORT, or a port the pipeline hands over.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RemoteCommandError } from '../../lib/errors.ts';
import type { RemoteProbe, TaskInput } from '../../lib/engine/task.ts';
import { caddyReload, caddyReloadFor, type CaddyFact, type CaddyWanted } from '../../tasks/caddy-reload.ts';
import { parseCaddyProbe } from '../../tasks/caddy-reload/probe.ts';
import { portOfActiveSlot } from '../../tasks/caddy-reload/port.ts';
import { HostStateError } from '../../lib/release/host-value.ts';
import { testHost } from '../harness/settings.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const input: TaskInput = { host: testHost({ appName: 'api', domains: ['api.example.com'], bluePort: 18001, greenPort: 18002 }), loginUser: 'deploy' };
const w = caddyReload.want(input) as CaddyWanted;
const answer = (lines: string[]) => ({ code: 0, stdout: lines.join('\n') + '\n', stderr: '' });
const probeOf = (task: typeof caddyReload) => task.probe(w, input) as RemoteProbe<CaddyFact>;

test('parse: a fresh ready host (Debian Caddyfile, no site file, no slot file)', () => {
  const caddyfile = ':80 {\n\tfile_server\n}\n';
  const state = parseCaddyProbe(answer(['site=-', `caddyfile=${b64(caddyfile)}`, 'caddyfile_stat=644 root:root', 'caddy=running', 'slot=-']));
  assert.equal(state, { site: null, caddyfile, caddyfileMode: '644', caddyfileOwner: 'root:root', running: true, activeSlot: null, recordedPorts: null, caRoot: null });
});

test('parse: a set-up host; an empty site file is not a missing one; the slot is trimmed', () => {
  const state = parseCaddyProbe(answer(['site=', `caddyfile=${b64('import /etc/caddy/sites/*.caddy\n')}`, 'caddyfile_stat=640 root:caddy', 'caddy=stopped', `slot=${b64('green\n')}`]));
  assert.is(state.site, '');
  assert.is(state.caddyfileMode, '640');
  assert.is(state.caddyfileOwner, 'root:caddy');
  assert.is(state.running, false);
  assert.is(state.activeSlot, 'green');
});

test('parse: no Caddyfile; a failed or truncated probe is an error, not an empty host', () => {
  assert.is(parseCaddyProbe(answer(['site=-', 'caddyfile=-', 'caddy=running', 'slot=-'])).caddyfile, null);
  assert.throws(() => parseCaddyProbe({ code: 1, stdout: '', stderr: 'sudo: a password is required\n' }), (e: Error) => e instanceof RemoteCommandError && /password is required/.test(e.message));
  assert.throws(() => parseCaddyProbe(answer(['site=-', 'caddyfile=-'])), /no caddy, slot in the answer/);
});

test('probe: one command as the login user (sudo only inside it, for a file it cannot read); the port comes from the active slot', () => {
  const p = probeOf(caddyReload);
  assert.is(p.sudo ?? false, false);
  const lines = (slot: string) => answer(['site=-', `caddyfile=${b64('')}`, 'caddyfile_stat=644 root:root', 'caddy=running', `slot=${slot}`]);
  assert.is(p.parse(lines('-')).port, 18001, 'no state file: blue');
  assert.is(p.parse(lines(b64('blue\n'))).port, 18001);
  assert.is(p.parse(lines(b64('green\n'))).port, 18002);
  // The same check and words as docker-up's (lib/release/host-value.ts), the value escaped.
  assert.throws(
    () => p.parse(lines(b64('purple\x1b[2J\n'))),
    (e: Error) => e instanceof HostStateError && e.message === '~deploy/apps/api/active-slot holds "purple\\u001b[2J", which is not blue or green. Fix: write blue or green into it (the slot whose containers serve api) or remove it',
  );
});

test('caddyReloadFor: the pipeline\'s port source is asked at probe time, with the slot file too', () => {
  const seen: (string | null)[] = [];
  const task = caddyReloadFor((i) => (seen.push(i.activeSlot), i.host.settings.appName === 'api' ? 19000 : 1));
  const fact = probeOf(task).parse(answer(['site=-', 'caddyfile=-', 'caddy=running', `slot=${b64('green')}`]));
  assert.is(fact.port, 19000);
  assert.equal(seen, ['green']);
  const bad = caddyReloadFor(() => 70000);
  assert.throws(() => probeOf(bad).parse(answer(['site=-', 'caddyfile=-', 'caddy=running', 'slot=-'])), /the port source gave 70000/);
});

test('portOfActiveSlot alone: the host\'s record first, then BLUE_PORT/GREEN_PORT, else refused naming the record', () => {
  const recorded = { blue: 18005, green: 18006 };
  assert.is(portOfActiveSlot({ ...input, activeSlot: null, recordedPorts: recorded }), 18005);
  assert.is(portOfActiveSlot({ ...input, activeSlot: 'green', recordedPorts: recorded }), 18006);
  const set = { ...input, host: testHost({ appName: 'api', bluePort: 19001, greenPort: 19002 }) };
  assert.is(portOfActiveSlot({ ...set, activeSlot: 'green', recordedPorts: null }), 19002);
  assert.is(portOfActiveSlot({ ...set, activeSlot: 'green', recordedPorts: recorded }), 18006, 'what the slot was started on wins');
  const unset = { ...input, host: testHost({ appName: 'api' }) };
  assert.throws(() => portOfActiveSlot({ ...unset, activeSlot: null, recordedPorts: null }), /has no ports on this host yet \(~deploy\/apps\/\w+\/ports\): the release pipeline's docker-up picks and records them/);
});

test('the probe reads the ports record (base64); a missing or broken one is no record', () => {
  const task = caddyReloadFor(portOfActiveSlot);
  const rec = Buffer.from('blue 18003\ngreen 18004\n').toString('base64');
  assert.equal(probeOf(task).parse(answer(['site=-', 'caddyfile=-', 'caddy=running', `slot=${b64('green')}`, `ports=${rec}`])).recordedPorts, { blue: 18003, green: 18004 });
  assert.is(probeOf(task).parse(answer(['site=-', 'caddyfile=-', 'caddy=running', `slot=${b64('green')}`, `ports=${rec}`])).port, 18004);
  assert.is(probeOf(task).parse(answer(['site=-', 'caddyfile=-', 'caddy=running', 'slot=-', 'ports=-', ])).recordedPorts, null);
  assert.is(probeOf(task).parse(answer(['site=-', 'caddyfile=-', 'caddy=running', 'slot=-', `ports=${b64('blue x')}`])).recordedPorts, null);
});

test.run();
