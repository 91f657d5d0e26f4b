// The watchdog's state machine (DECIDE, run by the hosts' awk: mawk on Debian, as here) from tables
// of state + observations: a change of state posts once and never again while it holds; the
// first sight of a healthy app, disk or certificate posts nothing; a held deploy lock keeps the
// state; "restarting" ends only after a quiet time (not a count of runs). Each format's body equals what lib/notify
// shapes for the same alert. Also: the script parses as POSIX sh, and the install plan.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { alertMessage, type Alert } from '../../lib/notify/alert-message.ts';
import { shapeBody, type NotifyFormat } from '../../lib/notify/message.ts';
import { DECIDE, QUIET_SECONDS, SEE, WATCHDOG_SCRIPT } from '../../tasks/ssh-bootstrap/watchdog-script.ts';
import { installedWatchdogFact, watchdogSteps, watchdogWanted } from '../../tasks/ssh-bootstrap/watchdog.ts';
import { testHost } from '../harness/settings.ts';

const dir = mkdtempSync(join(tmpdir(), 'hoist-watchdog-'));
writeFileSync(join(dir, 'decide.awk'), DECIDE);
writeFileSync(join(dir, 'see.awk'), SEE);

interface Out {
  state: string[];
  alerts: (Alert & { body: string })[];
}

