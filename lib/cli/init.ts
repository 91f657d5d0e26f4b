// `hoist init`: the newcomer's first minute. Writes .env from .env.example with the answers to
// a few questions (asked on a TTY, taken from flags otherwise), each checked by the same
// validator the loader uses, and never overwrites an existing .env without --force.
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { KEY_BY_NAME } from '../config/keys.ts';
import { parseRepoUrl } from '../config/repo-url.ts';
import { UsageError } from '../errors.ts';
import { packageFile } from '../package-root.ts';
import type { INIT_ANSWER_FLAGS, InitAnswerFlag } from './init-flags.ts';

export interface InitArgs {
  command: 'init';
  envFile: string;
  force: boolean;
  /** Answers given as flags, by key. */
  answers: Record<string, string>;
  /** --ci github: write the release workflow for the app's repository instead of .env. */
  ci?: { provider: 'github'; branch: string; environment: string; inventory?: string; lockWaitSeconds: number; /** --build: BUILD for the workflow (else .env's). */ build?: 'host' | 'local' | 'registry' };
}

interface QuestionText {
  prompt: string;
  default?: string;
  /** A default that depends on earlier answers (APP_NAME from the repository's name). */
  defaultFrom?: (answers: Record<string, string>) => string | undefined;
  optional?: boolean;
  /** Extra check beyond the key's own validator. */
  check?: (v: string) => string | null;
}

/** One question per answer flag (init-flags.ts), its key the one that flag sets. */
export type Question = { [F in InitAnswerFlag]: QuestionText & { flag: F; key: (typeof INIT_ANSWER_FLAGS)[F] } }[InitAnswerFlag];

export const QUESTIONS: Question[] = [
  { key: 'HOST', flag: 'host', prompt: 'VPS address (IP or host name)' },
  { key: 'SSH_PORT', flag: 'port', prompt: 'SSH port', default: '22' },
  { key: 'SSH_USER', flag: 'user', prompt: 'User your provider gave you', default: 'root' },
  {
    key: 'SSH_KEY',
    flag: 'key',
    prompt: 'Private key you log in with',
    default: '~/.ssh/id_ed25519',
    check: (v) => (existsSync(expandHome(v)) ? null : `no file at ${expandHome(v)}`),
  },
  { key: 'APP_DOMAIN', flag: 'domain', prompt: 'Domain for the app (empty: decide later)', optional: true },
  { key: 'APP_REPO', flag: 'repo', prompt: 'Repository SSH URL, e.g. git@github.com:you/app.git (empty: later)', optional: true },
  // Several apps share one VPS: the name keeps each one's folders, containers, ports and jobs apart.
  { key: 'APP_NAME', flag: 'name', prompt: 'Name of the app on the VPS', default: 'app', defaultFrom: (a) => appNameFromRepo(a.APP_REPO) },
  { key: 'APP_PORT', flag: 'app-port', prompt: 'Port your app listens on', default: '8000' },
];

const EXAMPLE = packageFile('.env.example');

export async function runInit(args: InitArgs, io = { input: process.stdin, output: process.stdout }): Promise<number> {
  if (args.ci) return (await import('./init-ci.ts')).runInitCi(args, args.ci, io.output);
  const target = resolve(args.envFile);
  if (existsSync(target) && !args.force) {
    throw new UsageError(`${target} exists already; nothing was written. Fix: edit it, or run hoist init --force to start over`);
  }
  const interactive = Boolean((io.input as NodeJS.ReadStream).isTTY) && Object.keys(args.answers).length === 0;
  const answers = interactive ? await ask(io) : fromFlags(args.answers);
  writeFileSync(target, render(readFileSync(EXAMPLE, 'utf8'), answers), { mode: 0o600 });
  chmodSync(target, 0o600);
  io.output.write(
    `\nWrote ${target} (mode 600). Check it, then see what bootstrap would do:\n` +
      `  npm run pipeline:bootstrap -- --dry-run --accept-new\n` +
      `(--accept-new pins the VPS's host key the first time: compare the fingerprint it prints with your provider's.)\n`,
  );
  return 0;
}

async function ask(io: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream }): Promise<Record<string, string>> {
  const rl = createInterface({ input: io.input, output: io.output, terminal: true });
  const answers: Record<string, string> = {};
  try {
    io.output.write('hoist init: a few questions to write your .env (Enter takes the [default]).\n');
    for (const q of QUESTIONS) {
      // Bounded: a person gets a few tries, a script that answers nonsense forever does not.
      for (let attempt = 1; ; attempt++) {
        const fallback = defaultOf(q, answers);
        const reply = (await rl.question(`${q.prompt}${fallback ? ` [${fallback}]` : ''}: `)).trim();
        const value = reply || fallback || '';
        const problem = problemWith(q, value);
        if (!problem) {
          if (value) answers[q.key] = value;
          break;
        }
        if (attempt >= 5) throw new UsageError(`${q.key}: ${problem}; giving up after 5 tries`);
        io.output.write(`  ${problem}; try again.\n`);
      }
    }
  } finally {
    rl.close();
  }
  return answers;
}

function fromFlags(given: Record<string, string>): Record<string, string> {
  const answers: Record<string, string> = {};
  for (const q of QUESTIONS) {
    const value = given[q.key] ?? defaultOf(q, answers) ?? '';
    const problem = problemWith(q, value);
    if (problem) throw new UsageError(`--${q.flag} ${JSON.stringify(value)}: ${problem}. Fix: ${KEY_BY_NAME.get(q.key)?.fix ?? 'see hoist help'}`);
    if (value) answers[q.key] = value;
  }
  return answers;
}

function defaultOf(q: Question, answers: Record<string, string>): string | undefined {
  return q.defaultFrom?.(answers) ?? q.default;
}

/** `git@github.com:acme/Sentiment.API.git` → `sentiment-api`: what APP_NAME accepts, or nothing. */
export function appNameFromRepo(repo: string | undefined): string | undefined {
  const parsed = repo ? parseRepoUrl(repo) : null;
  if (!parsed) return undefined;
  const name = parsed.repo.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+|[-_]+$/g, '').slice(0, 63);
  return KEY_BY_NAME.get('APP_NAME')?.problem?.(name) ? undefined : name || undefined;
}

function problemWith(q: Question, value: string): string | null {
  if (!value) return q.optional ? null : 'an answer is needed';
  if (/["\n\r]/.test(value)) return 'quotes and line breaks are not allowed';
  return KEY_BY_NAME.get(q.key)?.problem?.(value) ?? q.check?.(value) ?? null;
}

/** .env.example with each answered key's line set; comments and every other line kept. */
export function render(example: string, answers: Record<string, string>): string {
  const done = new Set<string>();
  const out = example.split('\n').map((line) => {
    const m = /^([A-Z_][A-Z0-9_]*)=/.exec(line);
    if (!m || !(m[1]! in answers) || done.has(m[1]!)) return line;
    done.add(m[1]!);
    const v = answers[m[1]!]!;
    return `${m[1]}=${/^[\w@.:/~+,-]*$/.test(v) ? v : `"${v}"`}`;
  });
  for (const [key, v] of Object.entries(answers)) if (!done.has(key)) out.push(`${key}=${v}`);
  return out.join('\n');
}

function expandHome(p: string): string {
  return p.startsWith('~/') ? homedir() + p.slice(1) : resolve(p);
}
