// Makes the app's marked block in the deploy user's crontab equal to the app's crontab file.
// Knows it already is by reading the crontab (`crontab -l`) and comparing the would-be result
// byte for byte; every line outside the block is handed back untouched.
import { readFileSync } from 'node:fs';
import { ConfigError, RemoteCommandError } from '../lib/errors.ts';
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
  entries: string[];
}

export interface CronFact {
  exists: boolean;
  content: string;
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
    if (!s.cronFile) return { ...base, entries: [] };
    const text = readFileSync(s.cronFile, 'utf8');
    const problem = crontabProblems(text)[0];
    if (problem) {
      throw new ConfigError('CRON_FILE', s.cronFile, `line ${problem.line} (${problem.text}): ${problem.problem}`, 'correct that line of the crontab file');
    }
    return { ...base, entries: wantedEntries(text) };
  },

  probe(w) {
    return {
      command: crontabCommands(w).list,
      sudo: w.asOther,
      parse(r) {
        if (r.code === 0) return { exists: true, content: r.stdout };
        if (/no crontab for/.test(r.stderr)) return { exists: false, content: '' };
        throw new RemoteCommandError(`reading the crontab of ${w.user}`, r.code, r.stderr);
      },
    };
  },

  plan(w, fact) {
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
