import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig, type HostConfig, type LoadOptions } from '../../lib/config/load-config.ts';
import { KEYS } from '../../lib/config/keys.ts';
import { ConfigError, UsageError } from '../../lib/errors.ts';
import { cronInstall } from '../../tasks/cron-install.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PASSPHRASE = 'secretpass';

let dir = '';
let caseNo = 0;

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hoist-config-test-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-f', join(dir, 'enc')]);
  mkdirSync(join(dir, 'inv'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'inv', 'db_key')]);
  writeFileSync(join(dir, 'notakey.txt'), 'this is not a private key\n');
  writeFileSync(join(dir, 'jobs.cron'), '# the jobs of the shop\n*/5 * * * * /srv/app/tick.sh\n');
  writeFileSync(join(dir, 'app.env'), 'SECRET=x\n');
  writeFileSync(join(dir, 'bad.cron'), '# nightly jobs\n61 * * * * x\n');
  mkdirSync(join(dir, 'crondir'));
});

test.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Writes the .env (and inventory) of one case into the temp dir, next to the key files. */
function writeCase(envText: string | null, inventory?: { text: string; ext?: 'yml' | 'json' }): { envFile: string; inventoryFile?: string } {
  caseNo += 1;
  const envFile = join(dir, `case-${caseNo}.env`);
  if (envText !== null) writeFileSync(envFile, envText);
  if (!inventory) return { envFile };
  const inventoryFile = join(dir, `case-${caseNo}.${inventory.ext ?? 'yml'}`);
  writeFileSync(inventoryFile, inventory.text);
  return { envFile, inventoryFile };
}

