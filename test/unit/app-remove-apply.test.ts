// app-remove's apply against a recording host: the commands in the plan's order, as root only
// where it must be (Caddy, Docker, ~/apps/APP), uploads of exactly the planned contents; a Caddy
// config that fails validation is put back and stops the removal there; the forge key is revoked
// through the OpenAPI-checked fake GitHub, and only the key that is this host's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import type { ApplyContext } from '../../lib/engine/task.ts';
import type { ExecResult } from '../../lib/exec/executor.ts';
import { RecordingExecutor } from '../../lib/exec/recording-executor.ts';
import { appRemove } from '../../tasks/app-remove.ts';
import { applyRemove } from '../../tasks/app-remove/apply.ts';
import { listForgeKeys, SHARED_KEY } from '../../tasks/app-remove/forge-keys.ts';
import { planRemove } from '../../tasks/app-remove/plan.ts';
import { RemoveError, type RemoveFact, type RemoveWanted } from '../../tasks/app-remove/types.ts';
import { FakeGitHub } from '../harness/fake-github.ts';
import { testHost } from '../harness/settings.ts';

const TOKEN = 'ghp_CANARYremove000000000000000000000000';
const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdlYnRlc3RrZXkwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw hoist deploy key for web on vps-1';
const OTHER = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG90aGVya2V5MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw';
const R1 = '20240101000000-0123456789ab';
const hex = (c: string) => c.repeat(64);
const ok = (stdout = ''): ExecResult => ({ stdout, stderr: '', code: 0 });
const DEBIAN = ':80 {\n}\n';
const SITE = 'http://web.example.com {\n\treverse_proxy 127.0.0.1:18001\n}\n';

function setup(settings: Record<string, unknown> = {}) {
  const host = testHost({ appName: 'web', repo: parseRepoUrl('git@github.com:acme/web.git')!, ...settings }, 'vps-1');
  const input = { host, loginUser: 'deploy' };
  const wanted = appRemove.want(input) as RemoveWanted;
  return { input, wanted };
}

const fact: RemoveFact = {
  home: '/home/deploy',
  caddy: { site: SITE, caddyfile: `${DEBIAN}import /etc/caddy/sites/*.caddy\n`, caddyfileMode: '640', caddyfileOwner: 'root:caddy', running: true, otherSites: [], caRoot: false },
  crontab: '# BEGIN hoist:web\n* * * * * true\n# END hoist:web\n',
  docker: 'yes',
  containers: [{ id: hex('1'), name: 'web-blue_web_1', image: `sha256:${hex('a')}`, state: 'running', project: 'web-blue', service: 'web', release: R1 }],
  images: [{ id: `sha256:${hex('a')}`, ref: `hoist-web-web:${R1}`, size: '1MB' }],
  volumes: [{ project: 'web-blue', name: 'web-blue_data' }],
  networks: [{ project: 'web-blue', id: hex('e'), name: 'web-blue_default' }],
  appDir: 'dir',
  releases: [R1],
  hostReleases: { web: [R1] },
  env: true,
  key: { private: true, public: true, publicKey: PUB, record: null, recordFile: false },
  sshConfig: '# BEGIN hoist:web\nHost hoist-web-repo\n# END hoist:web\nHost mine\n',
  gitUrlSections: ['git@hoist-web-repo:acme/web.git'],
};

function ctx(wanted: RemoveWanted, input: ReturnType<typeof setup>['input'], progress: string[] = []): ApplyContext<RemoveWanted, RemoveFact> {
  return { wanted, before: fact, input, progress: (m) => progress.push(m), freshConnection: () => { throw new Error('not used'); } };
}

