// Turns .env, the process environment and an optional inventory into the list of hosts to run
// on, each with typed settings. Nothing here touches the network: a run that gets past this
// point has a config in which every value was checked.
//
// The environment: keys marked `secret` are always read from it (CI hands secrets over that
// way). Every other key only with HOIST_ENV=1 (the generated CI workflow sets it): without that
// opt-in a stray HOST or GIT_REF in a shell cannot redirect a deploy. A key set in the file and,
// to another value, in the environment stops the run unless HOIST_ENV_WINS=1 says the
// environment wins. Only keys hoist knows are ever read. Keys naming a file may hold its
// content (lib/config/inline-files.ts).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import dotenv from 'dotenv';
import { ConfigError, UsageError } from '../errors.ts';
import { addSecret } from '../secrets/redact.ts';
import { envSyntaxProblem } from './env-syntax.ts';
import { INLINE_KEYS, isInlineContent, mayBeContent, writeInlineFile } from './inline-files.ts';
import { KEYS, KEY_BY_NAME } from './keys.ts';
import { parseInventory, type InventoryHost } from './inventory.ts';
import { buildSettings, expandPath, fail, shownValue, type RawSettings, type RawValue, type Settings } from './settings.ts';

export interface HostConfig {
  /** The name used in output and reports: the inventory name, or HOST itself. */
  name: string;
  address: string;
  tags: string[];
  settings: Settings;
}

export interface LoadOptions {
  envFile?: string;
  inventoryFile?: string;
  /** Names from --hosts; empty means all. */
  only?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  envFile: string | null;
  /** Where each key set for the whole run came from (a file's path, or ENVIRONMENT), never a value. */
  sources?: Record<string, string>;
  hosts: HostConfig[];
}

/** The source of a value read from the process environment. */
export const ENVIRONMENT = 'the environment';
/** Marks a source whose value was a file's content, now in a temporary file. */
export const CONTENT_MARK = ' (content)';

/** HOIST_ENV=1 (or true): every known key may come from the environment, not only secrets. */
export function readsAllFromEnvironment(env: NodeJS.ProcessEnv): boolean {
  return flag(env, 'HOIST_ENV', 'set HOIST_ENV=1 to read every setting from the environment, or leave it unset');
}

/**
 * HOIST_ENV_WINS=1 (or true): a key set both in the settings file and, to another value, in the
 * environment takes the environment's. Without it such a run stops before connecting: a value
 * exported in a shell (GITHUB_TOKEN, or HOST with HOIST_ENV=1) must not redirect a deploy
 * silently, and asking in so many words is cheap for the one who means it.
 */
export function environmentWins(env: NodeJS.ProcessEnv): boolean {
  return flag(env, 'HOIST_ENV_WINS', 'set HOIST_ENV_WINS=1 to let the environment win over the settings file, or leave it unset');
}

