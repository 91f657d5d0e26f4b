// Issue #10: one VPS, several apps. Three apps from three repos, each with nothing but its own
// APP_NAME, APP_DOMAIN and APP_REPO (and its own APP_ENV_FILE), bootstrapped and released onto
// one fresh VPS with default ports: hoist picks a pair per app on the host, records it, keeps it.
// Each answers its own version through Caddy; a v2 of one under a client loop against all three
// fails no request. The app's settings are in its container's environment without any edit to
// its compose file (compose's ${VAR} substitution still works); a changed value of the same
// commit is a blue/green restart. A failed release of one app and a rollback of another leave
// the other apps' files byte for byte. A port held by something else, or set to another app's,
// is refused before anything starts, naming who holds it.
import { randomBytes } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadAppBase, NEVER_ANSWERS } from '../harness/images.ts';
import { startSampler } from '../harness/secret-watch.ts';
import { underLoad as clientLoops } from '../harness/client-loops.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import type { PipelineRun, TestHost } from '../harness/testbed.ts';

const test = suite('one VPS, three apps');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const APPS = ['alpha', 'beta', 'gamma'] as const;
type App = (typeof APPS)[number];
const domain = (app: App) => `${app}.hoist.test`;
/** A secret-like value per app: it must reach the app's container and no output of hoist. */
const SECRET = Object.fromEntries(APPS.map((a) => [a, `postgres://u:${randomBytes(9).toString('hex')}@db/${a}`])) as Record<App, string>;
let host: TestHost;
const outputs: string[] = [];
/** The commit of each app's v1. */
const v1 = {} as Record<App, string>;

/** The app writes its environment where it serves it: /env.txt (and its version at /). */
const appFiles = (app: App, version: string, healthy = true) => ({
  Dockerfile: `FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ${healthy ? `["sh", "-c", "export -p > /www/env.txt; exec httpd -f -p 8000 -h /www"]` : `["sh", "-c", "${NEVER_ANSWERS}"]`}\n`,
  // No env_file here: hoist hands the app its .env. SUBST proves compose's own ${VAR} substitution.
  'compose.yaml': 'services:\n  web:\n    build: .\n    environment:\n      SUBST: "from-${GREETING}"\n',
  'index.html': `${app} ${version}\n`,
});

function envText(app: App, greeting: string): string {
  return `DATABASE_URL=${SECRET[app]}\nGREETING=${greeting}\n`;
}

/** Each app's own settings file: the bed's, with its name, domain, repo and .env. */
function settings(app: App, extra: Record<string, string> = {}): string {
  bed.env({
    APP_NAME: app,
    APP_DOMAIN: domain(app),
    APP_REPO: bed.git.repoUrl(app),
    HEALTH_TIMEOUT: '20',
    ...extra,
    APP_ENV_FILE: extra.APP_ENV_FILE ?? tb.file(`${app}.app.env`, envText(app, `hello-${app}`)),
  });
  const path = join(tb.dir, `${app}.env`);
  copyFileSync(tb.envPath, path);
  return path;
}

async function run(app: App, pipeline: string, extra: Record<string, string> = {}, args: string[] = []): Promise<PipelineRun> {
  const r = await tb.runPipeline(pipeline, { envFile: settings(app, extra), args, env: { GITHUB_TOKEN: TOKEN } });
  outputs.push(r.out);
  return r;
}

const statuses = (r: PipelineRun) => r.report.hosts[0]!.tasks.map((t) => t.status);
const taskOf = (r: PipelineRun, name: string) => r.report.hosts[0]!.tasks.find((t) => t.task === name)!;
const get = async (app: App, path = '/') => (await host.sh(`curl -s --max-time 5 --resolve ${domain(app)}:80:127.0.0.1 http://${domain(app)}${path}`)).stdout.trim();

async function assertUnchanged(app: App, pipeline = 'release', extra: Record<string, string> = {}, args: string[] = []): Promise<void> {
  const again = await run(app, pipeline, extra, args);
  assert.is(again.code, 0, again.out);
  assert.ok(statuses(again).every((s) => s === 'unchanged'), `${app} ${pipeline} again: ${JSON.stringify(statuses(again))}`);
}

