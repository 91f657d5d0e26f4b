// The app's .env (APP_ENV_FILE) with hostile values, through a real bootstrap and release (Docker,
// compose, Caddy, git over SSH): newlines inside quotes, ' and ", #, $VAR and ${VAR}, backslashes,
// emoji, RTL and combining marks, spaces at either end, = inside, empty values.
//
// What "exactly as given" means here. hoist does not rewrite the file: it uploads its bytes as
// ~deploy/apps/APP/shared/.env (mode 600). So (1) the host's file is byte-identical to the local
// one, and (2) read with dotenv (the parser hoist reads its own .env with) it gives back exactly the
// values the operator wrote; both are asserted, and VALUES lists each raw line with its value.
//
// What the app sees is another parser's business. The release's compose file passes the file with
// `env_file`, and Debian 12's docker-compose 1.29 reads env files with python-dotenv 0.21 (and
// interpolation on). It agrees with dotenv for plain, quoted, multi-line, unicode, `=`-holding,
// empty and single-quoted values, and differs (asserted per value below, as `compose`) where:
//   - a double-quoted value holds \t, \\ or \" : python-dotenv decodes them, dotenv keeps them;
//   - a value holds ${VAR}, in any quotes, single ones too: python-dotenv substitutes it (from the
//     compose process's environment, "" when unset) and has no escape for it; dotenv keeps it
//     ($VAR without braces, $(...) and backticks are kept by both);
//   - an unquoted value holds # without a space before it: a comment for dotenv only;
//   - a value is quoted with backticks: dotenv strips them, python-dotenv keeps them.
// So an app that reads .env itself (with a dotenv of its own) sees VALUES; one that gets it
// through compose's env_file sees `compose`. Single quotes give the same from both for anything
// but ${...}, which no quoting keeps from compose 1.29. The release also carries the bootstrap/release keys of the hostile table
// (test/harness/hostile-release-rows.ts): HEALTH_PATH, CADDY_EXTRA, APP_SERVICE, COMPOSE_FILE,
// GIT_REF, SSHD_OPTIONS, EXTRA_PACKAGES, AUTHORIZED_KEYS and FORGE_KNOWN_HOSTS, each arriving
// exactly, and no marker file an injection would create exists afterwards. Every pipeline runs
// twice; the second run changes nothing.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { dockerSh } from '../harness/docker.ts';
import { envText } from '../harness/env-text.ts';
import type { GitServer } from '../harness/git-host.ts';
import { RELEASE_CARRIED, RELEASE_CARRIED_FILES, releaseCarriedValues } from '../harness/hostile-release-rows.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import type { TestHost } from '../harness/testbed.ts';

const test = suite('app .env values and hostile release settings, end to end');
const bed = new ReleaseBed();
const tb = bed.tb;
const RUN = randomBytes(4).toString('hex');
const MARK = `hoist-pwned-${RUN}`;
const M = `/tmp/${MARK}`;
const TOKEN = `ghp_${randomBytes(16).toString('hex')}`;
const DOMAIN = 'app.hoist.test';
const APP = '/home/deploy/apps/app';
const CARRIED = releaseCarriedValues(M);
const SERVICE = CARRIED.APP_SERVICE!;

interface EnvValue {
  /** The line(s) as written in the file. */
  line: string;
  /** What dotenv reads: what hoist promises to deliver. */
  value: string;
  /** What the container gets through compose's env_file, when it differs (see the header). */
  compose?: string;
}

