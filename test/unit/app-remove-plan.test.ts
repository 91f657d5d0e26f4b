// app-remove's want and plan as data: the names want makes from APP_NAME, and a table of host
// facts -> the exact steps (in the order that keeps every stop safe), the file diffs, the refusals
// and the no-op reason. Another app's things (web-api next to web) are never in a plan.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import type { Settings } from '../../lib/config/settings.ts';
import { ConfigError } from '../../lib/errors.ts';
import { appRemove } from '../../tasks/app-remove.ts';
import { fingerprint, SHARED_KEY } from '../../tasks/app-remove/forge-keys.ts';
import { planRemove } from '../../tasks/app-remove/plan.ts';
import { RemoveError, type Container, type RemoveFact, type RemoveStep, type RemoveWanted } from '../../tasks/app-remove/types.ts';
import { testHost } from '../harness/settings.ts';
import type { KeyRecord } from '../../tasks/deploy-key/key-record.ts';

const REPO = parseRepoUrl('git@github.com:acme/web.git')!;
const want = (s: Partial<Settings> = {}) => appRemove.want({ host: testHost({ appName: 'web', repo: REPO, githubToken: 'ghp_x', ...s }, 'vps-1'), loginUser: 'deploy' }) as RemoveWanted;
const w = want();
const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdlYnRlc3RrZXkwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw hoist deploy key for web on vps-1';
const FP = fingerprint(PUB);
const REL1 = '20240101000000-0123456789ab';
const REL2 = '20240102000000-abcdef012345';
const DEBIAN = ':80 {\n\troot * /usr/share/caddy\n\tfile_server\n}\n';
const IMPORTED = `${DEBIAN}import /etc/caddy/sites/*.caddy\n`;
const SITE = '# Managed by hoist for web\nhttp://web.example.com {\n\treverse_proxy 127.0.0.1:18001\n}\n';
const MINE = '# my job\n0 3 * * * true\n';
const BLOCK = (app: string) => `# BEGIN hoist:${app} (managed by hoist; edits inside this block are replaced)\n*/5 * * * * cd ~/apps/${app}/current && ./job\n# END hoist:${app}\n`;
const SSH_BLOCK = (app: string) => `# BEGIN hoist:${app} (managed by hoist; edits inside this block are replaced)\nHost hoist-${app}-repo\n  HostName github.com\nMatch all\n# END hoist:${app}\n`;
const hex = (c: string) => c.repeat(64);
const ctr = (c: Partial<Container>): Container => ({ id: hex('1'), name: 'web-blue_web_1', image: `sha256:${hex('a')}`, state: 'running', project: 'web-blue', service: 'web', release: REL2, ...c });

const empty: RemoveFact = {
  home: '/home/deploy',
  caddy: { site: null, caddyfile: IMPORTED, caddyfileMode: '644', caddyfileOwner: 'root:root', running: true, otherSites: [], caRoot: false },
  crontab: MINE,
  docker: 'yes',
  containers: [ctr({ id: hex('9'), name: 'web-api-blue_web_1', project: 'web-api-blue', image: `sha256:${hex('c')}`, release: REL1 })],
  images: [
    { id: `sha256:${hex('c')}`, ref: `hoist-web-api-web:${REL1}`, size: '9MB' },
    { id: `sha256:${hex('d')}`, ref: 'redis:7', size: '40MB' },
  ],
  volumes: [],
  networks: [],
  appDir: null,
  releases: [],
  hostReleases: { 'web-api': [REL1] },
  env: false,
  key: { private: false, public: false, publicKey: null, record: null, recordFile: false },
  sshConfig: `${SSH_BLOCK('web-api')}Host mine\n  HostName example.com\n`,
  gitUrlSections: [],
};