/** Everything of `app` on the host that another app's runs must leave byte for byte. */
async function snapshot(app: App): Promise<string> {
  const r = await host.sh(`cd /home/deploy && {
sha256sum /etc/caddy/sites/hoist-${app}.caddy
crontab -l -u deploy 2>/dev/null | sed -n '/^# BEGIN hoist:${app} /,/^# END hoist:${app}$/p' | sha256sum
docker ps -a --filter label=com.docker.compose.project=${app}-blue --filter label=com.docker.compose.project=${app}-green --format '{{.ID}} {{.Names}} {{.Status}}' | sed 's/Up [^(]*//' | sort
docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' 'hoist/${app}/*' | sort
ls -1 apps/${app}/releases
readlink apps/${app}/current; cat apps/${app}/active-slot apps/${app}/ports
sha256sum apps/${app}/shared/.env .ssh/hoist_${app}_deploy .ssh/hoist_${app}_deploy.pub
sed -n '/hoist-${app}-repo/,/^$/p' .ssh/config | sha256sum
}`);
  assert.is(r.code, 0, r.stderr);
  return r.stdout;
}

/** Runs `during` while a client asks each app 10 times a second; the answers by app. */
const underLoad = (during: () => Promise<void>) => clientLoops(host, Object.fromEntries(APPS.map((a) => [a, domain(a)])) as Record<App, string>, during);

test.before(async () => {
  ({ host } = await bed.start({ domain: domain('alpha'), moreDomains: [domain('beta'), domain('gamma')], token: TOKEN, repos: [...APPS] }));
  for (const a of APPS) v1[a] = await bed.git.commit(a, appFiles(a, 'v1'), 'v1');
});
test.after(async () => {
  await bed.stop();
});

test('three apps bootstrapped and released onto one VPS with default ports: each answers its own version; each run again changes nothing', async () => {
  for (const a of APPS) {
    const boot = await run(a, 'bootstrap');
    assert.is(boot.code, 0, boot.out);
    assert.is(taskOf(boot, 'deploy-key').status, 'changed', `${a} gets its own deploy key`);
    if (a === 'alpha') await loadAppBase(host.container);
  }
  for (const a of APPS) {
    const r = await run(a, 'release');
    assert.is(r.code, 0, r.out);
    assert.match(taskOf(r, 'docker-up').steps[0] ?? '', /^record ports blue \d+ \/ green \d+, then build and start/);
  }
  const ports = Object.fromEntries(await Promise.all(APPS.map(async (a) => [a, (await host.sh(`cat /home/deploy/apps/${a}/ports`)).stdout] as const)));
  assert.equal(ports, { alpha: 'blue 18001\ngreen 18002\n', beta: 'blue 18003\ngreen 18004\n', gamma: 'blue 18005\ngreen 18006\n' });
  for (const a of APPS) assert.is(await get(a), `${a} v1`);
  for (const a of APPS) await assertUnchanged(a);
  for (const a of APPS) await assertUnchanged(a, 'bootstrap');
});

test('the app\'s settings are in its container, compose substitution still works, the .env is 600, the value is in no output', async () => {
  for (const a of APPS) {
    const env = await get(a, '/env.txt');
    assert.ok(env.includes(`DATABASE_URL='${SECRET[a]}'`), `${a}: DATABASE_URL in the container:\n${env}`);
    assert.match(env, new RegExp(`GREETING='hello-${a}'`));
    assert.match(env, new RegExp(`SUBST='from-hello-${a}'`), 'compose ${VAR} substitution');
    for (const other of APPS) if (other !== a) assert.not.ok(env.includes(SECRET[other]), `${a} does not see ${other}'s settings`);
    assert.is((await host.sh(`stat -c '%a %U' /home/deploy/apps/${a}/shared/.env`)).stdout.trim(), '600 deploy');
  }
  for (const text of outputs) for (const a of APPS) assert.not.ok(text.includes(SECRET[a]), `${a}'s secret in hoist's output`);
});

