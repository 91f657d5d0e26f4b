// `hoist init` under a real pseudo-terminal: a person types the answers (one of them wrong
// first), gets a .env (mode 600) that the next `pipeline:bootstrap --dry-run` accepts against a
// real fresh VPS, and an existing .env is never overwritten without --force.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { REPO_ROOT, Testbed } from '../harness/testbed.ts';

const test = suite('hoist init');
const tb = new Testbed();
const project = mkdtempSync(join(tmpdir(), 'hoist-init-project-'));
const home = mkdtempSync(join(tmpdir(), 'hoist-init-home-'));
const env = { ...process.env, HOME: home, HOIST_RETRY_MIN_MS: '200' };

test.before(async () => {
  await tb.start({ count: 1 });
});
test.after(() => tb.stop());

/** Runs `hoist init` in a pseudo-terminal, answering each prompt as it appears (bounded). */
function initInTerminal(answers: [RegExp, string][]): Promise<{ code: number; screen: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', `stty cols 200; node ${join(REPO_ROOT, 'bin/hoist.mjs')} init`, '/dev/null'], { cwd: project, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let next = 0;
    let answeredAt = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`init did not finish; screen so far:\n${screen}`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      // What a person sees: the terminal's cursor codes removed.
      // eslint-disable-next-line no-control-regex
      screen += d.toString().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
      // A prompt counts only if it appeared after the previous answer was sent.
      const fresh = () => {
        const since = screen.slice(answeredAt);
        return since.slice(since.lastIndexOf('\n', since.length - 2) + 1);
      };
      while (next < answers.length && answers[next]![0].test(fresh())) {
        child.stdin.write(`${answers[next]![1]}\n`);
        answeredAt = screen.length;
        next++;
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, screen });
    });
  });
}

test('a person answers the questions in a terminal; the .env it writes is accepted by bootstrap --dry-run', async () => {
  const host = tb.hosts[0]!;
  const { code, screen } = await initInTerminal([
    [/VPS address.*: $/, '127.0.0.1'],
    [/SSH port \[22\]: $/, '70000'],
    [/SSH port \[22\]: $/, String(host.port)],
    [/User your provider gave you \[root\]: $/, ''],
    [/Private key.*: $/, tb.keyPath],
    [/Domain.*: $/, ''],
    [/Repository.*: $/, 'git@github.com:acme/Sentiment.API.git'],
    [/Name of the app on the VPS \[sentiment-api\]: $/, ''],
    [/Port your app listens on \[8000\]: $/, ''],
  ]);
  assert.is(code, 0, screen);
  assert.match(screen, /is outside 1-65535; try again/);
  assert.match(screen, /npm run pipeline:bootstrap -- --dry-run/);
  const written = readFileSync(join(project, '.env'), 'utf8');
  assert.match(written, /^HOST=127\.0\.0\.1$/m);
  assert.match(written, new RegExp(`^SSH_PORT=${host.port}$`, 'm'));
  assert.match(written, /^SSH_USER=root$/m);
  assert.match(written, /^APP_NAME=sentiment-api$/m, 'the app is named after its repository by default');
  assert.ok(written.includes(`SSH_KEY=${tb.keyPath}`));
  assert.is(statSync(join(project, '.env')).mode & 0o777, 0o600);

  // The next command the newcomer runs, twice: a plan both times, and the host untouched.
  for (let run = 1; run <= 2; run++) {
    const dry = await runHoist(['run', 'bootstrap', '--dry-run', '--accept-new', '--json', '-']);
    assert.is(dry.code, 0, dry.stderr);
    const report = JSON.parse(dry.stdout) as RunReport;
    const [bootstrap, dns, key] = report.hosts[0]!.tasks;
    assert.is(bootstrap!.status, 'changed', `run ${run}: ${JSON.stringify(bootstrap)}`);
    assert.ok(bootstrap!.steps.includes('create user deploy'));
    assert.is(dns!.status, 'unchanged');
    // The deploy user does not exist yet: its task is planned once bootstrap has made it.
    assert.is(key!.status, 'skipped');
    assert.match(key!.reason ?? '', /planned after the changes above/);
    assert.is((await host.sh('id deploy >/dev/null 2>&1; echo $?')).stdout.trim(), '1', 'dry run created nobody');
  }
  assert.match(readFileSync(join(home, '.ssh/known_hosts'), 'utf8'), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${host.port} ssh-ed25519 `, 'm'), '--accept-new pinned the key');
});

test('an existing .env is not overwritten without --force', async () => {
  const before = readFileSync(join(project, '.env'), 'utf8');
  const again = await runHoist(['init', '--host', '203.0.113.9', '--key', tb.keyPath]);
  assert.is(again.code, 2);
  assert.match(again.stderr, /exists already.*--force/);
  assert.is(readFileSync(join(project, '.env'), 'utf8'), before);
  const forced = await runHoist(['init', '--force', '--host', '203.0.113.9', '--key', tb.keyPath]);
  assert.is(forced.code, 0, forced.stderr);
  assert.match(readFileSync(join(project, '.env'), 'utf8'), /^HOST=203\.0\.113\.9$/m);
});

function runHoist(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/hoist.mjs'), ...args], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

test.run();
