// Secrets and access (issue #6), end to end: a fresh Debian VPS made ready by the real bootstrap
// pipeline, then releases of an app whose .env is full of canaries, and a GitHub token handed over
// through the process environment as CI does. Every hoist run is watched from all sides:
//
// - what it prints, both when stdout is not a terminal (plain lines) and under a real
//   pseudo-terminal (listr2's live list; `script`, with the secrets in the environment and never on
//   the command line), its --json report (file or stdout), and every file it leaves in its working
//   folder, its HOME and its TMPDIR (all inside the test's folder): .hoist/runs, known_hosts, ...;
// - on the host: the audit logs (~deploy and ~root/.hoist/audit.log), every distinct process
//   command line (`ps -eo args` about every 50 ms during the run, by a watcher inside the host), and
//   every regular file modified during the run on the root and /run filesystems
//   (`find -xdev -newer MARKER`), except the app's own shared/.env and .env.prev, where the values
//   must be.
//
// Left out of the host scan, and why that is honest: /proc, /sys and /dev (kernel views), the
// test's own tmpfs folder, and Docker's state (/var/lib/docker, /var/lib/containerd, /run/docker,
// /run/containerd): Docker, not hoist, stores a container's configuration there, and the test app
// reads its .env through compose's env_file, so its variables are in Docker's state by design.
// What hoist hands to Docker is checked all the same: its command lines (no `-e VAR=value`) by the
// sampler, the compose override it writes (~/apps/app/slots/*.yaml) by the scan.
//
// Every form of each canary is looked for: as is, line by line, JSON-escaped, URL-encoded, base64
// (three alignments); in terminal output also with escape codes and line breaks removed. Positive
// controls keep the test honest: the .env holds the values (mode 600, owned by deploy), the file
// scan finds them there, the sampler sees a marker process the test starts, and the fake GitHub
// received the token.
//
// Also here: access after bootstrap (key logins only, no root, deploy's sudo is the only sudoers
// change, modes 600) and host key trust through the CLI (a changed key is refused even with
// --accept-new; the other cases are in ssh-executor, cron-pipeline and init tests, the static
// check in test/unit/host-key-trust.test.ts).
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { sudoersContent } from '../../tasks/ssh-bootstrap/files.ts';
import type { FakeGitHub } from '../harness/fake-github.ts';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase, NEVER_ANSWERS } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import {
  changedSince,
  filesUnder,
  findCanaries,
  formsOf,
  hoistInTerminal,
  markHost,
  startSampler,
  stripTerminal,
  writtenByRun,
  type Canary,
  type ChangedFiles,
  type Form,
  type SamplerResult,
} from '../harness/secret-watch.ts';
import { tryLogin } from '../harness/ssh-login.ts';
import { REPO_ROOT, type TestHost } from '../harness/testbed.ts';

const test = suite('secrets and access, end to end');
const bed = new ReleaseBed();
const tb = bed.tb;
const hex = (n: number) => randomBytes(n).toString('hex');
const DOMAIN = 'app.hoist.test';
const APP = '/home/deploy/apps/app';
const RUN_TIMEOUT_MS = 12 * 60_000;

// ---- canaries -------------------------------------------------------------------------------

const TOKEN = `ghp_${hex(18)}`;
/** The operator's SSH key is encrypted with this (SSH_KEY_PASSPHRASE, from the environment too). */
const PASSPHRASE = `passphrase-${hex(10)}`;

/** One APP_ENV_FILE version: a plain value, a URL with a password, and a quoted two-line value with quotes and a `$`. */
function appEnv(v: string): { text: string; canaries: Canary[] } {
  const plain = `plain-${v}-${hex(10)}`;
  const password = `pw${v}${hex(8)}`;
  const url = `postgres://app:${password}@db.internal:5432/app`;
  const line1 = `tricky-${v}-${hex(6)} it's \\"quoted\\" $NOT_A_VAR and`;
  const line2 = `second line ${hex(8)}-end`;
  const read = `${line1.replace(/\\"/g, '"')}\n${line2}`;
  return {
    text: `# settings of the app (${v})\nPLAIN_SECRET=${plain}\nDATABASE_URL=${url}\nTRICKY_SECRET="${line1}\n${line2}"\nPORT=8000\n`,
    canaries: [
      { name: `PLAIN_SECRET (${v})`, value: plain },
      { name: `DATABASE_URL (${v})`, value: url },
      { name: `DATABASE_URL password (${v})`, value: password },
      { name: `TRICKY_SECRET as written (${v})`, value: `${line1}\n${line2}` },
      { name: `TRICKY_SECRET as read (${v})`, value: read },
    ],
  };
}

