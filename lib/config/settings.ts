// Typed settings for one host, made from the raw strings of .env, the process environment
// (secrets only) and the inventory's per-host vars. Everything that can be checked locally is
// checked here, before any connection: values, files that must exist, keys that must parse.
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { INLINE_KEYS, mayBeContent } from './inline-files.ts';
import { KEY_BY_NAME } from './keys.ts';
import { parseRepoUrl, type RepoUrl } from './repo-url.ts';
import { printable } from '../printable.ts';
import { parseByteSize } from '../byte-size.ts';
import { hostProblem, portProblem, splitList, userProblem } from './validators.ts';

const require = createRequire(import.meta.url);

/**
 * ssh2's key parser, ssh2 loaded when a key is first checked: it is the largest package hoist
 * loads, and what never reads a key (--version, help, init, a setting wrong before SSH_KEY)
 * should not wait for it.
 */
function parseKey(data: Buffer | string, passphrase?: string): ReturnType<typeof import('ssh2').utils.parseKey> {
  return (require('ssh2') as typeof import('ssh2')).utils.parseKey(data, passphrase);
}

export interface JumpSpec {
  user: string;
  host: string;
  port: number;
}

export interface Settings {
  sshPort: number;
  sshUser: string;
  deployUser: string;
  sshKeyPath: string;
  sshKeyPassphrase?: string;
  knownHostsPath: string;
  jump?: JumpSpec;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  retries: number;
  appName: string;
  appPort: number;
  cronFile?: string;
  /** The operator's public key (from SSH_KEY) plus AUTHORIZED_KEYS lines, for the deploy user. */
  authorizedKeys: string[];
  domains: string[];
  publicIps: string[];
  dnsResolvers: string[];
  dnsAuthoritative: boolean;
  dnsWaitMs: number;
  repo?: RepoUrl;
  githubToken?: string;
  githubApiUrl: string;
  forgeKnownHosts?: string;
  deployKeyWaitMs: number;
  extraPackages: string[];
  firewall: 'none' | 'ufw';
  sshdOptions: string[];
  gitRef: string;
  appCrontab?: string;
  appEnvFile?: string;
  keepReleases: number;
  /** BACKUP_KEEP: archives kept on the host by `hoist backup` and a `hoist-backup` job. */
  backupKeep: number;
  /** BACKUP_IMAGE: the throwaway containers that read and write volumes for backup and restore. */
  backupImage: string;
  /** Docker's container log rotation (DOCKER_LOG_MAX_SIZE/_FILE); null: off, daemon.json left alone. */
  dockerLog: { maxSize: string; maxFile: number } | null;
  /** SWAP_SIZE: bytes of /swapfile, 'auto' (empty: by memory), or 'off'. */
  swap: number | 'auto' | 'off';
  autoUpgrades: 'off' | 'security';
  /** BUILD_MEMORY in bytes: the memory bound of host builds. */
  buildMemory?: number;
  /** BUILD_MIN_FREE in bytes; absent: docker-up's rule (tasks/docker-up/disk.ts). */
  buildMinFree?: number;
  composeFile?: string;
  /** BUILD: where the release's image is built (lib/ship/: local and registry). */
  build: 'host' | 'local' | 'registry';
  /** BUILD_SOURCE, absolute: the checkout BUILD=local/registry takes the commit from. */
  buildSource: string;
  /** REGISTRY and its login (BUILD=registry); the password is a secret. */
  registry?: { address: string; user?: string; password?: string };
  appService: string;
  healthPath: string;
  healthTimeoutMs: number;
  /** RELEASE_COMMAND: the release phase's command line (tasks/docker-up/release-phase.ts); absent: none. */
  releaseCommand?: string;
  /** DRAIN_TIMEOUT: the longest release-switch waits for requests on the old slot to finish. */
  drainTimeoutMs: number;
  /** BLUE_PORT/GREEN_PORT when set (both or neither); null: hoist picks and records them per host. */
  bluePort: number | null;
  greenPort: number | null;
  caddyTls: 'auto' | 'internal' | 'off';
  caddyExtra: string[];
  /** ACME_EMAIL, ACME_CA, and ACME_CA_ROOT as a path here (checked to hold a PEM certificate). */
  acmeEmail?: string;
  acmeCa?: string;
  acmeCaRoot?: string;
  /** NOTIFY_URL (secret) and NOTIFY_FORMAT: where run messages and the watchdog's alerts go. */
  notifyUrl?: string;
  notifyFormat: 'json' | 'slack' | 'discord';
  /** ALERT_DISK_FREE in bytes (0: no disk alert). */
  alertDiskFree: number;
}

/** A raw value with where it came from, so errors can point at the file to edit. */
export interface RawValue {
  value: string;
  source: string;
  /** Relative paths are taken from this folder (the file's own). */
  baseDir: string;
}

