// Command-line parsing for `hoist`. Unknown flags and missing values are usage errors (exit 2),
// never ignored.
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.ts';
import { parseCount, type Count } from '../engine/rollout.ts';
import type { InitArgs } from './init.ts';
import { ciEnvironmentName, INIT_ANSWER_FLAGS } from './init-flags.ts';

/** What every command that reaches hosts shares: where the settings are and which hosts. */
export interface HostArgs {
  envFile?: string;
  inventory?: string;
  hosts: string[];
  tags: string[];
  json?: string;
  acceptNew: boolean;
  concurrency: number;
}

export interface RunArgs extends HostArgs {
  command: 'run';
  pipeline: string;
  dryRun: boolean;
  batch?: Count;
  canary?: number;
  maxFail?: Count;
  fleetRollback: boolean;
  /** rollback: the release to go back to (a directory name under releases/). */
  to?: string;
  /** A destructive pipeline (remove) runs without asking. */
  yes?: boolean;
  /** remove: delete the app's volumes (its data) too; kept otherwise. */
  deleteData?: boolean;
  /** --lock-wait: seconds to wait for a deploy lock another run holds (default 0: fail at once). */
  lockWait?: number;
}

export interface StatusArgs extends HostArgs {
  command: 'status';
  /** --wait S: look again (every 2 s) until every host is healthy or S seconds have passed. */
  wait?: number;
}

export interface UnlockArgs extends HostArgs {
  command: 'unlock';
}

/** `hoist logs`: the live slot's containers' logs (or the job log with --jobs). */
export interface LogsArgs extends HostArgs {
  command: 'logs';
  /** Last N lines; absent: 100, or every line since --since. */
  lines?: number;
  since?: string;
  follow: boolean;
  /** The job log (~/apps/APP/logs/cron.log) instead of the containers'. */
  jobs: boolean;
  /** Another service of the live slot than APP_SERVICE. */
  service?: string;
}

/** `hoist exec -- CMD...`: CMD in a one-off container of the live release. */
export interface ExecArgs extends HostArgs {
  command: 'exec';
  service?: string;
  /** The words after `--`, passed on byte for byte. */
  words: string[];
}

/** `hoist ssh [-- CMD...]`: a shell (or CMD) as the deploy user on one host. */
export interface SshArgs extends HostArgs {
  command: 'ssh';
  words: string[];
}

/** `hoist backup`: an archive of the app's volumes, downloaded and/or kept on the host. */
export interface BackupArgs extends HostArgs {
  command: 'backup';
  /** The local file (one host only); absent: .hoist/backups/HOST/APP-STAMP.tar. */
  output?: string;
  /** Keep the archive on the host only (BACKUP_KEEP of them), download nothing. */
  hostOnly: boolean;
}

/** `hoist restore FILE`: puts an archive of `hoist backup` back on one host. */
export interface RestoreArgs extends HostArgs {
  command: 'restore';
  file: string;
}

export type CliArgs = RunArgs | StatusArgs | UnlockArgs | InitArgs | LogsArgs | ExecArgs | SshArgs | BackupArgs | RestoreArgs | { command: 'help' } | { command: 'version' };

