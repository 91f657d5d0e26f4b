// Makes true on the host: the deploy user has an ed25519 key for the app repo, git uses it for
// the repo (ssh Host alias + url.insteadOf), the forge's host keys are pinned, and the key can
// read the repo (`git ls-remote` works). The private key is generated on the host and never
// leaves it; the GitHub token never reaches the host (API calls are made from hoist's process).
//
// Rollback deletes a deploy key that THIS run added through the API. Files on the host (key
// pair, ssh config block, known_hosts pins, git URL rewrite) are left in place on purpose: they
// grant nothing by themselves, and keeping the key means a key someone already added by hand
// stays valid, so the next run reuses it instead of asking again.
import { VerifyError } from '../lib/errors.ts';
import { runChecked } from '../lib/exec/executor.ts';
import { defineTask } from '../lib/engine/task.ts';
import { deployKeyCommands, keyComment } from './deploy-key/commands.ts';
import { planDeployKey, repoName } from './deploy-key/plan.ts';
import { parseProbe, probeCommand } from './deploy-key/probe.ts';
import { githubClient, proveAccess, register, type RunState } from './deploy-key/register.ts';
import type { DeployKeyFact, DeployKeyStep, DeployKeyWanted } from './deploy-key/types.ts';
import { deployKeyWanted } from './deploy-key/want.ts';

export type { DeployKeyFact, DeployKeyStep, DeployKeyWanted } from './deploy-key/types.ts';

// apply, its retries, verify and rollback of one task run share one context object.
const runs = new WeakMap<object, RunState>();
function stateOf(ctx: object): RunState {
  let s = runs.get(ctx);
  if (!s) runs.set(ctx, (s = {}));
  return s;
}

export const deployKey = defineTask<DeployKeyWanted, DeployKeyFact, DeployKeyStep>({
  name: 'deploy-key',
  login: 'deploy',
  // Every step converges: the key is made only if missing, lines are added only if absent,
  // and registering looks for the key before adding it.
  retrySafe: true,

  want: deployKeyWanted,

  probe: (w) => ({ command: probeCommand(w), parse: parseProbe }),

  plan: planDeployKey,

  async apply(exec, steps, ctx) {
    const w = ctx.wanted;
    const cmds = deployKeyCommands(w);
    const state = stateOf(ctx);
    let publicKey = ctx.before.keyMode === null ? null : ctx.before.publicKey;
    for (const step of steps) {
      switch (step.kind) {
        case 'make-key': {
          const line = (await runChecked(exec, cmds.makeKey(keyComment(w.app, ctx.before.hostname)), `making the deploy key ~/${w.keyFile}`)).trim();
          if (!/^ssh-ed25519 [A-Za-z0-9+/=]+( |$)/.test(line)) throw new VerifyError(`~/${w.keyFile}.pub does not hold an ed25519 public key`);
          publicKey = line;
          ctx.progress(`deploy key ~/${w.keyFile}: ${line}`);
          break;
        }
        case 'key-mode':
          await runChecked(exec, cmds.keyMode, `setting the mode of ~/${w.keyFile}`);
          break;
        case 'ssh-config':
          await runChecked(exec, cmds.sshDir, 'making ~/.ssh');
          await exec.upload(`${ctx.before.home}/.ssh/config`, step.content ?? '', { mode: 0o600 });
          break;
        case 'git-url':
          await runChecked(exec, cmds.gitUrl, 'setting git url.insteadOf');
          break;
        case 'pin-host-keys':
          await runChecked(exec, cmds.pinHostKeys, 'pinning the forge host keys', { stdin: `${(step.lines ?? []).join('\n')}\n` });
          break;
        case 'register':
          if (!publicKey) throw new VerifyError(`no public key ~/${w.keyFile}.pub to register`);
          await register(exec, ctx, publicKey, state);
          break;
        case 'prove':
          await proveAccess(exec, w);
          break;
      }
    }
  },

  async verify(exec, ctx) {
    const fact = parseProbe(await exec.exec(probeCommand(ctx.wanted)));
    if (!fact.lsRemote.ok) throw new VerifyError(`git ls-remote ${ctx.wanted.repo.url} as ${ctx.wanted.user} fails: ${fact.lsRemote.error}`);
    const again = planDeployKey(ctx.wanted, fact);
    if (again.changes) throw new VerifyError(`after applying, the host still differs: ${again.steps.map((s) => s.describe).join('; ')}`);
  },

  async rollback(_exec, ctx) {
    const id = stateOf(ctx).registeredId;
    const api = githubClient(ctx);
    if (id === undefined || !api) return;
    await api.remove(ctx.wanted.repo, id);
    ctx.progress(`deleted deploy key ${id} of ${repoName(ctx.wanted)}, added by this run`);
  },
});
