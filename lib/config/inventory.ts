// The optional inventory for fleets: YAML (or JSON, which is YAML too) listing hosts with their
// address, port, tags and per-host overrides of .env settings. Unknown keys are errors, with the
// path to them, because a misspelt key silently ignored is a host deployed wrongly.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { UsageError } from '../errors.ts';
import type { RawValue } from './settings.ts';
import { printable } from '../printable.ts';
import { hostProblem, portProblem } from './validators.ts';

export interface InventoryHost {
  name: string;
  address: string;
  port?: RawValue;
  tags: string[];
  vars: Map<string, RawValue>;
}

const HOST_FIELDS = new Set(['host', 'port', 'tags', 'vars']);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export class InventoryError extends UsageError {
  constructor(file: string, path: string, problem: string, fix: string) {
    // Names and values from the file are the user's: a YAML key or string may hold a line break
    // or a terminal escape. Escaped, the message stays one line and prints as plain text.
    super(`${printable(path)} in ${file}: ${printable(problem)}. Fix: ${fix}`);
  }
}


export function parseInventory(file: string): InventoryHost[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`--inventory ${file}: cannot read the file. Fix: give the path of an inventory file`);
  }
  let doc: unknown;
  try {
    // parseDocument, not parse: parse prints YAML warnings (an unknown tag such as !!js/function)
    // to stderr and goes on with a guess; here a warning stops the run like an error does.
    // yaml (72 files) loads here, for the runs that have an inventory, not at every start.
    const YAML = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    const parsed = YAML.parseDocument(text);
    const problem = parsed.errors[0] ?? parsed.warnings[0];
    if (problem) throw problem;
    doc = parsed.toJS();
  } catch (e) {
    throw new InventoryError(file, '(file)', `is not valid YAML or JSON (${(e as Error).message.split('\n')[0]})`, 'correct the syntax');
  }
  const bad = (path: string, problem: string, fix: string) => new InventoryError(file, path, problem, fix);
  if (!isRecord(doc)) throw bad('(file)', 'is not a mapping', 'start the file with "hosts:"');
  for (const key of Object.keys(doc)) if (key !== 'hosts') throw bad(key, 'is not an inventory key', 'the top level has only "hosts"');
  const hosts = doc.hosts;
  if (!isRecord(hosts) || Object.keys(hosts).length === 0) throw bad('hosts', 'is missing or empty', 'list your hosts under "hosts:", name: {host: ADDRESS}');

  return Object.entries(hosts).map(([name, entry]) => {
    const at = `hosts.${name}`;
    if (!NAME.test(name)) throw bad(at, 'is not a valid host name for the inventory', 'use letters, digits, ".", "_" and "-"');
    if (!isRecord(entry)) throw bad(at, 'is not a mapping', `write ${name}: {host: ADDRESS}`);
    for (const key of Object.keys(entry)) {
      if (!HOST_FIELDS.has(key)) throw bad(`${at}.${key}`, 'is not a host field', 'a host has host, port, tags and vars');
    }
    const address = entry.host;
    if (typeof address !== 'string') throw bad(`${at}.host`, 'is missing or not a string', 'set host: to the address of the machine');
    const addressProblem = hostProblem(address);
    if (addressProblem) throw bad(`${at}.host`, `${JSON.stringify(address)} ${addressProblem}`, 'set host: to a host name or IP address');

    const source = `${file} (${at})`;
    const baseDir = dirname(file);
    let port: RawValue | undefined;
    if (entry.port !== undefined) {
      const p = String(entry.port);
      if (typeof entry.port !== 'number' && typeof entry.port !== 'string') throw bad(`${at}.port`, 'is not a number', 'set port: to the sshd port');
      const portIssue = portProblem(p);
      if (portIssue) throw bad(`${at}.port`, `${JSON.stringify(p)} ${portIssue}`, 'set port: to the sshd port (1-65535)');
      port = { value: p, source, baseDir };
    }
    const tags = entry.tags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && NAME.test(t))) {
      throw bad(`${at}.tags`, 'is not a list of names', 'write tags: [web, gpu]');
    }
    const vars = new Map<string, RawValue>();
    if (entry.vars !== undefined) {
      if (!isRecord(entry.vars)) throw bad(`${at}.vars`, 'is not a mapping', 'write vars: {KEY: value}');
      for (const [key, value] of Object.entries(entry.vars)) {
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
          throw bad(`${at}.vars.${key}`, 'is not a plain value', 'give a string or a number');
        }
        vars.set(key, { value: String(value), source: `${file} (${at}.vars)`, baseDir });
      }
    }
    return { name, address, ...(port ? { port } : {}), tags: tags as string[], vars };
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
