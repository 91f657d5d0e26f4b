// git-sync's apply and rollback. Every step converges when run again (retrySafe); rollback works
// from the probe's facts alone: it removes the release this run made and puts pending-release
// and shared/.env back (the .env from the backup the run kept); the cache stays.
import type { ApplyContext } from '../../lib/engine/task.ts';
import { runChecked, type Executor } from '../../lib/exec/executor.ts';
import { appLayout } from '../../lib/release/layout.ts';
import { gitSyncCommands } from './commands.ts';
import { planGitSync } from './plan.ts';
import type { GitSyncFact, GitSyncStep, GitSyncWanted } from './types.ts';

type Ctx = ApplyContext<GitSyncWanted, GitSyncFact>;

export async function applyGitSync(exec: Executor, steps: GitSyncStep[], ctx: Ctx): Promise<void> {
  const w = ctx.wanted;
  const L = appLayout(w.app);
  const cmds = gitSyncCommands(w);
  for (const step of steps) {
    switch (step.kind) {
      case 'cache':
        ctx.progress(`${step.clone ? 'cloning' : 'fetching'} ${w.repo.url} into ~/${L.cache}`);
        await runChecked(exec, cmds.cache(step.sha), `${step.clone ? 'cloning' : 'fetching'} ${w.repo.url} into ~/${L.cache}`, { timeoutMs: w.fetchTimeoutMs });
        break;
      case 'release':
        ctx.progress(`checking out ${step.sha.slice(0, 12)} into ~/${L.release(step.name)}`);
        await runChecked(exec, cmds.release(step.name, step.sha), `checking out ${step.sha} into ~/${L.release(step.name)}`, { timeoutMs: w.fetchTimeoutMs });
        break;
      case 'env':
        if (!w.env) break;
        await runChecked(exec, cmds.envPrepare, `preparing ~/${L.shared}`);
        // SFTP, written with mode 600 before it appears: never on a command line or stdin of a shell.
        await exec.upload(cmds.envPath(ctx.before.home), w.env.content.reveal(), { mode: 0o600 });
        break;
      case 'link':
        await runChecked(exec, cmds.link(step.name), `linking the .env of release ${step.name}`);
        break;
      case 'pending':
        await runChecked(exec, cmds.pending(step.name), `writing ~/${L.pending}`);
        break;
      case 'prune':
        ctx.progress(`removing old releases ${step.names.join(', ')}`);
        await runChecked(exec, cmds.prune(step.names), 'removing old releases');
        break;
    }
  }
}

export async function rollbackGitSync(exec: Executor, ctx: Ctx): Promise<void> {
  const { wanted: w, before } = ctx;
  const plan = planGitSync(w, before);
  if (!plan.changes) return;
  const L = appLayout(w.app);
  const cmds = gitSyncCommands(w);
  for (const step of plan.steps) {
    if (step.kind === 'release') {
      await runChecked(exec, cmds.removeRelease(step.name), `removing release ${step.name} made by this run`);
      ctx.progress(`removed release ${step.name}, made by this run`);
    }
    if (step.kind === 'pending') {
      await runChecked(exec, before.pending ? cmds.pending(before.pending) : cmds.clearPending, `restoring ~/${L.pending}`);
    }
    if (step.kind === 'env') {
      await runChecked(exec, before.env ? cmds.restoreEnv(before.env.sha256) : cmds.removeEnv, `restoring ~/${L.env}`);
    }
  }
}
