// Makes the app's marked block in the deploy user's crontab equal to the app's crontab file.
// Knows it already is by reading the crontab (`crontab -l`) and comparing the would-be result
// byte for byte; every line outside the block is handed back untouched. Jobs that start with
// `hoist-run` run in a one-off container of the live release, through the app's runner script
// (tasks/cron-install/app-run.ts), kept in place and compared by hash in the same round trip.
import { readFileSync } from 'node:fs';
import { ConfigError, HoistError, RemoteCommandError } from '../lib/errors.ts';
import type { Executor } from '../lib/exec/executor.ts';
import { runChecked } from '../lib/exec/executor.ts';
import { crontabProblems, wantedEntries } from '../lib/cron/crontab-file.ts';
import { entriesInBlock, withBlock } from '../lib/cron/crontab-block.ts';
import { defineTask, type Step } from '../lib/engine/task.ts';
import { sh } from '../lib/shell-quote.ts';
import { APP_RUN_WORD, bareAppRunLines, runnerPath, runnerScript, runnerSha256, usesAppRun, withAppRunner } from './cron-install/app-run.ts';
import { crontabCommands } from './cron-install/commands.ts';

export interface CronWanted {
  app: string;
  /** Whose crontab: DEPLOY_USER. */
  user: string;
  /** Needs `crontab -u` through sudo when logged in as someone else. */
  asOther: boolean;
  /** From CRON_FILE, read here; null when they come from the live release (APP_CRONTAB). */
  entries: string[] | null;
  /** APP_CRONTAB: the file's path inside the repo. */
  repoFile?: string;
  /** The runner `hoist-run` jobs go through, for this app's service and compose file. */
  runner: string;
}

export interface CronFact {
  exists: boolean;
  content: string;
  /** APP_CRONTAB's content in the live release; null when the release has no such file. */
  repoFile?: string | null;
  /** sha256 of ~/apps/APP/bin/hoist-run; null when there is none. */
  runnerSha256?: string | null;
  /** DEPLOY_USER's home (where the runner goes). */
  home?: string;
}

export interface CronStep extends Step {
  /** The whole new crontab; '' removes it. */
  content: string;
  /** Install this runner script first (a `hoist-run` job needs it). */
  runner?: string;
}

export const cronInstall = defineTask<CronWanted, CronFact, CronStep>({
  name: 'cron-install',
  retrySafe: true,

  want({ host, loginUser }) {
    const s = host.settings;
    const runner = runnerScript({ app: s.appName, service: s.appService, composeFile: s.composeFile ?? null });
    const base = { app: s.appName, user: s.deployUser, asOther: loginUser !== s.deployUser, runner };
    if (s.appCrontab) return { ...base, entries: null, repoFile: s.appCrontab };
    if (!s.cronFile) return { ...base, entries: [] };
    const text = readFileSync(s.cronFile, 'utf8');
    const problem = crontabProblems(text)[0];
    if (problem) {
      throw new ConfigError('CRON_FILE', s.cronFile, `line ${problem.line} ${JSON.stringify(problem.text)}: ${problem.problem}`, 'correct that line of the crontab file');
    }
    return { ...base, entries: wantedEntries(text) };
  },

  probe(w) {
    const cmds = crontabCommands(w);
    return {
      command: cmds.listWithRunner(runnerPath(w.app), w.repoFile ? `apps/${w.app}/current/${w.repoFile}` : null),
      sudo: w.asOther,
      parse(r) {
        let stdout = r.stdout;
        let repoFile: string | null | undefined;
        // First lines: `home <path>` and `runner <sha256>` (or `runner -`).
        const lines = stdout.split('\n');
        const home = /^home (\/.*)$/.exec(lines[0] ?? '')?.[1];
        const runner = /^runner ([0-9a-f]{64}|-)$/.exec(lines[1] ?? '')?.[1];
        if (!home || !runner) throw new RemoteCommandError(`reading the crontab of ${w.user} (the answer is cut short)`, r.code, r.stderr || stdout.slice(0, 200));
        stdout = lines.slice(2).join('\n');
        const known = { home, runnerSha256: runner === '-' ? null : runner };
        if (w.repoFile) {
          // First line: `file -` or `file <base64>`; the rest is what crontab -l printed.
          const nl = stdout.indexOf('\n');
          const head = stdout.slice(0, nl);
          stdout = stdout.slice(nl + 1);
          repoFile = head === 'file -' ? null : Buffer.from(head.slice(5), 'base64').toString('utf8');
        }
        const extra = { ...known, ...(w.repoFile ? { repoFile } : {}) };
        if (r.code === 0) return { exists: true, content: stdout, ...extra };
        if (/no crontab for/.test(r.stderr)) return { exists: false, content: '', ...extra };
        throw new RemoteCommandError(`reading the crontab of ${w.user}`, r.code, r.stderr);
      },
    };
  },

  plan(wanted, fact) {
    const listed = wanted.entries ?? entriesFromRelease(wanted, fact);
    const bare = bareAppRunLines(listed)[0];
    if (bare !== undefined) {
      throw new HoistError(`the job ${JSON.stringify(bare)} is ${APP_RUN_WORD} with no command: it would start ${wanted.app}'s own server in a container that never ends, each time; give the command to run (${APP_RUN_WORD} python train.py)`);
    }
    const w = { ...wanted, entries: withAppRunner(listed, wanted.app) };
    const blockNow = entriesInBlock(fact.content, w.app);
    const runner = usesAppRun(listed) && fact.runnerSha256 !== runnerSha256(w.runner) ? w.runner : undefined;
    const runnerStep = { describe: `install ~/${runnerPath(w.app)} (runs ${APP_RUN_WORD} jobs in a one-off container of the live release)`, content: fact.content, runner };
    if (blockNow === null && w.entries.length === 0) return { changes: false, reason: `no jobs wanted and no hoist:${w.app} block present` };
    const after = withBlock(fact.content, w.app, w.entries);
    if (after === fact.content) {
      if (runner) return { changes: true, steps: [runnerStep] };
      return { changes: false, reason: `hoist:${w.app} block up to date (${w.entries.length} lines)` };
    }
    const describe =
      w.entries.length === 0
        ? `remove the hoist:${w.app} block from the crontab of ${w.user}`
        : `${blockNow === null ? 'add' : 'update'} the hoist:${w.app} block in the crontab of ${w.user} (${w.entries.length} lines)`;
    return {
      changes: true,
      steps: [...(runner ? [{ ...runnerStep, content: after, describe: `${runnerStep.describe}; ${describe}` }] : [{ describe, content: after }])],
      files: [{ path: `crontab of ${w.user}`, before: fact.exists ? fact.content : null, after: after === '' ? null : after }],
    };
  },

  async apply(exec, steps, { wanted, before }) {
    for (const step of steps) {
      if (step.runner) await installRunner(exec, wanted, before.home ?? '', step.runner);
      if (step.content !== before.content || !before.exists) await install(exec, wanted, step.content);
    }
  },

  async rollback(exec, { wanted, before }) {
    await install(exec, wanted, before.exists ? before.content : '');
  },
});

