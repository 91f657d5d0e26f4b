// Command-line parsing for `hoist`. Unknown flags and missing values are usage errors (exit 2),
// never ignored.
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.ts';
import { QUESTIONS, type InitArgs } from './init.ts';

export interface RunArgs {
  command: 'run';
  pipeline: string;
  envFile?: string;
  inventory?: string;
  hosts: string[];
  dryRun: boolean;
  json?: string;
  concurrency: number;
  acceptNew: boolean;
  /** rollback: the release to go back to (a directory name under releases/). */
  to?: string;
}

export type CliArgs = RunArgs | InitArgs | { command: 'help' } | { command: 'version' };

export const USAGE = `Usage: hoist run <pipeline|path.ts> [options]
       hoist init [--force] [--env-file F] [--host H --port P --user U --key K --domain D --repo R --app-port N]

Pipelines: bootstrap, release, rollback, cron; or a path to your own pipeline file.

Options:
  --env-file F       settings file (default: .env)
  --inventory F      YAML/JSON inventory of hosts, for fleets
  --hosts a,b        only these hosts (inventory names, or HOST)
  --dry-run          show what would change, per host and task, and change nothing
  --json F|-         write the run report as JSON to F, or to stdout with -
  --concurrency N    hosts worked on at once (default 10)
  --accept-new       pin the host key of hosts not yet in known_hosts (trust on first use)
  --to RELEASE       rollback: the release to go back to (default: the one before current)

init writes .env from .env.example: on a terminal it asks, otherwise it takes the flags.

Exit codes: 0 all good, 1 a task failed (its host was rolled back), 2 bad config or arguments.`;

export function parseCli(args: string[]): CliArgs {
  const [command, ...rest] = args;
  const wantsHelp = (a: string) => a === 'help' || a === '--help' || a === '-h';
  if (!command || wantsHelp(command) || rest.some(wantsHelp)) return { command: 'help' };
  if (command === 'version' || command === '--version') return { command: 'version' };
  if (command === 'init') return parseInit(rest);
  if (command !== 'run') throw new UsageError(`unknown command "${command}". Fix: use "hoist run <pipeline>" (hoist help lists the options)`);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        'env-file': { type: 'string' },
        inventory: { type: 'string' },
        hosts: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'string' },
        concurrency: { type: 'string' },
        'accept-new': { type: 'boolean', default: false },
        to: { type: 'string' },
      },
    });
  } catch (e) {
    const first = (e as Error).message.split('\n')[0]!.replace(/\.+$/, '');
    throw new UsageError(`${first}. Fix: see "hoist help"`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(`"hoist run" takes one pipeline, got ${positionals.length}. Fix: hoist run cron`);
  const concurrency = values.concurrency ?? '10';
  if (!/^\d+$/.test(concurrency) || Number(concurrency) < 1 || Number(concurrency) > 500) {
    throw new UsageError(`--concurrency ${concurrency}: must be a whole number from 1 to 500`);
  }
  const hosts = (values.hosts ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  return {
    command: 'run',
    pipeline: positionals[0]!,
    ...(values['env-file'] ? { envFile: values['env-file'] } : {}),
    ...(values.inventory ? { inventory: values.inventory } : {}),
    hosts,
    dryRun: values['dry-run'] ?? false,
    ...(values.json ? { json: values.json } : {}),
    concurrency: Number(concurrency),
    acceptNew: values['accept-new'] ?? false,
    ...(values.to ? { to: values.to } : {}),
  };
}

function parseInit(rest: string[]): InitArgs {
  const options: Record<string, { type: 'string' | 'boolean' }> = { force: { type: 'boolean' }, 'env-file': { type: 'string' } };
  for (const q of QUESTIONS) options[q.flag] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: rest, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]!.replace(/\.+$/, '')}. Fix: see "hoist help"`);
  }
  const answers: Record<string, string> = {};
  for (const q of QUESTIONS) if (typeof values[q.flag] === 'string') answers[q.key] = values[q.flag] as string;
  return { command: 'init', envFile: (values['env-file'] as string | undefined) ?? '.env', force: values.force === true, answers };
}
