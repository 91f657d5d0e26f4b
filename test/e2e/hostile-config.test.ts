// Hostile and malformed input, through the real CLI against real sshd hosts (issue #6). A table of
// bad values for every key of lib/config/keys.ts (a key without a row fails the test), plus .env
// lines dotenv would drop and inventories that are not YAML/JSON, have wrong types or hostile
// names. Every row ends one of two ways:
//   refused: exit 2, one stderr line `hoist: (config|usage) error: KEY...` naming the key, with the
//     value (secrets hidden) and a `Fix:`, and the host's sshd log did not grow by one line (sshd -e
//     logs every TCP connection, even one that never authenticates), or
//   carried: the value is accepted, the pipeline runs (changed, then unchanged), the value arrives
//     exactly as given, and no marker file that an injection would create exists, on any host or
//     locally.
// Each run happens twice: a refused row must be refused identically, a carried one unchanged.
// Rows run in two lanes (one host each, so a connection is pinned on the row that made it) while
// the carried rows use two more hosts. Carried rows of keys only the release pipeline reads
// (HEALTH_PATH, CADDY_EXTRA, APP_SERVICE, ...) run in env-values.test.ts, on its release.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KEYS, KEY_BY_NAME } from '../../lib/config/keys.ts';
import { printable } from '../../lib/printable.ts';
import type { RunReport } from '../../lib/report/run-report.ts';
import { envText } from '../harness/env-text.ts';
import { RELEASE_CARRIED } from '../harness/hostile-release-rows.ts';
import { HOSTILE_HOST_TEXT, rawAttacks } from '../harness/hostile-host-text.ts';
import { hoistInTerminal, stripTerminal } from '../harness/secret-watch.ts';
import { Testbed, type CliResult, type TestHost } from '../harness/testbed.ts';

const test = suite('hostile and malformed config, end to end');
const tb = new Testbed();
const RUN = randomBytes(4).toString('hex');
/** Every marker an injection could create starts with this (absolute under /tmp, or relative). */
const MARK = `hoist-pwned-${RUN}`;
const M = `/tmp/${MARK}`;
// The shapes a value takes to become shell syntax; each row mixes several into one value.
const SUB = `$(touch ${M}-sub)`;
const TICK = `\`touch ${M}-tick\``;
const SEMI = `; touch ${M}-semi`;
const SQ = `' ; touch ${M}-sq ; '`;
const DQ = `" ; touch ${M}-dq ; "`;
const NL = `\ntouch ${M}-nl`;
const AMP = `&& touch ${M}-amp`;
/** For file names, which cannot hold a '/': a marker relative to the working directory. */
const FILE_SUB = `$(touch ${MARK}-file) ; touch ${MARK}-file2 '\`touch ${MARK}-file3\`'"`;

