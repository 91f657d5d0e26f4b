// Makes the app's marked block in the deploy user's crontab equal to the app's crontab file.
// Knows it already is by reading the crontab (`crontab -l`) and comparing the would-be result
// byte for byte; every line outside the block is handed back untouched.
import { readFileSync } from 'node:fs';
import { ConfigError, HoistError, RemoteCommandError } from '../lib/errors.ts';
import type { Executor } from '../lib/exec/executor.ts';
import { runChecked } from '../lib/exec/executor.ts';
import { crontabProblems, wantedEntries } from '../lib/cron/crontab-file.ts';
import { entriesInBlock, withBlock } from '../lib/cron/crontab-block.ts';
import { defineTask, type Step } from '../lib/engine/task.ts';
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
}

export interface CronFact {
  exists: boolean;
  content: string;
  /** APP_CRONTAB's content in the live release; null when the release has no such file. */
  repoFile?: string | null;
}

export interface CronStep extends Step {
  /** The whole new crontab; '' removes it. */
  content: string;
}

export const cronInstall = defineTask<CronWanted, CronFact, CronStep>({
  name: 'cron-install',
  retrySafe: true,

  want({ host, loginUser }) {
    const s = host.settings;
    const base = { app: s.appName, user: s.deployUser, asOther: loginUser !== s.deployUser };
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
      command: w.repoFile ? cmds.listWithRepoFile(`apps/${w.app}/current/${w.repoFile}`) : cmds.list,
      sudo: w.asOther,
      parse(r) {
        let stdout = r.stdout;
        let repoFile: string | null | undefined;
        if (w.repoFile) {
          // First line: `file -` or `file <base64>`; the rest is what crontab -l printed.
          const nl = stdout.indexOf('\n');
          const head = stdout.slice(0, nl);
          stdout = stdout.slice(nl + 1);
          repoFile = head === 'file -' ? null : Buffer.from(head.slice(5), 'base64').toString('utf8');
        }
        const extra = w.repoFile ? { repoFile } : {};
        if (r.code === 0) return { exists: true, content: stdout, ...extra };
        if (/no crontab for/.test(r.stderr)) return { exists: false, content: '', ...extra };
        throw new RemoteCommandError(`reading the crontab of ${w.user}`, r.code, r.stderr);
      },
    };
  },

  plan(wanted, fact) {
    const w = { ...wanted, entries: wanted.entries ?? entriesFromRelease(wanted, fact) };
    const blockNow = entriesInBlock(fact.content, w.app);
    if (blockNow === null && w.entries.length === 0) return { changes: false, reason: `no jobs wanted and no hoist:${w.app} block present` };
    const after = withBlock(fact.content, w.app, w.entries);
    if (after === fact.content) return { changes: false, reason: `hoist:${w.app} block up to date (${w.entries.length} lines)` };
    const describe =
      w.entries.length === 0
        ? `remove the hoist:${w.app} block from the crontab of ${w.user}`
        : `${blockNow === null ? 'add' : 'update'} the hoist:${w.app} block in the crontab of ${w.user} (${w.entries.length} lines)`;
    return {
      changes: true,
      steps: [{ describe, content: after }],
      files: [{ path: `crontab of ${w.user}`, before: fact.exists ? fact.content : null, after: after === '' ? null : after }],
    };
  },

  async apply(exec, steps, { wanted }) {
    for (const step of steps) await install(exec, wanted, step.content);
  },

  async rollback(exec, { wanted, before }) {
    await install(exec, wanted, before.exists ? before.content : '');
  },
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