export type RawSettings = Map<string, RawValue>;

export function buildSettings(raw: RawSettings): Settings {
  const get = (key: string): RawValue | undefined => {
    const given = raw.get(key);
    if (given && given.value !== '') return given;
    const def = KEY_BY_NAME.get(key)?.default;
    return def === undefined ? undefined : { value: def, source: 'default', baseDir: process.cwd() };
  };
  const must = (key: string): RawValue => {
    const v = get(key);
    if (!v) throw fail(key, undefined, 'is required');
    checkValue(key, v);
    return v;
  };
  const optional = (key: string): RawValue | undefined => {
    const v = get(key);
    if (v) checkValue(key, v);
    return v;
  };

  const keyPath = expandPath(must('SSH_KEY'));
  const passphraseValue = optional('SSH_KEY_PASSPHRASE');
  const passphrase = passphraseValue?.value;
  checkPrivateKey(keyPath, raw.get('SSH_KEY') ?? get('SSH_KEY')!, passphraseValue);
  const knownHosts = must('KNOWN_HOSTS');
  const knownHostsPath = expandPath(knownHosts);
  // Read only when connecting; a folder or a device there would fail every host after the
  // run started instead of now. A missing file is fine: --accept-new creates it.
  if (existsSync(knownHostsPath) && !isReadableFile(knownHostsPath)) throw fail('KNOWN_HOSTS', knownHosts, `is not a readable file (${knownHostsPath})`);
  const cron = optional('CRON_FILE');
  const cronFile = cron ? expandPath(cron) : undefined;
  if (cron && cronFile && !isReadableFile(cronFile)) throw fail('CRON_FILE', cron, `is not a readable file (${cronFile})`);

  const jump = optional('SSH_JUMP');
  const extraKeys = optional('AUTHORIZED_KEYS');
  const forgeKeys = optional('FORGE_KNOWN_HOSTS');
  const repo = optional('APP_REPO');
  const token = optional('GITHUB_TOKEN')?.value;
  const appEnv = optional('APP_ENV_FILE');
  const appCrontab = optional('APP_CRONTAB');
  if (appCrontab && cron) throw fail('APP_CRONTAB', appCrontab, 'is set together with CRON_FILE');
  const compose = optional('COMPOSE_FILE');
  const blue = optional('BLUE_PORT');
  const green = optional('GREEN_PORT');
  if (blue && !green) throw fail('BLUE_PORT', blue, 'is set without GREEN_PORT (set both, or neither and hoist picks free ports on each host)');
  if (green && !blue) throw fail('GREEN_PORT', green, 'is set without BLUE_PORT (set both, or neither and hoist picks free ports on each host)');
  const bluePort = blue ? Number(blue.value) : null;
  const build = must('BUILD').value as Settings['build'];
  const registry = optional('REGISTRY');
  const registryUser = optional('REGISTRY_USER');
  const registryPassword = optional('REGISTRY_PASSWORD');
  if (build === 'registry' && !registry) throw fail('BUILD', must('BUILD'), 'is registry but REGISTRY is empty (set REGISTRY to where images are pushed, or BUILD=local to ship over SSH)');
  if (registryUser && !registryPassword) throw fail('REGISTRY_USER', registryUser, 'is set without REGISTRY_PASSWORD (give the password or token in .env or the environment)');
  const greenPort = green ? Number(green.value) : null;
  if (green && bluePort === greenPort) throw fail('GREEN_PORT', green, 'is the same as BLUE_PORT');
  return {
    sshPort: Number(must('SSH_PORT').value),
    sshUser: must('SSH_USER').value,
    deployUser: must('DEPLOY_USER').value,
    sshKeyPath: keyPath,
    ...(passphrase ? { sshKeyPassphrase: passphrase } : {}),
    knownHostsPath,
    ...(jump ? { jump: parseJump(jump) } : {}),
    connectTimeoutMs: Number(must('SSH_CONNECT_TIMEOUT').value) * 1000,
    commandTimeoutMs: Number(must('SSH_COMMAND_TIMEOUT').value) * 1000,
    retries: Number(must('RETRIES').value),
    appName: must('APP_NAME').value,
    appPort: Number(must('APP_PORT').value),
    ...(cronFile ? { cronFile } : {}),
    authorizedKeys: [publicKeyLine(keyPath, passphrase), ...(extraKeys ? readPublicKeys(extraKeys) : [])],
    domains: splitList(optional('APP_DOMAIN')?.value),
    publicIps: splitList(optional('PUBLIC_IPS')?.value),
    dnsResolvers: splitList(optional('DNS_RESOLVERS')?.value),
    dnsAuthoritative: must('DNS_AUTHORITATIVE').value === 'true',
    dnsWaitMs: Number(must('DNS_WAIT').value) * 1000,
    ...(repo ? { repo: parseRepoUrl(repo.value)! } : {}),
    ...(token ? { githubToken: token } : {}),
    githubApiUrl: must('GITHUB_API_URL').value.replace(/\/+$/, ''),
    ...(forgeKeys ? { forgeKnownHosts: readableFile('FORGE_KNOWN_HOSTS', forgeKeys) } : {}),
    deployKeyWaitMs: Number(must('DEPLOY_KEY_WAIT').value) * 1000,
    extraPackages: splitList(optional('EXTRA_PACKAGES')?.value, /[\s,]+/),
    firewall: must('FIREWALL').value as 'none' | 'ufw',
    sshdOptions: splitList(optional('SSHD_OPTIONS')?.value, /\s*;\s*/),
    gitRef: must('GIT_REF').value,
    ...(appCrontab ? { appCrontab: appCrontab.value } : {}),
    ...(appEnv ? { appEnvFile: readableFile('APP_ENV_FILE', appEnv) } : {}),
    keepReleases: Number(must('KEEP_RELEASES').value),
    backupKeep: Number(must('BACKUP_KEEP').value),
    backupImage: must('BACKUP_IMAGE').value,
    dockerLog: must('DOCKER_LOG_MAX_SIZE').value === 'off' ? null : { maxSize: must('DOCKER_LOG_MAX_SIZE').value, maxFile: Number(must('DOCKER_LOG_MAX_FILE').value) },
    swap: swapSetting(optional('SWAP_SIZE')?.value),
    autoUpgrades: must('AUTO_UPGRADES').value as 'off' | 'security',
    ...(optional('BUILD_MEMORY') ? { buildMemory: parseByteSize(optional('BUILD_MEMORY')!.value) } : {}),
    ...(optional('BUILD_MIN_FREE') ? { buildMinFree: parseByteSize(optional('BUILD_MIN_FREE')!.value) } : {}),
    ...(compose ? { composeFile: compose.value } : {}),
    build,
    buildSource: expandPath(must('BUILD_SOURCE')),
    ...(registry ? { registry: { address: registry.value, ...(registryUser ? { user: registryUser.value } : {}), ...(registryPassword ? { password: registryPassword.value } : {}) } } : {}),
    appService: must('APP_SERVICE').value,
    healthPath: must('HEALTH_PATH').value,
    healthTimeoutMs: Number(must('HEALTH_TIMEOUT').value) * 1000,
    ...(optional('RELEASE_COMMAND') ? { releaseCommand: optional('RELEASE_COMMAND')!.value } : {}),
    drainTimeoutMs: Number(must('DRAIN_TIMEOUT').value) * 1000,
    bluePort,
    greenPort,
    caddyTls: must('CADDY_TLS').value as 'auto' | 'internal' | 'off',
    caddyExtra: splitList(optional('CADDY_EXTRA')?.value, /\s*;\s*/),
    ...acmeSettings(optional('ACME_EMAIL'), optional('ACME_CA'), optional('ACME_CA_ROOT')),
    ...(optional('NOTIFY_URL') ? { notifyUrl: optional('NOTIFY_URL')!.value } : {}),
    notifyFormat: must('NOTIFY_FORMAT').value as Settings['notifyFormat'],
    alertDiskFree: parseByteSize(must('ALERT_DISK_FREE').value),
  };
}