function flag(env: NodeJS.ProcessEnv, name: string, fix: string): boolean {
  const v = env[name]?.trim().toLowerCase();
  if (v === undefined || v === '' || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true') return true;
  throw new ConfigError(name, env[name], 'is neither 1 nor 0', fix, ENVIRONMENT);
}

export function loadConfig(opts: LoadOptions): LoadedConfig {
  const envPath = resolve(opts.envFile ?? '.env');
  const raw: RawSettings = new Map();
  let envFile: string | null = null;
  if (existsSync(envPath)) {
    envFile = envPath;
    readEnvFile(envPath, raw);
  } else if (opts.envFile) {
    throw new UsageError(`--env-file ${opts.envFile}: no such file. Fix: give the path of your .env (cp .env.example .env to start one)`);
  }
  const env = opts.env ?? process.env;
  addFromEnvironment(raw, env, readsAllFromEnvironment(env), environmentWins(env));
  for (const [key, value] of raw) raw.set(key, inlineToFile(key, value, env));
  // Every value given is checked, even one the inventory overrides for every host (a port: field
  // replaces SSH_PORT): a malformed line is a mistake whether or not it happens to be used.
  for (const [key, value] of raw) {
    const problem = key === 'HOST' || value.value === '' ? null : (KEY_BY_NAME.get(key)?.problem?.(value.value) ?? null);
    if (problem) throw fail(key, value, problem);
  }

  const inventory = opts.inventoryFile ? parseInventory(resolve(opts.inventoryFile)) : null;
  const hostValue = raw.get('HOST');
  let hosts: HostConfig[];
  if (inventory) {
    if (hostValue?.value) {
      throw new ConfigError('HOST', hostValue.value, 'is set while an inventory is given', 'empty HOST in .env; the inventory lists the hosts', hostValue.source);
    }
    hosts = inventory.map((h) => hostFromInventory(h, raw));
  } else {
    if (!hostValue?.value) {
      const where = envFile ? `in ${envFile}` : `(there is no ${envPath})`;
      throw new ConfigError('HOST', undefined, `is not set ${where}`, 'set HOST in .env (cp .env.example .env), or pass --inventory FILE (in CI: HOIST_ENV=1 and HOST in the environment)');
    }
    const problem = KEY_BY_NAME.get('HOST')!.problem!(hostValue.value);
    if (problem) throw fail('HOST', hostValue, problem);
    hosts = [{ name: hostValue.value, address: hostValue.value, tags: [], settings: buildSettings(raw) }];
  }
  const sources = Object.fromEntries([...raw].filter(([, v]) => v.value !== '').map(([k, v]) => [k, v.source]));
  return { envFile, sources, hosts: select(hosts, opts.only ?? []) };
}

function readEnvFile(path: string, into: RawSettings): void {
  const text = readFileSync(path, 'utf8');
  const source = path;
  // dotenv drops lines it cannot read and lets a repeated key win silently: stop instead. Only
  // the key is named, never the line, which may hold a secret.
  const syntax = envSyntaxProblem(text);
  if (syntax?.kind === 'duplicate') {
    throw new ConfigError(syntax.key, undefined, `is set twice (lines ${syntax.lines[0]} and ${syntax.lines[1]}); the last one would win silently`, 'keep one of the two lines', source);
  }
  if (syntax?.kind === 'not-key-value') {
    const fix = 'write it as KEY=value (quote a value with spaces or #), make it a # comment, or remove it';
    throw syntax.key
      ? new ConfigError(syntax.key, undefined, `(line ${syntax.line}) is not written as KEY=value, so it would be ignored`, fix, source)
      : new ConfigError(`line ${syntax.line}`, undefined, 'is neither KEY=value, a comment nor blank, so it would be ignored', fix, source);
  }
  const parsed = dotenv.parse(text);
  for (const [key, value] of Object.entries(parsed)) {
    if (!KEY_BY_NAME.has(key)) throw unknownKey(key, value, source);
    into.set(key, { value, source, baseDir: dirname(path) });
  }
}

/**
 * CI systems hand secrets over as environment variables: those always; every other known key
 * with `all` (HOIST_ENV=1). An empty variable counts as unset (a CI secret never defined is empty).
 * A key the settings file sets too: the same value is no conflict (the file stays its source);
 * another value stops the run, unless `wins` (HOIST_ENV_WINS=1) lets the environment win.
 */
function addFromEnvironment(into: RawSettings, env: NodeJS.ProcessEnv, all: boolean, wins: boolean): void {
  for (const def of KEYS) {
    const value = env[def.key];
    if (!(def.secret || all) || !value) continue;
    const inFile = into.get(def.key);
    if (inFile?.value === value) continue;
    if (inFile && inFile.value !== '' && !wins) throw conflict(def.key, def.secret === true, inFile.source);
    into.set(def.key, { value, source: ENVIRONMENT, baseDir: process.cwd() });
  }
}

/** Names the key and both places, never a value: either may be a secret or a file's content. */
function conflict(key: string, secret: boolean, file: string): ConfigError {
  const shown = secret ? 'neither value is shown: a secret' : 'values not shown';
  return new ConfigError(
    key,
    undefined,
    `is also set in the environment, to another value (${shown}); hoist does not pick one silently`,
    `keep one: unset ${key} in the environment, or remove it from ${file}; or set HOIST_ENV_WINS=1 to let the environment win`,
    file,
  );
}

/**
 * A file key given the file's content (a CI secret): written to a mode-600 temporary file, and
 * the key then names it. A private key's content is registered as a secret. A value of several
 * lines that is no recognised content is refused without being shown: it may be a broken key.
 */
function inlineToFile(key: string, v: RawValue, env: NodeJS.ProcessEnv): RawValue {
  const kind = INLINE_KEYS[key];
  if (!kind || !v.value) return v;
  if (!isInlineContent(kind, v.value)) {
    const what = kind === 'private-key' ? 'an OpenSSH/PEM private key (-----BEGIN ...)' : kind === 'known-hosts' ? 'known_hosts lines (HOST KEYTYPE BASE64)' : 'KEY=value lines';
    if (/[\r\n]/.test(v.value)) throw new ConfigError(key, '(hidden)', `holds several lines but not ${what}`, `give the path of the file, or its whole content (${what})`, v.source);
    // Neither a file nor content hoist reads: maybe content encoded (base64 from a CI secret).
    // Stopped here, where every value of these keys passes, without a word of the value or of
    // the path it would name: path.resolve rewrites it (// becomes /), so a log's mask for the
    // exact secret would miss it.
    if (mayBeContent(v.value) && !existsSync(expandPath(v))) {
      throw new ConfigError(key, '(hidden)', `cannot read the file it names, and it is not ${what}; not shown, as it may be encoded content (base64?)`, `give the path of the file, or its content as it is (${what}), not encoded`, v.source);
    }
    return v;
  }
  if (kind === 'private-key') addSecret(v.value.trim(), key);
  return { value: writeInlineFile(key, v.value, env), source: `${v.source}${CONTENT_MARK}`, baseDir: v.baseDir };
}

function hostFromInventory(h: InventoryHost, shared: RawSettings): HostConfig {
  const raw: RawSettings = new Map(shared);
  for (const [key, value] of h.vars) {
    const def = KEY_BY_NAME.get(key);
    if (!def) throw unknownKey(printableKey(key), value.value, value.source);
    if (!def.perHost) {
      const fix = key === 'HOST' ? "give the address as the host's host: field" : `move ${key} to .env`;
      throw new ConfigError(key, shownValue(key, value), 'cannot differ per host', fix, value.source);
    }
    raw.set(key, inlineToFile(key, value, process.env));
  }
  // The host's port: field would replace vars.SSH_PORT without a word: one of them is a mistake.
  if (h.port && h.vars.has('SSH_PORT')) {
    throw new ConfigError('SSH_PORT', h.vars.get('SSH_PORT')!.value, `is set in vars and as port: ${h.port.value}`, 'keep one of the two', h.port.source);
  }
  if (h.port) raw.set('SSH_PORT', h.port);
  return { name: h.name, address: h.address, tags: h.tags, settings: buildSettings(raw) };
}

function select(hosts: HostConfig[], only: string[]): HostConfig[] {
  if (only.length === 0) return hosts;
  const known = new Set(hosts.map((h) => h.name));
  for (const name of only) {
    if (!known.has(name)) {
      throw new UsageError(`--hosts ${only.join(',')}: no host named "${name}". Fix: use names from the inventory (${[...known].join(', ')})`);
    }
  }
  return hosts.filter((h) => only.includes(h.name));
}

function unknownKey(key: string, value: string, source: string): ConfigError {
  const close = KEYS.map((k) => k.key).find((k) => editDistance(k, key) <= 2);
  const fix = close ? `did you mean ${close}? Unknown keys are not ignored` : 'remove it; the known keys are listed in .env.example';
  // A misspelt secret (SSH_KEY_PASSPHRAS=...) is still a secret: hide what looks like one.
  const looksSecret = (close && KEY_BY_NAME.get(close)?.secret) || /PASS|TOKEN|SECRET|PRIVATE/i.test(key);
  return new ConfigError(key, looksSecret ? '(hidden)' : value, 'is not a hoist setting', fix, source);
}

/**
 * An inventory's vars may have any key (YAML allows line breaks and escapes in one): such a key
 * is shown JSON-quoted, so the error stays one line and cannot write to the terminal.
 */
function printableKey(key: string): string {
  return /^[\x21-\x7e]+$/.test(key) ? key : JSON.stringify(key);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
