// Living with the app on real hosts: `hoist logs` (last lines, --lines, --since, --follow stopped by
// Ctrl-C with the host's `docker logs` gone after, --jobs, a host prefix per line for two hosts),
// `hoist exec` (the release's env from shared/.env, exit status passed through, words byte for
// byte, a real TTY and stdin under a pseudo-terminal, several hosts named when one fails) and
// `hoist ssh` (one command, a shell under a pseudo-terminal, a wrong or unknown host key refused
// before any login). Each says which host has no release live. web1 is released first; web2 stays
// bare until the two-host tests. Every pipeline is run twice, the second changing nothing.
import { randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { argv } from '../../lib/shell-quote.ts';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { runTwice } from '../harness/run-twice.ts';
import { REPO_ROOT, type CliResult, type TestHost } from '../harness/testbed.ts';

const test = suite('day two: hoist logs, exec and ssh, end to end');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
/** An .env value: hoist must never print it (long enough to be registered as a secret). */
const APP_SECRET = `s3cret-${randomBytes(8).toString('hex')}`;
/** A short, non-secret .env value the app and the one-off container may show. */
const GREETING = 'howdy';
const DOMAIN = 'days.hoist.test';
let git: GitServer;
let web1: TestHost;
let web2: TestHost;

const appFiles = () => ({
  'Dockerfile': `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["sh", "-c", "echo \\"app starting, greeting $GREETING\\"; exec httpd -f -p 8000 -h /www"]\n`,
  // The app's settings come from shared/.env, linked into the release as .env.
  'compose.yaml': 'services:\n  web:\n    build: .\n    env_file: .env\n',
  'index.html': 'v1\n',
});

const run = (pipeline: string, ...args: string[]) => tb.runPipeline(pipeline, { args, env: { GITHUB_TOKEN: TOKEN } });

/** A pipeline twice: the first must succeed, the second must report every task unchanged. */
async function twice(pipeline: string, ...args: string[]): Promise<void> {
  const first = await runTwice(`${pipeline} ${args.join(' ')}`, () => run(pipeline, ...args));
  assert.is(first.code, 0, first.out);
}

test.before(async () => {
  // Debian 12 without systemd, compose v1: CI budget (#19: an sshd host starts in 4-9 s, a systemd one in 10-40 s).
  ({ git } = await bed.start({ domain: DOMAIN, token: TOKEN, count: 2, host: 'debian12-no-systemd' }));
  [web1, web2] = tb.hosts as [TestHost, TestHost];
  await git.commit('app', appFiles(), 'v1');
  bed.env({ APP_ENV_FILE: tb.file('app.env', `SECRET=${APP_SECRET}\nGREETING=${GREETING}\n`), HEALTH_TIMEOUT: '30' });
  await twice('bootstrap', '--concurrency', '2');
  await Promise.all(tb.hosts.map((h) => loadAppBase(h.container)));
  await twice('release', '--hosts', 'web1');
});
test.after(async () => {
  await bed.stop();
});

/** The real CLI with the bed's settings. */
const hoist = (...args: string[]): Promise<CliResult> => {
  const at = args.indexOf('--');
  const [flags, words] = at < 0 ? [args, []] : [args.slice(0, at), args.slice(at)];
  return tb.hoist([...flags, '--env-file', tb.envPath, '--inventory', tb.inventoryPath, ...words]);
};
const both = (r: CliResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** Writes `text` to the app container's own output on `h`, as the app printing it would. */
async function appSays(h: TestHost, text: string): Promise<void> {
  const slot = (await h.sh('cat /home/deploy/apps/app/active-slot')).stdout.trim();
  const r = await h.sh(`docker exec $(docker ps -q --filter label=com.docker.compose.project=app-${slot} --filter label=com.docker.compose.service=web) sh -c ${argv(`printf '%s\\n' ${argv(...text.split('\n')).line} > /proc/1/fd/1`).line}`);
  assert.is(r.code, 0, r.stderr);
}

const NO_RELEASE = 'no release of app is live (there is no ~/apps/app/current). Fix: run `hoist run release` first';

test('logs: the app\'s start line, no host prefix for one host, no .env value; --lines N; --since', async () => {
  const r = await hoist('logs', '--hosts', 'web1');
  assert.is(r.code, 0, both(r));
  assert.match(r.stdout, /^app starting, greeting howdy$/m);
  assert.not.match(r.stdout, /web1 \|/);
  assert.not.ok(r.stdout.includes(APP_SECRET) || r.stderr.includes(APP_SECRET));

  await appSays(web1, 'line-1\nline-2\nline-3\nline-4\nline-5');
  const last = await hoist('logs', '--hosts', 'web1', '--lines', '2');
  assert.is(last.code, 0, both(last));
  assert.is(last.stdout, 'line-4\nline-5\n');

  await appSays(web1, 'before-since');
  await new Promise((r) => setTimeout(r, 1500));
  // A whole second after the line above, whatever its fraction: docker logs --since takes it.
  const since = String(Math.floor(Date.now() / 1000));
  await appSays(web1, 'after-since');
  const recent = await hoist('logs', '--hosts', 'web1', '--since', since);
  assert.is(recent.code, 0, both(recent));
  assert.is(recent.stdout, 'after-since\n');
  const lastHour = await hoist('logs', '--hosts', 'web1', '--since', '1h');
  assert.match(lastHour.stdout, /^app starting[^]*before-since\nafter-since\n$/, 'every line of the last hour');
});

test('logs --follow: a new line appears as the app writes it; Ctrl-C ends hoist (130) and the host\'s docker logs', async () => {
  let stdout = '';
  let child: import('node:child_process').ChildProcess | undefined;
  const done = tb.hoist(['logs', '--follow', '--lines', '1', '--hosts', 'web1', '--env-file', tb.envPath, '--inventory', tb.inventoryPath], {}, (c) => {
    child = c;
    c.stdout!.on('data', (d) => (stdout += d));
  });
  const waitFor = async (what: RegExp, ms: number) => {
    const end = Date.now() + ms;
    while (!what.test(stdout) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.match(stdout, what, `within ${ms / 1000}s`);
  };
  await waitFor(/^after-since\n/, 30_000);
  assert.is((await web1.sh("pgrep -fc '^docker logs' || true")).stdout.trim(), '1', 'one docker logs --follow on the host');
  await appSays(web1, 'followed-line');
  await waitFor(/\nfollowed-line\n/, 30_000);
  child!.kill('SIGINT');
  const r = await done;
  // Ended by itself on Ctrl-C, not by a clock: 130 is its own SIGINT exit (the harness's backstop
  // SIGKILLs it, exit -1); the host's side is checked next by counting its docker logs processes.
  assert.is(r.code, 130, both(r));
  // The host stops its `docker logs --follow` once the channel is gone (bounded wait).
  let left = '';
  for (let i = 0; i < 50; i++) {
    left = (await web1.sh("pgrep -fa '^docker logs' || true")).stdout.trim();
    if (!left) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.is(left, '', 'no docker logs left running on the host');
});

test('exec: the release\'s .env is in the container, the exit status comes back, words arrive as given, the container is removed', async () => {
  const r = await hoist('exec', '--hosts', 'web1', '--', 'sh', '-c', 'test -n "$SECRET" && echo "SECRET is set; greeting $GREETING"; exit 3');
  assert.is(r.code, 3, both(r));
  assert.match(r.stdout, /^SECRET is set; greeting howdy$/m);
  assert.not.ok(r.stdout.includes(APP_SECRET) || r.stderr.includes(APP_SECRET));
  const words = ['a b', `it's`, '$HOME', '`id`', '"q"', '*', '', '--help'];
  const echoed = await hoist('exec', '--hosts', 'web1', '--', 'sh', '-c', 'for a in "$@"; do printf "[%s]" "$a"; done; echo', 'sh', ...words);
  assert.is(echoed.code, 0, both(echoed));
  assert.is(echoed.stdout, `${words.map((w) => `[${w}]`).join('')}\n`);
  const oneOff = await web1.sh('docker ps -aq --filter label=com.docker.compose.oneoff=True | wc -l');
  assert.is(oneOff.stdout.trim(), '0', 'run --rm left no container');
});

/** Runs the hoist bin under a pseudo-terminal (`script`), answering `answers` as their prompts appear; bounded. */
function inTerminal(args: string[], answers: [RegExp, string][] = [], timeoutMs = 60_000): Promise<{ code: number; screen: string }> {
  const line = `stty cols 120 rows 40; ${argv(join(REPO_ROOT, 'bin/hoist.mjs'), ...args).line}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', line, '/dev/null'], { cwd: tb.dir, env: { ...process.env, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let next = 0;
    let answeredAt = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hoist ${args.join(' ')} did not finish under a terminal; screen so far:\n${screen}`));
    }, timeoutMs);
    const onOutput = (d: Buffer) => {
      screen += d.toString();
      while (next < answers.length && answers[next]![0].test(screen.slice(answeredAt))) {
        child.stdin.write(answers[next]![1]);
        answeredAt = screen.length;
        next++;
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code: code ?? -1, screen });
    });
  });
}

