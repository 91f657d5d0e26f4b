// Release from CI (issue #13), end to end: `hoist init --ci github` writes the workflow in the
// app's checkout; its own `run:` steps, read from that YAML, run in a runner stand-in
// (test/harness/ci-runner.ts: only Node, secrets as environment variables, no .env, no TTY, no
// ~/.ssh) against a real host made ready by bootstrap. The release succeeds, a second run is
// unchanged; no secret shows in any output, report, summary, file left in the runner, or the
// host's process list; two runs of a new commit together: the second waits for the lock, then
// finds nothing to do; the Markdown summary lands in GITHUB_STEP_SUMMARY. Runs are on the
// release branch (GITHUB_REF refs/heads/main, the job's if: decided as GitHub would); a run on
// another branch is skipped by that if:, and if its steps ran anyway the first one refuses
// before checkout, install or release (issue #22).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import type { RunReport } from '../../lib/report/run-report.ts';
import { appCheckout, CiRunner, evaluate, jobRuns, RUNNER_TEMP, WORKSPACE } from '../harness/ci-runner.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { startSampler } from '../harness/secret-watch.ts';
import { assertNothingChanged } from '../harness/run-twice.ts';
import { REPO_ROOT } from '../harness/testbed.ts';

const test = suite('release from CI (GitHub Actions workflow), end to end');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const APP_SECRET = `s3cret-${randomBytes(8).toString('hex')}`;
const DOMAIN = 'app.hoist.test';
const runner = new CiRunner(randomBytes(3).toString('hex'));
let steps: { name?: string; run: string; env?: Record<string, string> }[] = [];
let jobIf: string | undefined;
let secrets: Record<string, string> = {};
let keyContent = '';

let sha1 = '';
const appFiles = (version: string, note = version) => ({
  'note.txt': `${note}\n`,
  'Dockerfile': `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n`,
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': `${version}\n`,
});

test.before(async () => {
  // Debian 12 without systemd, compose v1: CI budget (#19: an sshd host starts in 4-9 s, a systemd one in 10-40 s).
  const { git, host } = await bed.start({ domain: DOMAIN, token: TOKEN, host: 'debian12-no-systemd' });
  await git.commit('app', appFiles('v1'), 'v1');
  const appEnv = tb.file('app.env', `SECRET=${APP_SECRET}\n`);
  bed.env({ APP_ENV_FILE: appEnv, HEALTH_TIMEOUT: '30' });
  const boot = await tb.runPipelineTwice('bootstrap', { env: { GITHUB_TOKEN: TOKEN } });
  assert.is(boot.code, 0, boot.out);
  await loadAppBase(host.container);

  // The app's checkout on a laptop: its .env (as `hoist init` wrote it) and inventory, then
  // `hoist init --ci github`, the real CLI in that folder.
  const checkout = join(tb.dir, 'checkout');
  mkdirSync(checkout);
  await appCheckout(checkout);
  writeFileSync(join(checkout, 'hosts.yml'), readFileSync(tb.inventoryPath));
  writeFileSync(join(checkout, '.env'), readFileSync(tb.envPath));
  const init = await spawnHoist(['init', '--ci', 'github', '--inventory', 'hosts.yml', '--lock-wait', '300'], checkout);
  assert.is(init.code, 0, init.out);
  assert.match(init.out, /HOIST_SSH_KEY: .*\n\s+HOIST_KNOWN_HOSTS: .*\n\s+HOIST_APP_ENV_FILE: /);
  assert.match(init.out, /New environment: name it production/);
  const doc = YAML.parse(readFileSync(join(checkout, '.github/workflows/release.yml'), 'utf8'));
  steps = doc.jobs.release.steps.filter((s: { run?: string }) => s.run);
  jobIf = doc.jobs.release.if;
  // What the repository's secrets hold: the files' content, as the instructions say.
  keyContent = readFileSync(tb.keyPath, 'utf8');
  secrets = { HOIST_SSH_KEY: keyContent, HOIST_KNOWN_HOSTS: readFileSync(tb.knownHostsPath, 'utf8'), HOIST_APP_ENV_FILE: readFileSync(appEnv, 'utf8') };
  // A checkout has no .env (it is not committed) and the runner has nothing else of the laptop's.
  rmSync(join(checkout, '.env'));
  await runner.start(checkout);
});
test.after(async () => {
  await bed.stop();
});