const VALUES: Record<string, EnvValue> = {
  PLAIN: { line: 'PLAIN=hello world', value: 'hello world' },
  SPACES: { line: "SPACES='  leading and trailing  '", value: '  leading and trailing  ' },
  EMPTY: { line: 'EMPTY=', value: '' },
  EMPTY_QUOTED: { line: 'EMPTY_QUOTED=""', value: '' },
  EQUALS: { line: 'EQUALS=a=b==c', value: 'a=b==c' },
  HASH_QUOTED: { line: 'HASH_QUOTED="pass#word # not a comment"', value: 'pass#word # not a comment' },
  HASH_UNQUOTED: { line: 'HASH_UNQUOTED=pass#word', value: 'pass', compose: 'pass#word' },
  TRAILING_COMMENT: { line: 'TRAILING_COMMENT=value   # a comment', value: 'value' },
  SINGLE_IN_DOUBLE: { line: `SINGLE_IN_DOUBLE="it's ${'$'}(touch ${M}-env1)"`, value: `it's $(touch ${M}-env1)` },
  DOUBLE_IN_SINGLE: { line: `DOUBLE_IN_SINGLE='say "hi" \`touch ${M}-env2\`'`, value: `say "hi" \`touch ${M}-env2\`` },
  DOLLAR_SINGLE: { line: "DOLLAR_SINGLE='$HOME ${HOME} $(id) `id` $$ $1'", value: '$HOME ${HOME} $(id) `id` $$ $1', compose: '$HOME /home/deploy $(id) `id` $$ $1' },
  DOLLAR_DOUBLE: { line: 'DOLLAR_DOUBLE="$HOME ${HOIST_UNSET_VAR_X} ${HOME} $$"', value: '$HOME ${HOIST_UNSET_VAR_X} ${HOME} $$', compose: '$HOME  /home/deploy $$' },
  BACKSLASH_SINGLE: { line: "BACKSLASH_SINGLE='C:\\path\\to\\new'", value: 'C:\\path\\to\\new' },
  BACKSLASH_DOUBLE: { line: 'BACKSLASH_DOUBLE="tab\\there \\\\ back"', value: 'tab\\there \\\\ back', compose: 'tab\there \\ back' },
  ESCAPED_QUOTE: { line: 'ESCAPED_QUOTE="say \\"hi\\""', value: 'say \\"hi\\"', compose: 'say "hi"' },
  BACKTICKS: { line: "BACKTICKS=`it's \"both\"`", value: 'it\'s "both"', compose: '`it\'s "both"`' },
  MULTI: { line: `MULTI="line one\nline two with 'quotes' and # hash\n  indented ; touch ${M}-env3"`, value: `line one\nline two with 'quotes' and # hash\n  indented ; touch ${M}-env3` },
  MULTI_ESCAPED: { line: 'MULTI_ESCAPED="first\\nsecond"', value: 'first\nsecond' },
  MULTI_SINGLE_LITERAL: { line: "MULTI_SINGLE_LITERAL='a\\nb'", value: 'a\\nb' },
  UNICODE: { line: 'UNICODE="emoji 😀 👩‍👩‍👧 🇫🇷, RTL שלום مرحبا, combining e\u0301 a\u0308\u0301, zero width\u200b."', value: 'emoji 😀 👩‍👩‍👧 🇫🇷, RTL שלום مرحبا, combining e\u0301 a\u0308\u0301, zero width\u200b.' },
  UNICODE_UNQUOTED: { line: 'UNICODE_UNQUOTED=漢字テスト한국어', value: '漢字テスト한국어' },
  TAB_SINGLE: { line: "TAB_SINGLE='a\tb'", value: 'a\tb' },
  EXPORTED: { line: 'export EXPORTED=yes', value: 'yes' },
  SPACED: { line: 'SPACED = value with spaces around =  ', value: 'value with spaces around =' },
  LONG: { line: `LONG=${'x'.repeat(4096)}`, value: 'x'.repeat(4096) },
};
const ENV_FILE_TEXT = `# the app's settings: every value below is what hoist must deliver\n${Object.values(VALUES).map((v) => v.line).join('\n')}\n`;

let git: GitServer;
let host: TestHost;
let envFile = '';
let forgeLine = '';
let authorizedLine = '';
let sha = '';
const timings: string[] = [];

