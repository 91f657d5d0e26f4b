// `hoist remove` for real: two apps (app and other: own repos, domains, ports, deploy keys
// registered through the fake GitHub, crontab jobs, a named volume each) released on one host,
// plus the deploy user's own crontab, ssh config and git config lines. The dry run lists every
// thing of app and changes nothing (twice, the same); without a terminal and without --yes it is
// refused (exit 2); --yes takes app off while a client loop through Caddy to other sees no
// failure; a second run finds nothing; other is byte for byte as it was and still answers.
// Last, other goes too without a token (the key to delete by hand is named), which also takes
// hoist's import line out of the Caddyfile: it is then as Caddy installed it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { clientLoop } from '../harness/client-loops.ts';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import { assertNothingChanged, runTwice } from '../harness/run-twice.ts';
import { REPO_ROOT, type CliResult, type TestHost } from '../harness/testbed.ts';

const test = suite('hoist remove, end to end');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const APP_SECRET = `s3cret-${randomBytes(8).toString('hex')}`;
const A = { name: 'app', domain: 'app.hoist.test' };
const B = { name: 'other', domain: 'other.hoist.test' };
// Two apps whose images hoist once named alike: web (service api-x) and web-api (service x) were both hoist-web-api-x.
const W = { name: 'web', domain: 'web.hoist.test', service: 'api-x' };
const WA = { name: 'web-api', domain: 'web-api.hoist.test', service: 'x' };
let git: GitServer;
let host: TestHost;
let envA = '';
let envB = '';
let caddyfileBefore = '';

const appFiles = (app: string, version: string) => ({
  'Dockerfile': `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n`,
  'compose.yaml': 'services:\n  web:\n    build: .\n    volumes:\n      - data:/data\nvolumes:\n  data: {}\n',
  'index.html': `${app} ${version}\n`,
  'deploy/crontab': `*/10 * * * * cd ~/apps/${app}/current && cat index.html >/dev/null\n`,
});

/** The .env of one app: the bed's keys, then the app's own (written under its own name). */
function envFor(name: string, vars: Record<string, string>): string {
  const text = readFileSync(bed.env(vars), 'utf8');
  return tb.file(name, text);
}

const hoist = (env: string, args: string[], vars: Record<string, string> = { GITHUB_TOKEN: TOKEN }) =>
  tb.hoist([...args, '--env-file', env, '--inventory', tb.inventoryPath], vars);

async function mustRun(env: string, pipeline: string): Promise<void> {
  // Twice: the second run must change nothing (harness/run-twice.ts).
  await runTwice(`${pipeline} (${env})`, async () => {
    const r = await hoist(env, ['run', pipeline, '--json', '-']);
    assert.is(r.code, 0, `${pipeline} (${env}): ${r.stdout}\n${r.stderr}`);
    return JSON.parse(r.stdout) as RunReport;
  }, (report) => report);
}

/** `hoist remove … --json -`: the exit code, all output and the report. */
async function remove(env: string, args: string[], vars?: Record<string, string>): Promise<{ r: CliResult; report: RunReport }> {
  const r = await hoist(env, ['remove', ...args, '--json', '-'], vars);
  let report: RunReport;
  try {
    report = JSON.parse(r.stdout) as RunReport;
  } catch {
    throw new Error(`no report (exit ${r.code}): ${r.stderr}`);
  }
  return { r, report };
}

/**
 * `hoist remove` on a terminal (util-linux `script` gives it a pty), `typed` waiting on its
 * input: what the operator types after the dry run. Bounded: killed after 4 minutes.
 */
function removeOnTerminal(env: string, typed: string, json: string): Promise<{ code: number; out: string }> {
  const q = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
  const cmd = [join(REPO_ROOT, 'bin/hoist.mjs'), 'remove', '--env-file', env, '--inventory', tb.inventoryPath, '--json', json].map(q).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: tb.dir, env: { ...process.env, HOIST_RETRY_MIN_MS: '200', GITHUB_TOKEN: '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 4 * 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
    child.stdin.end(`${typed}\n`);
  });
}