test('a changed value, same commit: a blue/green restart with the new value; the others untouched; then unchanged', async () => {
  const others = { beta: await snapshot('beta'), gamma: await snapshot('gamma') };
  const slot = (await host.sh('cat /home/deploy/apps/alpha/active-slot')).stdout.trim();
  // Every process command line on the host while the new value goes live: the value is on none.
  const sampler = await startSampler(host, 6 * 60_000);
  const counts = await underLoad(async () => {
    const r = await run('alpha', 'release', { APP_ENV_FILE: tb.file('alpha.app.env', envText('alpha', 'changed-alpha')) });
    assert.is(r.code, 0, r.out);
    assert.is(taskOf(r, 'git-sync').status, 'changed', 'the .env is written');
    assert.is(taskOf(r, 'docker-up').status, 'changed');
    assert.match(taskOf(r, 'docker-up').steps[0] ?? '', /\(its \.env changed\)/);
    assert.not.ok(r.out.includes(SECRET.alpha));
  });
  const seen = await sampler.stop();
  assert.ok(seen.samples > 20, `the sampler ran (${seen.samples} samples)`);
  assert.ok(seen.lines.some((l) => /docker[- ]compose /.test(l)), 'it saw the release run compose (v1 docker-compose, v2 docker compose)');
  for (const a of APPS) assert.not.ok(seen.lines.some((l) => l.includes(SECRET[a])), `${a}'s secret on a remote command line`);
  for (const a of APPS) assert.ok(Object.keys(counts[a]).every((k) => k === `${a} v1 200`), `${a}: ${JSON.stringify(counts[a])}`);
  assert.match(await get('alpha', '/env.txt'), /GREETING='changed-alpha'/);
  assert.match(await get('alpha', '/env.txt'), /SUBST='from-changed-alpha'/);
  assert.ok((await host.sh('cat /home/deploy/apps/alpha/active-slot')).stdout.trim() !== slot, 'it moved to the other slot');
  const again = await run('alpha', 'release', { APP_ENV_FILE: tb.file('alpha.app.env', envText('alpha', 'changed-alpha')) });
  assert.ok(statuses(again).every((s) => s === 'unchanged'), JSON.stringify(statuses(again)));
  assert.is(await snapshot('beta'), others.beta);
  assert.is(await snapshot('gamma'), others.gamma);
});

test('v2 of beta under a client loop against all three: no failed request; the other two byte for byte as before', async () => {
  await bed.git.commit('beta', appFiles('beta', 'v2'), 'v2');
  const before = { alpha: await snapshot('alpha'), gamma: await snapshot('gamma') };
  const counts = await underLoad(async () => {
    const r = await run('beta', 'release');
    assert.is(r.code, 0, r.out);
  });
  console.log(`    client loops during beta's v2: ${JSON.stringify(counts)}`);
  assert.ok(Object.keys(counts.alpha).every((k) => k === 'alpha v1 200') && (counts.alpha['alpha v1 200'] ?? 0) > 10, JSON.stringify(counts.alpha));
  assert.ok(Object.keys(counts.gamma).every((k) => k === 'gamma v1 200') && (counts.gamma['gamma v1 200'] ?? 0) > 10, JSON.stringify(counts.gamma));
  assert.ok(Object.keys(counts.beta).every((k) => k === 'beta v1 200' || k === 'beta v2 200'), JSON.stringify(counts.beta));
  assert.is(await get('beta'), 'beta v2');
  assert.is((await host.sh('cat /home/deploy/apps/beta/ports')).stdout, 'blue 18003\ngreen 18004\n', 'the same ports after a release');
  await assertUnchanged('beta');
  assert.is(await snapshot('alpha'), before.alpha);
  assert.is(await snapshot('gamma'), before.gamma);
});