function load(envText: string | null, extra: Partial<LoadOptions> & { inventory?: string; inventoryExt?: 'yml' | 'json' } = {}) {
  const { inventory, inventoryExt, ...rest } = extra;
  const files = writeCase(envText, inventory === undefined ? undefined : { text: inventory, ...(inventoryExt ? { ext: inventoryExt } : {}) });
  return loadConfig({ env: {}, ...files, ...rest });
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

const OK = 'HOST=203.0.113.7\nSSH_KEY=id\n';
const INV_ENV = 'SSH_KEY=id\n';
const inv1 = (hostBody: string) => `hosts:\n  web1:\n    host: 203.0.113.10\n${hostBody}`;

interface BadCase {
  name: string;
  env: string | null;
  inventory?: string;
  inventoryExt?: 'yml' | 'json';
  only?: string[];
  envOption?: Record<string, string>;
  /** The key name or inventory path the message must name. */
  key: string;
  /** The offending value, which the message must show (omit for secrets and absent values). */
  value?: string;
  /** A secret that must not appear in the message. */
  secret?: string;
  kind?: 'config' | 'usage';
  /** More text the message must contain. */
  contains?: string[];
}

const BAD: BadCase[] = [
  // a small VPS's health (issue #19 item 4): checked before connecting, named with the fix
  { name: 'DOCKER_LOG_MAX_SIZE 10MB', env: `${OK}DOCKER_LOG_MAX_SIZE=10MB\n`, key: 'DOCKER_LOG_MAX_SIZE', value: '10MB', kind: 'config', contains: ['set DOCKER_LOG_MAX_SIZE to a size such as 10m'] },
  { name: 'DOCKER_LOG_MAX_FILE 0', env: `${OK}DOCKER_LOG_MAX_FILE=0\n`, key: 'DOCKER_LOG_MAX_FILE', value: '0', kind: 'config' },
  { name: 'SWAP_SIZE lots', env: `${OK}SWAP_SIZE=lots\n`, key: 'SWAP_SIZE', value: 'lots', kind: 'config', contains: ['0 or off'] },
  { name: 'SWAP_SIZE 1M (too small)', env: `${OK}SWAP_SIZE=1M\n`, key: 'SWAP_SIZE', value: '1M', kind: 'config', contains: ['is below 64M'] },
  { name: 'SWAP_SIZE 100G (too large)', env: `${OK}SWAP_SIZE=100G\n`, key: 'SWAP_SIZE', value: '100G', kind: 'config', contains: ['is above 64G'] },
  { name: 'AUTO_UPGRADES all', env: `${OK}AUTO_UPGRADES=all\n`, key: 'AUTO_UPGRADES', value: 'all', kind: 'config', contains: ['set AUTO_UPGRADES to security or off'] },
  { name: 'BUILD_MEMORY 1M (below Docker\'s least)', env: `${OK}BUILD_MEMORY=1M\n`, key: 'BUILD_MEMORY', value: '1M', kind: 'config', contains: ['below 6M'] },
  { name: 'BUILD_MEMORY half', env: `${OK}BUILD_MEMORY=half\n`, key: 'BUILD_MEMORY', value: 'half', kind: 'config' },
  // unknown keys
  { name: 'typo SSH_PROT', env: `${OK}SSH_PROT=22\n`, key: 'SSH_PROT', value: '22', kind: 'config', contains: ['did you mean SSH_PORT'] },
  { name: 'unknown key without a near match', env: `${OK}FROBNICATE=yes\n`, key: 'FROBNICATE', value: 'yes', kind: 'config', contains: ['.env.example'] },
  {
    name: 'typo of the secret key hides its value',
    env: `${OK}SSH_KEY_PASSPHRAS=hunter2-typo-secret\n`,
    key: 'SSH_KEY_PASSPHRAS',
    secret: 'hunter2-typo-secret',
    kind: 'config',
  },
  // HOST
  { name: 'HOST with a space and !', env: 'HOST=bad host!\nSSH_KEY=id\n', key: 'HOST', value: 'bad host!', kind: 'config' },
  { name: 'HOST 999.1.1.1', env: 'HOST=999.1.1.1\nSSH_KEY=id\n', key: 'HOST', value: '999.1.1.1', kind: 'config' },
  { name: 'HOST -leadingdash', env: 'HOST=-leadingdash\nSSH_KEY=id\n', key: 'HOST', value: '-leadingdash', kind: 'config' },
  { name: 'HOST a..b', env: 'HOST=a..b\nSSH_KEY=id\n', key: 'HOST', value: 'a..b', kind: 'config' },
  { name: 'HOST trailing dash label', env: 'HOST=web-.example.com\nSSH_KEY=id\n', key: 'HOST', value: 'web-.example.com', kind: 'config' },
  { name: 'HOST empty, no inventory', env: 'HOST=\nSSH_KEY=id\n', key: 'HOST', kind: 'config', contains: ['not set', '--inventory'] },
  { name: 'HOST absent, no inventory', env: 'SSH_KEY=id\n', key: 'HOST', kind: 'config', contains: ['not set'] },
  // SSH_PORT
  { name: 'SSH_PORT 0', env: `${OK}SSH_PORT=0\n`, key: 'SSH_PORT', value: '0', kind: 'config' },
  { name: 'SSH_PORT 70000', env: `${OK}SSH_PORT=70000\n`, key: 'SSH_PORT', value: '70000', kind: 'config' },
  { name: 'SSH_PORT abc', env: `${OK}SSH_PORT=abc\n`, key: 'SSH_PORT', value: 'abc', kind: 'config' },
  { name: 'SSH_PORT -1', env: `${OK}SSH_PORT=-1\n`, key: 'SSH_PORT', value: '-1', kind: 'config' },
  // users
  { name: 'DEPLOY_USER Root', env: `${OK}DEPLOY_USER=Root\n`, key: 'DEPLOY_USER', value: 'Root', kind: 'config' },
  { name: 'DEPLOY_USER a b', env: `${OK}DEPLOY_USER=a b\n`, key: 'DEPLOY_USER', value: 'a b', kind: 'config' },
  { name: 'SSH_USER 1abc', env: `${OK}SSH_USER=1abc\n`, key: 'SSH_USER', value: '1abc', kind: 'config' },
  // SSH_KEY
  { name: 'SSH_KEY missing file', env: 'HOST=203.0.113.7\nSSH_KEY=no-such-key\n', key: 'SSH_KEY', value: 'no-such-key', kind: 'config' },
  { name: 'SSH_KEY not a key', env: 'HOST=203.0.113.7\nSSH_KEY=notakey.txt\n', key: 'SSH_KEY', value: 'notakey.txt', kind: 'config', contains: ['not a usable private key'] },
  { name: 'SSH_KEY is a directory', env: 'HOST=203.0.113.7\nSSH_KEY=crondir\n', key: 'SSH_KEY', value: 'crondir', kind: 'config' },
  { name: 'SSH_KEY is a public key', env: 'HOST=203.0.113.7\nSSH_KEY=id.pub\n', key: 'SSH_KEY', value: 'id.pub', kind: 'config', contains: ['private'] },
  {
    name: 'encrypted SSH_KEY without passphrase',
    env: 'HOST=203.0.113.7\nSSH_KEY=enc\n',
    key: 'SSH_KEY',
    value: 'enc',
    kind: 'config',
    contains: ['encrypted', 'SSH_KEY_PASSPHRASE'],
  },
  {
    name: 'encrypted SSH_KEY with wrong passphrase in .env: names SSH_KEY_PASSPHRASE',
    env: 'HOST=203.0.113.7\nSSH_KEY=enc\nSSH_KEY_PASSPHRASE=wrong-pass-4711\n',
    key: 'SSH_KEY_PASSPHRASE',
    secret: 'wrong-pass-4711',
    kind: 'config',
    contains: ['(hidden)', 'does not decrypt SSH_KEY'],
  },
  {
    name: 'encrypted SSH_KEY with wrong passphrase from the environment: names SSH_KEY_PASSPHRASE',
    env: 'HOST=203.0.113.7\nSSH_KEY=enc\n',
    envOption: { SSH_KEY_PASSPHRASE: 'env-wrong-pass-0815' },
    key: 'SSH_KEY_PASSPHRASE',
    secret: 'env-wrong-pass-0815',
    kind: 'config',
    contains: ['the environment'],
  },
  // SSH_JUMP
  { name: 'SSH_JUMP without user', env: `${OK}SSH_JUMP=bastion\n`, key: 'SSH_JUMP', value: 'bastion', kind: 'config' },
  { name: 'SSH_JUMP with bad user', env: `${OK}SSH_JUMP=Root@bastion\n`, key: 'SSH_JUMP', value: 'Root@bastion', kind: 'config' },
  { name: 'SSH_JUMP with bad host', env: `${OK}SSH_JUMP=ops@a..b\n`, key: 'SSH_JUMP', value: 'ops@a..b', kind: 'config' },
  { name: 'SSH_JUMP with bad port', env: `${OK}SSH_JUMP=ops@bastion:70000\n`, key: 'SSH_JUMP', value: 'ops@bastion:70000', kind: 'config' },
  { name: 'SSH_JUMP with non-numeric port', env: `${OK}SSH_JUMP=ops@bastion:ssh\n`, key: 'SSH_JUMP', value: 'ops@bastion:ssh', kind: 'config' },
  // numbers and names
  { name: 'SSH_CONNECT_TIMEOUT 0', env: `${OK}SSH_CONNECT_TIMEOUT=0\n`, key: 'SSH_CONNECT_TIMEOUT', value: '0', kind: 'config' },
  { name: 'SSH_CONNECT_TIMEOUT 601', env: `${OK}SSH_CONNECT_TIMEOUT=601\n`, key: 'SSH_CONNECT_TIMEOUT', value: '601', kind: 'config' },
  { name: 'SSH_COMMAND_TIMEOUT 1.5', env: `${OK}SSH_COMMAND_TIMEOUT=1.5\n`, key: 'SSH_COMMAND_TIMEOUT', value: '1.5', kind: 'config' },
  { name: 'RETRIES 11', env: `${OK}RETRIES=11\n`, key: 'RETRIES', value: '11', kind: 'config' },
  { name: 'RETRIES -1', env: `${OK}RETRIES=-1\n`, key: 'RETRIES', value: '-1', kind: 'config' },
  { name: 'APP_NAME My App', env: `${OK}APP_NAME=My App\n`, key: 'APP_NAME', value: 'My App', kind: 'config' },
  { name: 'APP_NAME -app', env: `${OK}APP_NAME=-app\n`, key: 'APP_NAME', value: '-app', kind: 'config' },
  // bootstrap and release keys
  { name: 'APP_PORT 0', env: `${OK}APP_PORT=0\n`, key: 'APP_PORT', value: '0', kind: 'config' },
  { name: 'APP_DOMAIN with a space', env: `${OK}APP_DOMAIN=api example.com\n`, key: 'APP_DOMAIN', value: 'api example.com', kind: 'config' },
  { name: 'APP_DOMAIN an address', env: `${OK}APP_DOMAIN=203.0.113.7\n`, key: 'APP_DOMAIN', value: '203.0.113.7', kind: 'config' },
  { name: 'APP_DOMAIN without a dot', env: `${OK}APP_DOMAIN=localhost\n`, key: 'APP_DOMAIN', value: 'localhost', kind: 'config' },
  { name: 'PUBLIC_IPS not an address', env: `${OK}PUBLIC_IPS=203.0.113.7,1.2.3\n`, key: 'PUBLIC_IPS', value: '203.0.113.7,1.2.3', kind: 'config' },
  { name: 'DNS_RESOLVERS a name', env: `${OK}DNS_RESOLVERS=dns.google\n`, key: 'DNS_RESOLVERS', value: 'dns.google', kind: 'config' },
  { name: 'DNS_RESOLVERS port 0', env: `${OK}DNS_RESOLVERS=127.0.0.1:0\n`, key: 'DNS_RESOLVERS', value: '127.0.0.1:0', kind: 'config' },
  { name: 'DNS_AUTHORITATIVE yes', env: `${OK}DNS_AUTHORITATIVE=yes\n`, key: 'DNS_AUTHORITATIVE', value: 'yes', kind: 'config' },
  { name: 'DNS_WAIT 0', env: `${OK}DNS_WAIT=0\n`, key: 'DNS_WAIT', value: '0', kind: 'config' },
  { name: 'APP_REPO https', env: `${OK}APP_REPO=https://github.com/acme/app.git\n`, key: 'APP_REPO', value: 'https://github.com/acme/app.git', kind: 'config' },
  { name: 'APP_REPO with ..', env: `${OK}APP_REPO=git@github.com:acme/../etc.git\n`, key: 'APP_REPO', value: 'git@github.com:acme/../etc.git', kind: 'config' },
  { name: 'APP_REPO without owner', env: `${OK}APP_REPO=git@github.com:app.git\n`, key: 'APP_REPO', value: 'git@github.com:app.git', kind: 'config' },
  { name: 'GITHUB_API_URL not a URL', env: `${OK}GITHUB_API_URL=api.github.com\n`, key: 'GITHUB_API_URL', value: 'api.github.com', kind: 'config' },
  { name: 'EXTRA_PACKAGES with a shell word', env: `${OK}EXTRA_PACKAGES=htop;rm\n`, key: 'EXTRA_PACKAGES', value: 'htop;rm', kind: 'config' },
  // apt-get install reads a name ending in - as "remove": openssh-server- would take sshd away.
  { name: 'EXTRA_PACKAGES removing a package (trailing -)', env: `${OK}EXTRA_PACKAGES=htop openssh-server-\n`, key: 'EXTRA_PACKAGES', value: 'htop openssh-server-', kind: 'config', contains: ['"openssh-server-" ends in "-"', 'remove openssh-server', 'Fix: set EXTRA_PACKAGES'] },
  { name: 'EXTRA_PACKAGES with a version (not supported)', env: `${OK}EXTRA_PACKAGES=nano=7.2-1\n`, key: 'EXTRA_PACKAGES', value: 'nano=7.2-1', kind: 'config', contains: ['not a Debian package name'] },
  { name: 'EXTRA_PACKAGES upper case', env: `${OK}EXTRA_PACKAGES=Htop\n`, key: 'EXTRA_PACKAGES', value: 'Htop', kind: 'config' },
  {
    name: 'inventory vars EXTRA_PACKAGES removing sshd on one host',
    env: INV_ENV,
    inventory: inv1('    vars:\n      EXTRA_PACKAGES: "tmux, openssh-server-"\n'),
    key: 'EXTRA_PACKAGES',
    value: 'tmux, openssh-server-',
    kind: 'config',
    contains: ['hosts.web1.vars', 'remove openssh-server', 'Fix:'],
  },
  // Every request carries GITHUB_TOKEN: plain http only to this machine.
  { name: 'GITHUB_API_URL plain http to another machine', env: `${OK}GITHUB_API_URL=http://ghe.example.com/api/v3\n`, key: 'GITHUB_API_URL', value: 'http://ghe.example.com/api/v3', kind: 'config', contains: ['unencrypted', 'plain http only to this machine'] },
  { name: 'GITHUB_API_URL http to a host that starts like localhost', env: `${OK}GITHUB_API_URL=http://localhost.evil.example/\n`, key: 'GITHUB_API_URL', value: 'http://localhost.evil.example/', kind: 'config', contains: ['"localhost.evil.example"'] },
  { name: 'GITHUB_API_URL http with 127.0.0.1 as a user name', env: `${OK}GITHUB_API_URL=http://127.0.0.1@evil.example/\n`, key: 'GITHUB_API_URL', value: 'http://127.0.0.1@evil.example/', kind: 'config', contains: ['user name'] },
  { name: 'GITHUB_API_URL http to a private address', env: `${OK}GITHUB_API_URL=http://10.0.0.5:8080\n`, key: 'GITHUB_API_URL', value: 'http://10.0.0.5:8080', kind: 'config' },
  { name: 'FIREWALL iptables', env: `${OK}FIREWALL=iptables\n`, key: 'FIREWALL', value: 'iptables', kind: 'config' },
  { name: 'SSHD_OPTIONS Match block', env: `${OK}SSHD_OPTIONS=Match User x\n`, key: 'SSHD_OPTIONS', value: 'Match User x', kind: 'config' },
  { name: 'SSHD_OPTIONS keyword only', env: `${OK}SSHD_OPTIONS=PermitEmptyPasswords\n`, key: 'SSHD_OPTIONS', value: 'PermitEmptyPasswords', kind: 'config' },
  { name: 'FORGE_KNOWN_HOSTS missing', env: `${OK}FORGE_KNOWN_HOSTS=no-such-file\n`, key: 'FORGE_KNOWN_HOSTS', value: 'no-such-file', kind: 'config' },
  { name: 'AUTHORIZED_KEYS missing', env: `${OK}AUTHORIZED_KEYS=no-such-file\n`, key: 'AUTHORIZED_KEYS', value: 'no-such-file', kind: 'config' },
  { name: 'GIT_REF with ..', env: `${OK}GIT_REF=main..evil\n`, key: 'GIT_REF', value: 'main..evil', kind: 'config' },
  { name: 'GIT_REF starting with a dash', env: `${OK}GIT_REF=-x\n`, key: 'GIT_REF', value: '-x', kind: 'config' },
  { name: 'KEEP_RELEASES 0', env: `${OK}KEEP_RELEASES=0\n`, key: 'KEEP_RELEASES', value: '0', kind: 'config' },
  { name: 'COMPOSE_FILE outside the repo', env: `${OK}COMPOSE_FILE=../compose.yaml\n`, key: 'COMPOSE_FILE', value: '../compose.yaml', kind: 'config' },
  { name: 'HEALTH_PATH without slash', env: `${OK}HEALTH_PATH=health\n`, key: 'HEALTH_PATH', value: 'health', kind: 'config' },
  { name: 'GREEN_PORT equal to BLUE_PORT', env: `${OK}GREEN_PORT=18001\n`, key: 'GREEN_PORT', value: '18001', kind: 'config' },
  { name: 'CADDY_TLS yes', env: `${OK}CADDY_TLS=yes\n`, key: 'CADDY_TLS', value: 'yes', kind: 'config' },
  { name: 'CADDY_EXTRA with a block', env: `${OK}CADDY_EXTRA=handle { respond 200 }\n`, key: 'CADDY_EXTRA', value: 'handle { respond 200 }', kind: 'config' },
  { name: 'APP_ENV_FILE missing', env: `${OK}APP_ENV_FILE=no-such.env\n`, key: 'APP_ENV_FILE', value: 'no-such.env', kind: 'config' },
  { name: 'APP_CRONTAB together with CRON_FILE', env: `${OK}CRON_FILE=jobs.cron\nAPP_CRONTAB=deploy/crontab\n`, key: 'APP_CRONTAB', value: 'deploy/crontab', kind: 'config' },
  { name: 'APP_CRONTAB outside the repo', env: `${OK}APP_CRONTAB=../crontab\n`, key: 'APP_CRONTAB', value: '../crontab', kind: 'config' },
  // CRON_FILE
  { name: 'CRON_FILE missing file', env: `${OK}CRON_FILE=no-such.cron\n`, key: 'CRON_FILE', value: 'no-such.cron', kind: 'config' },
  { name: 'CRON_FILE is a directory', env: `${OK}CRON_FILE=crondir\n`, key: 'CRON_FILE', value: 'crondir', kind: 'config' },
  // KNOWN_HOSTS: read only when connecting, so checked here
  { name: 'KNOWN_HOSTS is a directory', env: `${OK}KNOWN_HOSTS=crondir\n`, key: 'KNOWN_HOSTS', value: 'crondir', kind: 'config' },
  // values that passed before and failed only on the host (or never)
  { name: 'APP_REPO host that reads as an ssh option', env: `${OK}APP_REPO=git@-oProxyCommand:acme/app.git\n`, key: 'APP_REPO', value: 'git@-oProxyCommand:acme/app.git', kind: 'config' },
  { name: 'APP_REPO ssh:// host that reads as an option', env: `${OK}APP_REPO=ssh://git@-v/acme/app.git\n`, key: 'APP_REPO', value: 'ssh://git@-v/acme/app.git', kind: 'config' },
  { name: 'APP_REPO owner that reads as an option', env: `${OK}APP_REPO=git@github.com:-u/app.git\n`, key: 'APP_REPO', value: 'git@github.com:-u/app.git', kind: 'config' },
  { name: 'APP_REPO host with an empty label', env: `${OK}APP_REPO=git@github..com:acme/app.git\n`, key: 'APP_REPO', value: 'git@github..com:acme/app.git', kind: 'config' },
  { name: 'GITHUB_TOKEN with a line break (an extra HTTP header), hidden', env: `${OK}GITHUB_TOKEN="ghp_tok4242\\nX-Evil: 1"\n`, key: 'GITHUB_TOKEN', secret: 'ghp_tok4242', kind: 'config', contains: ['(hidden)'] },
  { name: 'GITHUB_TOKEN from the environment with a space, hidden', env: OK, envOption: { GITHUB_TOKEN: 'ghp_env 4243' }, key: 'GITHUB_TOKEN', secret: 'ghp_env 4243', kind: 'config' },
  { name: 'APP_SERVICE with upper case (no Docker image name)', env: `${OK}APP_SERVICE=Web\n`, key: 'APP_SERVICE', value: 'Web', kind: 'config', contains: ['image name'] },
  { name: 'APP_SERVICE ending in a separator', env: `${OK}APP_SERVICE=web_\n`, key: 'APP_SERVICE', value: 'web_', kind: 'config' },
  { name: 'CADDY_EXTRA with an open quote', env: `${OK}CADDY_EXTRA='header X-A "open'\n`, key: 'CADDY_EXTRA', value: 'header X-A \\"open', kind: 'config', contains: ['quote open'] },
  { name: 'CADDY_EXTRA importing a host file', env: `${OK}CADDY_EXTRA=encode gzip; import /etc/caddy/other\n`, key: 'CADDY_EXTRA', value: 'encode gzip; import /etc/caddy/other', kind: 'config', contains: ['"import"', 'reads files', 'allowed: header'] },
  { name: 'CADDY_EXTRA serving the host\'s files', env: `${OK}CADDY_EXTRA=root * /; file_server browse\n`, key: 'CADDY_EXTRA', value: 'root * /; file_server browse', kind: 'config', contains: ['"root"', 'folder on the host'] },
  { name: 'CADDY_EXTRA file_server alone', env: `${OK}CADDY_EXTRA=file_server /etc/*\n`, key: 'CADDY_EXTRA', value: 'file_server /etc/*', kind: 'config', contains: ['serves files'] },
  { name: 'CADDY_EXTRA tls with certificate paths', env: `${OK}CADDY_EXTRA=tls /etc/ssl/private/a.pem /etc/ssl/private/a.key\n`, key: 'CADDY_EXTRA', value: 'tls /etc/ssl/private/a.pem /etc/ssl/private/a.key', kind: 'config', contains: ['"tls"', 'CADDY_TLS'] },
  { name: 'CADDY_EXTRA templates', env: `${OK}CADDY_EXTRA=templates\n`, key: 'CADDY_EXTRA', value: 'templates', kind: 'config', contains: ['"templates"'] },
  { name: 'CADDY_EXTRA try_files', env: `${OK}CADDY_EXTRA=try_files /etc/passwd\n`, key: 'CADDY_EXTRA', value: 'try_files /etc/passwd', kind: 'config', contains: ['"try_files"'] },
  { name: 'CADDY_EXTRA php_fastcgi', env: `${OK}CADDY_EXTRA=php_fastcgi unix//run/php.sock\n`, key: 'CADDY_EXTRA', value: 'php_fastcgi unix//run/php.sock', kind: 'config', contains: ['runs programs'] },
  { name: 'CADDY_EXTRA a second reverse_proxy', env: `${OK}CADDY_EXTRA=reverse_proxy /admin* 127.0.0.1:2019\n`, key: 'CADDY_EXTRA', value: 'reverse_proxy /admin* 127.0.0.1:2019', kind: 'config', contains: ['"reverse_proxy"'] },
  { name: 'CADDY_EXTRA a file matcher', env: `${OK}CADDY_EXTRA=@has file /etc/passwd\n`, key: 'CADDY_EXTRA', value: '@has file /etc/passwd', kind: 'config', contains: ['matcher'] },
  { name: 'CADDY_EXTRA a directive it does not know', env: `${OK}CADDY_EXTRA=encode gzip; bogus_directive on\n`, key: 'CADDY_EXTRA', value: 'encode gzip; bogus_directive on', kind: 'config', contains: ['"bogus_directive"', 'not one of the directives allowed'] },
  { name: 'CADDY_EXTRA a {file.*} placeholder', env: `${OK}CADDY_EXTRA=header X-A {file./etc/shadow}\n`, key: 'CADDY_EXTRA', value: 'header X-A {file./etc/shadow}', kind: 'config', contains: ['placeholders'] },
  { name: 'CADDY_EXTRA a {$ENV} placeholder', env: `${OK}CADDY_EXTRA='respond "{$GITHUB_TOKEN}"'\n`, key: 'CADDY_EXTRA', value: 'respond \\"{$GITHUB_TOKEN}\\"', kind: 'config', contains: ['placeholders'] },
  { name: 'CADDY_EXTRA a {env.*} placeholder', env: `${OK}CADDY_EXTRA=header X-A {env.HOME}\n`, key: 'CADDY_EXTRA', value: 'header X-A {env.HOME}', kind: 'config', contains: ['placeholders'] },
  { name: 'CADDY_EXTRA with an open backtick', env: `${OK}CADDY_EXTRA=respond \`x\n`, key: 'CADDY_EXTRA', value: 'respond `x', kind: 'config' },
  { name: 'APP_CRONTAB naming the app .env', env: `${OK}APP_CRONTAB=.env\n`, key: 'APP_CRONTAB', value: '.env', kind: 'config', contains: ['secrets'] },
  { name: 'APP_CRONTAB naming ./.env', env: `${OK}APP_CRONTAB=./.env\n`, key: 'APP_CRONTAB', value: './.env', kind: 'config' },
  { name: 'COMPOSE_FILE naming the app .env', env: `${OK}COMPOSE_FILE=.env\n`, key: 'COMPOSE_FILE', value: '.env', kind: 'config' },
  // .env lines dotenv would drop, and repeated keys
  { name: '.env line without =', env: `${OK}CRON_FILE jobs.cron\n`, key: 'CRON_FILE', kind: 'config', contains: ['line 3', 'ignored'] },
  { name: '.env line that is no setting at all', env: `${OK}$(touch /tmp/x)\n`, key: 'line 3', kind: 'config', contains: ['ignored'] },
  { name: '.env line without = hides the rest of the line', env: `${OK}SSH_KEY_PASSPHRASE hunter-line-4244\n`, key: 'SSH_KEY_PASSPHRASE', secret: 'hunter-line-4244', kind: 'config' },
  { name: '.env key given twice', env: `${OK}APP_NAME=one\nAPP_NAME=two\n`, key: 'APP_NAME', kind: 'config', contains: ['lines 3 and 4'] },
  // files
  { name: '--env-file that does not exist', env: null, key: '--env-file', kind: 'usage' },
  // inventory
  { name: 'HOST set together with an inventory', env: `HOST=203.0.113.7\n${INV_ENV}`, inventory: inv1(''), key: 'HOST', value: '203.0.113.7', kind: 'config', contains: ['inventory'] },
  { name: 'inventory not YAML', env: INV_ENV, inventory: 'hosts: [unclosed\n  web1: {\n', key: '(file)', kind: 'usage', contains: ['YAML'] },
  { name: 'inventory not a mapping', env: INV_ENV, inventory: '- web1\n- web2\n', key: '(file)', kind: 'usage' },
  { name: 'inventory empty file', env: INV_ENV, inventory: '', key: '(file)', kind: 'usage' },
  { name: 'inventory unknown top-level key', env: INV_ENV, inventory: `${inv1('')}defaults:\n  port: 22\n`, key: 'defaults', kind: 'usage' },
  { name: 'inventory without hosts', env: INV_ENV, inventory: 'hosts: {}\n', key: 'hosts', kind: 'usage' },
  { name: 'inventory bad host name', env: INV_ENV, inventory: 'hosts:\n  "web 1!":\n    host: 203.0.113.10\n', key: 'hosts.web 1!', kind: 'usage' },
  { name: 'inventory host not a mapping', env: INV_ENV, inventory: 'hosts:\n  web1: 203.0.113.10\n', key: 'hosts.web1', kind: 'usage' },
  { name: 'inventory unknown host field prot', env: INV_ENV, inventory: inv1('    prot: 22\n'), key: 'hosts.web1.prot', kind: 'usage' },
  { name: 'inventory host address missing', env: INV_ENV, inventory: 'hosts:\n  web1:\n    port: 22\n', key: 'hosts.web1.host', kind: 'usage' },
  { name: 'inventory bad host address', env: INV_ENV, inventory: 'hosts:\n  web1:\n    host: 999.1.1.1\n', key: 'hosts.web1.host', value: '999.1.1.1', kind: 'usage' },
  { name: 'inventory port 70000', env: INV_ENV, inventory: inv1('    port: 70000\n'), key: 'hosts.web1.port', value: '70000', kind: 'usage' },
  { name: 'inventory port abc', env: INV_ENV, inventory: inv1('    port: abc\n'), key: 'hosts.web1.port', value: 'abc', kind: 'usage' },
  { name: 'inventory port 0', env: INV_ENV, inventory: inv1('    port: 0\n'), key: 'hosts.web1.port', value: '0', kind: 'usage' },
  { name: 'inventory port a list', env: INV_ENV, inventory: inv1('    port: [22]\n'), key: 'hosts.web1.port', kind: 'usage' },
  {
    name: 'JSON inventory with bad port',
    env: INV_ENV,
    inventory: '{"hosts": {"web1": {"host": "203.0.113.10", "port": 99999}}}',
    inventoryExt: 'json',
    key: 'hosts.web1.port',
    value: '99999',
    kind: 'usage',
  },
  { name: 'inventory tags not a list', env: INV_ENV, inventory: inv1('    tags: web\n'), key: 'hosts.web1.tags', kind: 'usage' },
  { name: 'inventory tags with a bad name', env: INV_ENV, inventory: inv1('    tags: [web, "no good"]\n'), key: 'hosts.web1.tags', kind: 'usage' },
  { name: 'inventory vars not a mapping', env: INV_ENV, inventory: inv1('    vars: [a]\n'), key: 'hosts.web1.vars', kind: 'usage' },
  { name: 'inventory with an unknown YAML tag (a warning is an error)', env: INV_ENV, inventory: inv1('    vars: !!js/function "x"\n'), key: '(file)', kind: 'usage', contains: ['Unresolved tag'] },
  { name: 'inventory host name with a line break stays one line', env: INV_ENV, inventory: 'hosts:\n  "web\\n1":\n    host: 203.0.113.10\n', key: 'hosts.web\\u000a1', kind: 'usage' },
  { name: 'inventory address with an escape sequence stays one line', env: INV_ENV, inventory: 'hosts:\n  web1:\n    host: "\\e[31mred"\n', key: 'hosts.web1.host', value: '"\\u001b[31mred"', kind: 'usage' },
  { name: 'inventory vars key with a line break stays one line', env: INV_ENV, inventory: inv1('    vars:\n      "SSH_PORT\\nX": 22\n'), key: '"SSH_PORT\\nX"', kind: 'config' },
  { name: 'inventory vars value not plain', env: INV_ENV, inventory: inv1('    vars:\n      SSH_PORT: [1]\n'), key: 'hosts.web1.vars.SSH_PORT', kind: 'usage' },
  {
    name: 'inventory vars unknown key',
    env: INV_ENV,
    inventory: inv1('    vars:\n      SSH_PROT: 2222\n'),
    key: 'SSH_PROT',
    value: '2222',
    kind: 'config',
    contains: ['hosts.web1.vars', 'did you mean SSH_PORT'],
  },
  {
    name: 'inventory vars KNOWN_HOSTS cannot differ per host',
    env: INV_ENV,
    inventory: inv1('    vars:\n      KNOWN_HOSTS: /tmp/kh\n'),
    key: 'KNOWN_HOSTS',
    value: '/tmp/kh',
    kind: 'config',
    contains: ['hosts.web1.vars', 'per host'],
  },
  {
    name: 'inventory vars RETRIES cannot differ per host',
    env: INV_ENV,
    inventory: inv1('    vars:\n      RETRIES: 5\n'),
    key: 'RETRIES',
    value: '5',
    kind: 'config',
    contains: ['per host'],
  },
  {
    name: 'inventory vars secret SSH_KEY_PASSPHRASE cannot differ per host, and stays hidden',
    env: INV_ENV,
    inventory: inv1('    vars:\n      SSH_KEY_PASSPHRASE: inv-secret-9931\n'),
    key: 'SSH_KEY_PASSPHRASE',
    secret: 'inv-secret-9931',
    kind: 'config',
    contains: ['hosts.web1.vars'],
  },
  {
    name: 'inventory vars with a bad per-host value',
    env: INV_ENV,
    inventory: inv1('    vars:\n      SSH_PORT: abc\n'),
    key: 'SSH_PORT',
    value: 'abc',
    kind: 'config',
    contains: ['hosts.web1.vars'],
  },
  {
    name: 'inventory vars DEPLOY_USER Root',
    env: INV_ENV,
    inventory: inv1('    vars:\n      DEPLOY_USER: Root\n'),
    key: 'DEPLOY_USER',
    value: 'Root',
    kind: 'config',
  },
  {
    name: 'SSH_PORT in .env is checked even though the inventory gives the port',
    env: `${INV_ENV}SSH_PORT=22x\n`,
    inventory: inv1('    port: 2222\n'),
    key: 'SSH_PORT',
    value: '22x',
    kind: 'config',
  },
  {
    name: 'inventory with both port: and vars.SSH_PORT',
    env: INV_ENV,
    inventory: inv1('    port: 2222\n    vars:\n      SSH_PORT: 2200\n'),
    key: 'SSH_PORT',
    value: '2200',
    kind: 'config',
    contains: ['port: 2222'],
  },
  { name: 'missing inventory file', env: INV_ENV, key: '--inventory', kind: 'usage' },
  {
    name: '--hosts names a host not in the inventory',
    env: INV_ENV,
    inventory: `${inv1('')}  web2:\n    host: 203.0.113.11\n`,
    only: ['web1', 'web9'],
    key: '--hosts',
    value: 'web9',
    kind: 'usage',
    contains: ['web1', 'web2'],
  },
  { name: '--hosts names a host other than HOST', env: OK, only: ['web1'], key: '--hosts', value: 'web1', kind: 'usage', contains: ['203.0.113.7'] },
];

for (const c of BAD) {
  test(`rejects: ${c.name}`, () => {
    let opts: Partial<LoadOptions> & { inventory?: string; inventoryExt?: 'yml' | 'json' } = {
      ...(c.inventory !== undefined ? { inventory: c.inventory } : {}),
      ...(c.inventoryExt ? { inventoryExt: c.inventoryExt } : {}),
      ...(c.only ? { only: c.only } : {}),
      ...(c.envOption ? { env: c.envOption } : {}),
    };
    if (c.key === '--inventory') opts = { ...opts, inventoryFile: join(dir, 'no-such-inventory.yml') };
    const e = thrown(() => load(c.env, opts));
    assert.ok(e !== undefined, 'loadConfig did not throw');
    assert.ok(e instanceof ConfigError || e instanceof UsageError, `not a ConfigError/UsageError: ${String(e)}`);
    if (c.kind === 'config') {
      assert.instance(e, ConfigError);
      assert.is((e as ConfigError).key, c.key);
    }
    if (c.kind === 'usage') assert.instance(e, UsageError);
    const message = (e as Error).message;
    assert.ok(message.includes(c.key), `message does not name ${c.key}: ${message}`);
    if (c.value !== undefined) assert.ok(message.includes(c.value), `message does not show "${c.value}": ${message}`);
    assert.ok(message.includes('Fix:'), `message has no "Fix:": ${message}`);
    if (c.secret !== undefined) assert.not.ok(message.includes(c.secret), `message leaks the secret: ${message}`);
    for (const text of c.contains ?? []) assert.ok(message.includes(text), `message does not contain "${text}": ${message}`);
    assert.not.ok(message.includes('\n'), `message is not one line: ${message}`);
  });
}

/** What hoist derives from a key pair: the public half, as an authorized_keys line. */
function publicLineOf(pubFile: string): string {
  return `${readFileSync(pubFile, 'utf8').trim().split(' ').slice(0, 2).join(' ')} hoist`;
}

test('a minimal .env gives the documented defaults', () => {
  const { envFile, hosts } = load(OK);
  assert.is(envFile, join(dir, `case-${caseNo}.env`));
  assert.is(hosts.length, 1);
  const h = hosts[0]!;
  assert.is(h.name, '203.0.113.7');
  assert.is(h.address, '203.0.113.7');
  assert.equal(h.tags, []);
  assert.equal(h.settings, {
    sshPort: 22,
    sshUser: 'root',
    deployUser: 'deploy',
    sshKeyPath: join(dir, 'id'),
    knownHostsPath: join(homedir(), '.ssh', 'known_hosts'),
    connectTimeoutMs: 20000,
    commandTimeoutMs: 900000,
    retries: 3,
    appName: 'app',
    appPort: 8000,
    authorizedKeys: [publicLineOf(join(dir, 'id.pub'))],
    domains: [],
    publicIps: [],
    dnsResolvers: [],
    dnsAuthoritative: false,
    dnsWaitMs: 600_000,
    githubApiUrl: 'https://api.github.com',
    deployKeyWaitMs: 600_000,
    extraPackages: [],
    firewall: 'none',
    sshdOptions: [],
    gitRef: 'main',
    keepReleases: 5,
    backupKeep: 3,
    backupImage: 'busybox:1.36',
    build: 'host',
    buildSource: process.cwd(),
    appService: 'web',
    healthPath: '/',
    healthTimeoutMs: 120_000,
    drainTimeoutMs: 30_000,
    bluePort: null,
    greenPort: null,
    caddyTls: 'auto',
    caddyExtra: [],
    notifyFormat: 'json',
    alertDiskFree: 1024 ** 3,
    dockerLog: { maxSize: '10m', maxFile: 3 },
    swap: 'auto',
    autoUpgrades: 'off',
  });
});

test('every setting given in .env is used', () => {
  const env = [
    'HOST=app.example.com',
    'SSH_PORT=2222',
    'SSH_USER=ubuntu',
    'DEPLOY_USER=shipper',
    'SSH_KEY=id',
    'KNOWN_HOSTS=kh/known',
    'SSH_JUMP=ops@[2001:db8::1]:2022',
    'SSH_CONNECT_TIMEOUT=5',
    'SSH_COMMAND_TIMEOUT=60',
    'RETRIES=0',
    'APP_NAME=sentiment-api',
    'CRON_FILE=jobs.cron',
    'APP_PORT=9000',
    'APP_DOMAIN=api.example.com, www.example.com',
    'PUBLIC_IPS=203.0.113.7,2001:db8::7',
    'DNS_RESOLVERS=127.0.0.1:5353,9.9.9.9',
    'DNS_AUTHORITATIVE=true',
    'DNS_WAIT=30',
    'APP_REPO=git@github.com:acme/sentiment-api.git',
    'GITHUB_API_URL=https://ghe.example.com/api/v3/',
    'DEPLOY_KEY_WAIT=20',
    'EXTRA_PACKAGES=htop, tmux  ncdu',
    'FIREWALL=ufw',
    'SSHD_OPTIONS=MaxAuthTries 3; ClientAliveInterval 300',
    'GIT_REF=v1.2.0',
    'APP_ENV_FILE=app.env',
    'KEEP_RELEASES=3',
    'COMPOSE_FILE=deploy/compose.yaml',
    'BUILD=registry',
    'BUILD_SOURCE=src/app',
    'REGISTRY=registry.example.com:5000/acme',
    'REGISTRY_USER=ci',
    'REGISTRY_PASSWORD=reg-pass-0123',
    'APP_SERVICE=api',
    'HEALTH_PATH=/health',
    'HEALTH_TIMEOUT=30',
    'DRAIN_TIMEOUT=45',
    'BLUE_PORT=19001',
    'GREEN_PORT=19002',
    'CADDY_TLS=internal',
    'CADDY_EXTRA=encode gzip; header X-Robots-Tag noindex',
    'NOTIFY_URL=https://hooks.example.com/services/T0/B0/x',
    'NOTIFY_FORMAT=slack',
    'ALERT_DISK_FREE=500M',
    'DOCKER_LOG_MAX_SIZE=50m',
    'DOCKER_LOG_MAX_FILE=5',
    'SWAP_SIZE=1.5G',
    'AUTO_UPGRADES=security',
    'BUILD_MEMORY=768M',
    '',
  ].join('\n');
  const [h] = load(env).hosts;
  assert.equal(h!.settings, {
    sshPort: 2222,
    sshUser: 'ubuntu',
    deployUser: 'shipper',
    sshKeyPath: join(dir, 'id'),
    knownHostsPath: join(dir, 'kh', 'known'),
    jump: { user: 'ops', host: '2001:db8::1', port: 2022 },
    connectTimeoutMs: 5000,
    commandTimeoutMs: 60000,
    retries: 0,
    appName: 'sentiment-api',
    cronFile: join(dir, 'jobs.cron'),
    appPort: 9000,
    authorizedKeys: [publicLineOf(join(dir, 'id.pub'))],
    domains: ['api.example.com', 'www.example.com'],
    publicIps: ['203.0.113.7', '2001:db8::7'],
    dnsResolvers: ['127.0.0.1:5353', '9.9.9.9'],
    dnsAuthoritative: true,
    dnsWaitMs: 30_000,
    repo: { url: 'git@github.com:acme/sentiment-api.git', user: 'git', host: 'github.com', port: 22, path: 'acme/sentiment-api.git', owner: 'acme', repo: 'sentiment-api' },
    githubApiUrl: 'https://ghe.example.com/api/v3',
    deployKeyWaitMs: 20_000,
    extraPackages: ['htop', 'tmux', 'ncdu'],
    firewall: 'ufw',
    sshdOptions: ['MaxAuthTries 3', 'ClientAliveInterval 300'],
    gitRef: 'v1.2.0',
    appEnvFile: join(dir, 'app.env'),
    keepReleases: 3,
    backupKeep: 3,
    backupImage: 'busybox:1.36',
    composeFile: 'deploy/compose.yaml',
    build: 'registry',
    buildSource: join(dir, 'src/app'),
    registry: { address: 'registry.example.com:5000/acme', user: 'ci', password: 'reg-pass-0123' },
    appService: 'api',
    healthPath: '/health',
    healthTimeoutMs: 30_000,
    drainTimeoutMs: 45_000,
    bluePort: 19001,
    greenPort: 19002,
    caddyTls: 'internal',
    caddyExtra: ['encode gzip', 'header X-Robots-Tag noindex'],
    notifyUrl: 'https://hooks.example.com/services/T0/B0/x',
    notifyFormat: 'slack',
    alertDiskFree: 500 * 1024 ** 2,
    dockerLog: { maxSize: '50m', maxFile: 5 },
    swap: 1.5 * 1024 ** 3,
    autoUpgrades: 'security',
    buildMemory: 768 * 1024 ** 2,
  });
});

test('DOCKER_LOG_MAX_SIZE=off leaves daemon.json alone; SWAP_SIZE 0 and off are the same', () => {
  assert.is(load(`${OK}DOCKER_LOG_MAX_SIZE=off\n`).hosts[0]!.settings.dockerLog, null);
  assert.is(load(`${OK}SWAP_SIZE=0\n`).hosts[0]!.settings.swap, 'off');
  assert.is(load(`${OK}SWAP_SIZE=off\n`).hosts[0]!.settings.swap, 'off');
  assert.is(load(`${OK}SWAP_SIZE=\n`).hosts[0]!.settings.swap, 'auto');
});

test('SSH_JUMP without a port defaults to 22; empty optional keys are unset', () => {
  const [h] = load(`${OK}SSH_JUMP=ops@bastion.example.com\nCRON_FILE=\nSSH_KEY_PASSPHRASE=\n`).hosts;
  assert.equal(h!.settings.jump, { user: 'ops', host: 'bastion.example.com', port: 22 });
  assert.is(h!.settings.cronFile, undefined);
  assert.is(h!.settings.sshKeyPassphrase, undefined);
});

test('GITHUB_API_URL: https anywhere, plain http to loopback only (a proxy, the tests\' fake GitHub)', () => {
  for (const url of ['https://api.github.com', 'https://ghe.example.com/api/v3', 'http://127.0.0.1:8080', 'http://127.9.9.9/api', 'http://localhost:3000/api/v3', 'http://[::1]:8080', 'http://127.1:9000']) {
    const [h] = load(`${OK}GITHUB_API_URL=${url}\n`).hosts;
    assert.is(h!.settings.githubApiUrl, url, url);
  }
});

test('EXTRA_PACKAGES: Debian package names, dots and plus signs included', () => {
  const [h] = load(`${OK}EXTRA_PACKAGES=g++ python3.11 libstdc++6,nano+ 0xffff\n`).hosts;
  assert.equal(h!.settings.extraPackages, ['g++', 'python3.11', 'libstdc++6', 'nano+', '0xffff']);
});

test('valid HOST forms are accepted', () => {
  for (const host of ['203.0.113.7', 'app.example.com', 'app.example.com.', 'vps-1', '2001:db8::7', 'localhost']) {
    const [h] = load(`HOST=${host}\nSSH_KEY=id\n`).hosts;
    assert.is(h!.address, host);
  }
});

test('relative SSH_KEY resolves against the folder of the .env, not the cwd', () => {
  const before = process.cwd();
  process.chdir(tmpdir());
  try {
    const [h] = load(OK).hosts;
    assert.is(h!.settings.sshKeyPath, join(dir, 'id'));
    const [h2] = load('HOST=203.0.113.7\nSSH_KEY=inv/db_key\n').hosts;
    assert.is(h2!.settings.sshKeyPath, join(dir, 'inv', 'db_key'));
  } finally {
    process.chdir(before);
  }
});

test('SSH_KEY ~/ resolves against the home directory', () => {
  const home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(home, '.ssh', 'hoist_key')]);
  const saved = process.env.HOME;
  process.env.HOME = home;
  try {
    assert.is(homedir(), home);
    const [h] = load('HOST=203.0.113.7\nSSH_KEY=~/.ssh/hoist_key\nKNOWN_HOSTS=~/.ssh/kh\n').hosts;
    assert.is(h!.settings.sshKeyPath, join(home, '.ssh', 'hoist_key'));
    assert.is(h!.settings.knownHostsPath, join(home, '.ssh', 'kh'));
    // a ~/ path that is missing is reported with the expanded path
    const e = thrown(() => load('HOST=203.0.113.7\nSSH_KEY=~/.ssh/nope\n'));
    assert.instance(e, ConfigError);
    assert.ok((e as Error).message.includes(join(home, '.ssh', 'nope')), (e as Error).message);
  } finally {
    if (saved === undefined) delete process.env.HOME;
    else process.env.HOME = saved;
  }
});

