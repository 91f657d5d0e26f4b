// `hoist exec -- CMD` and `hoist ssh -- CMD` without a terminal, as a script or a pipe runs them
// (README "Living with the app"): hoist's stdin is the command's, whole, and its end the
// command's EOF (a payload of 512 KiB, so SSH's flow control has to hold it back and let it go);
// Ctrl-C (SIGINT to hoist) reaches the remote command (in exec: the container's PID 1, which only
// a handler of its own lets see it), which traps it, says so and exits 130, and hoist exits with
// that; nothing of the command is left on the host; the command's exit status
// is hoist's. The real bin with piped stdio, on a released host (bootstrap and release each run
// twice, the second changing nothing).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { REPO_ROOT, type TestHost } from '../harness/testbed.ts';

const test = suite('exec and ssh -- CMD without a terminal: stdin, Ctrl-C, exit status');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
let git: GitServer;
let web1: TestHost;

const appFiles = () => ({
  'Dockerfile': 'FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n',
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': 'v1\n',
});

const run = (pipeline: string) => tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN } });

/** A pipeline twice: the first must succeed, the second must report every task unchanged. */
async function twice(pipeline: string): Promise<void> {
  const first = await run(pipeline);
  assert.is(first.code, 0, first.out);
  const again = await run(pipeline);
  assert.is(again.code, 0, again.out);
  for (const h of again.report.hosts) assert.ok(h.tasks.every((t) => t.status === 'unchanged'), `${pipeline} again on ${h.name}: ${JSON.stringify(h.tasks.map((t) => [t.task, t.status]))}`);
}

test.before(async () => {
  // Debian 12 without systemd, compose v1: CI budget (#19: an sshd host starts in 4-9 s, a systemd one in 10-40 s).
  ({ git } = await bed.start({ domain: 'stdio.hoist.test', token: TOKEN, host: 'debian12-no-systemd' }));
  web1 = bed.host;
  await git.commit('app', appFiles(), 'v1');
  bed.env({ HEALTH_TIMEOUT: '30' });
  await twice('bootstrap');
  await loadAppBase(web1.container);
  await twice('release');
});
test.after(() => bed.stop());