const ENVS = { v1: appEnv('v1'), v2: appEnv('v2'), v3: appEnv('v3') };
const CANARIES: Canary[] = [{ name: 'GITHUB_TOKEN', value: TOKEN }, { name: 'SSH_KEY_PASSPHRASE', value: PASSPHRASE }, ...Object.values(ENVS).flatMap((e) => e.canaries)];
const FORMS: Form[] = CANARIES.flatMap(formsOf);

// ---- the app --------------------------------------------------------------------------------

const appFiles = (version: string, healthy = true) => ({
  // The broken version logs one of its settings at start, as apps do, then never serves.
  Dockerfile: `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ${healthy ? '["httpd", "-f", "-p", "8000", "-h", "/www"]' : `["sh", "-c", "echo starting with DATABASE_URL=$DATABASE_URL; ${NEVER_ANSWERS}"]`}\n`,
  'compose.yaml': 'services:\n  web:\n    build: .\n    env_file: .env\n',
  'index.html': `${version}\n`,
});

// ---- state ----------------------------------------------------------------------------------

let git: GitServer;
let fake: FakeGitHub;
let host: TestHost;
let envVars: Record<string, string> = {};
const home = join(tb.dir, 'home');
const tmp = join(tb.dir, 'tmp');
const jsonDir = join(tb.dir, 'json');
const envSources = new Set<string>();
const sudoersListing = () => host.sh('cd /etc/sudoers.d && for f in * .[!.]*; do [ -e "$f" ] && printf "%s %s %s\\n" "$f" "$(stat -c %a "$f")" "$(sha256sum <"$f" | cut -c1-16)"; done; sha256sum /etc/sudoers | cut -c1-16');
let sudoersBefore = '';

interface Watched {
  label: string;
  code: number;
  /** Plain: stdout + stderr; terminal: the screen. */
  output: string;
  stdout: string;
  json: string | null;
  samples: SamplerResult;
  files: ChangedFiles;
  newReports: string[];
  durationMs: number;
}
const watched: Watched[] = [];

test.before(async () => {
  try {
    await setUp();
  } catch (e) {
    // uvu does not show a failing before hook's error: say it here.
    console.error(`    set-up failed: ${(e as Error).stack ?? String(e)}`);
    throw e;
  }
});

async function setUp(): Promise<void> {
  ({ git, fake, host } = await bed.start({ domain: DOMAIN, token: TOKEN }));
  // The test bed's client key gets a passphrase: SSH_KEY_PASSPHRASE is the other secret key.
  execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', PASSPHRASE, '-f', tb.keyPath], { stdio: 'ignore' });
  await git.commit('app', appFiles('v1'), 'v1');
  for (const d of [home, tmp, jsonDir]) mkdirSync(d, { recursive: true });
  for (const [v, e] of Object.entries(ENVS)) envSources.add(tb.file(`app-${v}.env`, e.text));
  // Kept whole: setEnvFile() below writes it again with another APP_ENV_FILE.
  envVars = bed.vars({ APP_ENV_FILE: join(tb.dir, 'app-v1.env'), HEALTH_TIMEOUT: '15' });
  tb.writeEnv(envVars);
  // Accounts a provider image may come with: a user with a password, root with one too. After
  // bootstrap neither may log in with it.
  const r = await host.sh("useradd -m -s /bin/bash alice && echo 'alice:correct-horse-42' | chpasswd && echo 'root:root-pass-42' | chpasswd");
  assert.is(r.code, 0, r.stderr);
  const before = await tryLogin({ port: host.port, user: 'alice', password: 'correct-horse-42' });
  assert.ok(before.ok, `a password login works before bootstrap: ${before.error}`);
  sudoersBefore = (await sudoersListing()).stdout;
}

test.after(async () => {
  await bed.stop();
});

// ---- running hoist, watched -----------------------------------------------------------------

