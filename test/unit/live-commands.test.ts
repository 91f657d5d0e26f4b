// The command lines of hoist logs / exec / ssh as exact strings (Kamal's commands-as-data tests),
// and the two behaviours a string cannot show, run in a local sh: CMD's words arrive byte for byte,
// and a followed stream stops once hoist's side of the channel (its stdin) closes.
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asSession, jobLogCommand, jobLogProbe, logsCommand, runCommand, untilHoistLeaves, userCommand } from '../../lib/live/commands.ts';
import { COMPOSE_ENV_FILE } from '../../tasks/docker-up/commands.ts';

const R = '20261126000000-abc000000002';

test('logs: docker logs of the service in the live slot, stderr merged, last N lines by default', () => {
  assert.is(
    logsCommand({ app: 'api', slot: 'green', service: 'web', lines: 100, since: null, follow: false }).line,
    `ids=$(docker ps -aq --filter 'label=com.docker.compose.project=api-green' --filter 'label=com.docker.compose.service=web'); [ -n "$ids" ] || { echo 'no container of service web in compose project api-green' >&2; exit 3; }; for id in $ids; do docker logs --tail 100 "$id" 2>&1 & done; wait`,
  );
});

test('logs: --since without --lines gives every line since then; --follow follows', () => {
  assert.is(
    logsCommand({ app: 'api', slot: 'blue', service: 'worker', lines: null, since: '2024-01-31T10:00:00Z', follow: true }).line,
    `ids=$(docker ps -aq --filter 'label=com.docker.compose.project=api-blue' --filter 'label=com.docker.compose.service=worker'); [ -n "$ids" ] || { echo 'no container of service worker in compose project api-blue' >&2; exit 3; }; for id in $ids; do docker logs --since 2024-01-31T10:00:00Z --follow "$id" 2>&1 & done; wait`,
  );
  assert.match(logsCommand({ app: 'api', slot: 'blue', service: 'web', lines: 5, since: '10m', follow: false }).line, / docker logs --tail 5 --since 10m "\$id" 2>&1 & /);
});

test('the job log: probed for, tailed, followed across rotation', () => {
  assert.is(jobLogProbe('api').line, 'cd && if [ -f apps/api/logs/cron.log ]; then echo present; else echo missing; fi');
  assert.is(jobLogCommand('api', 50, false).line, 'cd && tail -n 50 apps/api/logs/cron.log');
  assert.is(jobLogCommand('api', 50, true).line, 'cd && tail -n 50 -F apps/api/logs/cron.log');
});

test('exec: compose run --rm in the release, with its compose file and the slot override; without a terminal -T, a container name of ours, Ctrl-C passed to it by docker kill', () => {
  assert.is(
    runCommand({ app: 'api', slot: 'green', release: R, composeFile: null, compose: 'v1', service: 'web', tty: false, command: ['sh', '-c', `echo "$X"; it's`] }).line,
    `cd && cd apps/api/releases/${R} && f=''; for n in compose.yaml compose.yml docker-compose.yml docker-compose.yaml; do if [ -f "$n" ]; then f=$n; break; fi; done; [ -n "$f" ] || { echo 'no compose file (compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml) in apps/api/releases/${R}' >&2; exit 2; }; e=; case "$f" in */*) if [ -f .env ]; then e='--env-file .env'; fi;; esac; c=api-green-web-exec-$$; trap 'docker kill --signal INT "$c" >/dev/null 2>&1' INT; exec 3<&0; setsid -w docker-compose $e -p api-green -f "$f" -f ../../../../apps/api/slots/green.yaml run --rm --no-deps -T --name "$c" web sh -c 'echo "$X"; it'\\''s' <&3 3<&- & p=$!; exec 3<&-; while :; do wait $p; s=$?; kill -0 $p 2>/dev/null || break; done; exit $s`,
  );
});