function swapSetting(v: string | undefined): Settings['swap'] {
  if (v === undefined) return 'auto';
  return v === 'off' || v === '0' ? 'off' : parseByteSize(v);
}

/** ACME_CA_ROOT only with ACME_CA (it is that directory's TLS root), and a file holding a PEM certificate. */
function acmeSettings(email?: RawValue, ca?: RawValue, root?: RawValue): Pick<Settings, 'acmeEmail' | 'acmeCa' | 'acmeCaRoot'> {
  if (root && !ca) throw fail('ACME_CA_ROOT', root, 'is set without ACME_CA (it is the root of that directory\'s https certificate)');
  const rootPath = root ? readableFile('ACME_CA_ROOT', root) : undefined;
  // caddy-reload reads the host's copy back whole (up to 256 KiB) to compare it.
  if (root && rootPath && statSync(rootPath).size > 262144) throw fail('ACME_CA_ROOT', root, `is over 256 KiB (${rootPath}); a CA root is a few KiB`);
  if (root && rootPath && !/^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/m.test(readFileSync(rootPath, 'utf8'))) {
    throw fail('ACME_CA_ROOT', root, `holds no PEM certificate (${rootPath})`);
  }
  return { ...(email ? { acmeEmail: email.value } : {}), ...(ca ? { acmeCa: ca.value } : {}), ...(rootPath ? { acmeCaRoot: rootPath } : {}) };
}

function checkValue(key: string, v: RawValue): void {
  const def = KEY_BY_NAME.get(key)!;
  const problem = def.problem?.(v.value);
  if (problem) throw fail(key, v, problem);
}