const hoistEnv = (): NodeJS.ProcessEnv => ({ ...process.env, HOIST_RETRY_MIN_MS: '200', HOME: home, TMPDIR: tmp, GITHUB_TOKEN: TOKEN, SSH_KEY_PASSPHRASE: PASSPHRASE });
const base = ['--env-file', tb.envPath, '--inventory', tb.inventoryPath];

function runPlain(args: string[]): Promise<{ code: number; stdout: string; stderr: string; durationMs: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/hoist.mjs'), ...args], { cwd: tb.dir, env: hoistEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, durationMs: Date.now() - started });
    });
  });
}

const reportsDir = join(tb.dir, '.hoist', 'runs');
const reports = () => (statSync(reportsDir, { throwIfNoEntry: false }) ? readdirSync(reportsDir).sort() : []);
const readAudit = async () => (await host.sh('cat /home/deploy/.hoist/audit.log /root/.hoist/audit.log 2>/dev/null; true')).stdout;

/** What of the canaries shows where: a list of "where: canary (form)" lines, empty when clean. */
function leaksIn(where: string, text: string): string[] {
  return findCanaries(text, FORMS).map((f) => `${where}: ${f.canary} (${f.form})`);
}

/**
 * Runs hoist with `args` (plain or under a terminal; `json`: a file, stdout, or none) while the
 * host is watched, then checks every place a secret could have gone.
 */
async function watch(label: string, mode: 'plain' | 'terminal', args: string[], json: 'file' | 'stdout' | 'none' = 'file'): Promise<Watched> {
  const jsonFile = join(jsonDir, `${watched.length + 1}-${label.replace(/[^A-Za-z0-9]+/g, '-')}.json`);
  const full = [...args, ...(json === 'file' ? ['--json', jsonFile] : json === 'stdout' ? ['--json', '-'] : [])];
  const before = new Set(reports());
  // Local files are checked when written: those modified since the run started (1 s of slack).
  const startedAt = Date.now() - 1000;
  const marker = await markHost(host);
  const sampler = await startSampler(host, RUN_TIMEOUT_MS);
  // Positive control: a short process with a known word on its command line must be seen.
  const probe = `ps-probe-${hex(4)}`;
  await host.sh(`sh -c 'sleep 1' ${probe}`);
  let code: number;
  let output: string;
  let stdout: string;
  let durationMs: number;
  let samples: SamplerResult;
  try {
    if (mode === 'terminal') {
      const r = await hoistInTerminal(full, { cwd: tb.dir, env: hoistEnv(), timeoutMs: RUN_TIMEOUT_MS });
      ({ code, durationMs } = r);
      output = r.screen;
      stdout = r.screen;
    } else {
      const r = await runPlain(full);
      ({ code, durationMs, stdout } = r);
      output = `${r.stdout}\n${r.stderr}`;
    }
  } finally {
    samples = await sampler.stop();
  }
  const files = await changedSince(host, marker, FORMS);
  const newReports = reports().filter((f) => !before.has(f));
  const jsonText = json === 'file' ? readFileSync(jsonFile, 'utf8') : json === 'stdout' ? stdout : null;
  const w: Watched = { label, code, output, stdout, json: jsonText, samples, files, newReports, durationMs };
  watched.push(w);

  const leaks = [
    ...leaksIn(`${mode} output`, output),
    ...(jsonText ? leaksIn('JSON report', jsonText) : []),
    ...leaksIn('process list on the host', samples.lines.join('\n')),
    ...leaksIn('audit logs on the host', await readAudit()),
    ...files.hits.filter((f) => f !== `${APP}/shared/.env` && f !== `${APP}/shared/.env.prev`).map((f) => `host file ${f}: a canary`),
  ];
  for (const f of filesUnder(tb.dir, startedAt, (p) => envSources.has(p))) leaks.push(...leaksIn(`local file ${f.path.slice(tb.dir.length + 1)}`, f.text));
  assert.equal(leaks, [], `${label}: a secret leaked:\n${leaks.join('\n')}\n--- output (canaries masked):\n${mask(stripTerminal(output)).slice(-3000)}`);

  assert.ok(samples.lines.some((l) => l.includes(probe)), `${label}: the process sampler saw the probe (${samples.samples} samples)`);
  assert.ok(samples.samples >= 5, `${label}: only ${samples.samples} process samples`);
  console.log(`    ${label}: exit ${code}, ${(durationMs / 1000).toFixed(1)} s, ${samples.samples} ps samples, ${files.changed.length} files changed on the host`);
  return w;
}