test('a compose file in a subfolder gets the release\'s .env as compose\'s substitution file (it reads the one beside the file); at the root, or with no .env, nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-envfile-'));
  const e = (f: string) => spawnSync('sh', ['-c', `f=${f}; ${COMPOSE_ENV_FILE.line}; printf '[%s]' $e`], { cwd: dir, encoding: 'utf8' }).stdout;
  writeFileSync(join(dir, '.env'), 'PLAIN=hello\n');
  assert.is(e('deploy/compose.yaml'), '[--env-file][.env]', 'two words');
  assert.is(e('compose.yaml'), '[]');
  rmSync(join(dir, '.env'));
  assert.is(e('deploy/compose.yaml'), '[]');
  rmSync(dir, { recursive: true, force: true });
});

test('exec: with a terminal compose gives the container one (no -T); COMPOSE_FILE and compose v2', () => {
  assert.is(
    runCommand({ app: 'api', slot: 'blue', release: R, composeFile: 'deploy/compose.prod.yml', compose: 'v2', service: 'web', tty: true, command: ['bin/rails', 'console'] }).line,
    `cd && cd apps/api/releases/${R} && f=''; for n in deploy/compose.prod.yml; do if [ -f "$n" ]; then f=$n; break; fi; done; [ -n "$f" ] || { echo 'no compose file (deploy/compose.prod.yml) in apps/api/releases/${R}' >&2; exit 2; }; e=; case "$f" in */*) if [ -f .env ]; then e='--env-file .env'; fi;; esac; exec docker compose $e -p api-blue -f "$f" -f ../../../../apps/api/slots/blue.yaml run --rm --no-deps web bin/rails console`,
  );
});

test('ssh -- CMD and exec: the words reach the program byte for byte, through sh -c as well', () => {
  const words = ['a b', `it's`, '$HOME', '`id`', '"q"', '*', '', 'tab\there', 'line\nbreak', '--help', 'é✓'];
  assert.is(userCommand(['id', '-un']).line, 'id -un');
  const printArgs = ['sh', '-c', 'for a in "$@"; do printf "[%s]" "$a"; done', 'sh', ...words];
  const direct = spawnSync('sh', ['-c', userCommand(printArgs).line], { encoding: 'utf8' });
  assert.is(direct.stdout, words.map((w) => `[${w}]`).join(''));
  const wrapped = spawnSync('sh', ['-c', asSession(userCommand(printArgs))], { encoding: 'utf8' });
  assert.is(wrapped.stdout, direct.stdout);
});

test('a followed stream stops when hoist closes its side (stdin), and ends by itself when its command does', async () => {
  const follow = untilHoistLeaves(userCommand(['sh', '-c', 'i=0; while :; do i=$((i+1)); echo "line $i"; sleep 0.1; done']));
  assert.is(follow.line.split('\n').slice(0, 3).join('\n'), 'exec 3<&0 </dev/null\n( cat <&3 >/dev/null 2>&1; kill -TERM 0 ) >/dev/null 2>&1 &\nexec 3<&-');
  // Its own process group, as sshd gives a session (setsid): `kill 0` must not reach this test.
  const child = spawn('setsid', ['sh', '-c', follow.line], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, 500));
  child.stdin.end();
  const code = await new Promise<number | string | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('still running 5 s after its stdin closed');
    }, 5000);
    child.on('close', (c, s) => {
      clearTimeout(timer);
      resolve(c ?? s);
    });
  });
  assert.is(code, 'SIGTERM');
  assert.match(out, /^line 1\n/);

  // stdin left open: the command's own end ends the session.
  const ends = spawn('setsid', ['sh', '-c', untilHoistLeaves(userCommand(['sh', '-c', 'echo done; exit 4'])).line], { stdio: ['pipe', 'pipe', 'inherit'] });
  let endsOut = '';
  ends.stdout.on('data', (d) => (endsOut += d));
  const endsCode = await new Promise<number | string | null>((resolve) => {
    const timer = setTimeout(() => {
      ends.kill('SIGKILL');
      resolve('did not end with its command');
    }, 5000);
    ends.on('exit', (c, s) => {
      clearTimeout(timer);
      resolve(c ?? s);
    });
  });
  ends.stdin.end();
  if (!ends.stdout.readableEnded) await new Promise((r) => ends.stdout.once('end', r));
  assert.is(endsCode, 4);
  assert.is(endsOut, 'done\n');
});

test.run();