test('an encrypted key loads with the right passphrase from .env', () => {
  const [h] = load(`HOST=203.0.113.7\nSSH_KEY=enc\nSSH_KEY_PASSPHRASE=${PASSPHRASE}\n`).hosts;
  assert.is(h!.settings.sshKeyPath, join(dir, 'enc'));
  assert.is(h!.settings.sshKeyPassphrase, PASSPHRASE);
});

test('SSH_KEY_PASSPHRASE comes from the env option; other keys there are ignored', () => {
  const env = { SSH_KEY_PASSPHRASE: PASSPHRASE, HOST: '198.51.100.99', SSH_PORT: '2222', DEPLOY_USER: 'other', SSH_KEY: '/nonexistent' };
  const [h] = load('HOST=203.0.113.7\nSSH_KEY=enc\n', { env }).hosts;
  assert.is(h!.address, '203.0.113.7');
  assert.is(h!.settings.sshPort, 22);
  assert.is(h!.settings.deployUser, 'deploy');
  assert.is(h!.settings.sshKeyPath, join(dir, 'enc'));
  assert.is(h!.settings.sshKeyPassphrase, PASSPHRASE);
});

test('HOST in the env option alone does not make a config', () => {
  const e = thrown(() => load('SSH_KEY=id\n', { env: { HOST: '203.0.113.7' } }));
  assert.instance(e, ConfigError);
  assert.is((e as ConfigError).key, 'HOST');
});