/** Text with every canary form replaced, for failure messages. */
function mask(text: string): string {
  let out = text;
  for (const f of [...FORMS].sort((a, b) => b.text.length - a.text.length)) out = out.split(f.text).join(`<${f.canary}>`);
  return out;
}

const parse = (w: Watched): RunReport => {
  if (!w.json) throw new Error(`${w.label}: no JSON report`);
  return JSON.parse(w.json) as RunReport;
};
const statuses = (w: Watched) => parse(w).hosts[0]!.tasks.map((t) => t.status);
const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');
const remoteSha = async (path: string) => (await host.sh(`sha256sum < ${path} | cut -d' ' -f1`)).stdout.trim();
const modeOf = async (path: string) => (await host.sh(`stat -c '%a %U' ${path}`)).stdout.trim();
const setEnvFile = (v: keyof typeof ENVS) => {
  envVars.APP_ENV_FILE = join(tb.dir, `app-${v}.env`);
  tb.writeEnv(envVars);
};
// OpenSSH 10 (Debian 13) names a session's processes `sshd-session: USER…`.
const hoistSessionsSeen = (w: Watched) => w.samples.lines.some((l) => /^sshd(-session)?: (deploy|root)/.test(l));

// ---- bootstrap ------------------------------------------------------------------------------

test('bootstrap: a dry run, the real run, a second run that changes nothing; no secret anywhere', async () => {
  const dry = await watch('bootstrap --dry-run', 'terminal', ['run', 'bootstrap', '--dry-run', ...base]);
  assert.is(dry.code, 0, mask(stripTerminal(dry.output)));
  assert.ok(parse(dry).dryRun);
  assert.is(fake.requests.length, 0, 'a dry run asks GitHub nothing');
  assert.ok(hoistSessionsSeen(dry), 'the sampler saw hoist\'s SSH session');

  const first = await watch('bootstrap', 'terminal', ['run', 'bootstrap', ...base]);
  assert.is(first.code, 0, mask(stripTerminal(first.output)));
  assert.equal(statuses(first), ['changed', 'unchanged', 'changed']);
  assert.ok(first.newReports.length === 1, `one report kept under .hoist/runs: ${first.newReports}`);
  assert.ok(first.files.changed.includes('/root/.hoist/audit.log'), 'the scan saw the audit line the run wrote as root');
  assert.ok(first.files.changed.includes('/home/deploy/.ssh/hoist_app_deploy'), 'the scan saw the deploy key written');
  // The token did its job: the deploy key was registered with it.
  const post = fake.calls('repos/create-deploy-key');
  assert.is(post.length, 1);
  assert.equal(fake.violations, []);

  const again = await watch('bootstrap again', 'plain', ['run', 'bootstrap', ...base], 'stdout');
  assert.is(again.code, 0, mask(again.output));
  assert.equal(statuses(again), ['unchanged', 'unchanged', 'unchanged']);
  assert.is(fake.calls('repos/create-deploy-key').length, 1, 'no second registration');
  await loadAppBase(host.container);
});

// ---- access ---------------------------------------------------------------------------------