/**
 * A value as an error may show it: secrets and values of content keys that may be content (a
 * base64-encoded key from a CI secret, lib/config/inline-files.ts mayBeContent) are hidden.
 */
export function shownValue(key: string, v: RawValue): string {
  return isHidden(key, v) ? '(hidden)' : v.value;
}

function isHidden(key: string, v: RawValue): boolean {
  return KEY_BY_NAME.get(key)?.secret === true || contentLike(key, v);
}

function contentLike(key: string, v: RawValue): boolean {
  return key in INLINE_KEYS && mayBeContent(v.value);
}

/**
 * `text` with every form a hidden value takes in hoist's messages replaced: the value as given,
 * trimmed, and the path expandPath makes of it (resolve turns // into / and drops a trailing /,
 * so hiding the exact value alone would leave the rest of it there). The one place that knows
 * what is made of a value: every message that quotes a path made from one passes here.
 */
export function hideDerived(text: string, key: string, v: RawValue): string {
  // Content-like values only: they are long; a secret (a passphrase) may be one letter, and
  // replacing that letter everywhere would garble the message (no problem text quotes a secret).
  if (!contentLike(key, v)) return text;
  const forms = [...new Set([expandPath(v), v.value, v.value.trim()])].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
  return forms.reduce((t, form) => t.split(form).join('(hidden)'), text);
}

export function fail(key: string, v: RawValue | undefined, problem: string): ConfigError {
  const def = KEY_BY_NAME.get(key);
  // The problem may quote a path made from the value: kept to one plain line like the value, and
  // hidden where the value is.
  return new ConfigError(key, v && shownValue(key, v), printable(v ? hideDerived(problem, key, v) : problem), def?.fix ?? 'see .env.example', v?.source);
}

export function expandPath(v: RawValue): string {
  const p = v.value.startsWith('~/') ? homedir() + v.value.slice(1) : v.value;
  return isAbsolute(p) ? p : resolve(v.baseDir, p);
}

function checkPrivateKey(path: string, v: RawValue, passphraseValue: RawValue | undefined): void {
  const passphrase = passphraseValue?.value;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw fail('SSH_KEY', v, `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const parsed = parseKey(bytes, passphrase);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    // A wrong passphrase is SSH_KEY_PASSPHRASE's mistake, not the key file's: name that key
    // (its value stays hidden) so the message points at the line to fix.
    if (encrypted && passphraseValue && passphrase) throw fail('SSH_KEY_PASSPHRASE', passphraseValue, hideDerived(`does not decrypt SSH_KEY ${path} (${parsed.message})`, 'SSH_KEY', v));
    const problem = encrypted && !passphrase ? 'is encrypted and SSH_KEY_PASSPHRASE is empty' : `is not a usable private key (${parsed.message})`;
    throw fail('SSH_KEY', v, problem);
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) throw fail('SSH_KEY', v, 'is a public key; hoist needs the private key (the file without .pub)');
}

function publicKeyLine(path: string, passphrase: string | undefined): string {
  const parsed = parseKey(readFileSync(path), passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new Error('SSH_KEY stopped parsing between two reads of its file');
  return `${key.type} ${key.getPublicSSH().toString('base64')} hoist`;
}

function readableFile(key: string, v: RawValue): string {
  const path = expandPath(v);
  if (!isReadableFile(path)) throw fail(key, v, `is not a readable file (${path})`);
  return path;
}

/** Public keys, one per line, as in authorized_keys; each must parse as a public key. */
function readPublicKeys(v: RawValue): string[] {
  const path = readableFile('AUTHORIZED_KEYS', v);
  const lines = readFileSync(path, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const [i, line] of lines.entries()) {
    const parsed = parseKey(line);
    if (parsed instanceof Error || (Array.isArray(parsed) ? parsed[0] : parsed)?.isPrivateKey()) {
      throw fail('AUTHORIZED_KEYS', v, `line ${i + 1} is not a public key`);
    }
  }
  return lines;
}

function isReadableFile(path: string): boolean {
  try {
    return statSync(path).isFile() && (accessSync(path, constants.R_OK), true);
  } catch {
    return false;
  }
}

function parseJump(v: RawValue): JumpSpec {
  const m = /^([^@\s]+)@([^:\s]+|\[[0-9A-Fa-f:.]+\])(?::(\d+))?$/.exec(v.value);
  if (!m) throw fail('SSH_JUMP', v, 'is not of the form user@host[:port]');
  const [, user, rawHost, port = '22'] = m;
  const host = rawHost!.replace(/^\[|\]$/g, '');
  const problem = userProblem(user!) ?? hostProblem(host) ?? portProblem(port);
  if (problem) throw fail('SSH_JUMP', v, problem);
  return { user: user!, host, port: Number(port) };
}
