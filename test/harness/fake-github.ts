// A stand-in for GitHub's REST API (deploy-key endpoints) on 127.0.0.1, since the real one cannot
// be reached from tests. Every request is checked against GitHub's own OpenAPI description
// (@octokit/openapi): a request GitHub would not accept is answered 4xx AND recorded as a violation.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './testbed.ts';

// The description is a large untyped JSON document; its nodes are walked generically below.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Node = any;

const DESCRIPTION = join(REPO_ROOT, 'node_modules/@octokit/openapi/generated/api.github.com.json');
const API_VERSIONS = ['2022-11-28'];
const DOCS = 'https://docs.github.com/rest/deploy-keys/deploy-keys';

interface Template {
  path: string;
  regex: RegExp;
  names: string[];
  literals: number;
}

let loaded: { doc: Node; templates: Template[] } | null = null;

/** GitHub's OpenAPI description, parsed once per process, with its paths compiled to patterns. */
export function description(): { doc: Node; templates: Template[] } {
  if (!loaded) {
    const doc = JSON.parse(readFileSync(DESCRIPTION, 'utf8')) as Node;
    const templates = Object.keys(doc.paths).map((path): Template => {
      const names: string[] = [];
      const segs = path.split('/').map((seg) => {
        const m = /^\{([^}]+)\}$/.exec(seg);
        if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(m[1]!);
        return '([^/]+)';
      });
      return { path, regex: new RegExp(`^${segs.join('/')}$`), names, literals: path.split('/').filter((s) => s && !s.startsWith('{')).length };
    });
    loaded = { doc, templates };
  }
  return loaded;
}

/** Follows a local $ref (#/components/...) to the node it names. */
export function deref(doc: Node, node: Node): Node {
  let n = node;
  for (let hops = 0; n && typeof n === 'object' && typeof n.$ref === 'string'; hops++) {
    if (hops > 20 || !n.$ref.startsWith('#/')) throw new Error(`unresolvable $ref ${n.$ref}`);
    n = n.$ref
      .slice(2)
      .split('/')
      .reduce((o: Node, key: string) => o?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return n;
}

function typeOk(value: unknown, type: string): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'null':
      return value === null;
    default:
      return true;
  }
}

/**
 * The JSON-schema subset GitHub's request bodies use: type (+ nullable), enum, required,
 * properties, additionalProperties, items, allOf, and anyOf/oneOf read as "at least one".
 * Returns one message per problem, each naming where in the value it is.
 */