test('after bootstrap: key logins only, no root login, deploy\'s sudo is the only sudoers change, private files 600', async () => {
  const key = readFileSync(tb.keyPath);
  const login = (user: string, how: { key?: boolean; password?: string }, command?: string) =>
    tryLogin({ port: host.port, user, ...(how.key ? { privateKey: key, passphrase: PASSPHRASE } : {}), ...(how.password ? { password: how.password } : {}), ...(command ? { command } : {}) });
  assert.not.ok((await login('alice', { password: 'correct-horse-42' })).ok, 'password login refused');
  assert.not.ok((await login('root', { password: 'root-pass-42' })).ok, 'root password login refused');
  assert.not.ok((await login('root', { key: true })).ok, 'root key login refused');
  const sudo = await login('deploy', { key: true }, 'sudo -n true && id -un');
  assert.ok(sudo.ok, `deploy logs in with the key and sudo -n works: ${sudo.error ?? sudo.output}`);
  assert.is(sudo.output.trim(), 'deploy');
  const aliceSudo = await host.sh('sudo -l -U alice');
  assert.match(aliceSudo.stdout + aliceSudo.stderr, /not allowed to run sudo/, 'nobody else got sudo');

  const effective = (await host.sh('sshd -T -C user=root,host=client,addr=127.0.0.1 | grep -Ei "^(passwordauthentication|permitrootlogin|kbdinteractiveauthentication|pubkeyauthentication) " | sort')).stdout;
  assert.is(effective, 'kbdinteractiveauthentication no\npasswordauthentication no\npermitrootlogin no\npubkeyauthentication yes\n');

  // The only sudoers change is hoist's own file, granting the deploy user only.
  const after = (await sudoersListing()).stdout;
  const added = after.split('\n').filter((l) => !sudoersBefore.split('\n').includes(l));
  const removed = sudoersBefore.split('\n').filter((l) => !after.split('\n').includes(l));
  assert.equal(removed, [], 'no sudoers file changed or removed, /etc/sudoers included');
  assert.equal(added.map((l) => l.split(' ').slice(0, 2).join(' ')), ['hoist-deploy 440']);
  assert.is((await host.sh('cat /etc/sudoers.d/hoist-deploy')).stdout, sudoersContent('deploy'));
  assert.is((await host.sh('visudo -c >/dev/null && echo ok')).stdout.trim(), 'ok');

  assert.is(await modeOf('/home/deploy/.ssh/hoist_app_deploy'), '600 deploy', 'the deploy key is private');
  assert.is(await modeOf('/home/deploy/.ssh/authorized_keys'), '600 deploy');
  assert.is(await modeOf('/home/deploy/.ssh'), '700 deploy');
  assert.is(await modeOf('/root/.hoist/audit.log'), '600 root');
  assert.is(await modeOf('/home/deploy/.hoist'), '700 deploy');
  assert.is(await modeOf('/home/deploy/.hoist/audit.log'), '600 deploy');
  assert.is((statSync(reportsDir).mode & 0o777).toString(8), '700', 'local reports folder private');
  for (const f of reports()) assert.is((statSync(join(reportsDir, f)).mode & 0o777).toString(8), '600', f);
});

// ---- releases -------------------------------------------------------------------------------