// ---------------------------------------------------------------------------------------------
// Files the rows point at. tb.dir exists from construction; keys are made here, before the hosts.
const f = (name: string, content: string | Buffer) => {
  const p = join(tb.dir, name);
  writeFileSync(p, content);
  return p;
};
const keygen = (path: string, passphrase: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'hostile', '-f', path]);
// No .env quoting carries ', " and ` at once (dotenv keeps \" and \` as they are): the .env
// passphrase has no backtick; the one from the environment has all three.
const PASSPHRASE = `p4ss ${SQ} ${DQ} ${SUB} $HOME \\ # ✓ ${NL}`;
const PASSPHRASE_ENV = `p4ss ${SQ} ${DQ} ${SUB} ${TICK} \\ # ✓ ${NL}`;
const encKey = join(tb.dir, `enc key ${FILE_SUB}`);
keygen(encKey, PASSPHRASE);
const encKeyEnv = join(tb.dir, `enc key env ${FILE_SUB}`);
keygen(encKeyEnv, PASSPHRASE_ENV);
const otherKey = join(tb.dir, 'other_key');
keygen(otherKey, '');
const hostileDir = join(tb.dir, `dir ${FILE_SUB} ✓`);
mkdirSync(hostileDir);
const notAKey = f(`notakey ${FILE_SUB}`, `$(touch ${M}-key)\n`);
const jobsOk = f('jobs.crontab', '@daily true\n');
const forgeKnownHosts = f('forge_known_hosts', `127.0.0.1 ${readFileSync(`${otherKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
const validPub = readFileSync(`${otherKey}.pub`, 'utf8').trim();
/** A private key base64-encoded (a CI secret's shape), with `//` inside and a trailing `/` (0xff x3 is `////`). */
const keyBytes = readFileSync(otherKey);
const b64Key = Buffer.concat([keyBytes, Buffer.alloc((3 - (keyBytes.length % 3)) % 3, 0x0a), Buffer.from([0xff, 0xff, 0xff])]).toString('base64');

// ---------------------------------------------------------------------------------------------
// Refused rows.
interface Refused {
  key: string;
  name: string;
  /** .env values over the lane's base (written so dotenv reads them back exactly). */
  vars?: Record<string, string>;
  /** Raw .env text instead of vars (for lines dotenv would drop). */
  raw?: string;
  /** The process environment (where secrets may come from). */
  processEnv?: Record<string, string>;
  /** HOST comes from .env (no --inventory); otherwise an inventory names the lane's host. */
  hostInEnv?: boolean;
  /** Raw inventory text; %PORT% is replaced by the lane host's port. */
  inventory?: string;
  /** The pipeline whose `want` reads the key (default cron); release and bootstrap run as dry runs. */
  pipeline?: 'cron' | 'release' | 'bootstrap';
  /** What the line names right after `error: ` (default: key). */
  names?: string | RegExp;
  /** Text the line must contain besides (default: the value as printed, unless secret). */
  shows?: string[];
  /** Must appear nowhere in the output. */
  hides?: string;
}

const k = (key: string, name: string, value: string, more: Partial<Refused> = {}): Refused => ({ key, name, vars: { [key]: value }, ...more });
const shown = (v: string) => [JSON.stringify(v)];

const REFUSED: Refused[] = [
  // connection
  k('HOST', 'shell after an address', `127.0.0.1${SEMI} ${SUB}`, { hostInEnv: true }),
  k('HOST', 'an ssh option', `-oProxyCommand=touch ${M}-proxy`, { hostInEnv: true }),
  k('SSH_PORT', 'shell after the port', `22${SEMI} ${TICK}`),
  k('SSH_USER', 'an ssh option', '-oProxyCommand=sh'),
  k('DEPLOY_USER', 'quote breakout', `deploy${SQ}`),
  k('SSH_KEY', 'no such file, shell in the path', join(tb.dir, `no-such ${FILE_SUB}`), { shows: ['cannot read'] }),
  k('SSH_KEY', 'not a key', notAKey, { shows: ['not a usable private key'] }),
  k('SSH_KEY', 'base64 content, // inside and a trailing /', b64Key, { shows: ['SSH_KEY="(hidden)"', 'may be encoded content'], hides: b64Key.slice(100, 132) }),
  { key: 'SSH_KEY_PASSPHRASE', name: 'wrong, hostile, in .env', vars: { SSH_KEY: encKey, SSH_KEY_PASSPHRASE: `wrong${SQ}${SUB}` }, shows: ['(hidden)', 'does not decrypt'], hides: 'wrong' },
  { key: 'SSH_KEY_PASSPHRASE', name: 'wrong, from the environment', vars: { SSH_KEY: encKey }, processEnv: { SSH_KEY_PASSPHRASE: `env-wrong-${RUN}` }, shows: ['the environment'], hides: `env-wrong-${RUN}` },
  k('KNOWN_HOSTS', 'a directory', hostileDir, { shows: ['not a readable file'] }),
  k('SSH_JUMP', 'an ssh option as user', '-oProxyCommand=sh@127.0.0.1'),
  k('SSH_CONNECT_TIMEOUT', 'shell after the number', `10${SEMI}`),
  k('SSH_COMMAND_TIMEOUT', 'substitution', SUB),
  k('RETRIES', 'a line break', `2${NL}`),
  k('APP_NAME', 'a forged end marker', 'app\n# END hoist:other'),
  k('CRON_FILE', 'a forged end marker inside', f('marker.crontab', `@daily true\n# END hoist:app\n* * * * * touch ${M}-cron\n`), { shows: ['reserved for the markers'] }),
  k('CRON_FILE', 'a bad line with shell', f('bad.crontab', `61 * * * * touch ${M}-cron ${SUB}\n`), { shows: ['line 1', 'outside 0-59'] }),
  k('APP_PORT', 'shell after the port', `8000${SEMI}`),
  k('APP_DOMAIN', 'shell after the name', `app.hoist.test${SEMI}`, { shows: ['app.hoist.test; touch'] }),
  { key: 'APP_DOMAIN', name: 'empty, where caddy-reload needs it', vars: { APP_DOMAIN: '' }, pipeline: 'release', shows: ['is empty'] },
  k('PUBLIC_IPS', 'shell after an address', `127.0.0.1${SEMI}`),
  k('DNS_RESOLVERS', 'substitution after the port', `127.0.0.1:53${SUB}`),
  k('DNS_AUTHORITATIVE', 'shell after true', `true${SEMI}`),
  k('DNS_WAIT', 'substitution', SUB),
  k('APP_REPO', "git's ext:: transport", `ext::sh -c touch% ${M}-ext`),
  k('APP_REPO', 'host that reads as an ssh option', 'git@-oProxyCommand:acme/app.git'),
  { key: 'GITHUB_TOKEN', name: 'a line break (an extra HTTP header)', vars: { GITHUB_TOKEN: `ghp_tok${RUN}\nX-Evil: 1` }, shows: ['(hidden)'], hides: `ghp_tok${RUN}` },
  { key: 'GITHUB_TOKEN', name: 'a space, from the environment', processEnv: { GITHUB_TOKEN: `ghp_env ${RUN}` }, shows: ['(hidden)'], hides: `ghp_env ${RUN}` },
  { key: 'GITHUB_TOKEN', name: 'in .env and, to another value, in the environment', vars: { GITHUB_TOKEN: `ghp_file${RUN}` }, processEnv: { GITHUB_TOKEN: `ghp_shell${RUN}` }, shows: ['also set in the environment', 'HOIST_ENV_WINS=1'], hides: `ghp_shell${RUN}` },
  { key: 'GITHUB_TOKEN', name: 'for a forge that is not GitHub', vars: { GITHUB_TOKEN: `ghp_ok${RUN}` }, pipeline: 'bootstrap', shows: ['not github.com'], hides: `ghp_ok${RUN}` },
  k('GITHUB_API_URL', 'a header after a line break', 'https://api.github.com\nHost: evil.example'),
  k('GITHUB_API_URL', 'plain http to another machine (the token in clear)', 'http://api.github.com', { shows: ['unencrypted'] }),
  k('FORGE_KNOWN_HOSTS', 'only hostile garbage', f('forge_garbage', `$(touch ${M}-forge) ssh-ed25519 AAAA\n127.0.0.1${SEMI}\n`), { pipeline: 'bootstrap', shows: ['has no key line for 127.0.0.1'] }),
  k('DEPLOY_KEY_WAIT', 'a unit', '600s'),
  k('AUTHORIZED_KEYS', 'a key with a forced command', f('ak_command', `command="touch ${M}-ak" ${validPub}\n`), { shows: ['line 1 is not a public key'] }),
  k('EXTRA_PACKAGES', 'an apt option', '-oAPT::Update::Pre-Invoke::=touch'),
  // apt-get install reads a name ending in - as "remove it": bootstrap would take sshd away.
  k('EXTRA_PACKAGES', 'a removal (trailing -)', 'htop openssh-server-', { shows: ['"openssh-server-" ends in "-"'] }),
  {
    key: 'EXTRA_PACKAGES',
    name: 'a removal, per host in the inventory',
    inventory: '{"hosts": {"web1": {"host": "127.0.0.1", "port": %PORT%, "vars": {"EXTRA_PACKAGES": "openssh-server-"}}}}',
    shows: ['hosts.web1.vars', '"openssh-server-" ends in "-"'],
  },
  k('FIREWALL', 'shell after ufw', `ufw${SEMI}`),
  k('SSHD_OPTIONS', 'a second directive after a line break', 'MaxAuthTries 3\nPermitRootLogin yes'),
  k('SSHD_OPTIONS', 'a comment hiding the rest', `PermitRootLogin no # ${SUB}`),
  k('APP_CRONTAB', "the app's .env (secrets in diffs)", '.env', { shows: ['secrets'] }),
  k('GIT_REF', 'a git option', `--upload-pack=touch ${M}-ref`),
  k('APP_ENV_FILE', 'a NUL byte', f('nul.env', Buffer.from('A=1\nB=\0\n')), { pipeline: 'release', shows: ['NUL'] }),
  k('APP_ENV_FILE', 'a shell line', f('shell.env', `A=1\n$(touch ${M}-env)\n`), { pipeline: 'release', shows: ['line 2 is not KEY=value'] }),
  k('APP_ENV_FILE', 'not UTF-8', f('latin1.env', Buffer.from([0x41, 0x3d, 0xe9, 0x0a])), { pipeline: 'release', shows: ['UTF-8'] }),
  k('KEEP_RELEASES', 'shell after the number', `5${SEMI}`),
  k('BUILD_MIN_FREE', 'shell after the size', `2G${SEMI}`),
  k('BUILD_MIN_FREE', 'no unit it knows', '2 gigs'),
  k('COMPOSE_FILE', 'shell after the path', `compose.yaml${SEMI}`),
  k('APP_SERVICE', 'upper case (no Docker image name)', 'Web', { shows: ['image name'] }),
  k('HEALTH_PATH', 'substitution (a space)', `/health${SUB}`),
  k('HEALTH_TIMEOUT', 'too long', '3601'),
  k('DRAIN_TIMEOUT', 'shell after the number', `30${SEMI}`),
  k('BLUE_PORT', 'shell after the port', `18001${SEMI}`),
  k('GREEN_PORT', 'the blue port', '18001', { vars: { BLUE_PORT: '18001', GREEN_PORT: '18001' }, shows: ['same as BLUE_PORT'] }),
  k('BLUE_PORT', 'without GREEN_PORT', '18001', { shows: ['set without GREEN_PORT'] }),
  k('CADDY_TLS', 'on', 'on'),
  k('ACME_EMAIL', 'a Caddyfile brace after the address', 'ops@example.com }'),
  k('ACME_EMAIL', 'shell in the address', `ops${SUB}@example.com`),
  k('ACME_CA', 'plain http', 'http://ca.example.com/directory', { shows: ['https URL'] }),
  k('ACME_CA', 'a Caddyfile line break', 'https://ca.example.com/dir\n}'),
  k('ACME_CA_ROOT', 'without ACME_CA', f('ca-root.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'), { shows: ['without ACME_CA'] }),
  k('ACME_CA_ROOT', 'a file that holds no certificate', f(`not-a-cert ${FILE_SUB}`, `$(touch ${M}-caroot)\n`), { vars: { ACME_CA: 'https://ca.example.com/dir', ACME_CA_ROOT: f(`not-a-cert ${FILE_SUB}`, `$(touch ${M}-caroot)\n`) }, shows: ['holds no PEM certificate'] }),
  k('CADDY_EXTRA', 'a line break and a closing brace', 'respond "x"\n}'),
  k('CADDY_EXTRA', 'a quote left open', 'header X-A "open', { shows: ['quote open'] }),
  k('CADDY_EXTRA', 'an import of a host file', 'encode gzip; import /etc/passwd', { shows: ['"import"', 'reads files'] }),
  k('CADDY_EXTRA', "the host's files served", 'root * /; file_server browse', { shows: ['"root"'] }),
  k('CADDY_EXTRA', 'a file placeholder', 'header X-A {file./etc/shadow}', { shows: ['placeholders'] }),
  k('DOCKER_LOG_MAX_SIZE', 'shell after the size', `10m${SEMI}`),
  k('DOCKER_LOG_MAX_FILE', 'shell after the number', `3${SEMI}`),
  k('SWAP_SIZE', 'shell after the size', `2G${SEMI}`),
  k('AUTO_UPGRADES', 'every upgrade, not only security', 'all'),
  k('BACKUP_KEEP', 'shell after the number', `3${SEMI}`),
  k('BACKUP_IMAGE', 'shell after the image', `busybox${SEMI}`),
  k('BUILD', 'shell after a place', `local${SEMI}`),
  k('BUILD_SOURCE', 'a line break in the path', `app${NL}`),
  k('REGISTRY', 'shell after the address', `registry.example.com${SEMI}`),
  { key: 'REGISTRY_USER', name: 'without its password', vars: { REGISTRY_USER: 'ci' }, shows: ['without REGISTRY_PASSWORD'] },
  { key: 'REGISTRY_PASSWORD', name: 'a line break (a cut login)', vars: { REGISTRY_PASSWORD: `pw${RUN}\nx` }, shows: ['(hidden)'], hides: `pw${RUN}` },
  k('BUILD_MEMORY', 'below what Docker takes', '1M', { shows: ['below 6M'] }),
  k('RELEASE_COMMAND', 'a second command after a line break', `migrate\ntouch ${M}-rc`),
  { key: 'NOTIFY_URL', name: 'not http(s), a secret', vars: { NOTIFY_URL: `file:///etc/passwd?${RUN}` }, shows: ['(hidden)'], hides: `passwd?${RUN}` },
  k('NOTIFY_FORMAT', 'a receiver it does not know', 'teams'),
  k('ALERT_DISK_FREE', 'shell after the size', `1G${SEMI}`),
  // keys that are not settings, and .env lines dotenv would drop
  { key: '(unknown key)', name: 'a misspelt secret stays hidden', vars: { GITHUB_TOKNE: `ghp_typo${RUN}` }, names: 'GITHUB_TOKNE', hides: `ghp_typo${RUN}` },
  { key: '(.env syntax)', name: 'a line without =', raw: `CRON_FILE ${jobsOk}\n`, names: 'CRON_FILE', shows: ['line ', 'ignored'] },
  { key: '(.env syntax)', name: 'a shell line', raw: `$(touch ${M}-dotenv)\n`, names: /^line \d+/, shows: ['ignored'] },
  { key: '(.env syntax)', name: 'a key given twice', raw: 'APP_NAME=one\nAPP_NAME=two\n', names: 'APP_NAME', shows: ['set twice'] },
  { key: '(.env syntax)', name: 'a secret line without = is not shown', raw: `SSH_KEY_PASSPHRASE hunter${RUN}\n`, names: 'SSH_KEY_PASSPHRASE', hides: `hunter${RUN}` },
  // inventories
  ...(
    [
      ['not YAML', 'hosts: [unclosed\n  web1: {\n', '(file)', ['not valid YAML or JSON']],
      ['an unknown YAML tag', 'hosts:\n  web1: !!js/function "x"\n', '(file)', ['Unresolved tag']],
      ['an alias bomb', `a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nhosts: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n`, '(file)', ['resource exhaustion']],
      ['a host name with shell', `{"hosts": {"web1${SEMI}": {"host": "127.0.0.1", "port": %PORT%}}}`, `hosts.web1; touch ${M}-semi`, []],
      ['a host name with a line break', '{"hosts": {"web\\n1": {"host": "127.0.0.1", "port": %PORT%}}}', 'hosts.web\\u000a1', []],
      ['an address with shell', `{"hosts": {"web1": {"host": ${JSON.stringify(`127.0.0.1${SEMI}`)}, "port": %PORT%}}}`, 'hosts.web1.host', [JSON.stringify(`127.0.0.1${SEMI}`)]],
      ['an address with a terminal escape', '{"hosts": {"web1": {"host": "\\u001b[2J127.0.0.1", "port": %PORT%}}}', 'hosts.web1.host', ['\\u001b[2J']],
      ['a port with shell', `{"hosts": {"web1": {"host": "127.0.0.1", "port": ${JSON.stringify(`%PORT%${SEMI}`)}}}}`, 'hosts.web1.port', ['not a port number']],
    ] as [string, string, string, string[]][]
  ).map(([name, inventory, names, shows]): Refused => ({ key: '(inventory)', name, inventory, names, shows })),
  { key: '(inventory)', name: 'an unknown var with shell', inventory: `{"hosts": {"web1": {"host": "127.0.0.1", "port": %PORT%, "vars": {${JSON.stringify(`SSH_PORT${SEMI}`)}: 22}}}}`, names: JSON.stringify(`SSH_PORT${SEMI}`), shows: ['not a hoist setting'] },
  { key: '(inventory)', name: 'a hostile per-host SSH_PORT', inventory: `{"hosts": {"web1": {"host": "127.0.0.1", "vars": {"SSH_PORT": ${JSON.stringify(`%PORT%${SEMI}`)}}}}}`, names: 'SSH_PORT', shows: ['hosts.web1.vars'] },
];

// ---------------------------------------------------------------------------------------------
// Lanes: each refused row runs on its lane's host, so a connection is caught on its row.
/** Lines sshd -e has logged (docker keeps its stderr): every TCP connection adds at least one. */
const logLines = (h: TestHost) => Number(execFileSync('sh', ['-c', `docker logs ${h.container} 2>&1 | wc -l`], { encoding: 'utf8' }).trim());

/** Follows a host's sshd log (one `docker logs -f`, not one docker call per row) and counts lines. */
class LogFollower {
  lines = 0;
  private readonly child: ChildProcess;
  constructor(container: string) {
    this.child = spawn('docker', ['logs', '-f', container], { stdio: ['ignore', 'pipe', 'pipe'] });
    const count = (d: Buffer) => {
      for (const b of d) if (b === 10) this.lines++;
    };
    this.child.stdout!.on('data', count);
    this.child.stderr!.on('data', count);
  }
  stop(): void {
    this.child.kill();
  }
}

interface Lane {
  n: number;
  host: () => TestHost;
  log?: LogFollower;
}
const lanes: Lane[] = [
  { host: () => tb.hosts[0]!, n: 0 },
  { host: () => tb.hosts[1]!, n: 1 },
];

function base(pipeline: Refused['pipeline']): Record<string, string> {
  const all = { SSH_KEY: tb.keyPath, KNOWN_HOSTS: tb.knownHostsPath, SSH_CONNECT_TIMEOUT: '10', RETRIES: '0', CRON_FILE: jobsOk };
  if (pipeline === 'cron' || pipeline === undefined) return all;
  const { CRON_FILE: _, ...rest } = all;
  return { ...rest, APP_REPO: 'git@127.0.0.1:acme/app.git', FORGE_KNOWN_HOSTS: forgeKnownHosts, APP_DOMAIN: 'app.hoist.test', CADDY_TLS: 'off', SSH_USER: 'root' };
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  logGrew: number;
}

async function runRefused(row: Refused, lane: Lane): Promise<Outcome[]> {
  const h = lane.host();
  const envPath = join(tb.dir, `lane${lane.n}.env`);
  const vars = { ...base(row.pipeline), ...(row.vars ?? {}) };
  if (row.hostInEnv) vars.SSH_PORT ??= String(h.port);
  // The row's values replace the base's (merged, so no key is written twice).
  writeFileSync(envPath, row.raw !== undefined ? envText(base(row.pipeline)) + row.raw : envText(vars));
  const args = ['run', row.pipeline ?? 'cron', '--env-file', envPath];
  if (!row.hostInEnv) {
    const invPath = join(tb.dir, `lane${lane.n}-inventory.yml`);
    writeFileSync(invPath, (row.inventory ?? '{"hosts": {"web1": {"host": "127.0.0.1", "port": %PORT%}}}').replaceAll('%PORT%', String(h.port)));
    args.push('--inventory', invPath);
  }
  if (row.pipeline === 'release' || row.pipeline === 'bootstrap') args.push('--dry-run');
  const env = { SSH_KEY_PASSPHRASE: '', GITHUB_TOKEN: '', ...(row.processEnv ?? {}) };
  const out: Outcome[] = [];
  for (let i = 0; i < 2; i++) {
    const before = lane.log!.lines;
    const r: CliResult = await tb.hoist(args, env);
    out.push({ code: r.code, stdout: r.stdout, stderr: r.stderr, logGrew: lane.log!.lines - before });
  }
  return out;
}

function checkRefused(row: Refused, [first, second]: Outcome[]): void {
  const label = `${row.key}: ${row.name}`;
  const o = first!;
  assert.is(o.code, 2, `${label}: exit ${o.code}\nstdout: ${o.stdout.slice(-800)}\nstderr: ${o.stderr}`);
  const lines = o.stderr.trim().split('\n');
  assert.is(lines.length, 1, `${label}: one stderr line, got ${JSON.stringify(o.stderr)}`);
  const line = lines[0]!;
  const names = row.names ?? row.key;
  const prefix = /^hoist: (config|usage) error: /.exec(line);
  assert.ok(prefix, `${label}: ${line}`);
  const subject = line.slice(prefix![0].length);
  const named = typeof names === 'string' ? (subject.startsWith(names) ? names : null) : (names.exec(subject)?.[0] ?? null);
  assert.ok(named !== null && /^[= :(]|^ in /.test(subject.slice(named.length)), `${label}: the line does not start by naming ${names}: ${line}`);
  assert.match(line, /\. Fix: \S/, `${label}: no fix: ${line}`);
  const def = KEY_BY_NAME.get(row.key);
  const value = row.vars?.[row.key];
  const shows = row.shows ?? (value !== undefined && value !== '' && !def?.secret ? shown(value) : []);
  for (const s of shows) assert.ok(line.includes(s), `${label}: the line does not show ${JSON.stringify(s)}: ${line}`);
  if (row.hides) assert.not.ok(o.stdout.includes(row.hides) || o.stderr.includes(row.hides), `${label}: the output shows the secret ${row.hides}`);
  if (def?.secret && value) assert.not.ok(o.stderr.includes(value), `${label}: the secret value is shown`);
  assert.is(o.stdout, '', `${label}: nothing on stdout`);
  assert.is(o.logGrew, 0, `${label}: sshd logged ${o.logGrew} line(s): a connection was made`);
  assert.is(second!.code, o.code, `${label}: second run exit`);
  assert.is(second!.stderr, o.stderr, `${label}: second run refused identically`);
  assert.is(second!.logGrew, 0, `${label}: second run made no connection`);
}

// ---------------------------------------------------------------------------------------------
// Carried rows (cron pipeline): hostile but valid values, each arriving exactly as given.
const CRON_HOSTILE = [
  '# hostile but valid jobs: none may run when installed, and 30 February never comes',
  // A variable in hoist's block is refused (it would reach every later line); in the command it stays the job's.
  `0 0 30 2 * MAILTO="ops'${SUB}${TICK}@example.com" true`,
  `0 0 30 2 * echo '${SUB}' "${TICK}" ${SEMI} ${AMP} | touch ${M}-pipe # 漢字 ✓ e\u0301 שלום`,
  `0 0 30 2 * printf '%s\\n' "$HOME" \${IFS} ${SQ} ${DQ} \\`,
  '',
].join('\n');
const CRON_ENTRIES = CRON_HOSTILE.split('\n').filter(Boolean);
/** Keys each carried run below proves. */
const CARRIED_HERE = ['SSH_KEY', 'SSH_KEY_PASSPHRASE', 'KNOWN_HOSTS', 'CRON_FILE', 'APP_CRONTAB', 'APP_NAME', 'SSH_PORT', 'DEPLOY_USER'];

const blockOf = (crontab: string, app: string) => {
  const a = app.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  const m = new RegExp(`^# BEGIN hoist:${a}(?: [^\\n]*)?\\n([\\s\\S]*?)^# END hoist:${a}\\n`, 'm').exec(crontab);
  return m ? m[1]!.split('\n').filter(Boolean) : null;
};
const crontabOf = async (h: TestHost) => (await h.sh('crontab -l 2>/dev/null', 'deploy')).stdout;

async function carried(label: string, args: string[], env: Record<string, string>, check: (report: RunReport, run: number) => Promise<void>): Promise<string[]> {
  const timings: string[] = [];
  for (let run = 1; run <= 2; run++) {
    const { r, report } = await tb.hoistWithReport(args, { SSH_KEY_PASSPHRASE: '', GITHUB_TOKEN: '', ...env });
    assert.is(r.code, 0, `${label}, run ${run}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.is(r.stderr, '', `${label}, run ${run}: nothing on stderr`);
    const statuses = report.hosts.flatMap((h) => h.tasks.map((t) => t.status));
    assert.ok(statuses.length > 0 && statuses.every((s) => s === (run === 1 ? 'changed' : 'unchanged')), `${label}, run ${run}: ${JSON.stringify(statuses)}`);
    await check(report, run);
    timings.push(`${r.durationMs} ms`);
  }
  return timings;
}

// ---------------------------------------------------------------------------------------------
const timings: string[] = [];

test.before(async () => {
  const started = Date.now();
  await tb.start({ count: 4, deployUser: true });
  timings.push(`4 hosts in ${Date.now() - started} ms`);
});
test.after(async () => {
  for (const l of lanes) l.log?.stop();
  console.log(`    timing: ${timings.join('; ')}`);
  await tb.stop();
});

test('every key of the schema has at least one row', () => {
  const covered = new Set([...REFUSED.map((r) => r.key), ...CARRIED_HERE, ...RELEASE_CARRIED.map((r) => r.key)]);
  const missing = KEYS.map((d) => d.key).filter((key) => !covered.has(key));
  assert.equal(missing, [], `keys without a row: ${missing.join(', ')}`);
  const refusedKeys = new Set(REFUSED.map((r) => r.key));
  assert.equal(KEYS.map((d) => d.key).filter((key) => !refusedKeys.has(key)), [], 'every key has a refused row too');
  for (const r of [...REFUSED.map((x) => x.key), ...CARRIED_HERE]) assert.ok(r.startsWith('(') || KEY_BY_NAME.has(r), `row for ${r}, which is not a key`);
});

test('refused rows and carried rows, side by side; nothing an injection would create exists anywhere', async () => {
  const started = Date.now();
  const results = new Map<Refused, Outcome[]>();
  const queue = [...REFUSED];
  const linesBefore = lanes.map((l) => logLines(l.host()));
  for (const l of lanes) l.log = new LogFollower(l.host().container);
  // `docker logs -f` first replays what is there: rows start once it has (bounded wait).
  for (const [i, l] of lanes.entries()) {
    for (let waited = 0; l.log!.lines < linesBefore[i]! && waited < 20_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    assert.is(l.log!.lines, linesBefore[i], `lane ${i}: the log follower caught up`);
  }
  const refusedLanes = lanes.map(async (lane) => {
    for (let row = queue.shift(); row; row = queue.shift()) results.set(row, await runRefused(row, lane));
  });

  // Carried, on hosts 3 and 4, while the lanes run.
  const carriedLane = (async () => {
    const [c, d] = [tb.hosts[2]!, tb.hosts[3]!];
    // Host d knows the encrypted key (whose passphrase is hostile) for deploy.
    const pubs = readFileSync(`${encKey}.pub`, 'utf8') + readFileSync(`${encKeyEnv}.pub`, 'utf8');
    assert.is((await d.sh('cat >> /home/deploy/.ssh/authorized_keys', 'deploy', pubs)).code, 0);
    // Copies of the test bed's key and known_hosts at hostile paths; the crontab at one too.
    const keyCopy = join(hostileDir, `id ${FILE_SUB}`);
    copyFileSync(tb.keyPath, keyCopy);
    const khCopy = join(hostileDir, `known_hosts ${FILE_SUB}`);
    copyFileSync(tb.knownHostsPath, khCopy);
    const cronPath = join(hostileDir, `jobs ${FILE_SUB}.crontab`);
    writeFileSync(cronPath, CRON_HOSTILE);
    const envPath = f('carried.env', envText({ SSH_KEY: tb.keyPath, SSH_KEY_PASSPHRASE: PASSPHRASE, KNOWN_HOSTS: khCopy, CRON_FILE: cronPath, APP_NAME: 'hostile_1-x', SSH_CONNECT_TIMEOUT: '10' }));
    // Inventory names and tags with every character the schema allows; per-host SSH_KEY.
    const inv = f('carried-inventory.json', JSON.stringify({
      hosts: {
        'c.web_1-A': { host: '127.0.0.1', port: String(c.port), tags: ['web', 'x_1.y-z'], vars: { SSH_KEY: keyCopy, DEPLOY_USER: 'deploy' } },
        // No port: field; the port comes from the per-host SSH_PORT.
        'd.web_2-B': { host: '127.0.0.1', vars: { SSH_KEY: encKey, SSH_PORT: String(d.port) } },
      },
    }));
    const before = await Promise.all([c, d].map(crontabOf));
    timings.push(`carried CRON_FILE/SSH_KEY/passphrase/KNOWN_HOSTS: ${(await carried('hostile paths, passphrase and jobs', ['run', 'cron', '--env-file', envPath, '--inventory', inv], {}, async (report) => {
      assert.equal(report.hosts.map((h) => h.name), ['c.web_1-A', 'd.web_2-B']);
      for (const [i, h] of [c, d].entries()) {
        const now = await crontabOf(h);
        assert.equal(blockOf(now, 'hostile_1-x'), CRON_ENTRIES, `${h.name}: the block holds the jobs exactly`);
        assert.ok(now.startsWith(before[i]!), `${h.name}: the lines before the block are kept`);
      }
    })).join(', ')}`);

    // APP_CRONTAB: the jobs come from the live release on the host; the passphrase from the environment.
    const release = '/home/deploy/apps/fromrepo/releases/r1';
    const setup = await d.sh(`set -e; mkdir -p ${release}/deploy/cron.d; cat > ${release}/deploy/cron.d/jobs_1-x.crontab; ln -sfn releases/r1 /home/deploy/apps/fromrepo/current`, 'deploy', CRON_HOSTILE);
    assert.is(setup.code, 0, setup.stderr);
    const envPath2 = f('carried2.env', envText({ SSH_KEY: encKeyEnv, KNOWN_HOSTS: tb.knownHostsPath, APP_NAME: 'fromrepo', APP_CRONTAB: 'deploy/cron.d/jobs_1-x.crontab', SSH_CONNECT_TIMEOUT: '10' }));
    const inv2 = f('carried2-inventory.json', JSON.stringify({ hosts: { d: { host: '127.0.0.1', port: d.port } } }));
    timings.push(`carried APP_CRONTAB: ${(await carried('APP_CRONTAB from the release', ['run', 'cron', '--env-file', envPath2, '--inventory', inv2], { SSH_KEY_PASSPHRASE: PASSPHRASE_ENV }, async () => {
      assert.equal(blockOf(await crontabOf(d), 'fromrepo'), CRON_ENTRIES, 'the release\'s jobs exactly');
    })).join(', ')}`);
  })();

  // Every lane finishes before a failure is reported: no CLI run is left behind.
  const settled = await Promise.allSettled([...refusedLanes, carriedLane]);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  timings.push(`${REFUSED.length} refused rows x2 in 2 lanes with the carried runs: ${Date.now() - started} ms`);

  // Every row is checked and every failure reported, not just the first. The followers may lag a
  // moment behind; the exact count says that no refused row connected at all.
  const failures: string[] = [];
  for (const [i, l] of lanes.entries()) {
    l.log!.stop();
    const grew = logLines(l.host()) - linesBefore[i]!;
    if (grew !== 0) failures.push(`lane ${i}: sshd logged ${grew} line(s) during the refused rows: a connection was made`);
  }
  for (const row of REFUSED) {
    try {
      checkRefused(row, results.get(row)!);
    } catch (e) {
      failures.push((e as Error).message);
    }
  }
  assert.equal(failures, [], `${failures.length} of ${REFUSED.length} refused rows failed:\n${failures.join('\n---\n')}`);

  // No marker, on any host (anywhere on its root file system) or here.
  for (const h of tb.hosts) {
    const found = await h.sh(`find / -xdev -name '${MARK}*' 2>/dev/null | head -5`);
    assert.is(found.stdout, '', `${h.name}: an injection ran: ${found.stdout}`);
  }
  const local = execFileSync('sh', ['-c', `find /tmp ${JSON.stringify(tb.dir)} -maxdepth 3 -name '${MARK}*' 2>/dev/null | head -5`], { encoding: 'utf8' });
  assert.is(local, '', `an injection ran here: ${local}`);
  assert.ok(existsSync(hostileDir) && readdirSync(hostileDir).length >= 3, 'the hostile paths were there to be used');
});

// ---------------------------------------------------------------------------------------------
// Text from the host (not config) reaches the terminal escaped: a lock record (the link's target),
// a crontab line read from the release, and `current`'s target, each holding a terminal escape,
// a window title, a C1 CSI, a CR and a right-to-left override (test/harness/hostile-host-text.ts).
test('text from a host reaches the terminal escaped: a lock record, a crontab line, a link target (plain, terminal, JSON, unlock, status)', async () => {
  const h = tb.hosts[2]!;
  const env = f('host-text.env', envText({ SSH_KEY: tb.keyPath, KNOWN_HOSTS: tb.knownHostsPath, APP_NAME: 'hosttext', APP_CRONTAB: 'cron/jobs.crontab', SSH_CONNECT_TIMEOUT: '10', RETRIES: '0',
    // For `hoist status` (caddy-reload's want needs a domain); a resolver that refuses at once.
    APP_DOMAIN: 'hosttext.hoist.test', DNS_RESOLVERS: '127.0.0.1:9' }));
  const inv = f('host-text-inventory.json', JSON.stringify({ hosts: { web3: { host: '127.0.0.1', port: h.port } } }));
  const args = ['run', 'cron', '--env-file', env, '--inventory', inv];
  const app = '/home/deploy/apps/hosttext';
  const escaped = printable(HOSTILE_HOST_TEXT);
  const clean = (label: string, text: string) => assert.equal(rawAttacks(text), [], `${label}: raw in ${JSON.stringify(text.slice(-1500))}`);
  const crontab = (line: string) => h.sh(`set -e; mkdir -p ${app}/releases/r1/cron; cat > ${app}/releases/r1/cron/jobs.crontab; ln -sfn releases/r1 ${app}/current`, 'deploy', `${line}\n`);

  // 1. A lock whose record (the link's target) is hostile: refused, the record shown escaped.
  assert.is((await crontab('@daily true')).code, 0);
  assert.is((await h.sh('mkdir -p -m 700 /home/deploy/.hoist && ln -s "$(cat)" /home/deploy/.hoist/lock', 'deploy', HOSTILE_HOST_TEXT)).code, 0);
  for (let run = 1; run <= 2; run++) {
    const { r, report, json } = await tb.hoistWithReport(args);
    assert.is(r.code, 1, r.stdout + r.stderr);
    clean(`lock, run ${run}: output`, r.stdout + r.stderr);
    clean(`lock, run ${run}: JSON`, json);
    assert.ok(r.stdout.includes(`deploy lock held by unknown (${escaped})`), r.stdout);
    assert.ok(report.hosts[0]!.error!.includes(HOSTILE_HOST_TEXT), 'the JSON report keeps the value exactly');
  }
  const screen = await hoistInTerminal(args, { cwd: tb.dir, env: { ...process.env, HOIST_RETRY_MIN_MS: '200' }, timeoutMs: 120_000 });
  assert.is(screen.code, 1, screen.screen);
  clean('lock, terminal', screen.screen);
  assert.ok(stripTerminal(screen.screen).includes(escaped), screen.screen);
  const unlock = await tb.hoist(['unlock', '--env-file', env, '--inventory', inv]);
  assert.is(unlock.code, 0, unlock.stdout + unlock.stderr);
  clean('unlock', unlock.stdout + unlock.stderr);
  assert.ok(unlock.stdout.includes(`web3: freed the lock held by unknown (${escaped})`), unlock.stdout);

  // 2. A crontab line in the release (APP_CRONTAB) that cron-install refuses and quotes.
  assert.is((await crontab(`61 * * * * echo ${HOSTILE_HOST_TEXT}`)).code, 0);
  for (let run = 1; run <= 2; run++) {
    const { r, json } = await tb.hoistWithReport(args);
    assert.is(r.code, 1, r.stdout + r.stderr);
    clean(`crontab, run ${run}: output`, r.stdout + r.stderr);
    clean(`crontab, run ${run}: JSON`, json);
    assert.match(r.stdout, /APP_CRONTAB cron\/jobs\.crontab line 1 "61 \* \* \* \* echo x\\u001b\[2Jy\\u001b\]0;hoist-pwned\\u0007y\\u009b5my\\rOK y\\u202ez"/);
  }

  // 3. `current` pointing at a hostile name: hoist status shows it, and docker-up's refusal of it, escaped.
  assert.is((await h.sh(`ln -sfn "releases/$(cat)" ${app}/current`, 'deploy', HOSTILE_HOST_TEXT)).code, 0);
  const status = await tb.hoist(['status', '--env-file', env, '--inventory', inv]);
  assert.is(status.code, 1, status.stdout + status.stderr);
  clean('status', status.stdout + status.stderr);
  assert.match(status.stdout, /\nweb3 +ok +x\\u001b\[2Jy/);
  assert.ok(status.stdout.includes(`web3: containers: ~/apps/hosttext/current points at "releases/${escaped.replace('\\u000d', '\\r')}", which is not a release name`), status.stdout);

  // Put right, the pipeline converges: changed, then unchanged.
  assert.is((await crontab('@daily true')).code, 0);
  for (let run = 1; run <= 2; run++) {
    const { r, report } = await tb.hoistWithReport(args);
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.equal(report.hosts[0]!.tasks.map((t) => t.status), [run === 1 ? 'changed' : 'unchanged']);
  }
});

test.run();
