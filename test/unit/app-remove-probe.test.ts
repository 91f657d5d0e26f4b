// app-remove's probe: the command as data (its exact lines), and the parse of recorded answers —
// every name it reads checked, lines a hostile name could forge ignored, git URL sections picked
// by the alias host exactly (hoist-web-repo, never hoist-web-api-repo).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RemoteCommandError } from '../../lib/errors.ts';
import { ourUrlSections, parseRemoveProbe, removeProbe } from '../../tasks/app-remove/probe.ts';

const W = { app: 'web', user: 'deploy', sitePath: '/etc/caddy/sites/hoist-web.caddy', caRootPath: '/etc/caddy/sites/hoist-web.acme-ca-root.pem', keyFile: '.ssh/hoist_web_deploy', alias: 'hoist-web-repo' };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const R1 = '20240101000000-0123456789ab';
const hex = (c: string) => c.repeat(64);

test('the probe command, exactly', () => {
  assert.is(
    removeProbe(W).line,
    `home=$(getent passwd deploy | cut -d: -f6)
[ -n "$home" ] && cd "$home" || { echo 'no home for user deploy' >&2; exit 97; }
printf 'home=%s\\n' "$home"
if [ -f /etc/caddy/sites/hoist-web.caddy ]; then echo "site=$(base64 -w0 < /etc/caddy/sites/hoist-web.caddy)"; else echo site=-; fi
if [ -f /etc/caddy/Caddyfile ]; then echo "caddyfile=$(base64 -w0 < /etc/caddy/Caddyfile)"; echo "caddyfile_stat=$(stat -c '%a %U:%G' /etc/caddy/Caddyfile)"; else echo caddyfile=-; fi
if pidof caddy >/dev/null; then echo caddy=running; else echo caddy=stopped; fi
if [ -e /etc/caddy/sites/hoist-web.acme-ca-root.pem ]; then echo caroot=yes; else echo caroot=no; fi
for f in /etc/caddy/sites/*.caddy; do if [ -e "$f" ] || [ -L "$f" ]; then printf 'othersite=%s\\n' "$(printf '%s' "\${f##*/}" | base64 -w0)"; fi; done
if crontab -u deploy -l >/dev/null 2>&1; then printf 'crontab='; crontab -u deploy -l | base64 -w0; echo; else echo crontab=-; fi
if ! command -v docker >/dev/null 2>&1; then echo docker=absent
elif ! timeout 20 docker info >/dev/null 2>&1; then echo docker=down
else
echo docker=yes
ids=$(docker ps -aq --no-trunc); [ -z "$ids" ] || docker inspect -f 'ctr {{.Id}} {{.Image}} {{.State.Status}} {{json .Name}} {{json .Config.Labels}}' $ids
docker image ls --no-trunc --format 'img {{.ID}} {{.Size}} {{.Repository}}:{{.Tag}}'
docker volume ls -q --filter 'label=com.docker.compose.project=web-blue' | while IFS= read -r v; do printf 'vol %s %s\\n' web-blue "$v"; done
docker network ls --no-trunc --filter 'label=com.docker.compose.project=web-blue' --format 'net web-blue {{.ID}} {{.Name}}'
docker volume ls -q --filter 'label=com.docker.compose.project=web-green' | while IFS= read -r v; do printf 'vol %s %s\\n' web-green "$v"; done
docker network ls --no-trunc --filter 'label=com.docker.compose.project=web-green' --format 'net web-green {{.ID}} {{.Name}}'
docker volume ls -q --filter 'label=com.docker.compose.project=web-state' | while IFS= read -r v; do printf 'vol %s %s\\n' web-state "$v"; done
docker network ls --no-trunc --filter 'label=com.docker.compose.project=web-state' --format 'net web-state {{.ID}} {{.Name}}'
docker volume ls -q --filter 'label=hoist.app=web' | while IFS= read -r v; do printf 'vol %s %s\\n' hoist "$v"; done
docker network ls --no-trunc --filter 'label=hoist.app=web' --format 'net hoist {{.ID}} {{.Name}}'
fi
if [ -L apps ] || [ -L apps/web ]; then echo appdir=link; elif [ -d apps/web ]; then echo appdir=dir; elif [ -e apps/web ]; then echo appdir=other; else echo appdir=-; fi
if [ -d apps/web ] && [ ! -L apps ] && [ ! -L apps/web ]; then for d in apps/web/releases/*/; do [ -d "$d" ] || continue; n=\${d%/}; printf 'release=%s\\n' "$(printf '%s' "\${n##*/}" | tr '\\n' ' ')"; done; fi
if [ ! -L apps ]; then for d in apps/*/; do [ -d "$d" ] || continue; n=\${d%/}; printf 'hostapp=%s\\n' "\${n#apps/}"; done; for d in apps/*/releases/*/; do [ -d "$d" ] || continue; n=\${d%/}; printf 'hostrelease=%s\\n' "\${n#apps/}"; done; fi
if [ -f apps/web/shared/.env ]; then echo env=yes; else echo env=no; fi
if [ -e .ssh/hoist_web_deploy ] || [ -L .ssh/hoist_web_deploy ]; then echo key=yes; else echo key=no; fi
if [ -e .ssh/hoist_web_deploy.pub ] || [ -L .ssh/hoist_web_deploy.pub ]; then echo pubfile=yes; else echo pubfile=no; fi
if [ -f .ssh/hoist_web_deploy.pub ]; then printf 'pub=%s\\n' "$(head -n 1 .ssh/hoist_web_deploy.pub | head -c 4000)"; elif [ -f .ssh/hoist_web_deploy ]; then printf 'pub=%s\\n' "$(ssh-keygen -y -f .ssh/hoist_web_deploy 2>/dev/null | head -n 1)"; fi
if [ -f .ssh/hoist_web_deploy.github ] || [ -L .ssh/hoist_web_deploy.github ]; then echo recordfile=yes; else echo recordfile=no; fi
if [ -f .ssh/hoist_web_deploy.github ]; then printf 'keyrecord=%s\\n' "$(head -c 4000 .ssh/hoist_web_deploy.github | base64 -w0)"; fi
if [ -f .ssh/config ]; then printf 'sshconfig='; base64 -w0 .ssh/config; echo; else echo sshconfig=-; fi
if command -v git >/dev/null 2>&1; then printf 'giturls='; HOME="$home" git config --global --get-regexp '^url\\.' 2>/dev/null | base64 -w0; echo; fi
echo end=ok`,
  );
});