test('release v1, then again (unchanged): the .env holds the values, mode 600, and nothing else does', async () => {
  const first = await watch('release v1', 'terminal', ['run', 'release', ...base]);
  assert.is(first.code, 0, mask(stripTerminal(first.output)));
  assert.is((await host.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`)).stdout.trim(), 'v1');
  // Positive controls: the values are where they belong, and the scan found them there.
  assert.is(await modeOf(`${APP}/shared/.env`), '600 deploy');
  assert.is(await modeOf(`${APP}/shared`), '700 deploy');
  assert.is(await remoteSha(`${APP}/shared/.env`), sha(ENVS.v1.text), 'the .env is APP_ENV_FILE byte for byte');
  assert.ok(first.files.hits.includes(`${APP}/shared/.env`), 'the file scan finds the canaries in the .env');
  assert.ok(first.files.changed.some((f) => f.startsWith(`${APP}/slots/`)), 'the compose override hoist wrote was scanned');
  // The app got its settings from the .env (through compose's env_file), not from hoist.
  const inApp = await host.sh(`docker exec $(docker ps -q --filter label=hoist.release | head -1) sh -c 'echo "$PLAIN_SECRET"'`);
  assert.is(inApp.stdout.trim(), ENVS.v1.canaries[0]!.value, 'the app reads its .env');

  const again = await watch('release v1 again', 'plain', ['run', 'release', ...base], 'stdout');
  assert.is(again.code, 0, mask(again.output));
  assert.equal(statuses(again), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
  assert.not.ok(again.files.changed.some((f) => f.startsWith(`${APP}/`)), `nothing of the app changed: ${again.files.changed.join(', ')}`);
});

test('a changed APP_ENV_FILE: the dry run says the .env would change without showing it (twice), then v2 goes live', async () => {
  await git.commit('app', appFiles('v2'), 'v2');
  setEnvFile('v2');
  for (const mode of ['plain', 'terminal'] as const) {
    const dry = await watch(`release v2 --dry-run (${mode})`, mode, ['run', 'release', '--dry-run', ...base]);
    assert.is(dry.code, 0, mask(stripTerminal(dry.output)));
    const gitSync = parse(dry).hosts[0]!.tasks[0]!;
    assert.ok(gitSync.steps.some((s) => /write ~\/apps\/app\/shared\/\.env from APP_ENV_FILE/.test(s)), gitSync.steps.join('\n'));
    assert.equal(gitSync.files?.map((f) => [f.path, f.secret, f.diff]), [['~/apps/app/shared/.env', true, null]]);
    assert.is(await remoteSha(`${APP}/shared/.env`), sha(ENVS.v1.text), 'the dry run changed nothing');
    const written = writtenByRun(dry.files.changed);
    assert.not.ok(written.some((f) => f.startsWith('/home/') || f.startsWith('/etc/')), `a dry run writes nothing: ${written.join(', ')}`);
  }
  const v2 = await watch('release v2', 'plain', ['run', 'release', ...base]);
  assert.is(v2.code, 0, mask(v2.output));
  assert.is(await remoteSha(`${APP}/shared/.env`), sha(ENVS.v2.text));
  assert.is(await remoteSha(`${APP}/shared/.env.prev`), sha(ENVS.v1.text));
  assert.is(await modeOf(`${APP}/shared/.env.prev`), '600 deploy');
});

test('a v3 that logs a secret and never turns healthy: exit 1, log tail shown with the value hidden, rolled back; twice', async () => {
  await git.commit('app', appFiles('v3', false), 'v3 (broken)');
  setEnvFile('v3');
  const current = (await host.sh(`readlink ${APP}/current`)).stdout;
  const releases = (await host.sh(`ls -1 ${APP}/releases`)).stdout;
  for (const mode of ['terminal', 'plain'] as const) {
    const r = await watch(`release v3, broken (${mode})`, mode, ['run', 'release', ...base], mode === 'plain' ? 'stdout' : 'file');
    assert.is(r.code, 1, mask(stripTerminal(r.output)));
    const error = parse(r).hosts[0]!.error ?? '';
    assert.match(error, /did not turn healthy/);
    assert.match(error, /Last log lines/);
    assert.match(error, /starting with DATABASE_URL=\[secret APP_ENV_FILE DATABASE_URL\]/, 'the log tail is shown, the value hidden');
    assert.match(stripTerminal(r.output), /starting with DATABASE_URL=\[secret APP_ENV_FILE DATABASE_URL\]/, 'and printed so');
    assert.not.match(stripTerminal(r.output), /ROLLBACK FAILED/);
    assert.equal(statuses(r), ['rolled-back', 'failed', 'skipped', 'skipped', 'skipped']);
    // Rolled back: the .env of v2 is back, current and the releases are as before.
    assert.is(await remoteSha(`${APP}/shared/.env`), sha(ENVS.v2.text), 'the .env of v2 is back');
    assert.is(await modeOf(`${APP}/shared/.env`), '600 deploy');
    assert.is((await host.sh(`readlink ${APP}/current`)).stdout, current);
    assert.is((await host.sh(`ls -1 ${APP}/releases`)).stdout, releases);
    assert.is((await host.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`)).stdout.trim(), 'v2');
  }
  setEnvFile('v2');
});

test('rollback to v1, then rollback --to v1 again (unchanged)', async () => {
  const v1 = (await host.sh(`ls -1 ${APP}/releases | head -1`)).stdout.trim();
  const back = await watch('rollback', 'terminal', ['run', 'rollback', ...base]);
  assert.is(back.code, 0, mask(stripTerminal(back.output)));
  assert.is((await host.sh(`readlink ${APP}/current`)).stdout.trim(), `releases/${v1}`);
  const again = await watch('rollback --to v1 again', 'plain', ['run', 'rollback', '--to', v1, ...base], 'stdout');
  assert.is(again.code, 0, mask(again.output));
  assert.ok(statuses(again).every((s) => s === 'unchanged'), statuses(again).join(','));
});

// ---- status and unlock ----------------------------------------------------------------------