const FLEET = `hosts:
  web1:
    host: 203.0.113.10
    port: 2222
    tags: [web, edge]
  web2:
    host: web2.example.com
    tags: [web]
    vars:
      SSH_PORT: 2200
      DEPLOY_USER: shipper
      CRON_FILE: ../jobs.cron
  db1:
    host: 2001:db8::10
    vars:
      SSH_KEY: db_key
      SSH_USER: ubuntu
`;

test('an inventory of 3 hosts gives 3 HostConfigs with per-host overrides', () => {
  const inventoryFile = join(dir, 'inv', 'fleet.yml');
  writeFileSync(inventoryFile, FLEET);
  const { hosts } = load('HOST=\nSSH_KEY=id\nAPP_NAME=shop\nRETRIES=5\nDEPLOY_USER=deployer\n', { inventoryFile });
  assert.equal(
    hosts.map((h) => [h.name, h.address, h.tags]),
    [
      ['web1', '203.0.113.10', ['web', 'edge']],
      ['web2', 'web2.example.com', ['web']],
      ['db1', '2001:db8::10', []],
    ],
  );
  const [web1, web2, db1] = hosts as [HostConfig, HostConfig, HostConfig];
  assert.is(web1.settings.sshPort, 2222);
  assert.is(web2.settings.sshPort, 2200);
  assert.is(db1.settings.sshPort, 22);
  assert.is(web1.settings.deployUser, 'deployer');
  assert.is(web2.settings.deployUser, 'shipper');
  assert.is(db1.settings.deployUser, 'deployer');
  assert.is(db1.settings.sshUser, 'ubuntu');
  assert.is(web1.settings.sshUser, 'root');
  // .env paths resolve against the .env's folder, inventory vars against the inventory's
  assert.is(web1.settings.sshKeyPath, join(dir, 'id'));
  assert.is(db1.settings.sshKeyPath, join(dir, 'inv', 'db_key'));
  assert.is(web2.settings.cronFile, join(dir, 'jobs.cron'));
  assert.is(web1.settings.cronFile, undefined);
  for (const h of hosts) {
    assert.is(h.settings.appName, 'shop');
    assert.is(h.settings.retries, 5);
  }
});