function spawnHoist(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(REPO_ROOT, 'bin/hoist.mjs'), args, { cwd, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => (clearTimeout(t), resolve({ code: code ?? -1, out })));
  });
}

interface RunOptions {
  /** Only the step of this name. */
  only?: string;
  /** GITHUB_REF of the run (default: the release branch). */
  ref?: string;
  /** Run the steps even when the job's if: skips the job (a workflow edited to drop it). */
  ignoreJobIf?: boolean;
}

/** Every `run:` step of the workflow in order, as the runner would; stops at the first failure. */
async function workflowRun(sha: string, workspace = WORKSPACE, o: RunOptions = {}): Promise<{ code: number; out: string; report: RunReport; skipped?: true; ran: number }> {
  const ref = o.ref ?? 'refs/heads/main';
  if (!o.ignoreJobIf && !jobRuns(jobIf, { ref })) return { code: 0, out: '', report: {} as RunReport, skipped: true, ran: 0 };
  let out = '';
  let ran = 0;
  for (const step of steps) {
    if (o.only && step.name !== o.only) continue;
    ran++;
    const env = { ...CiRunner.baseEnv(workspace, sha, ref), ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, evaluate(String(v), { secrets, sha })])) };
    // The stand-in's only difference from a runner: no registry, so npm reads its cache.
    if (step.name === 'Install hoist') env.npm_config_offline = 'true';
    const r = await runner.step(step.run, env, workspace);
    out += `\n$ ${step.run}\n${r.stdout}${r.stderr}`;
    if (r.code !== 0) return { code: r.code, out, report: await report(workspace).catch(() => ({}) as RunReport), ran };
  }
  return { code: 0, out, report: await report(workspace), ran };
}

async function report(workspace: string): Promise<RunReport> {
  const r = await runner.sh(`cat ${workspace}/hoist-report.json`);
  if (r.code !== 0) throw new Error(`no report in ${workspace}: ${r.stderr}`);
  return JSON.parse(r.stdout) as RunReport;
}

const statuses = (r: RunReport) => r.hosts[0]!.tasks.map((t) => t.status);
const throughCaddy = async () => (await bed.host.sh(`curl -s --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`)).stdout.trim();

/** The secret values, each as whole and line by line (a key's lines are what a log would show). */
function secretForms(): { name: string; form: string }[] {
  const forms: { name: string; form: string }[] = [{ name: 'GITHUB_TOKEN', form: TOKEN }, { name: 'app SECRET', form: APP_SECRET }];
  for (const line of keyContent.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) forms.push({ name: 'SSH_KEY line', form: line });
  return forms;
}
const leaks = (text: string) => secretForms().filter((f) => text.includes(f.form)).map((f) => f.name);