export const USAGE = `Usage: hoist run <pipeline|path.ts> [options]
       hoist status [--wait S] [--json F|-] [--hosts a,b] [--tag t]
       hoist unlock [--hosts a,b] [--tag t]
       hoist remove [--dry-run] [--yes] [--hosts a,b] [--tag t]
       hoist logs [--lines N] [--since T] [--follow] [--service S | --jobs] [--hosts a,b] [--tag t]
       hoist exec [--service S] [--hosts a,b] [--tag t] -- CMD [ARG...]
       hoist ssh [--hosts NAME] [-- CMD [ARG...]]
       hoist backup [--output FILE | --host-only] [--hosts a,b] [--tag t]
       hoist restore FILE --hosts NAME
       hoist init [--force] [--env-file F] [--host H --port P --user U --key K --domain D --repo R --name N --app-port N]
       hoist init --ci github [--force] [--env-file F] [--branch B] [--environment E] [--inventory F] [--lock-wait S]
                     [--build host|local|registry]

Pipelines: bootstrap, release, rollback, cron, remove; or a path to your own pipeline file.

Options:
  --env-file F       settings file (default: .env)
  --inventory F      YAML/JSON inventory of hosts, for fleets
  --hosts a,b        only these hosts (inventory names, or HOST)
  --tag t1,t2        only hosts with one of these inventory tags
  --dry-run          show what would change, per host and task, and change nothing
  --json F|-         write the run report as JSON to F, or to stdout with -
  --concurrency N    hosts worked on at once (default 10)
  --canary N         run the first N hosts alone first; the rest only if they pass
  --batch N|N%       rolling: N hosts (or N% of them) at a time, the next batch only
                     after the previous one finished healthy
  --max-fail N|N%    failed hosts tolerated before no new host starts (default: no limit;
                     0 with --canary or --batch)
  --fleet-rollback   when --max-fail is exceeded, roll back the hosts already released
  --accept-new       pin the host key of hosts not yet in known_hosts (trust on first use)
  --lock-wait S      a host whose deploy lock another run holds: wait up to S seconds for it
                     (looked at again with backoff, progress shown) instead of failing at once
  --build B          init --ci github: where the workflow builds the image (BUILD): local builds
                     on the runner and ships layers to each host over SSH; registry pushes once
  --to RELEASE       rollback: the release to go back to (default: the one before current)
  --yes              remove: go ahead without typing the app's name (needed without a terminal)
  --delete-data      remove: delete the app's volumes (its data) too; without it they are kept
  --lines N          logs: the last N lines (default 100; with --since: every line since T)
  --since T          logs: lines since T: 10m, 1h30m, 2024-01-31T10:00:00Z or a unix time
  --follow           logs: keep printing new lines until Ctrl-C
  --jobs             logs: the app's job log (~/apps/APP/logs/cron.log) instead of its containers'
  --service S        logs, exec: this service of the app's compose file (default: APP_SERVICE)
  --wait S           status: look again every 2 s until every host is healthy, at most S seconds
                     (after a reboot or a release, health checks take a moment to pass)
  --output FILE      backup: the local file (default: .hoist/backups/HOST/APP-STAMP.tar)
  --host-only        backup: keep the archive on the host only (BACKUP_KEEP of them)

status shows per host: reachable, live release, containers healthy, DNS, Caddy, deploy lock;
  per app: health ("starting" while a health check has not passed yet since a start), its
  stateful services, its volumes and any per-slot copy kept from before one volume per app.
unlock frees the deploy lock a run left behind (it says whose it was).
remove (hoist run remove) takes APP_NAME off the hosts; other apps there are left as they are.
logs shows the live release's logs (compose project APP-<active slot>), each line prefixed
  with its host when several hosts are selected.
exec runs CMD in a one-off container of the live release (its image, .env and volumes), on a
  terminal when hoist has one; its exit status is hoist's (several hosts: 1 if any failed).
backup archives the app's volumes (stateful services dumped by their x-hoist.backup command or
  stopped for the copy) under the host's deploy lock, and downloads it with its sha256 checked.
restore FILE checks the archive whole on the host, then stops the app, keeps each volume as
  NAME-before-restore-STAMP, puts the archive's data in and starts the app again.
ssh opens a shell (or runs CMD) as DEPLOY_USER on one host, its key checked against KNOWN_HOSTS.
  CMD's words arrive as given (not split again by a shell): hoist ssh -- sh -c 'ls | wc -l'.
init writes .env from .env.example: on a terminal it asks, otherwise it takes the flags.
init --ci github writes .github/workflows/release.yml (push to main releases that commit) from
  .env, and says how to create the GitHub environment (default: production) that holds its
  secrets, open to the release branch only.
Every run's report is kept under .hoist/runs/.

Exit codes: 0 all good, 1 a task failed (its host was rolled back) or status found a problem,
2 bad config or arguments, 3 status: nothing wrong but still starting (with --wait: when S ran
out), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).`;