test('only selects inventory hosts by name, in inventory order', () => {
  const inventoryFile = join(dir, 'inv', 'fleet-only.yml');
  writeFileSync(inventoryFile, FLEET);
  const { hosts } = load(INV_ENV, { inventoryFile, only: ['db1', 'web1'] });
  assert.equal(
    hosts.map((h) => h.name),
    ['web1', 'db1'],
  );
  assert.is(load(INV_ENV, { inventoryFile, only: [] }).hosts.length, 3);
  assert.equal(
    load(OK, { only: ['203.0.113.7'] }).hosts.map((h) => h.name),
    ['203.0.113.7'],
  );
});

test('a JSON inventory works too, and HOST may be absent or empty', () => {
  const json = JSON.stringify({ hosts: { a: { host: '203.0.113.20', port: '2022', tags: ['x'] }, b: { host: '203.0.113.21' } } });
  const { hosts } = load(INV_ENV, { inventory: json, inventoryExt: 'json' });
  assert.equal(
    hosts.map((h) => [h.name, h.settings.sshPort, h.tags]),
    [
      ['a', 2022, ['x']],
      ['b', 22, []],
    ],
  );
  assert.is(load(`HOST=\n${INV_ENV}`, { inventory: json, inventoryExt: 'json' }).hosts.length, 2);
});