test('a failed release of gamma and a rollback of beta leave the other apps byte for byte; both twice', async () => {
  await bed.git.commit('gamma', appFiles('gamma', 'v2', false), 'v2 (never healthy)');
  let before = { alpha: await snapshot('alpha'), beta: await snapshot('beta') };
  for (let attempt = 1; attempt <= 2; attempt++) {
    const counts = await underLoad(async () => {
      const r = await run('gamma', 'release', { HEALTH_TIMEOUT: '8' });
      assert.is(r.code, 1, r.out);
      assert.match(r.report.hosts[0]!.error ?? '', /did not turn healthy/);
    });
    for (const a of APPS) assert.ok(Object.keys(counts[a]).every((k) => k.endsWith(' 200')), `${a} during gamma's failed release: ${JSON.stringify(counts[a])}`);
    assert.is(await get('gamma'), 'gamma v1');
    assert.is(await snapshot('alpha'), before.alpha);
    assert.is(await snapshot('beta'), before.beta);
  }
  before = { alpha: await snapshot('alpha'), beta: '' };
  const gammaNow = await snapshot('gamma');
  const rollback = await run('beta', 'rollback');
  assert.is(rollback.code, 0, rollback.out);
  assert.is(await get('beta'), 'beta v1');
  assert.is((await host.sh('cat /home/deploy/apps/beta/ports')).stdout, 'blue 18003\ngreen 18004\n', 'the same ports after a rollback');
  // Again, to the same release (a plain rollback would go one further back).
  const live = (await host.sh('readlink /home/deploy/apps/beta/current')).stdout.trim().replace(/^releases\//, '');
  await assertUnchanged('beta', 'rollback', {}, ['--to', live]);
  assert.is(await snapshot('alpha'), before.alpha);
  assert.is(await snapshot('gamma'), gammaNow);
});

test('a port held by something else, or set to another app\'s, is refused before anything starts, naming who holds it; twice', async () => {
  const before = { alpha: await snapshot('alpha'), beta: await snapshot('beta'), gamma: await snapshot('gamma') };
  // Someone runs a service of their own on the port of the slot gamma's next release would use.
  const idle = (await host.sh('cat /home/deploy/apps/gamma/active-slot')).stdout.trim() === 'blue' ? 'green' : 'blue';
  const port = idle === 'blue' ? 19001 : 19002;
  await host.sh(`(busybox httpd -f -p 127.0.0.1:${port} -h /tmp >/dev/null 2>&1 &) ; i=0; until curl -s -o /dev/null http://127.0.0.1:${port}/ || [ $i -gt 50 ]; do i=$((i+1)); sleep 0.1; done`);
  try {
    for (let attempt = 1; attempt <= 2; attempt++) {
      // gamma's HEAD is the broken v2: the live v1 is asked for, so only the ports differ.
      const held = await run('gamma', 'release', { GIT_REF: v1.gamma, BLUE_PORT: '19001', GREEN_PORT: '19002' });
      assert.is(held.code, 1, held.out);
      const error = taskOf(held, 'docker-up').error ?? '';
      assert.ok(error.includes(`127.0.0.1:${port}, the ${idle} slot's port, is already held by a process of root`) && error.includes('nothing was started'), error);
      const taken = await run('gamma', 'release', { GIT_REF: v1.gamma, BLUE_PORT: '18001', GREEN_PORT: '18002' });
      assert.is(taken.code, 1, taken.out);
      assert.match(taskOf(taken, 'docker-up').error ?? '', /BLUE_PORT=18001 is the port of app alpha on this host \(apps\/alpha\/ports\)/);
      for (const a of APPS) assert.is(await snapshot(a), before[a], `${a} untouched (attempt ${attempt})`);
    }
  } finally {
    await host.sh(`pkill -f "httpd -f -p 127.0.0.1:${port}" || true`);
  }
  // The first good release after gamma's failed ones prunes the image they built; then nothing.
  const settle = await run('gamma', 'release', { GIT_REF: v1.gamma });
  assert.is(settle.code, 0, settle.out);
  assert.equal(settle.report.hosts[0]!.tasks.filter((t) => t.status === 'changed').map((t) => t.task), ['release-switch']);
  assert.match(taskOf(settle, 'release-switch').steps.join('\n'), /remove \d+ image\(s\) of releases no longer on the host/);
  await assertUnchanged('gamma', 'release', { GIT_REF: v1.gamma });
});

test.run();