const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdlYnRlc3RrZXkwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw hoist deploy key for web on vps-1';
const GIT = 'url.git@hoist-web-repo:acme/web.git.insteadof git@github.com:acme/web.git\nurl.git@hoist-web-api-repo:acme/web-api.git.insteadof git@github.com:acme/web-api.git\nurl.https://mirror/.insteadof https://github.com/\n';
const answer = [
  'home=/home/deploy',
  `site=${b64('http://web.example.com {\n}\n')}`,
  `caddyfile=${b64(':80 {\n}\nimport /etc/caddy/sites/*.caddy\n')}`,
  'caddyfile_stat=640 root:caddy',
  'caddy=running',
  `othersite=${b64('hoist-web.caddy')}`,
  `othersite=${b64('hoist-web-api.caddy')}`,
  `crontab=${b64('0 3 * * * true\n')}`,
  'docker=yes',
  `ctr ${hex('1')} sha256:${hex('a')} running "/web-blue_web_1" {"com.docker.compose.project":"web-blue","com.docker.compose.service":"web","hoist.release":"${R1}"}`,
  `ctr ${hex('2')} sha256:${hex('b')} exited "/loose" null`,
  // A label value with a line break is escaped by {{json}}: it cannot start a line of its own.
  `ctr ${hex('3')} sha256:${hex('c')} running "/odd" {"x":"a\\nimg sha256:${hex('d')} 1MB evil:1"}`,
  'ctr not-an-id sha256:x running "/bad" null',
  `img sha256:${hex('a')} 12.3MB hoist-web-web:${R1}`,
  `img sha256:${hex('e')} 5MB <none>:<none>`,
  'img sha256:zz 1MB Bad Name:1',
  'vol web-blue web-blue_data',
  'vol web-api-blue web-api-blue_data',
  'vol web-blue ../etc',
  `net web-blue ${hex('f')} web-blue_default`,
  'appdir=dir',
  `release=${R1}`,
  'release=.20240101000000-0123456789ab.tmp',
  'release=../../etc ',
  'hostapp=web',
  'hostapp=web-api',
  'hostapp=../x',
  `hostrelease=web/releases/${R1}`,
  `hostrelease=web-api/releases/${R1}`,
  'hostrelease=web-api/releases/x/releases/y',
  'env=yes',
  'recordfile=yes',
  `keyrecord=${b64(`# Written by hoist\nid=8\ntitle=hoist vps-1\nrepo=acme/web\nkey=${PUB.split(' ').slice(0, 2).join(' ')}\n`)}`,
  'key=yes',
  'pubfile=yes',
  `pub=${PUB}`,
  `sshconfig=${b64('Host mine\n')}`,
  `giturls=${b64(GIT)}`,
  'end=ok',
].join('\n');