const settings = ['--env-file', '.env', '--inventory', 'inventory.yml'];

test('exec on a terminal: the container has a TTY, stdin is forwarded, the exit status comes back', async () => {
  const r = await inTerminal(
    ['exec', '--hosts', 'web1', ...settings, '--', 'sh', '-c', 'busybox tty; test -t 0 && echo "stdin is a tty"; printf "name? "; read x; echo "got <$x>"; exit 5'],
    [[/name\? /, 'hoist\r']],
  );
  assert.is(r.code, 5, r.screen);
  assert.match(r.screen, /\/dev\/pts\/\d+/);
  assert.match(r.screen, /stdin is a tty/);
  assert.match(r.screen, /got <hoist>/);
});

test('ssh -- CMD runs as the deploy user; its exit status comes back', async () => {
  const r = await hoist('ssh', '--hosts', 'web1', '--', 'id', '-un');
  assert.is(r.code, 0, both(r));
  assert.is(r.stdout, 'deploy\n');
  assert.is(r.stderr, '', 'web1 has a release live: no note');
  const seven = await hoist('ssh', '--hosts', 'web1', '--', 'sh', '-c', 'echo "in $PWD"; exit 7');
  assert.is(seven.code, 7, both(seven));
  assert.is(seven.stdout, 'in /home/deploy\n');
});