test('every step, in order: root for Caddy, Docker and ~/apps/web; the deploy user for its own files', async () => {
  const { input: plain, wanted } = setup();
  // --delete-data: the volumes too (without it they are kept: app-remove-plan.test.ts).
  const input = { ...plain, shared: { deleteData: true } };
  const plan = planRemove(wanted, fact, input);
  assert.ok(plan.changes);
  if (!plan.changes) return;
  const exec = new RecordingExecutor([() => ok()]);
  const said: string[] = [];
  await applyRemove(exec, plan.steps, ctx(wanted, input, said));
  const calls = exec.calls.map((c) => (c.kind === 'upload' ? `upload ${c.path} mode ${c.mode?.toString(8)}${c.sudo ? ' sudo' : ''}: ${JSON.stringify(c.content)}` : `${c.sudo ? 'sudo ' : ''}${c.line}${c.stdin !== undefined ? ` <<< ${JSON.stringify(c.stdin)}` : ''}`));
  assert.equal(calls, [
    `upload /etc/caddy/Caddyfile mode 640 sudo: ${JSON.stringify(DEBIAN)}`,
    'sudo rm -f /etc/caddy/sites/hoist-web.caddy',
    'sudo if id -u caddy >/dev/null 2>&1; then runuser -u caddy -- caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile; else caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile; fi',
    `sudo { [ "$(cat /proc/sys/net/ipv4/tcp_migrate_req 2>/dev/null)" = 1 ] || echo 1 >/proc/sys/net/ipv4/tcp_migrate_req; } 2>/dev/null || echo 'hoist: net.ipv4.tcp_migrate_req is not 1'; ` +
      'if id -u caddy >/dev/null 2>&1; then runuser -u caddy -- caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile; else caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile; fi',
    'crontab -r',
    `sudo for x in ${hex('1')}; do docker container inspect "$x" >/dev/null 2>&1 || continue; docker container rm -f "$x" >/dev/null || exit 1; done`,
    `sudo for x in ${hex('e')}; do docker network inspect "$x" >/dev/null 2>&1 || continue; docker network rm "$x" >/dev/null || exit 1; done`,
    'sudo for x in web-blue_data; do docker volume inspect "$x" >/dev/null 2>&1 || continue; docker volume rm "$x" >/dev/null || exit 1; done',
    `sudo for x in hoist-web-web:${R1}; do docker image inspect "$x" >/dev/null 2>&1 || continue; docker image rm "$x" >/dev/null || exit 1; done`,
    `sudo home=$(getent passwd deploy | cut -d: -f6) && [ -n "$home" ] && cd "$home" || exit 97
if [ -L apps ] || [ -L apps/web ]; then echo '~deploy/apps/web or ~deploy/apps is a symbolic link: not removed' >&2; exit 3; fi
rm -rf -- apps/web && { rmdir apps 2>/dev/null || true; }`,
    'cd && rm -f -- .ssh/hoist_web_deploy .ssh/hoist_web_deploy.pub .ssh/hoist_web_deploy.github',
    `upload /home/deploy/.ssh/config mode 600: ${JSON.stringify('Host mine\n')}`,
    'cd && for s in url.git@hoist-web-repo:acme/web.git; do if git config --global --get-all "$s.insteadof" >/dev/null 2>&1; then git config --global --remove-section "$s" || exit 1; fi; done',
  ]);
  assert.match(said[0]!, /^GITHUB_TOKEN is not set \(or acme\/web is not on GitHub\): delete the deploy key SHA256:/, 'without a token the key to delete is said');
});

test('a config Caddy refuses: both files back, no reload, nothing after it runs', async () => {
  const { input, wanted } = setup();
  const plan = planRemove(wanted, fact, input);
  if (!plan.changes) return assert.unreachable();
  const exec = new RecordingExecutor([(line) => (line.includes('caddy validate') ? { code: 1, stdout: '', stderr: 'Error: adapting config: bad\n' } : ok())]);
  try {
    await applyRemove(exec, plan.steps, ctx(wanted, input));
    assert.unreachable('apply should fail');
  } catch (e) {
    assert.instance(e, RemoveError);
    assert.is((e as Error).message, "caddy validate rejected the config without web's site, so Caddy was not reloaded and both files are back (web still serves): Error: adapting config: bad");
  }
  const tail = exec.calls.slice(3).map((c) => `${c.kind} ${c.path ?? c.line}`);
  assert.equal(tail, ['upload /etc/caddy/sites/hoist-web.caddy', 'upload /etc/caddy/Caddyfile']);
  assert.is(exec.calls[3]!.content, SITE);
  assert.is(exec.calls[4]!.content, fact.caddy.caddyfile);
});

test('revoke: only the key that is this host\'s, listed again at apply time, through GitHub\'s documented API', async () => {
  const fake = await new FakeGitHub({ token: TOKEN, repos: ['acme/web'] }).start();
  try {
    fake.seed('acme/web', [{ key: OTHER, title: 'hoist vps-2' }, { key: PUB, title: 'hoist vps-1' }]);
    const { input, wanted } = setup({ githubToken: TOKEN, githubApiUrl: fake.url });
    const step = { kind: 'revoke-key' as const, ids: [], describe: 'revoke' };
    const said: string[] = [];
    await applyRemove(new RecordingExecutor([]), [step], ctx(wanted, input, said));
    assert.equal(fake.keys.get('acme/web')!.map((k) => k.title), ['hoist vps-2']);
    assert.equal(fake.requests.map((r) => r.operationId), ['repos/list-deploy-keys', 'repos/delete-deploy-key']);
    assert.equal(fake.violations, []);
    assert.match(said.at(-1)!, /^revoked deploy key \d+ of acme\/web$/);
    await applyRemove(new RecordingExecutor([]), [step], ctx(wanted, input, said));
    assert.is(said.at(-1), 'GitHub lists no such key for acme/web any more', 'a second time converges');
  } finally {
    await fake.stop();
  }
});