/** web fully there, next to web-api (whose names start like web's) and the user's own lines. */
const full: RemoveFact = {
  ...empty,
  caddy: { ...empty.caddy, site: SITE, otherSites: ['hoist-web-api.caddy'] },
  crontab: `${MINE}${BLOCK('web')}${BLOCK('web-api')}`,
  containers: [...empty.containers, ctr({})],
  images: [
    ...empty.images,
    { id: `sha256:${hex('a')}`, ref: `hoist/web/web:${REL2}`, size: '12.3MB' },
    { id: `sha256:${hex('b')}`, ref: `hoist-web-web:${REL1}`, size: '12.1MB' },
  ],
  volumes: [{ project: 'web-blue', name: 'web-blue_data' }],
  networks: [{ project: 'web-blue', id: hex('e'), name: 'web-blue_default' }],
  appDir: 'dir',
  releases: [REL1, REL2],
  hostReleases: { web: [REL1, REL2], 'web-api': [REL1] },
  env: true,
  key: { private: true, public: true, publicKey: PUB, record: null, recordFile: false },
  sshConfig: `${SSH_BLOCK('web-api')}${SSH_BLOCK('web')}Host mine\n  HostName example.com\n`,
  gitUrlSections: ['git@hoist-web-repo:acme/web.git'],
};
const listed = { [SHARED_KEY]: { 'https://api.github.com acme/web': [{ id: 7, key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG90aGVya2V5MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw', title: 'hoist vps-2' }, { id: 8, key: PUB.split(' ').slice(0, 2).join(' '), title: 'hoist vps-1' }] } };
const plan = (f: Partial<RemoveFact>, wanted = w, shared: Record<string, unknown> = listed) => planRemove(wanted, { ...empty, ...f }, { host: testHost(), loginUser: 'deploy', shared });
const steps = (p: ReturnType<typeof planRemove>): RemoveStep[] => (p.changes ? p.steps : []);

test('want: every name from APP_NAME and DEPLOY_USER; the forge from APP_REPO and GITHUB_TOKEN', () => {
  assert.equal(w, {
    app: 'web',
    user: 'deploy',
    service: 'web',
    sitePath: '/etc/caddy/sites/hoist-web.caddy',
    caRootPath: '/etc/caddy/sites/hoist-web.acme-ca-root.pem',
    siteName: 'hoist-web.caddy',
    keyFile: '.ssh/hoist_web_deploy',
    alias: 'hoist-web-repo',
    keyTitle: 'hoist vps-1',
    forge: { kind: 'github-api', apiUrl: 'https://api.github.com', owner: 'acme', repo: 'web', page: 'https://github.com/acme/web/settings/keys' },
  });
  assert.equal(want({ githubToken: undefined }).forge, { kind: 'manual', repoName: 'acme/web', page: 'https://github.com/acme/web/settings/keys' });
  assert.equal(want({ repo: undefined }).forge, { kind: 'none' });
});

test('want: an APP_NAME hoist would never make is a config error, before anything connects', () => {
  for (const appName of ['', 'Web', '../x', 'a b', '-x']) {
    try {
      want({ appName });
      assert.unreachable(appName);
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.is((e as ConfigError).key, 'APP_NAME');
    }
  }
});

test('plan: nothing of the app on the host is the reason, whatever the other app has', () => {
  assert.equal(plan({}), { changes: false, reason: 'web is not on this host' });
  assert.equal(plan({ docker: 'absent', containers: [], images: [], crontab: null, sshConfig: null }), { changes: false, reason: 'web is not on this host' });
});

test('plan: everything, in order, with the exact words the dry run shows (--delete-data: the volumes too)', () => {
  const p = plan(full, w, { ...listed, deleteData: true });
  assert.ok(p.changes);
  if (!p.changes) return;
  assert.equal(
    p.steps.map((s) => s.describe),
    [
      `revoke deploy key 8 "hoist vps-1" of acme/web through GitHub's API: it is this host's deploy key ${FP} ("hoist deploy key for web on vps-1")`,
      'remove the Caddy site /etc/caddy/sites/hoist-web.caddy (http://web.example.com) (the import line stays: 1 other site file(s) use it), then caddy validate and caddy reload (no restart); both files are put back if either fails: no request reaches web after this',
      'remove the hoist:web block (1 job(s)) from the crontab of deploy; every other line stays as it is',
      `remove 1 container(s) of compose projects web-blue, web-green, web-state: web-blue_web_1 (running, release ${REL2})`,
      'remove 1 network(s) of web: web-blue_default',
      'remove 1 volume(s) of web, and the data in them (--delete-data): web-blue_data',
      `remove 2 image(s) of web: hoist/web/web:${REL2} (12.3MB), hoist-web-web:${REL1} (12.1MB); Docker's build cache is shared by every app and stays (docker builder prune clears it)`,
      `delete ~/apps/web of deploy: 2 release(s) (${REL1}, ${REL2}), shared/.env (the app's settings), the git cache repo.git and the slot state`,
      'delete the deploy key ~/.ssh/hoist_web_deploy and ~/.ssh/hoist_web_deploy.pub of deploy',
      'remove the hoist:web block (Host hoist-web-repo) from ~/.ssh/config of deploy; every other line stays as it is',
      'remove git\'s URL rewrite to hoist-web-repo from ~/.gitconfig of deploy: [url "git@hoist-web-repo:acme/web.git"]',
    ],
  );
  const data = p.steps.map(({ describe: _, ...rest }) => rest);
  assert.equal(data, [
    { kind: 'revoke-key', ids: [8] },
    { kind: 'caddy', caddyfile: null },
    { kind: 'crontab', content: `${MINE}${BLOCK('web-api')}` },
    { kind: 'containers', ids: [hex('1')] },
    { kind: 'networks', ids: [hex('e')] },
    { kind: 'volumes', names: ['web-blue_data'] },
    { kind: 'images', refs: [`hoist/web/web:${REL2}`, `hoist-web-web:${REL1}`] },
    { kind: 'app-dir' },
    { kind: 'key-files' },
    { kind: 'ssh-config', content: `${SSH_BLOCK('web-api')}Host mine\n  HostName example.com\n` },
    { kind: 'git-url', sections: ['git@hoist-web-repo:acme/web.git'] },
  ]);
  assert.equal(
    p.files?.map((f) => [f.path, f.before === null ? null : 'text', f.after]),
    [
      ['/etc/caddy/sites/hoist-web.caddy', 'text', null],
      ['crontab of deploy', 'text', `${MINE}${BLOCK('web-api')}`],
      ['~/.ssh/config', 'text', `${SSH_BLOCK('web-api')}Host mine\n  HostName example.com\n`],
    ],
  );
});

test('plan: without --delete-data the app\'s volumes are kept, named in the plan, and a second removal still names them', () => {
  const p = plan({ ...full, volumes: [{ project: 'web-blue', name: 'web-blue_data' }, { project: 'hoist', name: 'hoist.web.models' }, { project: 'hoist', name: 'hoist.web.models' }] });
  assert.ok(p.changes);
  if (!p.changes) return;
  assert.not.ok(p.steps.some((st) => st.kind === 'volumes'), 'no volume is removed');
  assert.match(p.steps[p.steps.length - 1]!.describe, /; keeps 2 volume\(s\) of web with its data: hoist\.web\.models, web-blue_data \(hoist remove --delete-data deletes them\)$/);
  const after = plan({ volumes: [{ project: 'hoist', name: 'hoist.web.models' }] });
  assert.equal(after, { changes: false, reason: 'web is not on this host; keeps 1 volume(s) of web with its data: hoist.web.models (hoist remove --delete-data deletes them)' });
});

test('plan: the stateful services\' containers (project web-state) and hoist\'s network go with the app', () => {
  const p = plan({
    containers: [{ id: hex('7'), name: 'web-state-db-1', image: `sha256:${hex('b')}`, state: 'running', project: 'web-state', service: 'db', release: '' }],
    networks: [{ project: 'hoist', id: hex('9'), name: 'hoist.web' }],
  });
  assert.ok(p.changes);
  if (!p.changes) return;
  assert.equal(p.steps.map((st) => st.kind), ['containers', 'networks']);
});

test('plan: the last site takes hoist\'s import line with it; every other byte of the Caddyfile stays', () => {
  const [s] = steps(plan({ caddy: { ...empty.caddy, site: SITE } }));
  assert.equal(s, {
    kind: 'caddy',
    caddyfile: DEBIAN,
    describe: 'remove the Caddy site /etc/caddy/sites/hoist-web.caddy (http://web.example.com) and "import /etc/caddy/sites/*.caddy" from /etc/caddy/Caddyfile (no other site uses it; its other lines kept), then caddy validate and caddy reload (no restart); both files are put back if either fails: no request reaches web after this',
  });
  const [stopped] = steps(plan({ caddy: { ...empty.caddy, site: SITE, running: false, otherSites: ['mine.caddy'] } }));
  assert.match(stopped!.describe, /\(the import line stays: 1 other site file\(s\) use it\), then caddy validate \(Caddy is not running: no reload\);/);
  const [none] = steps(plan({ caddy: { ...empty.caddy, site: SITE, caddyfile: null } }));
  assert.match(none!.describe, /\(\/etc\/caddy\/Caddyfile does not exist: nothing to validate or reload\)/);
});

test('plan: the app\'s ACME CA root goes after its site (which names it), also when only the file is left', () => {
  assert.equal(steps(plan({ caddy: { ...empty.caddy, site: SITE, caRoot: true } })).map((s) => s.kind), ['caddy', 'ca-root']);
  const [only] = steps(plan({ caddy: { ...empty.caddy, caRoot: true } }));
  assert.equal(only, { kind: 'ca-root', describe: "delete /etc/caddy/sites/hoist-web.acme-ca-root.pem (ACME_CA_ROOT, used by web's site only)" });
});

test('plan: a crontab that was only the app\'s block is removed', () => {
  const p = plan({ crontab: BLOCK('web') });
  assert.equal(steps(p).map(({ describe: _, ...s }) => s), [{ kind: 'crontab', content: '' }]);
  assert.equal(p.changes && p.files, [{ path: 'crontab of deploy', before: BLOCK('web'), after: null }]);
});

test('plan: the forge key — material and hoist\'s title for this host; not listed; no token; no repo', () => {
  const f = { key: { private: true, public: true, publicKey: PUB, record: null, recordFile: false } };
  const other = { [SHARED_KEY]: { 'https://api.github.com acme/web': [{ id: 7, key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG90aGVya2V5MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw', title: 'hoist vps-1' }] } };
  assert.equal(steps(plan(f, w, other)).map((s) => s.describe), [
    'delete the deploy key ~/.ssh/hoist_web_deploy and ~/.ssh/hoist_web_deploy.pub of deploy (GitHub lists no such key for acme/web)',
  ], 'a key with this host\'s title but other material is not touched');
  assert.equal(steps(plan(f, w, {}))[0], { kind: 'revoke-key', ids: [], describe: `revoke this host's deploy key ${FP} ("hoist deploy key for web on vps-1") at acme/web through GitHub's API, if GitHub lists it and it is the key deploy-key registered` });
  assert.equal(steps(plan(f, want({ githubToken: undefined })))[0], {
    kind: 'tell-key',
    describe: `GITHUB_TOKEN is not set (or acme/web is not on GitHub): delete the deploy key ${FP} ("hoist deploy key for web on vps-1") from the deploy keys of acme/web yourself at https://github.com/acme/web/settings/keys`,
  });
  assert.equal(steps(plan(f, want({ repo: undefined })))[0]!.describe, `APP_REPO is not set, so hoist cannot tell where the deploy key ${FP} ("hoist deploy key for web on vps-1") was registered: delete it there yourself`);
  assert.equal(steps(plan({ key: { private: true, public: false, publicKey: null, record: null, recordFile: false } })).map((s) => s.describe), [
    'delete the deploy key ~/.ssh/hoist_web_deploy of deploy (its public key cannot be read, so no key at the forge can be matched to it)',
  ]);
});

test('plan: refuses, changing nothing, when Docker is silent or ~/apps/APP is a link or not a folder', () => {
  const cases: [Partial<RemoveFact>, RegExp][] = [
    [{ docker: 'down' }, /^Docker is installed but does not answer \(docker info\), so web's containers cannot be seen: start Docker .*; nothing was removed$/],
    [{ appDir: 'link' }, /^~\/apps\/web of deploy \(or ~\/apps\) is a symbolic link, not the folder hoist made: hoist does not delete through links\..*nothing was removed$/],
    [{ appDir: 'other' }, /^~\/apps\/web of deploy is not a folder, so hoist did not make it.*nothing was removed$/],
    [{ crontab: `${MINE}# BEGIN hoist:web\n` }, /^the crontab's hoist block for web is damaged \(BEGIN marker on line 3 has no END marker\).*; nothing was removed$/],
    [{ sshConfig: '# END hoist:web\n' }, /^the hoist block for web in ~\/\.ssh\/config is damaged.*; nothing was removed$/],
  ];
  for (const [f, message] of cases) {
    try {
      plan(f);
      assert.unreachable(JSON.stringify(f));
    } catch (e) {
      assert.instance(e, RemoveError);
      assert.match((e as Error).message, message);
    }
  }
});

const OTHER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG90aGVya2V5MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw';
const OURS = PUB.split(' ').slice(0, 2).join(' ');
const record = (r: Partial<KeyRecord> = {}): KeyRecord => ({ id: 8, title: 'hoist vps-1', repo: 'acme/web', key: OURS, ...r });
const keyFact = (publicKey: string, rec: KeyRecord | null) => ({ key: { private: true, public: true, publicKey, record: rec, recordFile: rec !== null } });
const kinds = (p: ReturnType<typeof planRemove>) => steps(p).filter((s) => s.kind === 'revoke-key' || s.kind === 'tell-key');

test('plan: with deploy-key\'s record, only the recorded key whose id, title and material all agree is revoked', () => {
  assert.equal(kinds(plan(keyFact(PUB, record()))).map(({ describe: _, ...s }) => s), [{ kind: 'revoke-key', ids: [8] }]);
  assert.equal(steps(plan(keyFact(PUB, record()))).at(-1)!.describe, 'delete the deploy key ~/.ssh/hoist_web_deploy and ~/.ssh/hoist_web_deploy.pub and ~/.ssh/hoist_web_deploy.github of deploy');
  // The recorded key is gone at GitHub and nothing has this material: already revoked, nothing to say.
  const none = { [SHARED_KEY]: { 'https://api.github.com acme/web': [] } };
  assert.equal(kinds(plan(keyFact(PUB, record()), w, none)), []);
});

test('plan: a swapped .pub (another key\'s public half) revokes nothing and says so, with the page to do it by hand', () => {
  // The .pub now holds key 7's material (another host's key): with the record and without one.
  for (const rec of [record(), null]) {
    const p = kinds(plan(keyFact(`${OTHER_KEY} swapped`, rec)));
    assert.equal(p.map((s) => s.kind), ['tell-key'], JSON.stringify(rec));
    assert.match(p[0]!.describe, /^hoist leaves deploy key .*deploy key 7 "hoist vps-2" \(|^hoist leaves deploy key 7 "hoist vps-2" \(/);
    assert.match(p[0]!.describe, rec ? /\(this host's ~\/\.ssh\/hoist_web_deploy\.pub or ~\/\.ssh\/hoist_web_deploy\.github does not hold the key deploy-key registered/ : /\(it has this host's public key, but its title "hoist vps-2" is not the one hoist gives this host's key \("hoist vps-1"\)\)/);
    assert.match(p[0]!.describe, /If a key there is this host's for web, revoke it by hand at https:\/\/github\.com\/acme\/web\/settings\/keys$/);
  }
  // Record and .pub both changed to key 7 (its id, title and material): its title is not this host's.
  const p = kinds(plan(keyFact(OTHER_KEY, record({ id: 7, title: 'hoist vps-2', key: OTHER_KEY }))));
  assert.equal(p.map((s) => s.kind), ['tell-key']);
  assert.match(p[0]!.describe, /deploy key 7 "hoist vps-2" \(its title "hoist vps-2" is not the one hoist gives this host's key \("hoist vps-1"\)\)/);
  // A record naming another id than the key with this material, or another title: left.
  assert.equal(kinds(plan(keyFact(PUB, record({ id: 9 })))).map((s) => s.kind), ['tell-key']);
  assert.equal(kinds(plan(keyFact(PUB, record({ title: 'hoist vps-2' })))).map((s) => s.kind), ['tell-key']);
  assert.equal(kinds(plan(keyFact(PUB, record({ repo: 'acme/other' })))).map((s) => s.kind), ['tell-key']);
});

test('plan: a host with Docker not installed has nothing of Docker to remove', () => {
  assert.equal(steps(plan({ ...full, docker: 'absent', caddy: empty.caddy, crontab: MINE, appDir: null, key: empty.key, sshConfig: null, gitUrlSections: [] })), []);
});

test.run();