test('parse: a recorded answer, names checked, hostile lines ignored', () => {
  const f = parseRemoveProbe(W, { code: 0, stdout: `${answer}\n`, stderr: '' });
  assert.equal(f, {
    home: '/home/deploy',
    caddy: { site: 'http://web.example.com {\n}\n', caddyfile: ':80 {\n}\nimport /etc/caddy/sites/*.caddy\n', caddyfileMode: '640', caddyfileOwner: 'root:caddy', running: true, otherSites: ['hoist-web-api.caddy'], caRoot: false },
    crontab: '0 3 * * * true\n',
    docker: 'yes',
    containers: [
      { id: hex('1'), image: `sha256:${hex('a')}`, state: 'running', name: 'web-blue_web_1', project: 'web-blue', service: 'web', release: R1 },
      { id: hex('2'), image: `sha256:${hex('b')}`, state: 'exited', name: 'loose', project: '', service: '', release: '' },
      { id: hex('3'), image: `sha256:${hex('c')}`, state: 'running', name: 'odd', project: '', service: '', release: '' },
    ],
    images: [
      { id: `sha256:${hex('a')}`, size: '12.3MB', ref: `hoist-web-web:${R1}` },
      { id: `sha256:${hex('e')}`, size: '5MB', ref: '<none>:<none>' },
    ],
    volumes: [{ project: 'web-blue', name: 'web-blue_data' }],
    networks: [{ project: 'web-blue', id: hex('f'), name: 'web-blue_default' }],
    appDir: 'dir',
    releases: [R1],
    hostReleases: { web: [R1], 'web-api': [R1] },
    env: true,
    key: { private: true, public: true, publicKey: PUB, record: { id: 8, title: 'hoist vps-1', repo: 'acme/web', key: PUB.split(' ').slice(0, 2).join(' ') }, recordFile: true },
    sshConfig: 'Host mine\n',
    gitUrlSections: ['git@hoist-web-repo:acme/web.git'],
  });
});

test('parse: a host with nothing of the app', () => {
  const bare = ['home=/home/deploy', 'site=-', 'caddyfile=-', 'caddy=stopped', 'crontab=-', 'docker=absent', 'appdir=-', 'env=no', 'key=no', 'pubfile=no', 'sshconfig=-', 'end=ok'].join('\n');
  const f = parseRemoveProbe(W, { code: 0, stdout: bare, stderr: '' });
  assert.equal([f.caddy.site, f.caddy.caddyfile, f.crontab, f.docker, f.appDir, f.key, f.sshConfig, f.gitUrlSections], [null, null, null, 'absent', null, { private: false, public: false, publicKey: null, record: null, recordFile: false }, null, []]);
});

test('parse: a cut answer, a failed command or a home that is not a path is an error, never an empty host', () => {
  for (const r of [
    { code: 0, stdout: 'home=/home/deploy\nsite=-\n', stderr: '' },
    { code: 97, stdout: '', stderr: 'no home for user deploy' },
    { code: 0, stdout: 'home=/\nend=ok\n', stderr: '' },
    { code: 0, stdout: 'home=relative\nend=ok\n', stderr: '' },
  ]) {
    assert.throws(() => parseRemoveProbe(W, r), (e: unknown) => e instanceof RemoteCommandError);
  }
});

test('git URL sections through this app\'s alias host exactly, scp-like and ssh://', () => {
  const text = `${GIT}url.ssh://git@hoist-web-repo/acme/web.git.insteadof ssh://git@github.com/acme/web.git\nurl.git@hoist-web-repo.evil:x.insteadof y\nurl.git@hoist-web-repo:acme/web.git.pushinsteadof z\n`;
  assert.equal(ourUrlSections(text, 'hoist-web-repo'), ['git@hoist-web-repo:acme/web.git', 'ssh://git@hoist-web-repo/acme/web.git']);
  assert.equal(ourUrlSections(text, 'hoist-web-api-repo'), ['git@hoist-web-api-repo:acme/web-api.git']);
});

test.run();