test('.env.example documents every key of KEYS', () => {
  const file = join(REPO_ROOT, '.env.example');
  assert.ok(existsSync(file), `${file} is missing`);
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  for (const { key } of KEYS) {
    const at = lines.findIndex((l) => new RegExp(`^(#\\s*)?${key}=`).test(l));
    assert.ok(at !== -1, `.env.example has no line starting "${key}=" or "# ${key}="`);
    const above = at > 0 ? lines[at - 1]! : '';
    assert.ok(above.startsWith('#'), `.env.example: the line above ${key}= is not a # comment: "${above}"`);
    assert.not.ok(/^#\s*[A-Z][A-Z0-9_]*=/.test(above), `.env.example: the line above ${key}= is another setting, not a comment describing ${key}: "${above}"`);
  }
});

test('.env.example sets no key that loadConfig would reject', () => {
  const file = join(REPO_ROOT, '.env.example');
  assert.ok(existsSync(file), `${file} is missing`);
  const known = new Set(KEYS.map((k) => k.key));
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line);
    if (m) assert.ok(known.has(m[1]!), `.env.example sets unknown key ${m[1]}`);
  }
});

test('cron-install want: a bad schedule names CRON_FILE and the line number', () => {
  const [host] = load(`${OK}CRON_FILE=bad.cron\n`).hosts;
  const e = thrown(() => cronInstall.want({ host: host!, loginUser: 'deploy' }));
  assert.instance(e, ConfigError);
  assert.is((e as ConfigError).key, 'CRON_FILE');
  const message = (e as Error).message;
  assert.ok(message.includes('CRON_FILE'), message);
  assert.ok(message.includes('line 2'), message);
  assert.ok(message.includes('61'), message);
  assert.ok(message.includes('Fix:'), message);
});

