import { isIP } from 'node:net';

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
 * `text` with control characters (C0, DEL, C1, line and paragraph separators) written as \uXXXX:
 * a problem sentence that quotes a path or a name from the user stays one plain line.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `value` as it appears inside a problem sentence: quoted, with control characters escaped. */
export function shown(value: string): string {
  return JSON.stringify(value);
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