test('ssh on a terminal: a login shell that answers a command, its exit status hoist\'s', async () => {
  const r = await inTerminal(['ssh', '--hosts', 'web1', ...settings], [
    [/\$ $/, 'echo "sum: $((6*7)) as $(id -un) on $(hostname)"\r'],
    [/sum: 42 as deploy on web1[^]*deploy@web1:~\$ /, 'exit 4\r'],
  ]);
  assert.is(r.code, 4, r.screen);
  assert.match(r.screen, /sum: 42 as deploy on web1/);
});

/** "Accepted publickey" lines in a host's sshd log: one per login. */
const logins = (h: TestHost) => Number(execFileSync('sh', ['-c', `docker logs ${h.container} 2>&1 | grep -c 'Accepted publickey' || true`], { encoding: 'utf8' }).trim());

test('ssh refuses a host whose key differs from the pinned one, and one not pinned at all, before logging in', async () => {
  const otherKey = join(tb.dir, 'other_host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
  const [type, blob] = readFileSync(`${otherKey}.pub`, 'utf8').trim().split(/\s+/);
  const wrong = tb.file('wrong_known_hosts', `[127.0.0.1]:${web1.port} ${type} ${blob}\n`);
  const empty = tb.file('empty_known_hosts', '');
  const env = readFileSync(tb.envPath, 'utf8');
  const withKnownHosts = (name: string, path: string) => tb.file(name, env.replace(/^KNOWN_HOSTS=.*$/m, `KNOWN_HOSTS=${JSON.stringify(path)}`));
  const before = logins(web1);
  const changed = await tb.hoist(['ssh', '--hosts', 'web1', '--env-file', withKnownHosts('wrong.env', wrong), '--inventory', tb.inventoryPath, '--', 'id', '-un']);
  assert.is(changed.code, 1, both(changed));
  assert.match(changed.stderr, /HOST KEY CHANGED for \[127\.0\.0\.1\]:\d+: .*Nothing was run on it/);
  assert.is(changed.stdout, '');
  const unknown = await tb.hoist(['ssh', '--hosts', 'web1', '--env-file', withKnownHosts('empty.env', empty), '--inventory', tb.inventoryPath, '--', 'id', '-un']);
  assert.is(unknown.code, 1, both(unknown));
  assert.match(unknown.stderr, /\[127\.0\.0\.1\]:\d+ is not in .*empty_known_hosts; its key is ssh-ed25519 SHA256:.*--accept-new/);
  assert.is(logins(web1), before, 'no login happened');
});

test('a host with no release: logs, exec and ssh say which host and what to do', async () => {
  const logs = await hoist('logs', '--hosts', 'web2');
  assert.is(logs.code, 1, both(logs));
  assert.is(logs.stderr, `web2: ${NO_RELEASE}\n`);
  const exec = await hoist('exec', '--hosts', 'web2', '--', 'true');
  assert.is(exec.code, 1, both(exec));
  assert.is(exec.stderr, `web2: ${NO_RELEASE}\n`);
  // A shell is how one looks at such a host: it opens, after the same words.
  const ssh = await hoist('ssh', '--hosts', 'web2', '--', 'id', '-un');
  assert.is(ssh.code, 0, both(ssh));
  assert.is(ssh.stdout, 'deploy\n');
  assert.is(ssh.stderr, `note: web2: ${NO_RELEASE}\n`);
  // On both hosts: web1 runs it, web2 is named as the one that did not.
  const fleet = await hoist('exec', '--hosts', 'web1,web2', '--', 'echo', 'ran');
  assert.is(fleet.code, 1, both(fleet));
  assert.is(fleet.stdout, 'web1 | ran\n');
  assert.ok(fleet.stderr.includes(`web2: ${NO_RELEASE}\n`), fleet.stderr);
  assert.match(fleet.stderr, /\nhoist exec: failed on 1 of 2 hosts: web2 \(not run: no release live\)\n$/);
});

test('logs --jobs: says the job log is not there yet; once it is, its last lines', async () => {
  const missing = await hoist('logs', '--jobs', '--hosts', 'web1');
  assert.is(missing.code, 1, both(missing));
  assert.is(missing.stderr, 'web1: no job log yet: ~/apps/app/logs/cron.log does not exist (cron jobs write it once their crontab lines send their output there)\n');
  await web1.sh('install -d -o deploy -g deploy /home/deploy/apps/app/logs && printf "job 1\\njob 2\\njob 3\\n" > /home/deploy/apps/app/logs/cron.log', 'deploy');
  const r = await hoist('logs', '--jobs', '--lines', '2', '--hosts', 'web1');
  assert.is(r.code, 0, both(r));
  assert.is(r.stdout, 'job 2\njob 3\n');
});

test('two hosts: each log line prefixed with its host; several hosts for ssh is a usage error; exec failing on each is named', async () => {
  await twice('release', '--hosts', 'web2');
  const r = await hoist('logs', '--hosts', 'web1,web2');
  assert.is(r.code, 0, both(r));
  const lines = r.stdout.trimEnd().split('\n');
  assert.ok(lines.every((l) => /^web[12] \| /.test(l)), r.stdout);
  assert.ok(lines.includes('web1 | app starting, greeting howdy'), r.stdout);
  assert.ok(lines.includes('web2 | app starting, greeting howdy'), r.stdout);
  assert.ok(lines.includes('web1 | followed-line') && !lines.includes('web2 | followed-line'), 'each host\'s own lines');

  const ssh = await hoist('ssh', '--hosts', 'web1,web2');
  assert.is(ssh.code, 2, both(ssh));
  assert.is(ssh.stderr, 'hoist: usage error: "hoist ssh" opens one host; 2 are selected (web1, web2). Fix: hoist ssh --hosts web1\n');

  const failing = await hoist('exec', '--', 'sh', '-c', 'echo "on $GREETING"; exit 3');
  assert.is(failing.code, 1, both(failing));
  assert.equal(failing.stdout.split('\n').filter(Boolean).sort(), ['web1 | on howdy', 'web2 | on howdy']);
  assert.match(failing.stderr, /hoist exec: failed on 2 of 2 hosts: web1 \(exit 3\), web2 \(exit 3\)\n$/);
});

test('the live slot\'s containers stopped: exec refuses, logs shows their last lines with a note', async () => {
  const slot = (await web2.sh('cat /home/deploy/apps/app/active-slot')).stdout.trim();
  await web2.sh(`docker stop $(docker ps -q --filter label=com.docker.compose.project=app-${slot}) >/dev/null`);
  const exec = await hoist('exec', '--hosts', 'web2', '--', 'true');
  assert.is(exec.code, 1, both(exec));
  assert.is(exec.stderr, `web2: no release of app is live: the containers of the ${slot} slot (compose project app-${slot}) are not running (exited). Fix: run \`hoist run release\` first (hoist status shows more)\n`);
  const logs = await hoist('logs', '--hosts', 'web2');
  assert.is(logs.code, 0, both(logs));
  assert.match(logs.stdout, /^app starting, greeting howdy$/m);
  assert.is(logs.stderr, `note: web2: the ${slot} slot's containers are not running (exited); these are their last lines\n`);
});

test.run();