// The health check is a CGI script that logs the query string it was asked with, quoted by
// printf '%s' (the one shell that sees the value is the test's own, and it only prints it).
const appFiles = () => ({
  Dockerfile: 'FROM hoist-test-base\nCOPY index.html /www/index.html\nCOPY health /www/cgi-bin/health\nRUN ["/bin/busybox", "chmod", "755", "/www/cgi-bin/health"]\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n',
  health: '#!/bin/sh\nprintf \'%s\\n\' "$QUERY_STRING" >> /www/queries.log\nprintf \'Content-Type: text/plain\\r\\n\\r\\nok\\n\'\n',
  // In a subfolder: compose's own ${VAR} substitution still reads the app's .env (the release's root).
  [CARRIED.COMPOSE_FILE!]: `services:\n  ${SERVICE}:\n    build: ..\n    env_file: ../.env\n    environment:\n      FROM_SUBSTITUTION: "\${PLAIN}"\n`,
  'index.html': 'hostile\n',
});

test.before(async () => {
  const started = Date.now();
  // Debian 12: what the app sees is compose v1's env-file parser (python-dotenv), asserted per value.
  ({ git, host } = await bed.start({ domain: DOMAIN, token: TOKEN, host: 'debian12-no-systemd' }));
  sha = await git.commit('app', appFiles(), 'hostile app');
  // GIT_REF is a branch other than main, pointing at that commit.
  const made = await dockerSh(git.container, `git --git-dir=/home/git/acme/app.git branch ${CARRIED.GIT_REF!} ${sha}`, 'git');
  assert.is(made.code, 0, made.stderr);

  // FORGE_KNOWN_HOSTS: hostile text in the host pattern (kept, as data) and in comments (dropped).
  const [, type, blob] = git.knownHostsLine.split(' ');
  forgeLine = `${git.ip},$(touch$IFS${M}-fk) ${type} ${blob}`;
  const forgeKnownHosts = tb.file('forge_known_hosts', `# $(touch ${M}-fk2)\n${forgeLine} comment $(touch ${M}-fk3) \`touch ${M}-fk4\`\n`);
  // AUTHORIZED_KEYS: a real public key whose comment is hostile.
  const extraKey = join(tb.dir, 'extra_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `$(touch ${M}-ak) \`touch ${M}-ak2\` ; touch ${M}-ak3 '"`, '-f', extraKey]);
  authorizedLine = readFileSync(`${extraKey}.pub`, 'utf8').trim();
  const authorizedKeys = tb.file('authorized_keys', `# extra keys\n${authorizedLine}\n`);
  envFile = tb.file('app.env', ENV_FILE_TEXT);
  // Written with envText, not bed.env() (Testbed.writeEnv quotes with JSON.stringify): the hostile
  // values must reach hoist exactly. Of writeEnv's own keys it has always set all but RETRIES.
  const env = {
    SSH_KEY: tb.keyPath,
    KNOWN_HOSTS: tb.knownHostsPath,
    SSH_CONNECT_TIMEOUT: '10',
    ...bed.vars({ FORGE_KNOWN_HOSTS: forgeKnownHosts, AUTHORIZED_KEYS: authorizedKeys, APP_ENV_FILE: envFile, HEALTH_TIMEOUT: '60', ...CARRIED }),
  };
  tb.file('.env', envText(env));
  timings.push(`setup ${Date.now() - started} ms`);
});
test.after(async () => {
  console.log(`    timing: ${timings.join('; ')}`);
  await bed.stop();
});

async function run(pipeline: string, label: string): Promise<RunReport> {
  const r = await tb.hoist(['run', pipeline, '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', '-'], { GITHUB_TOKEN: TOKEN, SSH_KEY_PASSPHRASE: '' });
  let report: RunReport;
  try {
    report = JSON.parse(r.stdout) as RunReport;
  } catch {
    throw new Error(`${label}: no report (exit ${r.code}): ${r.stdout.slice(-2000)}\n${r.stderr}`);
  }
  assert.is(r.code, 0, `${label}: exit ${r.code}: ${JSON.stringify(report.hosts[0]?.tasks.map((t) => [t.task, t.status, t.error]))}\n${r.stderr.slice(-3000)}`);
  timings.push(`${label} ${r.durationMs} ms`);
  return report;
}
const statuses = (report: RunReport) => report.hosts[0]!.tasks.map((t) => `${t.task}:${t.status}`);
const on = async (script: string, user = 'root') => {
  const r = await host.sh(script, user);
  assert.is(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
};

test('the table is what dotenv reads, and its keys are exactly the hostile release rows', () => {
  const parsed = dotenv.parse(ENV_FILE_TEXT);
  for (const [name, v] of Object.entries(VALUES)) assert.is(parsed[name], v.value, `${name}: the table's value is what dotenv reads from its line`);
  assert.equal(Object.keys(parsed).sort(), Object.keys(VALUES).sort());
  assert.equal(RELEASE_CARRIED.map((r) => r.key).sort(), [...Object.keys(CARRIED), ...RELEASE_CARRIED_FILES].sort());
});

test('bootstrap carries SSHD_OPTIONS, AUTHORIZED_KEYS, EXTRA_PACKAGES and FORGE_KNOWN_HOSTS exactly; a second run changes nothing', async () => {
  const first = await run('bootstrap', 'bootstrap');
  const boot = first.hosts[0]!.tasks.find((t) => t.task === 'ssh-bootstrap')!;
  assert.not.ok(boot.steps.some((s) => s.startsWith('apt-get')), `EXTRA_PACKAGES were installed already: no apt (${boot.steps.join('; ')})`);
  const dropIn = await on('cat /etc/ssh/sshd_config.d/00-hoist.conf');
  const options = CARRIED.SSHD_OPTIONS!.split(/\s*;\s*/);
  assert.ok(dropIn.endsWith(`\n${options.join('\n')}\n`), `the drop-in ends with the options, verbatim: ${dropIn}`);
  assert.match(await on('sshd -T | grep -i "^banner "'), new RegExp(`^banner /etc/hoist-banner-\\$\\(touch\\$IFS${M.replace(/\//g, '\\/')}-sshd\\)\\n$`));
  const keys = (await on('cat /home/deploy/.ssh/authorized_keys')).split('\n');
  assert.ok(keys.includes(authorizedLine), 'the hostile-comment key is in authorized_keys as one line, verbatim');
  const pinned = (await on('cat /home/deploy/.ssh/known_hosts')).split('\n').filter(Boolean);
  assert.ok(pinned.includes(forgeLine), `the forge's line is pinned with its pattern verbatim: ${pinned.join(' | ')}`);
  assert.not.ok(pinned.some((l) => l.includes('-fk2') || l.includes('-fk3') || l.includes('-fk4')), 'comments were not carried');

  const again = await run('bootstrap', 'bootstrap again');
  assert.equal(statuses(again), ['ssh-bootstrap:unchanged', 'dns-verify:unchanged', 'deploy-key:unchanged']);
  await loadAppBase(host.container);
});

test('release: the app .env byte for byte (600) and value for value; the container gets what compose reads; hostile release settings arrive; a second run changes nothing', async () => {
  const first = await run('release', 'release');
  assert.ok(statuses(first).every((s) => s.endsWith(':changed') || s === 'cron-install:unchanged'), statuses(first).join(' '));
  const current = (await on(`readlink ${APP}/current`)).trim();
  assert.is(await on(`cat ${APP}/${current}/REVISION`), `${sha}\n`, `GIT_REF ${CARRIED.GIT_REF} gave the branch's commit`);

  // The file: same bytes, mode 600, and the values dotenv reads from it.
  const bytes = Buffer.from(await on(`base64 -w0 ${APP}/shared/.env`), 'base64');
  assert.ok(bytes.equals(readFileSync(envFile)), 'shared/.env is byte-identical to APP_ENV_FILE');
  assert.is(await on(`stat -c '%a %U' ${APP}/shared/.env`), '600 deploy\n');
  assert.is(await on(`sha256sum < ${APP}/${current}/.env`), await on(`sha256sum < ${APP}/shared/.env`), "the release's .env is that file");
  const onHost = dotenv.parse(bytes);
  for (const [name, v] of Object.entries(VALUES)) assert.is(onHost[name], v.value, `${name} read back from the host's file`);

  // What the app's container was started with (docker inspect: exact, newlines included).
  const ids = (await on(`docker ps -q --filter label=com.docker.compose.service=${SERVICE}`)).trim().split('\n');
  assert.is(ids.length, 1, `one container of ${SERVICE}: ${ids.join(',')}`);
  const env = new Map(
    (JSON.parse(await on(`docker inspect --format '{{json .Config.Env}}' ${ids[0]}`)) as string[]).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const differs: string[] = [];
  for (const [name, v] of Object.entries(VALUES)) {
    assert.is(env.get(name), v.compose ?? v.value, `${name} in the container`);
    if (v.compose !== undefined) differs.push(name);
  }
  assert.is(env.get('FROM_SUBSTITUTION'), VALUES.PLAIN!.value, "compose's ${PLAIN} in a compose file in a subfolder is the app .env's value");
  console.log(`    compose's env_file reads ${Object.keys(VALUES).length - differs.length} of ${Object.keys(VALUES).length} values as dotenv does; differs on ${differs.join(', ')} (see the header)`);

  // The hostile release settings arrived as given.
  assert.match(await on(`docker inspect --format '{{.Config.Image}}' ${ids[0]}`), new RegExp(`^hoist/app/${SERVICE.replace(/\./g, '\\.')}:`));
  const queries = (await on(`docker exec ${ids[0]} cat /www/queries.log`)).split('\n').filter(Boolean);
  const query = CARRIED.HEALTH_PATH!.slice(CARRIED.HEALTH_PATH!.indexOf('?') + 1);
  assert.ok(queries.length > 0, 'the health check reached the app');
  assert.equal([...new Set(queries)], [query], 'the app was asked HEALTH_PATH with its query verbatim, every time');
  const headers = await on(`curl -s -D - -o /dev/null --max-time 5 --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`);
  const header = /^X-Hoist-Test: (.*)\r$/m.exec(headers)?.[1];
  assert.is(header, `it's $(touch ${M}-caddy) \`touch ${M}-caddy2\` && touch ${M}-caddy3 | x`, `CADDY_EXTRA's header value verbatim: ${headers}`);
  assert.match(headers, /^X-Second: plain\r$/m);

  const stamp = await on(`stat -c '%Y %i' ${APP}/shared/.env`);
  const again = await run('release', 'release again');
  assert.equal(statuses(again), ['git-sync:unchanged', 'docker-up:unchanged', 'caddy-reload:unchanged', 'release-switch:unchanged', 'cron-install:unchanged']);
  assert.is(await on(`stat -c '%Y %i' ${APP}/shared/.env`), stamp, 'the .env was not rewritten');
});

test('no marker an injection would create exists: on the host, in the app container, here', async () => {
  assert.is(await on(`find / -xdev -name '${MARK}*' 2>/dev/null | head -5`), '');
  const ids = (await on('docker ps -q')).trim().split('\n').filter(Boolean);
  assert.ok(ids.length > 0);
  for (const id of ids) assert.is(await on(`docker exec ${id} ls /tmp 2>/dev/null || true`), '', `container ${id}: /tmp is empty`);
  const local = execFileSync('sh', ['-c', `find /tmp ${JSON.stringify(tb.dir)} -maxdepth 3 -name '${MARK}*' 2>/dev/null | head -5`], { encoding: 'utf8' });
  assert.is(local, '');
});

test.run();
