// Carries out app-remove's steps in the plan's order. Nothing deleted is put back by a later
// failure (data is gone; the engine gets no rollback from this task): each step leaves a host
// that works, and each converges, so a rerun (or a retry after a lost connection) finishes the
// job. The one step with an undo of its own is Caddy's: a config Caddy refuses is never left
// in place, so Caddy keeps serving every other site.
import { HoistError, RemoteCommandError } from '../../lib/errors.ts';
import { runChecked, type Executor } from '../../lib/exec/executor.ts';
import type { ApplyContext } from '../../lib/engine/task.ts';
import { caddyMessage } from '../caddy-reload/apply.ts';
import { CADDYFILE } from '../caddy-reload/caddyfile.ts';
import { reloadCaddy, removeFile, validateConfig } from '../caddy-reload/commands.ts';
import { crontabCommands, removeAppDir, removeDocker, removeGitUrlSections, removeKeyFiles } from './commands.ts';
import { leftKeysWarning, revokeChecked } from './forge-keys.ts';
import { RemoveError, type RemoveFact, type RemoveStep, type RemoveWanted } from './types.ts';

type Ctx = ApplyContext<RemoveWanted, RemoveFact>;

const SUDO = { sudo: true };

export async function applyRemove(exec: Executor, steps: RemoveStep[], ctx: Ctx): Promise<void> {
  const { wanted: w, before: f } = ctx;
  for (const step of steps) {
    switch (step.kind) {
      case 'revoke-key':
        await revokeKey(w, f, ctx);
        break;
      case 'tell-key':
        ctx.progress(step.describe);
        break;
      case 'caddy':
        ctx.progress(`removing ${w.sitePath}, caddy validate, caddy reload`);
        await removeSite(exec, w, f, step.caddyfile);
        break;
      case 'ca-root':
        await runChecked(exec, removeFile(w.caRootPath), `deleting ${w.caRootPath}`, SUDO);
        break;
      case 'crontab':
        await installCrontab(exec, w, step.content);
        break;
      case 'containers':
        ctx.progress(`removing ${step.ids.length} container(s)`);
        await runChecked(exec, removeDocker('container', step.ids), `removing the containers of ${w.app}`, SUDO);
        break;
      case 'networks':
        await runChecked(exec, removeDocker('network', step.ids), `removing the networks of ${w.app}`, SUDO);
        break;
      case 'volumes':
        await runChecked(exec, removeDocker('volume', step.names), `removing the volumes of ${w.app}`, SUDO);
        break;
      case 'images':
        ctx.progress(`removing ${step.refs.length} image(s)`);
        await runChecked(exec, removeDocker('image', step.refs), `removing the images of ${w.app}`, SUDO);
        break;
      case 'app-dir':
        ctx.progress(`deleting ~/apps/${w.app}`);
        await runChecked(exec, removeAppDir(w.app, w.user), `deleting ~/apps/${w.app}`, SUDO);
        break;
      case 'key-files':
        await runChecked(exec, removeKeyFiles(w.keyFile), `deleting ~/${w.keyFile}`);
        break;
      case 'ssh-config':
        await exec.upload(`${f.home}/.ssh/config`, step.content, { mode: 0o600 });
        break;
      case 'git-url':
        await runChecked(exec, removeGitUrlSections(step.sections), `removing git's URL rewrite to ${w.alias}`);
        break;
    }
  }
}

/** Lists the repository's keys again now and deletes those that are this host's key (none: already gone). */
async function revokeKey(w: RemoveWanted, f: RemoveFact, ctx: Ctx): Promise<void> {
  const token = ctx.input.host.settings.githubToken;
  const pub = f.key.publicKey;
  if (w.forge.kind !== 'github-api' || !token || !pub) throw new HoistError('revoking the deploy key needs GITHUB_TOKEN and the host\'s public key');
  const repo = `${w.forge.owner}/${w.forge.repo}`;
  ctx.progress(`revoking the deploy key at ${repo} through GitHub's API`);
  const verdict = await revokeChecked(w.forge, token, pub, f.key.record, { title: w.keyTitle, repo, keyFile: w.keyFile });
  const ids = verdict.revoke.map((k) => k.id);
  const warning = leftKeysWarning(verdict, repo, w.app, w.forge.page);
  if (warning) ctx.progress(warning);
  if (ids.length || !warning) ctx.progress(ids.length ? `revoked deploy key ${ids.join(', ')} of ${repo}` : `GitHub lists no such key for ${repo} any more`);
}

/** Site file out (and the import line when no site is left), validated, reloaded; both put back on any failure. */
async function removeSite(exec: Executor, w: RemoveWanted, f: RemoveFact, caddyfile: string | null): Promise<void> {
  const c = f.caddy;
  const caddyfileMode = { mode: parseInt(c.caddyfileMode, 8), owner: c.caddyfileOwner, sudo: true };
  const putBack = async () => {
    await exec.upload(w.sitePath, c.site ?? '', { mode: 0o644, owner: 'root:root', sudo: true });
    if (caddyfile !== null && c.caddyfile !== null) await exec.upload(CADDYFILE, c.caddyfile, caddyfileMode);
  };
  if (caddyfile !== null) await exec.upload(CADDYFILE, caddyfile, caddyfileMode);
  await runChecked(exec, removeFile(w.sitePath), `removing ${w.sitePath}`, SUDO);
  if (c.caddyfile === null) return;
  const check = await exec.exec(validateConfig(), SUDO);
  if (check.code !== 0) {
    await putBack();
    throw new RemoveError(`caddy validate rejected the config without ${w.app}'s site, so Caddy was not reloaded and both files are back (${w.app} still serves): ${caddyMessage(check.stderr)}`);
  }
  if (!c.running) return;
  const reload = await exec.exec(reloadCaddy(), SUDO);
  if (reload.code !== 0) {
    await putBack();
    const again = await exec.exec(reloadCaddy(), SUDO);
    const then = again.code === 0 ? 'the previous files are back and reloaded' : `the previous files are back but reloading them failed too: ${caddyMessage(again.stderr)}`;
    throw new RemoveError(`caddy reload failed (${caddyMessage(reload.stderr)}); ${then}`);
  }
}

/** The crontab without the app's block, whole, on stdin; an empty one is removed. */
async function installCrontab(exec: Executor, w: RemoveWanted, content: string): Promise<void> {
  if (content !== '') {
    await runChecked(exec, crontabCommands.install, `installing the crontab of ${w.user}`, { stdin: content });
    return;
  }
  const r = await exec.exec(crontabCommands.remove);
  if (r.code !== 0 && !/no crontab for/.test(r.stderr)) throw new RemoteCommandError(`removing the crontab of ${w.user}`, r.code, r.stderr);
}
