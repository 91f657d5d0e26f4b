// Gets the forge to accept the deploy key, then proves it: with GITHUB_TOKEN through GitHub's
// REST API (called from here, never from the host), otherwise by showing the key to a person
// and polling `git ls-remote` on the host until it works or DEPLOY_KEY_WAIT runs out.
import { HoistError } from '../../lib/errors.ts';
import type { ApplyContext } from '../../lib/engine/task.ts';
import type { Executor } from '../../lib/exec/executor.ts';
import { GitHubDeployKeys } from '../../lib/forge/github-deploy-keys.ts';
import { deployKeyCommands } from './commands.ts';
import { deployKeyTitle, keyRecordFile, keyRecordText } from './key-record.ts';
import { manualInstructions, repoName } from './plan.ts';
import type { DeployKeyFact, DeployKeyWanted } from './types.ts';

/** What one run did, kept between apply (and its retries) and rollback. */
export interface RunState {
  /** Id of the deploy key this run added through the API: rollback deletes it. */
  registeredId?: number;
  /** When the wait for a hand-added key ends; survives a retried apply. */
  waitDeadline?: number;
  /** This run sent a POST for the key (its answer may have been lost with the connection). */
  createSent?: boolean;
}

export class DeployKeyWaitError extends HoistError {}

type Ctx = ApplyContext<DeployKeyWanted, DeployKeyFact>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function lsRemote(exec: Executor, w: DeployKeyWanted, seconds: number): Promise<{ ok: boolean; error: string }> {
  const r = await exec.exec(deployKeyCommands(w).lsRemote(Math.max(1, Math.ceil(seconds))));
  if (r.code === 0) return { ok: true, error: '' };
  const text = r.stderr.trim().split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' | ');
  return { ok: false, error: r.code === 124 ? `timed out after ${Math.ceil(seconds)}s` : text || `exit ${r.code}` };
}

export function githubClient(ctx: Ctx): GitHubDeployKeys | null {
  const r = ctx.wanted.registration;
  const token = ctx.input.host.settings.githubToken;
  return r.kind === 'github-api' && token ? new GitHubDeployKeys({ apiUrl: r.apiUrl, token }) : null;
}

export async function register(exec: Executor, ctx: Ctx, publicKey: string, state: RunState): Promise<void> {
  const w = ctx.wanted;
  const api = githubClient(ctx);
  if (api) {
    ctx.progress(`checking the deploy keys of ${repoName(w)} through GitHub's API`);
    // Not api.ensure(): a POST whose answer was lost (connection cut; the retried apply then
    // finds the key) still added the key in this run, and rollback must delete it (issue #6).
    const found = await api.find(w.repo, publicKey);
    const created = !found;
    if (!found) state.createSent = true;
    const key = found ?? (await api.create(w.repo, publicKey, deployKeyTitle(w.hostName)));
    if (created || state.createSent) state.registeredId = key.id;
    // What GitHub holds for this key pair, beside it on the host: `hoist remove` revokes this key only (key-record.ts).
    const record = { id: key.id, title: key.title, repo: repoName(w), key: key.key || publicKey };
    await exec.upload(`${ctx.before.home}/${keyRecordFile(w.keyFile)}`, keyRecordText(record), { mode: 0o600 });
    ctx.progress(created ? `added read-only deploy key ${key.id} to ${repoName(w)}` : `the key is deploy key ${key.id} of ${repoName(w)} already`);
    return;
  }
  if (w.registration.kind !== 'manual') throw new HoistError('GITHUB_TOKEN is needed to register the deploy key through the API, and it is empty');
  const { page, waitMs } = w.registration;
  const now = await lsRemote(exec, w, 20);
  if (now.ok) return;
  state.waitDeadline ??= Date.now() + waitMs;
  ctx.progress(`${manualInstructions(w, publicKey, page, waitMs)} (git ls-remote now: ${now.error})`);
  const pollMs = Math.min(5000, Math.max(1000, Math.floor(waitMs / 10)));
  for (;;) {
    const left = state.waitDeadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(pollMs, left));
    const r = await lsRemote(exec, w, Math.min(20, Math.max(1, (state.waitDeadline - Date.now()) / 1000)));
    if (r.ok) {
      ctx.progress('the deploy key works: git ls-remote succeeded');
      return;
    }
  }
  throw new DeployKeyWaitError(
    `nobody added the deploy key to ${repoName(w)} within ${Math.round(waitMs / 1000)}s (DEPLOY_KEY_WAIT). ` +
      `Add this public key as a deploy key${page ? ` at ${page}` : ''} (read access is enough): ${publicKey} — then run hoist again, ` +
      'or set GITHUB_TOKEN so that hoist adds it itself',
  );
}

/** `git ls-remote` must work; a freshly added key can take a moment to count at the forge. */
export async function proveAccess(exec: Executor, w: DeployKeyWanted, attempts = 5, pauseMs = 2000): Promise<void> {
  let last = '';
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(pauseMs);
    const r = await lsRemote(exec, w, 20);
    if (r.ok) return;
    last = r.error;
  }
  throw new HoistError(`git ls-remote ${w.repo.url} as ${w.user} still fails with the deploy key: ${last}`);
}
