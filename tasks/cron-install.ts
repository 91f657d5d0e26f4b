// Makes the app's marked block in the deploy user's crontab equal to the app's crontab file.
// Knows it already is by reading the crontab (`crontab -l`) and comparing the would-be result
// byte for byte; every line outside the block is handed back untouched. Jobs that start with
// `hoist-run` run in a one-off container of the live release, through the app's runner script
// (tasks/cron-install/app-run.ts), kept in place and compared by hash in the same round trip.
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, HoistError, RemoteCommandError } from '../lib/errors.ts';
import type { Executor } from '../lib/exec/executor.ts';
import { runChecked } from '../lib/exec/executor.ts';
import { crontabProblems, wantedEntries } from '../lib/cron/crontab-file.ts';
import { entriesInBlock, shownForDiff, withBlock } from '../lib/cron/crontab-block.ts';
import { defineTask, type Step } from '../lib/engine/task.ts';
import { sh } from '../lib/shell-quote.ts';
import { APP_RUN_WORD, bareAppRunLines, runnerPath, runnerScript, runnerSha256, usesAppRun, withAppRunner } from './cron-install/app-run.ts';
import { crontabCommands } from './cron-install/commands.ts';
import { fileFromLines } from '../lib/exec/file-lines.ts';
import { BACKUP_JOB_WORD, backupScript, backupScriptPath, backupScriptSha256 } from '../lib/backup/host-script.ts';
import { backupJobsWithWords, usesBackupJob, withBackupJob } from './cron-install/backup-job.ts';

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
  /** The host backup script a `hoist-backup` job runs (lib/backup/host-script.ts), for BACKUP_KEEP and BACKUP_IMAGE. */
  backupScript?: string;
}

export interface CronFact {
  exists: boolean;
  content: string;
  /** APP_CRONTAB's content in the live release; null when the release has no such file. */
  repoFile?: string | null;
  /** Why APP_CRONTAB was not read (its content never left the host): a link out of the release, not a file. */
  repoFileRefused?: RepoFileRefusal;
  /** sha256 of ~/apps/APP/bin/hoist-run; null when there is none. */
  runnerSha256?: string | null;
  /** DEPLOY_USER's home (where the runner goes). */
  home?: string;
  /** sha256 of ~/apps/APP/bin/hoist-backup; null when there is none (read when the wanted has a backup script). */
  backupSha256?: string | null;
}

/** `outside`: the path resolves out of the release folder, to that path ('' when it cannot be resolved). */
export type RepoFileRefusal = { outside: string } | { notRegular: true };

export interface CronStep extends Step {
  /** The whole new crontab; '' removes it. */
  content: string;
  /** Install this runner script first (a `hoist-run` job needs it). */
  runner?: string;
  /** Install this backup script first (a `hoist-backup` job needs it). */
  backupScript?: string;
}