const sh = async (script: string, user = 'root') => {
  const r = await host.sh(script, user);
  assert.is(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
};
const throughCaddy = async (domain: string) => (await host.sh(`curl -s --max-time 5 --resolve ${domain}:80:127.0.0.1 http://${domain}/`)).stdout.trim();

/** Everything of one app on the host, as text: equal text, equal app. */
async function snapshot(app: string): Promise<string> {
  const keys = (bed.fake.keys.get(`acme/${app}`) ?? []).map((k) => `${k.id} ${k.key} ${k.title}`).join('\n');
  const onHost = await sh(`set -e
f=/etc/caddy/sites/hoist-${app}.caddy; if [ -f $f ]; then echo "site:"; cat $f; fi
echo "cron:"; crontab -u deploy -l | sed -n '/^# BEGIN hoist:${app} /,/^# END hoist:${app}$/p'
echo "containers:"; for s in blue green; do docker ps -aq --no-trunc --filter label=com.docker.compose.project=${app}-$s; done
echo "images:"; docker images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' | grep -F " hoist/${app}/" | sort || true
echo "volumes:"; docker volume ls -q --filter label=hoist.app=${app}; for s in blue green; do docker volume ls -q --filter label=com.docker.compose.project=${app}-$s; done
echo "networks:"; for s in blue green; do docker network ls -q --no-trunc --filter label=com.docker.compose.project=${app}-$s; done
echo "folder:"; ls -lA --time-style=full-iso /home/deploy/apps/${app} /home/deploy/apps/${app}/releases 2>&1 || true
readlink /home/deploy/apps/${app}/current || true; cat /home/deploy/apps/${app}/active-slot 2>/dev/null || true
echo "key:"; for k in /home/deploy/.ssh/hoist_${app}_deploy /home/deploy/.ssh/hoist_${app}_deploy.pub; do [ -e $k ] && { stat -c '%a %U %Y %n' $k; sha256sum < $k; }; done; true
echo "ssh config:"; sed -n '/^# BEGIN hoist:${app} /,/^# END hoist:${app}$/p' /home/deploy/.ssh/config
echo "git:"; runuser -u deploy -- sh -c 'cd && git config --global --get-regexp "^url\\." | grep -F "@hoist-${app}-repo" || true'`);
  return `${onHost}\ngithub:\n${keys}`;
}

/** The deploy user's own lines, outside every hoist block. */
async function userLines(): Promise<string> {
  const outside = "awk '/^# BEGIN hoist:/{skip=1} !skip{print} /^# END hoist:/{skip=0}'";
  return sh(`crontab -u deploy -l | ${outside}; echo ---; ${outside} /home/deploy/.ssh/config; echo ---; runuser -u deploy -- sh -c 'cd && git config --global --list | grep -v "^url\\."'`);
}

/** Starts a client loop on the host: 20 requests a second to `domain` through Caddy, bounded (3 minutes). */
async function startLoop(domain: string): Promise<void> {
  await sh(`rm -f /tmp/loop.*; ${clientLoop({ domain, log: '/tmp/loop.log', stop: '/tmp/loop.stop', seconds: 180, pause: 0.05 })}`);
}

async function stopLoop(): Promise<Record<string, number>> {
  await sh('touch /tmp/loop.stop; sleep 0.3');
  const counts: Record<string, number> = {};
  for (const l of (await sh('cat /tmp/loop.log')).trim().split('\n')) counts[l] = (counts[l] ?? 0) + 1;
  return counts;
}

const task = (report: RunReport) => report.hosts[0]!.tasks[0]!;

test.before(async () => {
  // Debian 12 without systemd, compose v1: CI budget (#19: an sshd host starts in 4-9 s, a systemd one in 10-40 s).
  ({ git, host } = await bed.start({ domain: A.domain, moreDomains: [B.domain, W.domain, WA.domain], token: TOKEN, repos: [A.name, B.name, W.name, WA.name], host: 'debian12-no-systemd' }));
  await Promise.all([git.commit(A.name, appFiles(A.name, 'v1'), 'v1'), git.commit(B.name, appFiles(B.name, 'v1'), 'v1')]);
  envA = envFor('a.env', { APP_NAME: A.name, APP_REPO: git.repoUrl(A.name), APP_DOMAIN: A.domain, APP_CRONTAB: 'deploy/crontab', HEALTH_TIMEOUT: '30', APP_ENV_FILE: tb.file('app.env', `SECRET=${APP_SECRET}\n`) });
  envB = envFor('b.env', { APP_NAME: B.name, APP_REPO: git.repoUrl(B.name), APP_DOMAIN: B.domain, APP_CRONTAB: 'deploy/crontab', HEALTH_TIMEOUT: '30', BLUE_PORT: '18011', GREEN_PORT: '18012' });
  caddyfileBefore = await sh('cat /etc/caddy/Caddyfile');
  await mustRun(envA, 'bootstrap');
  await loadAppBase(host.container);
  await mustRun(envB, 'bootstrap');
  // The deploy user's own lines, which no removal may touch.
  await sh(`(crontab -l 2>/dev/null; echo '# my own job'; echo '0 3 * * * true # mine') | crontab - && printf 'Host mine\\n  HostName example.com\\n' >>~/.ssh/config && git config --global user.name 'Deploy Person'`, 'deploy');
  await mustRun(envA, 'release');
  await mustRun(envB, 'release');
});
test.after(async () => {
  await bed.stop();
});

let before = { a: '', b: '', user: '', crontab: '' };

test('both apps answer through Caddy, each with its key, block, containers, volume and release', async () => {
  assert.is(await throughCaddy(A.domain), 'app v1');
  assert.is(await throughCaddy(B.domain), 'other v1');
  before = { a: await snapshot(A.name), b: await snapshot(B.name), user: await userLines(), crontab: await sh('crontab -u deploy -l') };
  for (const s of [before.a, before.b]) {
    assert.match(s, /images:\nsha256:\S+ hoist\/\w+\/web:\d{14}-[0-9a-f]{12}\n/);
    assert.match(s, /volumes:\nhoist\.\w+\.data\n/, 'one volume per app, not per slot');
    assert.match(s, /ssh config:\n# BEGIN hoist:/);
  }
  assert.is(bed.fake.keys.get('acme/app')!.length, 1);
  assert.is(bed.fake.keys.get('acme/other')!.length, 1);
  // deploy-key recorded what GitHub registered, beside the key, the deploy user's.
  const key = bed.fake.keys.get('acme/app')![0]!;
  assert.is(await sh('stat -c "%a %U" /home/deploy/.ssh/hoist_app_deploy.github'), '600 deploy\n');
  assert.match(await sh('cat /home/deploy/.ssh/hoist_app_deploy.github'), new RegExp(`\nid=${key.id}\ntitle=hoist web1\nrepo=acme/app\nkey=${key.key.split(' ').slice(0, 2).join(' ').replace(/[+/]/g, '\\$&')}\n$`));
  assert.match(before.user, /# my own job\n0 3 \* \* \* true # mine\n---\n[\s\S]*Host mine\n {2}HostName example.com\n---\n[\s\S]*user.name=Deploy Person/);
});

let listed: string[] = [];

test('--dry-run lists everything of app, twice the same, and changes nothing', async () => {
  const seen = bed.fake.requests.length;
  const runs = [await remove(envA, ['--dry-run']), await remove(envA, ['--dry-run'])];
  for (const { r, report } of runs) {
    assert.is(r.code, 0, r.stderr);
    assert.is(task(report).status, 'changed');
    assert.match(r.stderr, /Plan for pipeline "remove" \(dry run: nothing was changed\)/);
  }
  listed = task(runs[0]!.report).steps;
  assert.equal(task(runs[1]!.report).steps, listed, 'both dry runs list the same');
  const key = bed.fake.keys.get('acme/app')![0]!;
  const text = listed.join('\n');
  console.log(`    the dry run lists:\n${listed.map((s) => `      - ${s}`).join('\n')}`);
  assert.match(listed[0]!, new RegExp(`^revoke deploy key ${key.id} "hoist web1" of acme/app through GitHub's API: it is this host's deploy key SHA256:\\S+ \\("hoist deploy key for app on web1"\\)$`));
  assert.match(listed[1]!, /^remove the Caddy site \/etc\/caddy\/sites\/hoist-app\.caddy \(http:\/\/app\.hoist\.test\) \(the import line stays: 1 other site file\(s\) use it\), then caddy validate and caddy reload/);
  assert.match(listed[2]!, /^remove the hoist:app block \(1 job\(s\)\) from the crontab of deploy; every other line stays as it is$/);
  assert.match(listed[3]!, /^remove 1 container\(s\) of compose projects app-blue, app-green, app-state: app-blue_web_1 \(running, release \d{14}-[0-9a-f]{12}\)$/);
  assert.match(listed[4]!, /^remove 1 network\(s\) of app: app-blue_default$/);
  assert.match(listed[5]!, /^remove 1 image\(s\) of app: hoist\/app\/web:\d{14}-[0-9a-f]{12} \(\S+\); Docker's build cache is shared/);
  assert.match(listed[6]!, /^delete ~\/apps\/app of deploy: 1 release\(s\) \(\d{14}-[0-9a-f]{12}\), shared\/\.env \(the app's settings\), the git cache repo\.git and the slot state$/);
  assert.is(listed[7], 'delete the deploy key ~/.ssh/hoist_app_deploy and ~/.ssh/hoist_app_deploy.pub and ~/.ssh/hoist_app_deploy.github of deploy');
  assert.is(listed[8], 'remove the hoist:app block (Host hoist-app-repo) from ~/.ssh/config of deploy; every other line stays as it is');
  // The app's data is kept unless --delete-data: named, with the way to delete it.
  assert.match(listed[9]!, /^remove git's URL rewrite to hoist-app-repo from ~\/\.gitconfig of deploy: \[url "git@hoist-app-repo:acme\/app\.git"\]; keeps 1 volume\(s\) of app with its data: hoist\.app\.data \(hoist remove --delete-data deletes them\)$/);
  assert.is(listed.length, 10);
  assert.not.match(text, /other[-_.]|\/other|hoist:other/, 'nothing of the other app is listed');
  assert.not.ok(runs.some(({ r }) => r.stdout.includes(APP_SECRET) || r.stderr.includes(APP_SECRET)), 'the app secret is never shown');
  assert.ok(bed.fake.requests.slice(seen).every((q) => q.method === 'GET'), 'the dry runs only list keys at GitHub');
  assert.is(await snapshot(A.name), before.a, 'app is as it was');
  assert.is(await snapshot(B.name), before.b);
  assert.is(await throughCaddy(A.domain), 'app v1');
});

test('without --yes and without a terminal: exit 2 with the fix, nothing contacted', async () => {
  const seen = bed.fake.requests.length;
  const r = await hoist(envA, ['remove']);
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /no terminal to confirm on\. Fix: look first \(hoist run remove --dry-run\), then add --yes/);
  assert.is(bed.fake.requests.length, seen);
  assert.is(await snapshot(A.name), before.a);
});

test('--yes takes app off the host while other answers every request through Caddy', async () => {
  await startLoop(B.domain);
  await new Promise((r) => setTimeout(r, 1000));
  const { r, report } = await remove(envA, ['--yes']);
  await new Promise((r) => setTimeout(r, 1000));
  const counts = await stopLoop();
  console.log(`    client loop to other during the removal: ${JSON.stringify(counts)}`);
  assert.is(r.code, 0, r.stderr);
  assert.is(task(report).status, 'changed');
  assert.equal(task(report).steps.slice(1), listed.slice(1), 'it did what the dry run listed');
  assert.equal(Object.keys(counts), ['other v1 200'], `every request answered: ${JSON.stringify(counts)}`);
  assert.ok(counts['other v1 200']! > 20, 'the loop ran');
  assert.match(report.hosts[0]!.release.before ?? '', /\d{14}-[0-9a-f]{12}/);
  assert.is(report.hosts[0]!.release.after, null, 'no current release of app after');

  const gone = await sh(`set +e
test -e /etc/caddy/sites/hoist-app.caddy && echo site
crontab -u deploy -l | grep -q 'hoist:app' && echo cron
for s in blue green; do [ -n "$(docker ps -aq --filter label=com.docker.compose.project=app-$s)" ] && echo "containers $s"; [ -n "$(docker volume ls -q --filter label=com.docker.compose.project=app-$s)" ] && echo "volumes $s"; [ -n "$(docker network ls -q --filter label=com.docker.compose.project=app-$s)" ] && echo "networks $s"; done
docker images --format '{{.Repository}}' | grep -q '^hoist/app/' && echo images
test -e /home/deploy/apps/app && echo folder
ls /home/deploy/.ssh | grep -q hoist_app_deploy && echo key
grep -q 'hoist:app\\|hoist-app-repo' /home/deploy/.ssh/config && echo ssh-config
runuser -u deploy -- sh -c 'cd && git config --global --get-regexp "^url\\." | grep -q hoist-app-repo' && echo git
true`);
  assert.is(gone, '', `left of app: ${gone}`);
  assert.is(await sh('docker volume ls -q --filter label=hoist.app=app'), 'hoist.app.data\n', 'the app\'s data is kept');
  assert.is(bed.fake.keys.get('acme/app')!.length, 0, 'the key was revoked at GitHub');
  assert.is(bed.fake.calls('repos/delete-deploy-key').length, 1);
  assert.equal(bed.fake.violations, [], 'every request as GitHub documents it');
  assert.match(await sh('cat /etc/caddy/Caddyfile'), /^import \/etc\/caddy\/sites\/\*\.caddy$/m, 'the import stays: other uses it');
  assert.ok((await sh('docker images --format "{{.Repository}}"')).includes('hoist-test-base'), 'a base image is not the app\'s');
  assert.not.equal(await throughCaddy(A.domain), 'app v1', 'app is not served any more');
});

test('a second remove --yes changes nothing: app is not on this host', async () => {
  const seen = bed.fake.requests.length;
  const { r, report } = await remove(envA, ['--yes']);
  assert.is(r.code, 0, r.stderr);
  assert.is(task(report).status, 'unchanged');
  assert.is(task(report).reason, 'app is not on this host; keeps 1 volume(s) of app with its data: hoist.app.data (hoist remove --delete-data deletes them)');
  assertNothingChanged(report, 'remove --yes, run again');
  assert.ok(bed.fake.requests.slice(seen).every((q) => q.method === 'GET'));
});

test('remove --delete-data deletes the kept volume, and only it; again, nothing', async () => {
  const { r, report } = await remove(envA, ['--yes', '--delete-data']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(task(report).steps, ['remove 1 volume(s) of app, and the data in them (--delete-data): hoist.app.data']);
  assert.is(await sh('docker volume ls -q --filter label=hoist.app=app'), '');
  assert.match(await sh('docker volume ls -q --filter label=hoist.app=other'), /^hoist\.other\.data$/m, 'the other app\'s data is not touched');
  const again = await remove(envA, ['--yes', '--delete-data']);
  assert.is(again.r.code, 0, again.r.stderr);
  assert.is(task(again.report).reason, 'app is not on this host');
  assertNothingChanged(again.report, 'remove --delete-data, run again');
});

test('other is byte for byte as it was and answers; the user\'s own lines are untouched', async () => {
  assert.is(await snapshot(B.name), before.b);
  assert.is(await userLines(), before.user);
  const withoutA = before.crontab.replace(/# BEGIN hoist:app [^\n]*\n[\s\S]*?# END hoist:app\n/, '');
  assert.is(await sh('crontab -u deploy -l'), withoutA, 'the crontab lost app\'s block only');
  assert.is(await throughCaddy(B.domain), 'other v1');
});

test('on a terminal: the dry run, then the app\'s name asked; another word cancels, nothing changed', async () => {
  const json = join(tb.dir, 'tty-cancel.json');
  const r = await removeOnTerminal(envB, 'app', json);
  assert.is(r.code, 1, r.out);
  assert.match(r.out, /Plan for pipeline "remove" \(dry run: nothing was changed\)/);
  assert.match(r.out, /Type other to go on \(anything else cancels\)/);
  assert.match(r.out, /hoist: cancelled \("app" is not other\): nothing was changed/);
  assert.is(await snapshot(B.name), before.b);
  assert.is(await throughCaddy(B.domain), 'other v1');
});

test('other goes too, typed on a terminal, without a token: the key to delete is named; the Caddyfile is as Caddy installed it', async () => {
  const pub = (await sh('cat /home/deploy/.ssh/hoist_other_deploy.pub')).trim();
  const seen = bed.fake.requests.length;
  const json = join(tb.dir, 'tty-remove.json');
  const r = await removeOnTerminal(envB, 'other', json);
  assert.is(r.code, 0, r.out);
  const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
  assert.not.ok(report.dryRun);
  assert.is(task(report).status, 'changed');
  assert.match(task(report).steps[0]!, /^GITHUB_TOKEN is not set \(or acme\/other is not on GitHub\): delete the deploy key SHA256:\S+ \("hoist deploy key for other on web1"\) from the deploy keys of acme\/other yourself at (\S+)$/);
  assert.is(task(report).steps[0]!.split(' at ').pop(), `${bed.fake.url}/acme/other/settings/keys`);
  assert.match(task(report).steps[1]!, /and "import \/etc\/caddy\/sites\/\*\.caddy" from \/etc\/caddy\/Caddyfile \(no other site uses it; its other lines kept\)/);
  assert.ok(r.out.includes('delete the deploy key SHA256:'), 'the key to delete is shown');
  assert.is(bed.fake.requests.length, seen, 'no API call without a token');
  assert.is(bed.fake.keys.get('acme/other')!.length, 1, 'the key stays at GitHub for the operator to delete');
  assert.ok(pub.startsWith(bed.fake.keys.get('acme/other')![0]!.key));
  assert.is(await sh('cat /etc/caddy/Caddyfile'), caddyfileBefore);
  assert.not.ok((await sh('ls -A /home/deploy')).split('\n').includes('apps'), '~/apps went with the last app');
  assert.is(await userLines(), before.user);
  assert.is(await sh("docker ps -aq --filter label=com.docker.compose.project=other-blue; docker images -q 'hoist/other/*'"), '');
  const again = await remove(envB, ['--yes'], { GITHUB_TOKEN: '' });
  assert.is(again.r.code, 0, again.r.stderr);
  assert.match(task(again.report).reason!, /^other is not on this host; keeps 1 volume\(s\) of other with its data: hoist\.other\.data /);
  assertNothingChanged(again.report, 'remove of other, run again');
});

// ---- web (service api-x) and web-api (service x): one name under hoist's old naming ----

const collideFiles = (app: { name: string; service: string }, version: string) => ({
  'Dockerfile': `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n`,
  'compose.yaml': `services:\n  ${app.service}:\n    build: .\n`,
  'index.html': `${app.name} ${version}\n`,
});
let envW = '';
let envWA = '';
const envOf = (app: typeof W) => (app === W ? envW : envWA);

/** A pipeline with its report: exit code, tasks' statuses and steps. */
async function runReport(env: string, args: string[]): Promise<{ r: CliResult; report: RunReport }> {
  const r = await hoist(env, [...args, '--json', '-']);
  try {
    return { r, report: JSON.parse(r.stdout) as RunReport };
  } catch {
    throw new Error(`no report (exit ${r.code}): ${r.stderr}`);
  }
}
const taskNamed = (report: RunReport, name: string) => report.hosts[0]!.tasks.find((t) => t.task === name)!;
const unchanged = (report: RunReport) => report.hosts[0]!.tasks.every((t) => t.status === 'unchanged');
/** hoist's images on the host, `ID REPO:TAG` sorted. */
const hoistImages = async () => (await sh("docker images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' | grep -E ' hoist[/-]' | grep -v hoist-test-base | sort")).trim().split('\n').filter(Boolean);
const releasesOf = async (app: string) => (await sh(`ls -1 /home/deploy/apps/${app}/releases`)).trim().split('\n');

test('web (service api-x) and web-api (service x) on one host, two releases each: images named hoist/APP/SERVICE', async () => {
  envW = envFor('web.env', { APP_NAME: W.name, APP_REPO: git.repoUrl(W.name), APP_DOMAIN: W.domain, APP_SERVICE: W.service, HEALTH_TIMEOUT: '30' });
  envWA = envFor('web-api.env', { APP_NAME: WA.name, APP_REPO: git.repoUrl(WA.name), APP_DOMAIN: WA.domain, APP_SERVICE: WA.service, HEALTH_TIMEOUT: '30' });
  for (const app of [W, WA]) {
    await git.commit(app.name, collideFiles(app, 'v1'), 'v1');
    await mustRun(envOf(app), 'bootstrap');
    await mustRun(envOf(app), 'release');
    await git.commit(app.name, collideFiles(app, 'v2'), 'v2');
    await mustRun(envOf(app), 'release');
    assert.is(await throughCaddy(app.domain), `${app.name} v2`);
  }
  const names = (await hoistImages()).map((l) => l.split(' ')[1]!.replace(/:\d{14}-[0-9a-f]{12}$/, ':R')).sort();
  assert.equal(names, ['hoist/web-api/x:R', 'hoist/web-api/x:R', 'hoist/web/api-x:R', 'hoist/web/api-x:R']);
});

test('a host released by an older hoist (both apps\' images named hoist-web-api-x): a release re-tags only the app\'s own, no build; again, nothing', async () => {
  // What an older hoist left: every hoist/APP/SERVICE:R as hoist-APP-SERVICE:R, and the slot overrides naming those.
  await sh(`set -e
for ref in $(docker images --format '{{.Repository}}:{{.Tag}}' | grep '^hoist/'); do
  repo=\${ref%%:*}; tag=\${ref#*:}; app=$(echo "$repo" | cut -d/ -f2); svc=$(echo "$repo" | cut -d/ -f3)
  docker tag "$ref" "hoist-$app-$svc:$tag"; docker rmi "$ref" >/dev/null
done
sed -i 's|^    image: "hoist/\\([^/]*\\)/\\([^:]*\\):|    image: "hoist-\\1-\\2:|' /home/deploy/apps/web/slots/*.yaml /home/deploy/apps/web-api/slots/*.yaml`);
  const old = await hoistImages();
  assert.equal(old.map((l) => l.split(' ')[1]!.replace(/:.*/, '')), ['hoist-web-api-x', 'hoist-web-api-x', 'hoist-web-api-x', 'hoist-web-api-x'], old.join('\n'));
  const idOf = (lines: string[], tag: string) => lines.find((l) => l.endsWith(`:${tag}`))!.split(' ')[0];
  const [w1, w2] = (await releasesOf(W.name)) as [string, string];
  const [a1, a2] = (await releasesOf(WA.name)) as [string, string];

  // hoist status shows each app's images under the old name as its own.
  const st = await hoist(envW, ['status', '--json', '-']);
  assert.is(st.code, 0, st.stderr);
  const apps = (JSON.parse(st.stdout) as { hosts: { apps: { name: string; disk: { images: { ref: string; live: boolean }[] } }[] }[] }).hosts[0]!.apps;
  const shown = (name: string) => apps.find((a) => a.name === name)!.disk.images.map((i) => `${i.ref}${i.live ? ' live' : ''}`).sort();
  assert.equal(shown('web'), [`hoist-web-api-x:${w1}`, `hoist-web-api-x:${w2} live`]);
  assert.equal(shown('web-api'), [`hoist-web-api-x:${a1}`, `hoist-web-api-x:${a2} live`]);

  const { r, report } = await runReport(envW, ['run', 'release']);
  assert.is(r.code, 0, r.stderr);
  const up = taskNamed(report, 'docker-up');
  assert.is(up.status, 'changed');
  assert.match(up.steps.join('\n'), /^re-tag 2 image\(s\) of web from the old name hoist-web-api-x to hoist\/web\/api-x, then release \S+ is live on the \w+ slot/);
  assert.equal(report.hosts[0]!.tasks.filter((t) => t.status === 'changed').map((t) => t.task), ['docker-up']);
  const after = await hoistImages();
  assert.equal(after.map((l) => l.split(' ')[1]).sort(), [`hoist-web-api-x:${a1}`, `hoist-web-api-x:${a2}`, `hoist/web/api-x:${w1}`, `hoist/web/api-x:${w2}`].sort(), 'web\'s re-tagged, web-api\'s as they were');
  assert.is(idOf(after, w1), idOf(old, w1), 'the same image, re-tagged: no build');
  assert.is(idOf(after, w2), idOf(old, w2));
  assert.match(await sh('cat /home/deploy/apps/web/slots/*.yaml'), /image: "hoist\/web\/api-x:/);
  assert.not.match(await sh('cat /home/deploy/apps/web/slots/*.yaml'), /hoist-web-api-x/);
  assert.is(await throughCaddy(W.domain), 'web v2');
  assert.is(await throughCaddy(WA.domain), 'web-api v2');
  const again = await runReport(envW, ['run', 'release']);
  assert.is(again.r.code, 0, again.r.stderr);
  assert.ok(unchanged(again.report), JSON.stringify(again.report.hosts[0]!.tasks.map((t) => [t.task, t.status])));

  // web-api, still under the old name, rolls back to its v1 from the image on the host: re-tagged, not built.
  const back = await runReport(envWA, ['run', 'rollback']);
  assert.is(back.r.code, 0, back.r.stderr);
  assert.match(taskNamed(back.report, 'docker-up').steps.join('\n'), new RegExp(`^re-tag 2 image\\(s\\) of web-api from the old name hoist-web-api-x to hoist/web-api/x, then start \\(image already built\\) ${a1} on the`));
  assert.is(await throughCaddy(WA.domain), 'web-api v1');
  const now = await hoistImages();
  assert.equal(now.map((l) => l.split(' ')[1]).sort(), [`hoist/web-api/x:${a1}`, `hoist/web-api/x:${a2}`, `hoist/web/api-x:${w1}`, `hoist/web/api-x:${w2}`].sort());
  assert.is(idOf(now, a1), idOf(old, a1), 'the rollback built nothing');
  const backAgain = await runReport(envWA, ['run', 'rollback', '--to', a1!]);
  assert.is(backAgain.r.code, 0, backAgain.r.stderr);
  assert.ok(unchanged(backAgain.report), JSON.stringify(backAgain.report.hosts[0]!.tasks.map((t) => [t.task, t.status])));
});

test('remove web: web-api still serves, and its images and its rollback stay; a second remove changes nothing', async () => {
  const [a1, a2] = (await releasesOf(WA.name)) as [string, string];
  const before = await hoistImages();
  const { r, report } = await remove(envW, ['--yes']);
  assert.is(r.code, 0, r.stderr);
  assert.match(task(report).steps.join('\n'), /remove 2 image\(s\) of web: hoist\/web\/api-x:\S+ \(\S+\), hoist\/web\/api-x:\S+ \(\S+\);/);
  assert.equal(await hoistImages(), before.filter((l) => !l.includes(' hoist/web/')), 'web-api\'s images, and only those, are left');
  assert.ok(before.filter((l) => l.includes(' hoist/web-api/x:')).length === 2, before.join('\n'));
  assert.is(await throughCaddy(WA.domain), 'web-api v1');
  assert.equal(bed.fake.keys.get('acme/web'), [], 'web\'s key revoked');
  assert.is(bed.fake.keys.get('acme/web-api')!.length, 1, 'web-api\'s key stays');
  const again = await remove(envW, ['--yes']);
  assert.is(again.r.code, 0, again.r.stderr);
  assert.is(task(again.report).reason, 'web is not on this host');
  // web-api's rollback still needs no build: forward to its v2 again.
  const fwd = await runReport(envWA, ['run', 'rollback', '--to', a2!]);
  assert.is(fwd.r.code, 0, fwd.r.stderr);
  assert.match(taskNamed(fwd.report, 'docker-up').steps.join('\n'), new RegExp(`^start \\(image already built\\) ${a2} on the`));
  assert.is(await throughCaddy(WA.domain), 'web-api v2');
  assert.ok((await releasesOf(WA.name)).includes(a1!));
  assert.equal(bed.fake.violations, []);
});

test.run();