/**
 * cron-install as the rollback pipeline's last task: the release gone back to may be older than
 * APP_CRONTAB's file. That release had no jobs, so none are installed (hoist's block is removed)
 * instead of an error that would undo the whole rollback. A release still fails on a missing file.
 */
export const cronInstallOfRollback = defineTask<CronWanted, CronFact, CronStep>({
  ...cronInstall,
  plan: (w, f, input) => cronInstall.plan(w.entries === null && w.repoFile && f.repoFile === null ? { ...w, entries: [] } : w, f, input),
});

/** APP_CRONTAB's entries, checked as CRON_FILE's are: a bad line fails the task (and the release). */
function entriesFromRelease(w: CronWanted, fact: CronFact): string[] {
  if (fact.repoFile === null || fact.repoFile === undefined) {
    throw new HoistError(`APP_CRONTAB ${w.repoFile} is not in the live release (~/apps/${w.app}/current/${w.repoFile})`);
  }
  const problem = crontabProblems(fact.repoFile)[0];
  if (problem) throw new HoistError(`APP_CRONTAB ${w.repoFile} line ${problem.line} ${JSON.stringify(problem.text)}: ${problem.problem}`);
  return wantedEntries(fact.repoFile);
}

/** The runner, written whole (mode 755) and owned by the deploy user, before any line uses it. */
async function installRunner(exec: Executor, w: CronWanted, home: string, script: string): Promise<void> {
  if (!home.startsWith('/')) throw new HoistError(`the home of ${w.user} is not known on this host: cannot install the job runner`);
  const path = `${home}/${runnerPath(w.app)}`;
  await runChecked(exec, sh`mkdir -p ${path.slice(0, path.lastIndexOf('/'))} && chown ${`${w.user}:`} ${path.slice(0, path.lastIndexOf('/'))}`, 'making the job runner folder', { sudo: w.asOther });
  await exec.upload(path, script, { mode: 0o755, ...(w.asOther ? { owner: `${w.user}:${w.user}`, sudo: true } : {}) });
}

/** Installs `content` as the whole crontab, through stdin; '' removes the crontab. */
async function install(exec: Executor, w: CronWanted, content: string): Promise<void> {
  const cmds = crontabCommands(w);
  if (content === '') {
    const r = await exec.exec(cmds.remove, { sudo: w.asOther });
    if (r.code !== 0 && !/no crontab for/.test(r.stderr)) throw new RemoteCommandError(`removing the crontab of ${w.user}`, r.code, r.stderr);
    return;
  }
  await runChecked(exec, cmds.install, `installing the crontab of ${w.user}`, { stdin: content, sudo: w.asOther });
}