test('status (terminal, plain, --json -) and unlock (a stale lock, then none)', async () => {
  const tty = await watch('status', 'terminal', ['status', ...base], 'none');
  assert.is(tty.code, 0, mask(stripTerminal(tty.output)));
  const plain = await watch('status again', 'plain', ['status', ...base], 'none');
  assert.is(plain.code, 0, mask(plain.output));
  assert.match(plain.output, /web1/);
  const json = await watch('status --json -', 'plain', ['status', ...base], 'stdout');
  assert.is(json.code, 0, mask(json.output));
  assert.is((JSON.parse(json.stdout) as { hosts: { healthy: boolean }[] }).hosts[0]!.healthy, true);

  const stale = JSON.stringify({ who: 'ci@gone', run: 'r-old', pipeline: 'release', revision: null, since: '2020-01-01T00:00:00.000Z' });
  await host.sh(`mkdir -p ~/.hoist && ln -s '${stale}' ~/.hoist/lock`, 'deploy');
  const unlock = await watch('unlock', 'plain', ['unlock', ...base], 'none');
  assert.is(unlock.code, 0, mask(unlock.output));
  assert.match(unlock.output, /freed the lock held by ci@gone/);
  assert.match((await host.sh('tail -1 /home/deploy/.hoist/audit.log')).stdout, /"result":"unlocked"/);
  const none = await watch('unlock again', 'terminal', ['unlock', ...base], 'none');
  assert.is(none.code, 0, mask(stripTerminal(none.output)));
  assert.match(stripTerminal(none.output), /was not locked/);
});

// ---- host key trust -------------------------------------------------------------------------

test('a changed host key is refused even with --accept-new, before logging in; known_hosts untouched (twice)', async () => {
  const other = join(tb.dir, 'other_host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'impostor', '-f', other]);
  const [type, blob] = readFileSync(`${other}.pub`, 'utf8').trim().split(/\s+/);
  const knownHosts = tb.file('known_hosts_changed', `[127.0.0.1]:${host.port} ${type} ${blob}\n`);
  const envText = readFileSync(tb.envPath, 'utf8').replace(/^KNOWN_HOSTS=.*$/m, `KNOWN_HOSTS=${JSON.stringify(knownHosts)}`);
  const changedEnv = tb.file('changed.env', envText);
  // sshd logs to the container's output where it is PID 1, to the journal under systemd.
  const accepted = () => Number(execFileSync('sh', ['-c', `{ docker logs ${host.container} 2>&1; docker exec ${host.container} sh -c 'command -v journalctl >/dev/null && journalctl -q --no-pager || true'; } | grep -c 'Accepted publickey' || true`], { encoding: 'utf8' }).trim());
  const logins = accepted();
  assert.ok(logins > 0, 'the earlier runs\' logins are counted where sshd logs them');
  for (const [label, args] of [
    ['release --dry-run --accept-new, changed key', ['run', 'release', '--dry-run', '--accept-new', '--env-file', changedEnv, '--inventory', tb.inventoryPath]],
    ['status --accept-new, changed key', ['status', '--accept-new', '--env-file', changedEnv, '--inventory', tb.inventoryPath]],
  ] as const) {
    // No report: the release's prepare step already meets the host key and stops the run.
    const r = await watch(label, 'plain', [...args], 'none');
    assert.is(r.code, 1, r.output);
    assert.match(r.output, /HOST KEY CHANGED/);
    assert.is(readFileSync(knownHosts, 'utf8'), `[127.0.0.1]:${host.port} ${type} ${blob}\n`, 'known_hosts was not changed');
  }
  assert.is(accepted(), logins, 'no login happened with the wrong key');
});

// ---- the whole picture ----------------------------------------------------------------------

test('every run was watched; the token reached GitHub and nothing else', async () => {
  assert.ok(watched.length >= 17, `${watched.length} runs watched`);
  const total = watched.reduce((n, w) => n + w.samples.samples, 0);
  console.log(`    ${watched.length} runs, ${total} process samples, ${CANARIES.length} canaries in ${FORMS.length} forms`);
  // The token authenticated the registration, and is nowhere else in what GitHub received (the
  // fake records path, query, headers but Authorization, and body).
  assert.is(fake.calls('repos/create-deploy-key')[0]?.status, 201);
  assert.equal(leaksIn('requests to GitHub', JSON.stringify(fake.requests)), []);
  assert.equal(fake.violations, []);
});

test.run();