test('the workflow steps release v1 in the runner: settings and secrets from the environment, no .env; the summary is written', async () => {
  const sha = (sha1 = await bed.git.commit('app', appFiles('v1', 'pushed'), 'v1 pushed'));
  assert.ok(/^[0-9a-f]{40}$/.test(sha), `a sha: ${sha}`);
  const sampler = await startSampler(bed.host, 8 * 60_000);
  const r = await workflowRun(sha);
  const seen = await sampler.stop();
  assert.is(r.code, 0, r.out);
  assert.ok(statuses(r.report).includes('changed'), JSON.stringify(statuses(r.report)));
  assert.is(await throughCaddy(), 'v1');
  const after = r.report.hosts[0]!.release.after ?? '';
  assert.ok(sha.startsWith(after.split('-').pop() ?? 'none'), `the pushed commit is live: ${after}`);
  assert.is(r.report.settings!.SSH_KEY, 'the environment (content)');
  assert.is(r.report.settings!.KNOWN_HOSTS, 'the environment (content)');
  assert.is(r.report.settings!.GIT_REF, 'the environment');
  assert.match(r.out, /settings from the environment: .*SSH_KEY \(content, in a temporary file\)/);
  const summary = await runner.sh(`cat ${RUNNER_TEMP}/step-summary.md`);
  assert.match(summary.stdout, /### ✅ hoist run release\n\n1 of 1 hosts ok/);
  assert.match(summary.stdout, /\| web1 \| - → \S+ \| ✅ ok \|/);
  assert.equal(leaks(r.out), [], 'no secret in the steps\' output');
  assert.equal(leaks(JSON.stringify(r.report)), [], 'none in the report');
  assert.equal(leaks(summary.stdout), [], 'none in the summary');
  assert.ok(seen.samples > 10, `the host's process list was sampled (${seen.samples})`);
  assert.equal(leaks(seen.lines.join('\n')), [], "none in the host's process list");
});

test('a second run of the same commit (a new job: a fresh checkout) changes nothing; nothing of the secrets is left in the runner', async () => {
  const again = await workflowRun(sha1, `${WORKSPACE}-2`);
  assert.is(again.code, 0, again.out);
  assert.ok(statuses(again.report).every((s) => s === 'unchanged'), JSON.stringify(statuses(again.report)));
  assertNothingChanged(again.report, 'the workflow, run again');
  const left = await runner.sh(`ls -A ${RUNNER_TEMP}; ls -A /tmp; ls -A /root/.ssh 2>&1 || true`);
  assert.not.match(left.stdout, /hoist-inline/, `no temporary key folder left: ${left.stdout}`);
  // Every file written in the runner since it started (npm's cache and installed packages
  // aside), searched for every secret at once; the patterns travel on stdin.
  const grep = await runner.sh(
    `find / -xdev -newer /opt/runner/step-runner.cjs -type f -not -path '*/node_modules/*' -not -path '/root/.npm/*' -print0 | xargs -0 -r grep -lF -f /dev/stdin --; true`,
    secretForms().map((f) => f.form).join('\n'),
  );
  assert.is(grep.stdout.trim(), '', `files holding a secret: ${grep.stdout}`);
});

test('two runs of a new commit at once with --lock-wait: one releases, the other waits for the lock, then is unchanged', async () => {
  const sha = await bed.git.commit('app', appFiles('v2'), 'v2');
  const a = workflowRun(sha, WORKSPACE, { only: 'Release' });
  // Started together; the second is started once the first holds the lock, so the wait is certain.
  let held = false;
  for (let i = 0; i < 600 && !held; i++) {
    held = (await bed.host.sh('test -L /home/deploy/.hoist/lock && echo held', 'root')).stdout.includes('held');
    if (!held) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(held, 'the first run took the lock');
  const b = await workflowRun(sha, `${WORKSPACE}-2`, { only: 'Release' });
  const ra = await a;
  assert.is(ra.code, 0, ra.out);
  assert.is(b.code, 0, b.out);
  assert.ok(statuses(ra.report).includes('changed'));
  assert.ok(statuses(b.report).every((s) => s === 'unchanged'), JSON.stringify(statuses(b.report)));
  assertNothingChanged(b.report, 'the workflow that waited for the lock');
  assert.match(b.report.hosts[0]!.warnings.join('\n'), /^waited \d+[sm] for the deploy lock held by /m);
  assert.match(b.out, /waiting for the deploy lock held by /);
  assert.is(await throughCaddy(), 'v2');
  assert.equal(leaks(ra.out + b.out), []);
});

test('a run on another branch releases nothing: the job is skipped by its if:, and its steps run anyway refuse at the first', async () => {
  // A commit that would change the page if it were released (GIT_REF is the run's sha).
  const sha = await bed.git.commit('app', appFiles('v3'), 'v3 on a branch');
  const live = async () => (await bed.host.sh('readlink /home/deploy/apps/app/current', 'root')).stdout.trim();
  const before = await live();
  assert.match(before, /^releases\//);
  // feature twice (a second run changes nothing either), then a tag: a dispatch from a tag.
  for (const ref of ['refs/heads/feature', 'refs/heads/feature', 'refs/tags/v3']) {
    const skipped = await workflowRun(sha, WORKSPACE, { ref });
    assert.ok(skipped.skipped, `${ref}: the job is skipped`);
    assert.is(skipped.ran, 0);
    const forced = await workflowRun(sha, WORKSPACE, { ref, ignoreJobIf: true });
    assert.is(forced.code, 1, forced.out);
    assert.is(forced.ran, 1, 'only the guard step ran: no install, no release');
    assert.match(forced.out, `hoist releases main only, not ${ref}: nothing was done`);
    assert.is(await throughCaddy(), 'v2', `${ref}: the live page is unchanged`);
    assert.is(await live(), before, `${ref}: the live release is unchanged`);
  }
});

test.run();
