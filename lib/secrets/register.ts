// Fills the redaction registry (lib/secrets/redact.ts) from loaded settings: the value of every
// key marked `secret` in lib/config/keys.ts, and every value in APP_ENV_FILE (the app's .env, whose
// values hoist never shows; an app that logs one of them while failing must not have hoist print
// it). Called once the config is loaded, before anything connects.
import { readFileSync } from 'node:fs';
import { KEYS } from '../config/keys.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import type { Settings } from '../config/settings.ts';
import { addSecret, MIN_LENGTH } from './redact.ts';

/** Where each secret key's value lives in the typed settings (a unit test checks every secret key is here). */
export const SECRET_SETTINGS: Readonly<Record<string, (s: Settings) => string | undefined>> = {
  GITHUB_TOKEN: (s) => s.githubToken,
  SSH_KEY_PASSPHRASE: (s) => s.sshKeyPassphrase,
  REGISTRY_PASSWORD: (s) => s.registry?.password,
  NOTIFY_URL: (s) => s.notifyUrl,
};

export function registerConfigSecrets(config: LoadedConfig, env: NodeJS.ProcessEnv = process.env): void {
  for (const host of config.hosts) {
    for (const def of KEYS) {
      if (!def.secret) continue;
      const fromSettings = SECRET_SETTINGS[def.key];
      addSecret(fromSettings ? fromSettings(host.settings) : env[def.key], def.key);
    }
    if (host.settings.appEnvFile) registerEnvFile(host.settings.appEnvFile);
  }
}

/** Registers the values of an app .env file; an unreadable file is left to the task that reads it. */
export function registerEnvFile(path: string): void {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > 1024 * 1024) return;
    text = bytes.toString('utf8');
  } catch {
    return;
  }
  for (const { key, values } of envFileValues(text)) {
    for (const v of values) addSecret(v, `APP_ENV_FILE ${key}`, MIN_LENGTH.envValue);
  }
}

/**
 * The values of a .env text, each in the forms an app may print it: as written and as read
 * (quotes removed, escapes decoded), without an unquoted value's trailing comment, and the
 * password of a URL value (`postgres://user:PASSWORD@host/db`) on its own.
 */
export function envFileValues(text: string): { key: string; values: string[] }[] {
  const out: { key: string; values: string[] }[] = [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    const key = m[1]!;
    let rest = m[2]!;
    const values: string[] = [];
    const quote = rest[0];
    if (quote === '"' || quote === "'") {
      // The value runs to the closing quote, maybe lines later.
      let body = rest.slice(1);
      let end = closing(body, quote);
      while (end < 0 && i + 1 < lines.length) {
        body += `\n${lines[++i]!}`;
        end = closing(body, quote);
      }
      const written = end < 0 ? body : body.slice(0, end);
      values.push(written);
      if (quote === '"') values.push(written.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c));
    } else {
      rest = rest.trim();
      values.push(rest, rest.replace(/\s+#.*$/, ''));
    }
    for (const v of [...values]) values.push(...urlPassword(v));
    out.push({ key, values: [...new Set(values)] });
  }
  return out;
}

/** Index of the quote that closes `body` (a double quote may be escaped), or -1. */
function closing(body: string, quote: string): number {
  for (let i = 0; i < body.length; i++) {
    if (quote === '"' && body[i] === '\\') i++;
    else if (body[i] === quote) return i;
  }
  return -1;
}

/** The password of a URL with credentials, as written and decoded; none otherwise. */
function urlPassword(value: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/\s]*:[^/\s]*@/i.test(value)) return [];
  try {
    const p = new URL(value).password;
    return p ? [p, decodeURIComponent(p)] : [];
  } catch {
    return [];
  }
}