export function parseCli(args: string[]): CliArgs {
  const [command, ...rest] = args;
  const wantsHelp = (a: string) => a === 'help' || a === '--help' || a === '-h';
  if (command === 'logs' || command === 'exec' || command === 'ssh') return parseLive(command, rest);
  if (!command || wantsHelp(command) || rest.some(wantsHelp)) return { command: 'help' };
  if (command === 'version' || command === '--version') return { command: 'version' };
  if (command === 'init') return parseInit(rest);
  if (command === 'status' || command === 'unlock') {
    const { values, positionals } = parseFlags(rest, command === 'status' ? { wait: { type: 'string' } } : {});
    if (positionals.length) throw new UsageError(`"hoist ${command}" takes no pipeline, got "${positionals[0]}". Fix: hoist ${command} --hosts NAME`);
    if (command === 'unlock') return { command, ...hostArgs(values) };
    return { command, ...hostArgs(values), ...(values.wait !== undefined ? { wait: wholeNumber(String(values.wait), '--wait', 1, 3600) } : {}) };
  }
  if (command === 'backup' || command === 'restore') return parseBackup(command, rest);
  // `hoist remove …` is `hoist run remove …`.
  if (command === 'remove') return parseCli(['run', 'remove', ...rest]);
  if (command !== 'run') throw new UsageError(`unknown command "${command}". Fix: use "hoist run <pipeline>", "hoist status" or "hoist unlock" (hoist help lists the options)`);
  const { values, positionals } = parseFlags(rest, {
    'dry-run': { type: 'boolean', default: false },
    batch: { type: 'string' },
    canary: { type: 'string' },
    'max-fail': { type: 'string' },
    'fleet-rollback': { type: 'boolean', default: false },
    to: { type: 'string' },
    yes: { type: 'boolean', default: false },
    'delete-data': { type: 'boolean', default: false },
    'lock-wait': { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError(`"hoist run" takes one pipeline, got ${positionals.length}. Fix: hoist run cron`);
  const batch = optionalCount(values.batch, '--batch', 'a number of hosts or a percentage, e.g. --batch 2 or --batch 25%');
  const maxFail = optionalCount(values['max-fail'], '--max-fail', 'a number of hosts or a percentage, e.g. --max-fail 0 or --max-fail 10%');
  if (batch && 'hosts' in batch && batch.hosts < 1) throw new UsageError('--batch 0: a batch needs at least one host. Fix: --batch 1 or more');
  let canary: number | undefined;
  if (values.canary !== undefined) {
    canary = wholeNumber(String(values.canary), '--canary', 1, 10_000);
  }
  if (values['delete-data'] && positionals[0] !== 'remove') throw new UsageError(`--delete-data goes with remove only (it deletes an app's volumes). Fix: hoist remove --delete-data, or leave it out`);
  if (values['fleet-rollback'] && !maxFail && !batch && !canary) {
    throw new UsageError('--fleet-rollback needs a failure budget to act on. Fix: add --max-fail N (or use --canary / --batch)');
  }
  return {
    command: 'run',
    pipeline: positionals[0]!,
    ...hostArgs(values),
    dryRun: values['dry-run'] === true,
    ...(batch ? { batch } : {}),
    ...(canary !== undefined ? { canary } : {}),
    ...(maxFail ? { maxFail } : {}),
    fleetRollback: values['fleet-rollback'] === true,
    ...(typeof values.to === 'string' && values.to ? { to: values.to } : {}),
    ...(values.yes === true ? { yes: true } : {}),
    ...(values['delete-data'] === true ? { deleteData: true } : {}),
    ...(values['lock-wait'] !== undefined ? { lockWait: wholeNumber(String(values['lock-wait']), '--lock-wait', 0, 86_400) } : {}),
  };
}

function parseBackup(command: 'backup' | 'restore', rest: string[]): BackupArgs | RestoreArgs {
  const { values, positionals } = parseFlags(rest, command === 'backup' ? { output: { type: 'string' }, 'host-only': { type: 'boolean', default: false } } : {});
  if (values.json !== undefined) throw new UsageError(`--json: "hoist ${command}" writes no report. Fix: leave --json out`);
  if (command === 'restore') {
    if (positionals.length !== 1) throw new UsageError(`"hoist restore" takes one archive, got ${positionals.length}. Fix: hoist restore .hoist/backups/HOST/APP-STAMP.tar --hosts NAME`);
    return { command, ...hostArgs(values), file: positionals[0]! };
  }
  if (positionals.length) throw new UsageError(`"hoist backup" takes no argument, got "${positionals[0]}". Fix: hoist backup --output ${positionals[0]}`);
  const output = typeof values.output === 'string' && values.output ? values.output : undefined;
  if (output && values['host-only'] === true) throw new UsageError('--output with --host-only: a host-only backup writes no local file. Fix: leave one of them out');
  return { command, ...hostArgs(values), ...(output ? { output } : {}), hostOnly: values['host-only'] === true };
}

type FlagSpec = Record<string, { type: 'string' | 'boolean'; default?: boolean }>;
type FlagValues = Record<string, string | boolean | undefined>;

/** The flags every host command takes, plus `extra`; unknown flags are usage errors. */
function parseFlags(rest: string[], extra: FlagSpec): { values: FlagValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        'env-file': { type: 'string' },
        inventory: { type: 'string' },
        hosts: { type: 'string' },
        tag: { type: 'string' },
        json: { type: 'string' },
        concurrency: { type: 'string' },
        'accept-new': { type: 'boolean', default: false },
        ...extra,
      },
    });
    return { values: values as FlagValues, positionals };
  } catch (e) {
    const first = (e as Error).message.split('\n')[0]!.replace(/\.+$/, '');
    throw new UsageError(`${first}. Fix: see "hoist help"`);
  }
}