interface Piped {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The hoist bin with stdin, stdout and stderr all pipes (no terminal anywhere). `input` is
 * written and then ended; or, with `interrupt`, stdin stays open and hoist gets SIGINT once its
 * stdout matches `interrupt.after`. Bounded: killed after `timeoutMs`.
 */
function piped(args: string[], opts: { input?: Buffer | string; interrupt?: { after: RegExp }; timeoutMs?: number } = {}): Promise<Piped> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(REPO_ROOT, 'bin/hoist.mjs'), [...args.slice(0, args.indexOf('--')), '--env-file', tb.envPath, '--inventory', tb.inventoryPath, ...args.slice(args.indexOf('--'))], {
      cwd: tb.dir,
      env: { ...process.env, HOIST_RETRY_MIN_MS: '200' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (opts.interrupt && !interrupted && opts.interrupt.after.test(stdout)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    // hoist may end before reading all of it (a command that reads nothing): not this test's error.
    child.stdin.on('error', () => {});
    if (opts.input !== undefined) child.stdin.end(opts.input);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hoist ${args.join(' ')} did not end within ${timeoutMs / 1000}s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const both = (r: Piped) => `exit ${r.code ?? r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Polls `script` on the host (as root) until it prints nothing, at most `tries` × 200 ms; returns what it last printed. */
async function untilEmpty(h: TestHost, script: string, tries = 50): Promise<string> {
  let left = '';
  for (let i = 0; i < tries; i++) {
    left = (await h.sh(script)).stdout.trim();
    if (!left) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  return left;
}

/** One-off containers of the app on the host (compose run --rm removes its own). */
const oneOffs = "docker ps -aq --filter label=com.docker.compose.oneoff=True";

test('exec: piped stdin arrives whole and its end is the command\'s EOF (5 bytes, then 512 KiB); the exit status is hoist\'s', async () => {
  // `cat` ends only at EOF: a stdin that never ends would hang here, until the bound.
  const small = await piped(['exec', '--', 'sh', '-c', 'cat > /tmp/x; busybox wc -c < /tmp/x; exit 3'], { input: 'data\n' });
  assert.is(small.code, 3, both(small));
  assert.is(small.stdout.trim(), '5', both(small));

  const payload = randomBytes(512 * 1024);
  const big = await piped(['exec', '--', 'sh', '-c', 'cat > /tmp/x; busybox wc -c < /tmp/x; busybox sha256sum < /tmp/x'], { input: payload });
  assert.is(big.code, 0, both(big));
  const [count, sum] = big.stdout.trim().split('\n');
  assert.is(count?.trim(), String(payload.length), both(big));
  assert.is(sum?.split(/\s+/)[0], sha256(payload), 'byte for byte');
  assert.is(await untilEmpty(web1, oneOffs), '', 'run --rm left no container');
});

test('exec: Ctrl-C (SIGINT to hoist) reaches the command in its container, which traps it; hoist exits 130; nothing left running', async () => {
  // The trap is set before "ready"; `sleep & wait` so the shell runs the trap at once.
  const script = 'trap \'echo "trapped INT"; kill $!; exit 130\' INT; echo ready; sleep 600 & wait';
  const r = await piped(['exec', '--', 'sh', '-c', script], { interrupt: { after: /^ready$/m } });
  assert.match(r.stdout, /^trapped INT$/m, `the command got the signal: ${both(r)}`);
  assert.is(r.code, 130, both(r));
  assert.match(r.stderr, /SIGINT: passed to the command/);
  assert.is(await untilEmpty(web1, oneOffs), '', 'the one-off container is gone');
  assert.is(await untilEmpty(web1, "pgrep -af 'sleep [6]00' || true"), '', 'no sleep left on the host (nor in a container)');

});

test('ssh -- CMD: piped stdin whole with its EOF, the exit status, Ctrl-C to the command (trapped, 130), nothing left', async () => {
  const payload = randomBytes(512 * 1024);
  const big = await piped(['ssh', '--', 'sh', '-c', 'cat > /tmp/hoist-stdin; wc -c < /tmp/hoist-stdin; sha256sum < /tmp/hoist-stdin; rm /tmp/hoist-stdin; exit 4'], { input: payload });
  assert.is(big.code, 4, both(big));
  const [count, sum] = big.stdout.trim().split('\n');
  assert.is(count?.trim(), String(payload.length), both(big));
  assert.is(sum?.split(/\s+/)[0], sha256(payload));

  const script = 'trap \'echo "trapped INT"; touch /tmp/hoist-trapped; kill $!; exit 130\' INT; echo ready; sleep 600 & wait';
  await web1.sh('rm -f /tmp/hoist-trapped');
  const r = await piped(['ssh', '--', 'sh', '-c', script], { interrupt: { after: /^ready$/m } });
  assert.match(r.stdout, /^trapped INT$/m, `the command got the signal: ${both(r)}`);
  assert.is(r.code, 130, both(r));
  assert.is((await web1.sh('test -e /tmp/hoist-trapped && echo yes')).stdout.trim(), 'yes', 'the trap ran on the host');
  assert.is(await untilEmpty(web1, "pgrep -af 'sleep [6]00' || true"), '', 'no sleep left on the host');

  // A command with no trap dies of the signal: 130, as a shell gives it.
  const plain = await piped(['ssh', '--', 'sh', '-c', 'echo ready; exec sleep 600'], { interrupt: { after: /^ready$/m } });
  assert.is(plain.code, 130, both(plain));
  assert.is(await untilEmpty(web1, "pgrep -af 'sleep [6]00' || true"), '', 'no sleep left on the host');
});

test.run();