function decide(state: string[], obs: string[], o: { now?: string; epoch?: number; format?: NotifyFormat } = {}): Out {
  writeFileSync(join(dir, 'state'), state.map((l) => `${l}\n`).join(''));
  writeFileSync(join(dir, 'obs'), obs.map((l) => `${l}\n`).join(''));
  const r = spawnSync('awk', ['-v', `now=${o.now ?? 'T2'}`, '-v', `epoch=${o.epoch ?? 1_800_000_000}`, '-v', 'host=web1', '-v', `format=${o.format ?? 'json'}`, '-f', 'decide.awk', 'state', 'obs'], { cwd: dir, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  return {
    state: lines.filter((l) => l.startsWith('state ')).sort(),
    alerts: lines
      .filter((l) => l.startsWith('alert\t'))
      .map((l) => {
        const [, app, check, from, to, since, title, body] = l.split('\t');
        return { host: 'web1', app: app!, check: check as Alert['check'], from: from!, to: to!, since: since!, title: title!, body: body! };
      }),
  };
}
const changes = (o: Out) => o.alerts.map((a) => `${a.app} ${a.check} ${a.from}->${a.to}`);

/** Runs DECIDE once per observation list, `every` seconds apart (the timer's minute unless told), feeding its state back; the alerts of every run. */
function runs(state: string[], obs: string[][], every = 60): { state: string[]; alerts: string[] } {
  let s = state;
  const all: string[] = [];
  obs.forEach((o, i) => {
    const out = decide(s, o, { now: `T${i + 2}`, epoch: 1_800_000_000 + i * every });
    s = out.state;
    all.push(...changes(out));
  });
  return { state: s, alerts: all };
}

const up = 'health app up 200 blue 18001 /health';
const down = 'health app down 0 blue 18001 /health';

test('an app first seen up: recorded, nothing posted; first seen down: posted', () => {
  assert.equal(decide([], [up, 'restarts app 0 0']), { state: ['state app:app up T2 0 0'], alerts: [] });
  assert.equal(changes(decide([], [down])), ['app app -->down']);
});

test('up -> down -> up: two alerts, none while a state holds', () => {
  const r = runs(['state app:app up T1 0 5'], [[up], [down], [down], [down], [up], [up], [up]]);
  assert.equal(r.alerts, ['app app up->down', 'app app down->up']);
  assert.equal(r.state, ['state app:app up T6 0 5']);
});

test('a held deploy lock (skip) keeps the state and its since', () => {
  assert.equal(decide(['state app:app down T1 0 5'], ['health app skip 0 blue 18001 /health']), { state: ['state app:app down T1 0 5'], alerts: [] });
  assert.equal(decide([], ['health app skip 0 blue 18001 /health']), { state: [], alerts: [] });
});

test(`restarts: one "restarting" while they go on; it ends ${QUIET_SECONDS} s after the last one, then the health state is posted`, () => {
  const r = runs(['state app:app up T1 0 0'], [
    [down, 'restarts app 2 1'],
    [up, 'restarts app 5 2'],
    [down, 'restarts app 9 3'],
    [down, 'restarts app 9 3'],
    [up, 'restarts app 9 3'],
    [up, 'restarts app 9 3'],
    [up, 'restarts app 9 3'],
  ]);
  assert.equal(r.alerts, ['app app up->restarting', 'app app restarting->up']);
  // Runs 5 s apart (by hand, or the timer's run delayed) while Docker's back-off spaces the
  // restarts 25 s apart: four runs in five see none, and it is still one loop.
  const quick = runs(['state app:app up T1 0 0'], Array.from({ length: 30 }, (_, i) => [down, `restarts app ${3 + Math.floor(i / 5)} 0`]), 5);
  assert.equal(quick.alerts, ['app app up->restarting']);
  // The loop is over at the first run QUIET_SECONDS after the last restart, not a second before.
  const t = 1_800_000_000;
  const looping = [`state app:app restarting T1 9 ${t}`];
  assert.equal(decide(looping, [down, 'restarts app 9 0'], { epoch: t + QUIET_SECONDS - 1 }), { state: [`state app:app restarting T1 9 ${t}`], alerts: [] });
  assert.equal(changes(decide(looping, [down, 'restarts app 9 0'], { epoch: t + QUIET_SECONDS })), ['app app restarting->down']);
  // A clock stepped back a day (NTP at boot): the last restart counts as now, and the loop ends
  // QUIET_SECONDS later, not when the clock catches up a day later.
  const back = t - 86_400;
  const stepped = decide(looping, [down, 'restarts app 9 0'], { epoch: back });
  assert.equal(stepped, { state: [`state app:app restarting T1 9 ${back}`], alerts: [] });
  assert.equal(changes(decide(stepped.state, [down, 'restarts app 9 0'], { epoch: back + QUIET_SECONDS })), ['app app restarting->down']);
  // A state written before LAST was a time (a count of quiet runs): the loop counts as long over.
  assert.equal(changes(decide(['state app:app restarting T1 9 2'], [up, 'restarts app 9 0'])), ['app app restarting->up']);
  // A new release's containers start again from 0: no restart.
  assert.equal(changes(decide(['state app:app up T1 9 5'], [up, 'restarts app 0 0'])), []);
  const text = decide(['state app:app up T1 0 5'], [down, 'restarts app 3 1']).alerts[0]!.title;
  assert.is(text, 'web1: app is RESTARTING in a loop since T2: its containers restarted 3 time(s) since the last check, 3 in all, killed for lack of memory (OOM; its memory limit is too low for it)');
});

test('disk: low once, nothing while low, ok once when back; 0 means no disk state; first sight ok is quiet', () => {
  const r = runs([], [['disk 9000000 1048576'], ['disk 500000 1048576'], ['disk 400000 1048576'], ['disk 2000000 1048576']]);
  assert.equal(r.alerts, ['- disk ok->low', '- disk low->ok']);
  assert.equal(decide([], ['disk 500 0']), { state: [], alerts: [] });
  assert.is(decide([], ['disk 524288 1048576']).alerts[0]!.title, 'web1: free disk is LOW since T2: 512 MiB free, below ALERT_DISK_FREE (1.0 GiB)');
});

test('certificates: below 14 days posts once; renewed posts once; a run that did not read it keeps it', () => {
  const r = runs([], [[up, 'cert app app.example.com 60'], [up, 'cert app app.example.com 13'], [up], [up, 'cert app app.example.com 12'], [up, 'cert app app.example.com 89']]);
  assert.equal(r.alerts, ['app certificate ok->expiring', 'app certificate expiring->ok']);
  assert.is(decide(['state app:app up T1 0 5'], [up, 'cert app app.example.com 3']).alerts[0]!.title, 'web1: the certificate of app.example.com (app app) expires in 3 day(s), found T2 (renewal should have happened 30 days before)');
});

test('an app whose folder is gone: its state goes, silently', () => {
  assert.equal(decide(['state app:old down T1 0 5', 'state cert:old:x.example 50 T1 50 0', 'state app:app up T1 0 5'], [up]), { state: ['state app:app up T1 0 5'], alerts: [] });
});

test('each format: the body the host posts is what lib/notify shapes for the same alert', () => {
  for (const format of ['json', 'slack', 'discord'] as const) {
    const out = decide(['state app:app up T1 0 5', 'state disk ok T1 9000000 0'], [down, 'disk 10 1048576'], { format });
    assert.is(out.alerts.length, 2);
    for (const a of out.alerts) {
      const { body, ...alert } = a;
      assert.is(body, shapeBody(format, alertMessage(alert)), `${format} ${a.check}`);
      JSON.parse(body);
    }
  }
  const d = decide(['state app:app up T1 0 5'], [down]).alerts[0]!;
  assert.is(d.title, 'web1: app is DOWN since T2 (was up since T1): its live slot (blue, 127.0.0.1:18001/health) did not answer');
});

/** SEE on the apps' lines and curl's answers (as the host's curl writes them): its output lines. */
function see(phase: 'ask' | 'obs', apps: string[], answers: string): string[] {
  writeFileSync(join(dir, 'apps.tmp'), apps.map((l) => `${l}\n`).join(''));
  writeFileSync(join(dir, 'answers.tmp'), answers);
  const r = spawnSync('awk', ['-v', `phase=${phase}`, '-f', 'see.awk', 'apps.tmp', 'answers.tmp'], { cwd: dir, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test('reading the answers: health by the app\'s path rule, a failed check asked again, restarts and OOM kills of the live containers', () => {
  const apps = ['app blue 18001 /health 1', 'web green 18002 / 0', 'idle blue - / 0'];
  const list = (ids: string[]) => `[${ids.map((id) => `{"Id":"${id}","Names":["/x"],"ImageID":"sha256:${'e'.repeat(64)}","Labels":{"com.docker.compose.project":"p"}}`).join(',')}]\n`;
  const inspect = (restarts: number, oom: boolean) => `{"Id":"x","RestartCount":${restarts},"State":{"Status":"running","OOMKilled":${oom}},"Config":{"Labels":{"a":"\\"RestartCount\\":99"}}}\n`;
  const first = `OK\n=ping 200\n=health app 503\n=health web 404\n${list(['aa11', 'bb22'])}\n=list app 200\n${list([])}\n=list web 200\n${list(['cc33'])}\n=list idle 200\n`;
  // app's HEALTH_PATH is set: 503 is down, asked again; web has none: any answer below 500 is up.
  assert.equal(see('ask', apps, first), ['retry app 18001 /health', 'inspect app aa11', 'inspect app bb22', 'inspect idle cc33']);
  const second = `${first}=health app 200\n${inspect(2, false)}\n=inspect app 200\n${inspect(3, true)}\n=inspect app 200\n${inspect(1, false)}\n=inspect idle 404\n`;
  assert.equal(see('obs', apps, second), [
    'health app up 200 blue 18001 /health', 'restarts app 5 1',
    'health web up 404 green 18002 /', 'restarts web 0 0',
    // idle's one inspection was not answered (404: the container went between list and inspect):
    // no count for it this time rather than part of one, which the next full count would show as restarts.
    'health idle skip 0 blue - /',
  ]);
  const listFailed = `OK\n=ping 200\n=health app 200\n{"message":"busy"}\n=list app 500\n`;
  assert.equal(see('ask', ['app blue 18001 /health 1'], listFailed), []);
  assert.equal(see('obs', ['app blue 18001 /health 1'], listFailed), ['health app up 200 blue 18001 /health']);
  // Fed to DECIDE: the last count stands, nothing is posted; then the full count equal to it: still nothing.
  const kept = decide(['state app:app up T1 4 0'], see('obs', ['app blue 18001 /health 1'], listFailed));
  assert.equal(kept, { state: ['state app:app up T1 4 0'], alerts: [] });
  // Docker not answering: said once, and no restart counts (DECIDE keeps the last ones).
  const noDocker = '\n=ping 000\n=health app 000\n\n=list app 000\n';
  assert.equal(see('ask', ['app blue 18001 /health 1'], noDocker), ['docker down', 'retry app 18001 /health']);
  assert.equal(see('obs', ['app blue 18001 /health 1'], noDocker), ['health app down 0 blue 18001 /health']);
});

test('the script is POSIX sh (dash -n)', () => {
  const r = spawnSync('dash', ['-n'], { input: WATCHDOG_SCRIPT, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.not.match(WATCHDOG_SCRIPT, /\\\$\{/, 'no escaped ${ left');
});

test('install plan: nothing on a host that has it; a new NOTIFY_URL rewrites its file only; the URL is in no step', () => {
  const url = 'https://hooks.example.com/services/T0/B0/SECRETSECRET';
  const w = watchdogWanted(testHost({ notifyUrl: url, domains: ['app.example.com'], caddyTls: 'auto' }));
  assert.equal(Object.keys(w.files), ['run', 'decide.awk', 'see.awk', 'config'], 'nothing of one app: bootstrapping another app changes nothing here');
  assert.is(w.files.config, '# Written by hoist bootstrap.\nhost=h1\nformat=json\ndisk_min_kb=1048576\n');
  for (const systemd of [true, false]) assert.equal(watchdogSteps(w, installedWatchdogFact(w, systemd), '/home/deploy'), []);
  const other = watchdogWanted(testHost({ notifyUrl: `${url}X`, domains: ['app.example.com'], caddyTls: 'auto' }));
  const steps = watchdogSteps(other, installedWatchdogFact(w, false), '/home/deploy');
  assert.equal(steps.map((s) => [s.write, s.runner, s.removeUrl]), [[['notify-url'], null, false]]);
  assert.not.ok(JSON.stringify(steps).includes('SECRET'));
  const none = watchdogWanted(testHost({ domains: ['app.example.com'], caddyTls: 'auto' }));
  assert.equal(watchdogSteps(none, installedWatchdogFact(w, true), '/home/deploy').map((s) => [s.write, s.runner, s.removeUrl]), [[[], null, true]]);
  const fresh = watchdogSteps(w, { home: '', systemd: true, sums: {}, timerActive: false }, '/home/deploy')[0]!;
  assert.equal([fresh.home, fresh.runner, fresh.write], ['/home/deploy', 'timer', ['run', 'decide.awk', 'see.awk', 'config', 'notify-url']]);
  const stopped = { ...installedWatchdogFact(w, true), timerActive: false };
  assert.is(watchdogSteps(w, stopped, '/home/deploy')[0]!.runner, 'timer');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