export const cronInstall = defineTask<CronWanted, CronFact, CronStep>({
  name: 'cron-install',
  retrySafe: true,

  want({ host, loginUser }) {
    const s = host.settings;
    const runner = runnerScript({ app: s.appName, service: s.appService, composeFile: s.composeFile ?? null });
    const base = { app: s.appName, user: s.deployUser, asOther: loginUser !== s.deployUser, runner, backupScript: backupScript({ app: s.appName, image: s.backupImage, keep: s.backupKeep }) };
    if (s.appCrontab) return { ...base, entries: null, repoFile: s.appCrontab };
    if (!s.cronFile) return { ...base, entries: [] };
    // CRON_FILE is a file on the user's own machine, read with their own rights: a link to
    // wherever they keep it is their choice (unlike APP_CRONTAB, whose links come with the repo
    // and are followed on the host). It must be a file, though: a fifo would hang the read.
    if (!statSync(s.cronFile).isFile()) throw new ConfigError('CRON_FILE', s.cronFile, 'is not a regular file', 'set CRON_FILE to the path of a crontab file');
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
      command: cmds.listWithRunner(runnerPath(w.app), w.repoFile ? { root: `apps/${w.app}/current`, file: w.repoFile } : null, w.backupScript ? backupScriptPath(w.app) : undefined),
      sudo: w.asOther,
      parse(r) {
        let stdout = r.stdout;
        let repoFile: string | null | undefined;
        let repoFileRefused: RepoFileRefusal | undefined;
        // First lines: `home <path>` and `runner <sha256>` (or `runner -`).
        const lines = stdout.split('\n');
        const home = /^home (\/.*)$/.exec(lines[0] ?? '')?.[1];
        const runner = /^runner ([0-9a-f]{64}|-)$/.exec(lines[1] ?? '')?.[1];
        // Only the first line is shown: the rest may be the crontab, with its variables' values.
        if (!home || !runner) throw new RemoteCommandError(`reading the crontab of ${w.user} (the answer is cut short)`, r.code, r.stderr || (lines[0] ?? '').slice(0, 100));
        let known: Pick<CronFact, 'home' | 'runnerSha256' | 'backupSha256'> = { home, runnerSha256: runner === '-' ? null : runner };
        if (w.backupScript) {
          const backup = /^backup ([0-9a-f]{64}|-)$/.exec(lines[2] ?? '')?.[1];
          if (!backup) throw new RemoteCommandError(`reading the crontab of ${w.user} (the answer is cut short)`, r.code, r.stderr || (lines[0] ?? '').slice(0, 100));
          known = { ...known, backupSha256: backup === '-' ? null : backup };
        }
        stdout = lines.slice(w.backupScript ? 3 : 2).join('\n');
        if (w.repoFile) {
          // First line: `file -`, `file |` (its lines up to `file end`), `file outside <base64 path>`
          // or `file not-regular` (tasks/cron-install/commands.ts); the rest is what crontab -l printed.
          const nl = stdout.indexOf('\n');
          const head = stdout.slice(0, nl);
          stdout = stdout.slice(nl + 1);
          if (head === 'file |') {
            const rest = stdout.split('\n');
            const end = rest.findIndex((l) => !l.startsWith('|') && !l.startsWith('/'));
            if (end < 0 || rest[end] !== 'file end') throw new RemoteCommandError(`reading ${w.repoFile} of the live release (the answer is cut short)`, r.code, r.stderr);
            repoFile = fileFromLines(rest.slice(0, end), '');
            stdout = rest.slice(end + 1).join('\n');
          } else if (head === 'file not-regular') repoFileRefused = { notRegular: true };
          else if (head.startsWith('file outside ')) repoFileRefused = { outside: Buffer.from(head.slice(13), 'base64').toString('utf8') };
          else repoFile = head === 'file -' ? null : Buffer.from(head.slice(5), 'base64').toString('utf8');
        }
        const extra = { ...known, ...(w.repoFile ? (repoFileRefused ? { repoFileRefused } : { repoFile }) : {}) };
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
    const worded = backupJobsWithWords(listed)[0];
    if (worded !== undefined) throw new HoistError(`the job ${JSON.stringify(worded)}: ${BACKUP_JOB_WORD} takes no words (it is set by BACKUP_KEEP and BACKUP_IMAGE). Fix: write the line as \`0 3 * * * ${BACKUP_JOB_WORD}\``);
    const w = { ...wanted, entries: withBackupJob(withAppRunner(listed, wanted.app), wanted.app) };
    const blockNow = entriesInBlock(fact.content, w.app);
    const runner = usesAppRun(listed) && fact.runnerSha256 !== runnerSha256(w.runner) ? w.runner : undefined;
    const backup = wanted.backupScript && usesBackupJob(listed) && fact.backupSha256 !== backupScriptSha256(wanted.backupScript) ? wanted.backupScript : undefined;
    const installs = [
      ...(runner ? [`install ~/${runnerPath(w.app)} (runs ${APP_RUN_WORD} jobs in a one-off container of the live release)`] : []),
      ...(backup ? [`install ~/${backupScriptPath(w.app)} (runs ${BACKUP_JOB_WORD} jobs: an archive of the app's volumes on the host)`] : []),
    ];
    const runnerStep = { describe: installs.join('; '), content: fact.content, runner, ...(backup ? { backupScript: backup } : {}) };
    if (blockNow === null && w.entries.length === 0) return { changes: false, reason: `no jobs wanted and no hoist:${w.app} block present` };
    const after = withBlock(fact.content, w.app, w.entries);
    if (after === fact.content) {
      if (installs.length) return { changes: true, steps: [runnerStep] };
      return { changes: false, reason: `hoist:${w.app} block up to date (${w.entries.length} lines)` };
    }
    const describe =
      w.entries.length === 0
        ? `remove the hoist:${w.app} block from the crontab of ${w.user}`
        : `${blockNow === null ? 'add' : 'update'} the hoist:${w.app} block in the crontab of ${w.user} (${w.entries.length} lines)`;
    return {
      changes: true,
      steps: [...(installs.length ? [{ ...runnerStep, content: after, describe: `${runnerStep.describe}; ${describe}` }] : [{ describe, content: after }])],
      // As shown: the app's block, variables' values hidden, other lines folded (shownForDiff).
      files: [{ path: `crontab of ${w.user}`, before: fact.exists ? shownForDiff(fact.content, w.app) : null, after: after === '' ? null : shownForDiff(after, w.app) }],
    };
  },

  async apply(exec, steps, { wanted, before }) {
    for (const step of steps) {
      if (step.runner) await installRunner(exec, wanted, before.home ?? '', step.runner);
      if (step.backupScript) await installRunner(exec, wanted, before.home ?? '', step.backupScript, backupScriptPath(wanted.app), 0o700);
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
 * instead of an error that would undo the whole rollback. The same for a file releases now
 * refuse. A release still fails on a missing or refused file.
 */
export const cronInstallOfRollback = defineTask<CronWanted, CronFact, CronStep>({
  ...cronInstall,
  plan(w, f, input) {
    if (w.entries !== null || !w.repoFile) return cronInstall.plan(w, f, input);
    if (f.repoFile === null) return cronInstall.plan({ ...w, entries: [] }, f, input);
    // An older release may hold a crontab that releases now refuse (a link out of the release,
    // cron variable lines): its jobs are not installed, and the rollback goes on, saying why.
    // Failing here would undo the whole rollback, the one command for when things are wrong.
    // Only what releases newly refuse; a line cron itself cannot read still fails, as it did.
    const newlyRefused = f.repoFileRefused !== undefined || (typeof f.repoFile === 'string' && crontabProblems(f.repoFile).some((p) => p.problem.includes('sets the cron variable')));
    let refused: string | null = null;
    if (newlyRefused) {
      try {
        entriesFromRelease(w, f);
      } catch (e) {
        if (!(e instanceof HoistError)) throw e;
        refused = e.message;
      }
    }
    if (refused === null) return cronInstall.plan(w, f, input);
    const plan = cronInstall.plan({ ...w, entries: [] }, f, input);
    const why = `the release's jobs are not installed: ${refused.split('. Fix:')[0]}`;
    return plan.changes ? { ...plan, steps: plan.steps.map((st) => ({ ...st, describe: `${st.describe} (${why})` })) } : { changes: false, reason: `${plan.reason}; ${why}` };
  },
});

/** APP_CRONTAB's entries, checked as CRON_FILE's are: a bad line fails the task (and the release). */
function entriesFromRelease(w: CronWanted, fact: CronFact): string[] {
  const refused = fact.repoFileRefused;
  if (refused) {
    const where = `~/apps/${w.app}/current/${w.repoFile}`;
    const what =
      'outside' in refused
        ? `${where} leads out of the release folder${refused.outside ? ` (to ${oneLine(refused.outside)})` : ''}: a link there would put that file's content (the app's .env, another app's secrets) into the crontab, the diff and the report, so it was not read`
        : `${where} is not a regular file (a folder, a dangling link or a special file)`;
    throw new HoistError(`APP_CRONTAB ${w.repoFile}: ${what}. Fix: commit the crontab itself at ${w.repoFile} in the repo (a file, not a link out of it), or point APP_CRONTAB at one`);
  }
  if (fact.repoFile === null || fact.repoFile === undefined) {
    throw new HoistError(`APP_CRONTAB ${w.repoFile} is not in the live release (~/apps/${w.app}/current/${w.repoFile})`);
  }
  const problem = crontabProblems(fact.repoFile)[0];
  if (problem) throw new HoistError(`APP_CRONTAB ${w.repoFile} line ${problem.line} ${JSON.stringify(problem.text)}: ${problem.problem}`);
  return wantedEntries(fact.repoFile);
}

/** A path from the host as it is, or JSON-quoted when it holds a control character (a link's target may). */
const oneLine = (path: string): string => (/[\x00-\x1f\x7f]/.test(path) ? JSON.stringify(path) : path);

/** The runner, written whole (mode 755) and owned by the deploy user, before any line uses it. */
async function installRunner(exec: Executor, w: CronWanted, home: string, script: string, relative = runnerPath(w.app), mode = 0o755): Promise<void> {
  if (!home.startsWith('/')) throw new HoistError(`the home of ${w.user} is not known on this host: cannot install the job runner`);
  const path = `${home}/${relative}`;
  await runChecked(exec, sh`mkdir -p ${path.slice(0, path.lastIndexOf('/'))} && chown ${`${w.user}:`} ${path.slice(0, path.lastIndexOf('/'))}`, 'making the job runner folder', { sudo: w.asOther });
  await exec.upload(path, script, { mode, ...(w.asOther ? { owner: `${w.user}:${w.user}`, sudo: true } : {}) });
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