function hostArgs(values: FlagValues): HostArgs {
  const list = (v: string | boolean | undefined) => (typeof v === 'string' ? v : '').split(',').map((h) => h.trim()).filter(Boolean);
  const str = (k: string) => (typeof values[k] === 'string' && values[k] ? (values[k] as string) : undefined);
  const envFile = str('env-file');
  const inventory = str('inventory');
  const json = str('json');
  return {
    ...(envFile ? { envFile } : {}),
    ...(inventory ? { inventory } : {}),
    hosts: list(values.hosts),
    tags: list(values.tag),
    ...(json ? { json } : {}),
    acceptNew: values['accept-new'] === true,
    concurrency: values.concurrency === undefined ? 10 : wholeNumber(String(values.concurrency), '--concurrency', 1, 500),
  };
}

function wholeNumber(text: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${flag} ${text}: must be a whole number from ${min} to ${max}`);
  return Number(text);
}

function optionalCount(text: string | boolean | undefined, flag: string, fix: string): Count | undefined {
  if (typeof text !== 'string') return undefined;
  const c = parseCount(text);
  if (!c) throw new UsageError(`${flag} ${text}: not a count. Fix: give ${fix}`);
  return c;
}

function parseInit(rest: string[]): InitArgs {
  const options: Record<string, { type: 'string' | 'boolean' }> = { force: { type: 'boolean' }, 'env-file': { type: 'string' }, ci: { type: 'string' }, branch: { type: 'string' }, environment: { type: 'string' }, inventory: { type: 'string' }, 'lock-wait': { type: 'string' }, build: { type: 'string' } };
  for (const flag of Object.keys(INIT_ANSWER_FLAGS)) options[flag] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: rest, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]!.replace(/\.+$/, '')}. Fix: see "hoist help"`);
  }
  const answers: Record<string, string> = {};
  for (const [flag, key] of Object.entries(INIT_ANSWER_FLAGS)) if (typeof values[flag] === 'string') answers[key] = values[flag] as string;
  const base = { command: 'init' as const, envFile: (values['env-file'] as string | undefined) ?? '.env', force: values.force === true, answers };
  if (values.ci === undefined) {
    for (const flag of ['branch', 'environment', 'inventory', 'lock-wait', 'build']) if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --ci github. Fix: hoist init --ci github --${flag} ...`);
    return base;
  }
  if (values.ci !== 'github') throw new UsageError(`--ci ${JSON.stringify(values.ci)}: hoist writes workflows for GitHub Actions only. Fix: --ci github`);
  if (Object.keys(answers).length) throw new UsageError('--ci github writes the workflow from your .env and takes no answers. Fix: hoist init first, then hoist init --ci github');
  const branch = typeof values.branch === 'string' ? values.branch : 'main';
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/.test(branch)) throw new UsageError(`--branch ${JSON.stringify(branch)}: not a branch name. Fix: --branch main`);
  const inventory = typeof values.inventory === 'string' && values.inventory ? values.inventory : undefined;
  const lockWaitSeconds = values['lock-wait'] === undefined ? 900 : wholeNumber(String(values['lock-wait']), '--lock-wait', 0, 86_400);
  const environment = ciEnvironmentName(typeof values.environment === 'string' ? values.environment : undefined);
  const build = values.build;
  if (build !== undefined && build !== 'host' && build !== 'local' && build !== 'registry') throw new UsageError(`--build ${JSON.stringify(build)}: not host, local or registry. Fix: --build local (the runner builds the image and ships it to each host over SSH)`);
  return { ...base, ci: { provider: 'github', branch, environment, ...(inventory ? { inventory } : {}), lockWaitSeconds, ...(build ? { build } : {}) } };
}

/**
 * logs, exec and ssh: hoist's flags before `--`, the remote command's words after it, untouched
 * (a `--help` among them is the command's, not hoist's).
 */
function parseLive(command: 'logs' | 'exec' | 'ssh', rest: string[]): LogsArgs | ExecArgs | SshArgs | { command: 'help' } {
  const dash = rest.indexOf('--');
  const flags = dash < 0 ? rest : rest.slice(0, dash);
  const words = dash < 0 ? [] : rest.slice(dash + 1);
  if (flags.some((a) => a === 'help' || a === '--help' || a === '-h')) return { command: 'help' };
  const service: FlagSpec = { service: { type: 'string' } };
  const extra: FlagSpec =
    command === 'logs'
      ? { ...service, lines: { type: 'string' }, since: { type: 'string' }, follow: { type: 'boolean', default: false }, jobs: { type: 'boolean', default: false } }
      : command === 'exec'
        ? service
        : {};
  const { values, positionals } = parseFlags(flags, extra);
  if (values.json !== undefined) throw new UsageError(`--json: "hoist ${command}" writes no report. Fix: leave --json out`);
  const example = command === 'exec' ? 'bin/rails db:migrate' : 'uptime';
  if (positionals.length) {
    throw new UsageError(
      command === 'logs'
        ? `"hoist logs" takes no command, got "${positionals[0]}". Fix: hoist logs --hosts NAME (hoist exec -- CMD runs one)`
        : `"hoist ${command}" takes the command after --, got "${positionals[0]}" before it. Fix: hoist ${command} -- ${positionals.join(' ')}`,
    );
  }
  const svc = typeof values.service === 'string' ? serviceName(values.service) : undefined;
  const base = { ...hostArgs(values), ...(svc ? { service: svc } : {}) };
  if (command === 'exec') {
    if (!words.length) throw new UsageError(`"hoist exec" needs a command after --. Fix: hoist exec -- ${example}`);
    return { command, ...base, words };
  }
  if (command === 'ssh') return { command, ...base, words };
  if (dash >= 0) throw new UsageError(`"hoist logs" takes no command after --, got "${words.join(' ')}". Fix: hoist exec -- ${words.join(' ') || 'CMD'}`);
  const jobs = values.jobs === true;
  const since = typeof values.since === 'string' ? sinceValue(values.since) : undefined;
  if (jobs && since) throw new UsageError('--since with --jobs: the job log has no timestamps hoist can read. Fix: use --lines N with --jobs');
  if (jobs && svc) throw new UsageError('--service with --jobs: the job log is one file for the app. Fix: leave --service out, or --jobs');
  return {
    command,
    ...base,
    ...(values.lines !== undefined ? { lines: wholeNumber(String(values.lines), '--lines', 1, 100_000) } : {}),
    ...(since ? { since } : {}),
    follow: values.follow === true,
    jobs,
  };
}

/** A compose service name as compose allows it; it becomes a label filter and a command word. */
function serviceName(text: string): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(text)) throw new UsageError(`--service ${JSON.stringify(text)}: not a compose service name. Fix: the name of a service in your compose file, e.g. --service worker`);
  return text;
}

/** What `docker logs --since` takes: a duration (10m, 1h30m), a date or time (RFC 3339), a unix time. */
function sinceValue(text: string): string {
  const duration = /^(\d+(\.\d+)?(h|m|s|ms))+$/;
  const date = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
  const unix = /^\d{9,10}(\.\d{1,9})?$/;
  if (duration.test(text) || date.test(text) || unix.test(text)) return text;
  throw new UsageError(`--since ${JSON.stringify(text)}: not a time. Fix: a duration (--since 10m, --since 1h30m), a date or time (--since 2024-01-31T10:00:00Z) or a unix time`);
}
