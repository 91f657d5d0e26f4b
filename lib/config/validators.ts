import { isIP } from 'node:net';
import { printable } from '../printable.ts';

// Small validators shared by the config keys. Each returns a problem sentence or null, so the
// caller can attach the key, the value and the fix (see ConfigError). A value quoted inside the
// sentence goes through `shown` (JSON): it may hold a line break or a terminal escape, and the
// message must stay one plain line.

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

export function hostProblem(value: string): string | null {
  if (value === '') return 'is empty';
  if (IPV4.test(value)) return null;
  if (value.includes(':')) return IPV6.test(value) && value.split(':').length >= 3 ? null : 'is not a valid IPv6 address';
  if (/^\d+(\.\d+)*$/.test(value)) return 'looks like an IPv4 address but is not a valid one';
  if (value.length > 253) return 'is longer than 253 characters';
  const labels = value.replace(/\.$/, '').split('.');
  return labels.every((l) => LABEL.test(l)) ? null : 'is not a valid host name or IP address';
}

export function portProblem(value: string): string | null {
  if (!/^\d{1,5}$/.test(value)) return 'is not a port number';
  const n = Number(value);
  return n >= 1 && n <= 65535 ? null : 'is outside 1-65535';
}

export function positiveIntProblem(value: string, max: number): string | null {
  if (!/^\d+$/.test(value)) return 'is not a whole number';
  const n = Number(value);
  return n >= 1 && n <= max ? null : `is outside 1-${max}`;
}

/** POSIX user names as useradd accepts them by default on Debian and Ubuntu. */
export function userProblem(value: string): string | null {
  return /^[a-z_][a-z0-9_-]{0,31}$/.test(value) ? null : 'is not a valid user name (lower case letters, digits, _ and -, 32 at most)';
}

/** Names used in markers, container and directory names: kept to a safe, boring alphabet. */
export function nameProblem(value: string): string | null {
  return /^[a-z0-9][a-z0-9_-]{0,62}$/.test(value) ? null : 'is not a valid name (lower case letters, digits, _ and -, starting with a letter or digit)';
}

/**
 * `value` as it appears inside a problem sentence: quoted, with control characters escaped (JSON
 * escapes C0; printable the rest: C1, bidi controls).
 */
export function shown(value: string): string {
  return printable(JSON.stringify(value));
}

export function ipProblem(value: string): string | null {
  if (isIP(value)) return null;
  return `${shown(value)} is not an IP address`;
}

/** A DNS name (not an address): what a domain or a record must be. */
export function hostNameProblem(value: string): string | null {
  if (isIP(value)) return `${shown(value)} is an address, not a domain name`;
  const p = hostProblem(value);
  return p ? `${shown(value)} ${p}` : value.includes('.') ? null : `${shown(value)} has no dot; give the full name`;
}

export function resolverProblem(value: string): string | null {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(value) ?? /^([0-9.]+)(?::(\d+))?$/.exec(value) ?? /^([0-9A-Fa-f:]+)()$/.exec(value);
  if (!m || !isIP(m[1]!)) return `${shown(value)} is not IP or IP:port`;
  return m[2] ? portProblem(m[2]) : null;
}

export function booleanProblem(value: string): string | null {
  return ['true', 'false'].includes(value) ? null : 'is neither true nor false';
}

/** One sshd_config directive: a keyword and a value, nothing that opens a block. */
export function sshdDirectiveProblem(value: string): string | null {
  if (!/^[A-Za-z]+\s+\S/.test(value)) return `${shown(value)} is not "Keyword value"`;
  if (/^match\b/i.test(value)) return 'Match blocks are not allowed (they would swallow the lines after them)';
  return /[\n\r#]/.test(value) ? `${shown(value)} contains a line break or comment` : null;
}

/**
 * One name for `apt-get install`: Debian's package name syntax (policy 5.6.1: lower case letters,
 * digits, `+`, `-` and `.`, two or more, starting with a letter or digit), and not ending in `-`:
 * apt-get reads a name that is no package but ends in `-` as "remove the package before it", so
 * `openssh-server-` would take sshd away. A trailing `+` means "install" to apt-get, which
 * install does anyway, and g++ is a package. (A `.` in a name that is no package would be a
 * regular expression to apt-get: bootstrap's install turns that off, lib/distro/debian-family.ts.)
 * No `=version`: bootstrap checks what is installed by name.
 */
export function packageProblem(name: string): string | null {
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) return `${shown(name)} is not a Debian package name (lower case letters, digits, +, - and ., starting with a letter or digit)`;
  if (name.endsWith('-')) return `${shown(name)} ends in "-", which apt-get reads as "remove ${name.slice(0, -1)}"`;
  return null;
}

/**
 * GitHub's API root: every request carries GITHUB_TOKEN, so plain http is allowed only to this
 * machine (a proxy or a test stand-in on 127.0.0.0/8, ::1 or localhost), never across a network.
 * Checked on the URL as fetch reads it (WHATWG), so `http://127.1` and `http://localhost.evil.com`
 * are judged by the host fetch would reach.
 */
export function apiUrlProblem(value: string): string | null {
  if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(value)) return 'is not an http(s) URL';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an http(s) URL';
  }
  if (url.username || url.password) return 'holds a user name or password (the token travels in a header)';
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) return `is plain http to ${shown(url.hostname)}: GITHUB_TOKEN would cross the network unencrypted`;
  return null;
}

/**
 * A webhook URL: http(s) and nothing that would make curl (on the host) or fetch (here) read it
 * another way. Plain http is allowed (a receiver on a private network), the docs say https.
 */
export function notifyUrlProblem(value: string): string | null {
  if (!/^https?:\/\/[^\s/"\\]+(\/[^\s"\\]*)?$/.test(value)) return 'is not an http(s) URL (no spaces, quotes or backslashes)';
  try {
    new URL(value);
  } catch {
    return 'is not an http(s) URL';
  }
  return null;
}

function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return isIP(hostname) === 4 && hostname.startsWith('127.');
}

/** Checks each item of a separated list; empty items are ignored. */
export function listProblem(value: string, item: (v: string) => string | null, sep: RegExp = /\s*,\s*/): string | null {
  for (const part of value.trim().split(sep).filter(Boolean)) {
    const p = item(part);
    if (p) return p;
  }
  return null;
}

export function splitList(value: string | undefined, sep: RegExp = /\s*,\s*/): string[] {
  return (value ?? '').trim().split(sep).filter(Boolean);
}