test('a swapped .pub (another key\'s public half): plan and apply revoke nothing, and say which key is left and where to revoke it', async () => {
  const fake = await new FakeGitHub({ token: TOKEN, repos: ['acme/web'] }).start();
  try {
    fake.seed('acme/web', [{ key: OTHER, title: 'hoist vps-2' }, { key: PUB, title: 'hoist vps-1' }]);
    const [other, ours] = fake.keys.get('acme/web')!;
    const { input, wanted } = setup({ githubToken: TOKEN, githubApiUrl: fake.url });
    const record = { id: ours!.id, title: 'hoist vps-1', repo: 'acme/web', key: PUB.split(' ').slice(0, 2).join(' ') };
    // Without deploy-key's record (a key registered before it kept one), and with it.
    for (const rec of [null, record]) {
      const swapped: RemoveFact = { ...fact, key: { private: true, public: true, publicKey: `${OTHER} hoist deploy key for web on vps-1`, record: rec, recordFile: rec !== null } };
      const listed = (await listForgeKeys([input]));
      const plan = planRemove(wanted, swapped, { ...input, shared: { [SHARED_KEY]: listed } });
      if (!plan.changes) return assert.unreachable();
      assert.not.ok(plan.steps.some((s) => s.kind === 'revoke-key'), 'nothing to revoke in the plan');
      const warning = plan.steps.find((s) => s.kind === 'tell-key')!.describe;
      assert.ok(warning.includes(`deploy key ${other!.id} "hoist vps-2"`), warning);
      assert.ok(warning.endsWith("revoke it by hand at https://github.com/acme/web/settings/keys"), warning);
      // Apply, even when told to revoke (a plan made without the listing): it lists again and decides the same.
      const said: string[] = [];
      await applyRemove(new RecordingExecutor([]), [{ kind: 'revoke-key', ids: [], describe: 'revoke' }], { ...ctx(wanted, input, said), before: swapped });
      assert.equal(fake.keys.get('acme/web')!.map((k) => k.title), ['hoist vps-2', 'hoist vps-1'], 'both keys stay');
      assert.ok(said.some((m) => m.startsWith('hoist leaves deploy key') && m.includes(`deploy key ${other!.id} "hoist vps-2"`)), said.join('\n'));
    }
    assert.equal(fake.calls('repos/delete-deploy-key'), []);
    assert.equal(fake.violations, []);
  } finally {
    await fake.stop();
  }
});

test('with deploy-key\'s record: the recorded key is revoked; a second time nothing', async () => {
  const fake = await new FakeGitHub({ token: TOKEN, repos: ['acme/web'] }).start();
  try {
    fake.seed('acme/web', [{ key: OTHER, title: 'hoist vps-2' }, { key: PUB, title: 'hoist vps-1' }]);
    const ours = fake.keys.get('acme/web')![1]!;
    const { input, wanted } = setup({ githubToken: TOKEN, githubApiUrl: fake.url });
    const f: RemoveFact = { ...fact, key: { ...fact.key, record: { id: ours.id, title: 'hoist vps-1', repo: 'acme/web', key: PUB.split(' ').slice(0, 2).join(' ') }, recordFile: true } };
    const said: string[] = [];
    const step = { kind: 'revoke-key' as const, ids: [], describe: 'revoke' };
    await applyRemove(new RecordingExecutor([]), [step], { ...ctx(wanted, input, said), before: f });
    assert.equal(fake.keys.get('acme/web')!.map((k) => k.title), ['hoist vps-2']);
    assert.is(said.at(-1), `revoked deploy key ${ours.id} of acme/web`);
    await applyRemove(new RecordingExecutor([]), [step], { ...ctx(wanted, input, said), before: f });
    assert.is(said.at(-1), 'GitHub lists no such key for acme/web any more');
    assert.is(fake.calls('repos/delete-deploy-key').length, 1);
    assert.equal(fake.violations, []);
  } finally {
    await fake.stop();
  }
});

test.run();