test('cron-install want: a good file gives its entries', async () => {
  const [host] = load(`${OK}CRON_FILE=jobs.cron\nAPP_NAME=shop\n`).hosts;
  const wanted = await cronInstall.want({ host: host!, loginUser: 'deploy' });
  const { runner, backupScript, ...rest } = wanted;
  assert.equal(rest, { app: 'shop', user: 'deploy', asOther: false, entries: ['# the jobs of the shop', '*/5 * * * * /srv/app/tick.sh'] });
  assert.match(runner, /^app=shop$/m, "the job runner is the app's");
  assert.match(backupScript!, /^app=shop\nimage=busybox:1.36\nkeep=3$/m, "the backup script is the app's, with BACKUP_IMAGE and BACKUP_KEEP");
  const asRoot = await cronInstall.want({ host: host!, loginUser: 'root' });
  assert.is(asRoot.asOther, true);
});

test('cron-install want: no CRON_FILE means no entries', async () => {
  const [host] = load(OK).hosts;
  const wanted = await cronInstall.want({ host: host!, loginUser: 'deploy' });
  const { runner: _runner, backupScript: _backup, ...rest } = wanted;
  assert.equal(rest, { app: 'app', user: 'deploy', asOther: false, entries: [] });
});

test('SSH_KEY holding neither a path nor key content (a base64-encoded key from a CI secret): refused without echoing it', () => {
  const b64 = Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n').toString('base64');
  const e = thrown(() => load(`HOST=203.0.113.7\nSSH_KEY=${b64}\n`));
  assert.instance(e, ConfigError);
  const message = (e as Error).message;
  assert.ok(message.includes('SSH_KEY'), message);
  assert.ok(message.includes('(hidden)'), message);
  assert.not.ok(message.includes(b64.slice(0, 20)), message);
  // A path that is missing is still shown: it is no secret, and the person needs to see it.
  const missing = thrown(() => load('HOST=203.0.113.7\nSSH_KEY=keys/nope_ed25519\n'));
  assert.match((missing as Error).message, /keys\/nope_ed25519/);
});

test.run();