export function validate(doc: Node, schemaNode: Node, value: unknown, at = '$'): string[] {
  const schema = deref(doc, schemaNode);
  if (!schema || typeof schema !== 'object') return [];
  const errors: string[] = [];
  for (const sub of schema.allOf ?? []) errors.push(...validate(doc, sub, value, at));
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options: Node[] = schema[key] ?? [];
    if (options.length && !options.some((s) => validate(doc, s, value, at).length === 0)) errors.push(`${at} matches none of ${key}`);
  }
  if (value === null) {
    if (schema.nullable || schema.type === 'null' || !schema.type) return errors;
    return [...errors, `${at} is null, but must be ${schema.type}`];
  }
  if (schema.enum && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${at} is ${JSON.stringify(value)}, not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof schema.type === 'string' && !typeOk(value, schema.type)) return [...errors, `${at} must be ${schema.type}, got ${JSON.stringify(value)}`];
  if (typeOk(value, 'object') && (schema.properties || schema.required || schema.additionalProperties !== undefined)) {
    const obj = value as Record<string, unknown>;
    const props: Record<string, Node> = schema.properties ?? {};
    for (const name of schema.required ?? []) if (!(name in obj)) errors.push(`${at}.${name} is required`);
    for (const [name, v] of Object.entries(obj)) {
      if (name in props) errors.push(...validate(doc, props[name], v, `${at}.${name}`));
      else if (schema.additionalProperties === false) errors.push(`${at}.${name} is not a known property`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') errors.push(...validate(doc, schema.additionalProperties, v, `${at}.${name}`));
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => errors.push(...validate(doc, schema.items, v, `${at}[${i}]`)));
  return errors;
}

/** A parameter's raw string from a URL, read as its schema's type. */
function paramValue(raw: string, schema: Node): unknown {
  if (schema?.type === 'integer' || schema?.type === 'number') return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  if (schema?.type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

export interface CheckedRequest {
  operationId: string | null;
  template: string | null;
  pathParams: Record<string, string>;
  body: unknown;
  /** Status GitHub would answer for a malformed request, with its problems; null when valid. */
  reject: { status: number; problems: string[] } | null;
}

export interface RawRequest {
  method: string;
  /** Path after the API root, e.g. /repos/acme/app/keys. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  bodyText: string;
}

/** Checks one request against the description and GitHub's header rules. */
export function checkRequest(req: RawRequest): CheckedRequest {
  const { doc, templates } = description();
  const method = req.method.toLowerCase();
  const problems: string[] = [];
  const out = (status: number, extra: Partial<CheckedRequest> = {}): CheckedRequest => ({
    operationId: null,
    template: null,
    pathParams: {},
    body: undefined,
    reject: problems.length ? { status, problems } : null,
    ...extra,
  });

  const matches = templates.filter((t) => t.regex.test(req.path)).sort((a, b) => b.literals - a.literals);
  const template = matches.find((t) => doc.paths[t.path][method]) ?? null;
  if (!template) {
    problems.push(matches.length ? `${req.method} is not an operation of ${matches[0]!.path}` : `no operation in GitHub's description matches ${req.method} ${req.path}`);
    return out(404);
  }
  const item = doc.paths[template.path];
  const op = item[method];
  const m = template.regex.exec(req.path)!;
  const pathParams = Object.fromEntries(template.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));

  const header = (name: string) => {
    const v = req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
  const auth = header('authorization');
  if (!auth) problems.push('no Authorization header');
  else if (!/^(Bearer|token) \S+$/.test(auth)) problems.push('Authorization is not "Bearer TOKEN" (or "token TOKEN")');
  if (!header('user-agent')) problems.push('no User-Agent header (GitHub refuses such requests)');
  const version = header('x-github-api-version');
  if (version !== undefined && !API_VERSIONS.includes(version)) problems.push(`X-GitHub-Api-Version ${version} is not a supported version`);

  const params: Node[] = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Node) => deref(doc, p));
  const known = new Set<string>();
  for (const p of params) {
    if (p.in === 'query') known.add(p.name);
    const raw = p.in === 'path' ? pathParams[p.name] : p.in === 'query' ? (req.query.get(p.name) ?? undefined) : p.in === 'header' ? header(p.name) : undefined;
    if (raw === undefined) {
      if (p.required) problems.push(`required ${p.in} parameter ${p.name} is missing`);
      continue;
    }
    problems.push(...validate(doc, p.schema, paramValue(raw, deref(doc, p.schema)), `${p.in} parameter ${p.name}`));
  }
  for (const name of req.query.keys()) if (!known.has(name)) problems.push(`query parameter ${name} is not a parameter of ${op.operationId}`);
  const base = { operationId: op.operationId as string, template: template.path, pathParams };
  if (problems.length) return out(problems.some((p) => /Authorization/.test(p)) ? 401 : 400, base);

  const requestBody = op.requestBody ? deref(doc, op.requestBody) : null;
  if (!requestBody) {
    if (req.bodyText.trim() !== '') problems.push(`${op.operationId} takes no request body`);
    return out(400, base);
  }
  if (req.bodyText.trim() === '') {
    if (requestBody.required) problems.push(`${op.operationId} needs a JSON request body`);
    return out(400, base);
  }
  const type = String(header('content-type') ?? '').split(';')[0]!.trim();
  const media = requestBody.content?.[type];
  if (!media) {
    problems.push(`Content-Type ${type || '(none)'} is not one of ${Object.keys(requestBody.content ?? {}).join(', ')}`);
    return out(415, base);
  }
  let body: unknown;
  try {
    body = JSON.parse(req.bodyText);
  } catch {
    problems.push('request body is not JSON');
    return out(400, base);
  }
  problems.push(...validate(doc, media.schema, body, 'body'));
  return out(422, { ...base, body });
}

export interface FakeDeployKey {
  id: number;
  key: string;
  url: string;
  title: string;
  verified: boolean;
  created_at: string;
  read_only: boolean;
  added_by: string | null;
  last_used: string | null;
  enabled: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  operationId: string | null;
  status: number;
  /** Request headers, lower-cased; Authorization replaced by its scheme and "(redacted)". */
  headers: Record<string, string>;
  body: unknown;
}

export interface FakeGitHubOptions {
  /** The token that may manage deploy keys ("Administration: write"). */
  token: string;
  /** A token that is valid but lacks that permission: 403. */
  readOnlyToken?: string;
  /** owner/repo names that exist. */
  repos: string[];
  /** API root path, e.g. '/api/v3' for a GitHub Enterprise look. */
  prefix?: string;
  /** Runs before a created key is answered: give it access to the repository. */
  onGrant?(key: FakeDeployKey, repo: string): Promise<void>;
  /** Runs before a deletion is answered: take the access away. */
  onRevoke?(key: FakeDeployKey, repo: string): Promise<void>;
}

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  /** Deploy keys per lower-cased owner/repo. */
  readonly keys = new Map<string, FakeDeployKey[]>();
  /** Statuses to answer the next requests with (5xx outages), before any other handling. */
  readonly failNext: number[] = [];
  /**
   * Connection faults for the next requests of an operation (first match used up): 'before'
   * closes the socket without doing anything, 'after' does the work (a POST creates the key)
   * and then closes the socket instead of answering, as a connection lost mid-call does.
   * The request is still checked against the description and recorded (status 0).
   */
  readonly dropNext: { operationId: string; when: 'before' | 'after' }[] = [];
  private server: Server | null = null;
  private nextId = 1000;
  url = '';

  constructor(private readonly opts: FakeGitHubOptions) {
    for (const r of opts.repos) this.keys.set(r.toLowerCase(), []);
  }

  async start(): Promise<this> {
    description();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        this.violations.push(`fake server error: ${(e as Error).message}`);
        send(res, 500, { message: 'fake server error' });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}${this.opts.prefix ?? ''}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  /** Requests whose operation is `operationId`, e.g. 'repos/create-deploy-key'. */
  calls(operationId: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  /** Adds keys as if made earlier (to test pagination and "already there"). */
  seed(repo: string, keys: { key: string; title: string }[]): void {
    const list = this.keys.get(repo.toLowerCase())!;
    for (const k of keys) list.push(this.makeKey(repo, k.key, k.title, true));
  }

  private makeKey(repo: string, key: string, title: string, readOnly: boolean): FakeDeployKey {
    const id = this.nextId++;
    const [type, blob] = key.trim().split(/\s+/);
    return {
      id,
      key: `${type} ${blob}`,
      url: `${this.url}/repos/${repo}/keys/${id}`,
      title,
      verified: true,
      created_at: new Date().toISOString(),
      read_only: readOnly,
      added_by: 'hoist-test',
      last_used: null,
      enabled: true,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const bodyText = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', 'http://fake');
    const prefix = this.opts.prefix ?? '';
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
    if (headers.authorization !== undefined) {
      const scheme = /^(Bearer|token) /i.exec(headers.authorization)?.[1];
      headers.authorization = scheme ? `${scheme} (redacted)` : '(redacted)';
    }
    const record: RecordedRequest = { method: req.method ?? '', path: u.pathname, query: u.search, operationId: null, status: 0, headers, body: undefined };
    this.requests.push(record);
    let cutAnswer = false;
    const answer = (status: number, body?: unknown, extra: Record<string, string> = {}) => {
      record.status = status;
      if (record.operationId && status < 400) this.checkResponse(record, status, body);
      if (cutAnswer) {
        record.status = 0;
        req.socket.destroy();
        return;
      }
      send(res, status, body, extra);
    };

    if (!u.pathname.startsWith(prefix)) {
      this.violations.push(`${record.method} ${u.pathname}: outside the API root ${prefix}`);
      return answer(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    }
    const checked = checkRequest({ method: record.method, path: u.pathname.slice(prefix.length) || '/', query: u.searchParams, headers: req.headers, bodyText });
    record.operationId = checked.operationId;
    record.body = checked.body ?? (bodyText ? bodyText : undefined);
    if (checked.reject) {
      this.violations.push(`${record.method} ${u.pathname}${u.search}: ${checked.reject.problems.join('; ')}`);
      return answer(checked.reject.status, { message: checked.reject.problems.join('; '), documentation_url: 'https://docs.github.com/rest' });
    }
    const outage = this.failNext.shift();
    if (outage) return answer(outage, { message: 'Server Error' });
    const dropAt = this.dropNext.findIndex((d) => d.operationId === checked.operationId);
    const drop = dropAt >= 0 ? this.dropNext.splice(dropAt, 1)[0]! : null;
    if (drop?.when === 'before') {
      req.socket.destroy();
      return;
    }
    // The work is done below, but the answer never arrives: `answer` cuts the socket instead.
    if (drop) cutAnswer = true;

    const token = (req.headers.authorization ?? '').replace(/^(Bearer|token) /, '');
    if (token !== this.opts.token && token !== this.opts.readOnlyToken) return answer(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    const repo = `${checked.pathParams.owner ?? ''}/${checked.pathParams.repo ?? ''}`;
    const list = this.keys.get(repo.toLowerCase());
    if (!list) return answer(404, { message: 'Not Found', documentation_url: `${DOCS}#list-deploy-keys`, status: '404' });
    if (token !== this.opts.token) {
      return answer(403, { message: 'Resource not accessible by personal access token', documentation_url: DOCS, status: '403' });
    }

    switch (checked.operationId) {
      case 'repos/list-deploy-keys': {
        const perPage = Math.min(100, Number(u.searchParams.get('per_page') ?? 30));
        const page = Number(u.searchParams.get('page') ?? 1);
        const last = Math.max(1, Math.ceil(list.length / perPage));
        const link = (p: number) => `<${this.url}/repos/${repo}/keys?per_page=${perPage}&page=${p}>`;
        const links: Record<string, string> = page < last ? { Link: `${link(page + 1)}; rel="next", ${link(last)}; rel="last"` } : {};
        return answer(200, list.slice((page - 1) * perPage, page * perPage), links);
      }
      case 'repos/create-deploy-key': {
        const body = checked.body as { key: string; title?: string; read_only?: boolean };
        const [type, blob] = body.key.trim().split(/\s+/);
        if (!type || !blob || !/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+)$/.test(type)) {
          return answer(422, { message: 'Validation Failed', errors: [{ resource: 'PublicKey', code: 'custom', field: 'key', message: 'key is invalid. You must supply a key in OpenSSH public key format' }], documentation_url: `${DOCS}#create-a-deploy-key` });
        }
        const inUse = [...this.keys.values()].some((keys) => keys.some((k) => k.key === `${type} ${blob}`));
        if (inUse) {
          return answer(422, { message: 'Validation Failed', errors: [{ resource: 'PublicKey', code: 'custom', field: 'key', message: 'key is already in use' }], documentation_url: `${DOCS}#create-a-deploy-key` });
        }
        const created = this.makeKey(repo, body.key, body.title ?? '', body.read_only ?? false);
        await this.opts.onGrant?.(created, repo);
        list.push(created);
        return answer(201, created, { Location: created.url });
      }
      case 'repos/get-deploy-key':
      case 'repos/delete-deploy-key': {
        const id = Number(checked.pathParams.key_id);
        const i = list.findIndex((k) => k.id === id);
        if (i < 0) return answer(404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
        if (checked.operationId === 'repos/get-deploy-key') return answer(200, list[i]);
        const [gone] = list.splice(i, 1);
        await this.opts.onRevoke?.(gone!, repo);
        return answer(204);
      }
      default:
        this.violations.push(`${record.method} ${u.pathname}: ${checked.operationId} is valid but not served by the fake`);
        return answer(501, { message: 'not served by the fake' });
    }
  }

  /** The fake's own answers must match the description too, or it would teach the client wrong. */
  private checkResponse(record: RecordedRequest, status: number, body: unknown): void {
    const { doc } = description();
    const template = description().templates.find((t) => t.regex.test(record.path.slice((this.opts.prefix ?? '').length)));
    const op = template && doc.paths[template.path][record.method.toLowerCase()];
    const response = op && deref(doc, op.responses?.[String(status)]);
    const schema = response?.content?.['application/json']?.schema;
    if (!schema) return;
    const problems = validate(doc, schema, body, 'response');
    if (problems.length) this.violations.push(`fake answered ${record.method} ${record.path} off the description: ${problems.join('; ')}`);
  }
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { 'Content-Type': 'application/json; charset=utf-8' } : {}), 'X-GitHub-Api-Version-Selected': '2022-11-28', ...headers });
  res.end(text);
}
