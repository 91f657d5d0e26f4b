// app-remove's plan, pure: from what the probe found of the app, the steps that take it off the
// host, in an order where stopping at any step leaves a host that works and a rerun that
// finishes: the forge key first (nothing on the host changes if GitHub refuses), then Caddy (no
// request reaches the app any more), the crontab (no job starts it), its containers, networks,
// volumes and images, its folder, and its deploy key's files last. Nothing there: the reason.
import type { FileChange, Plan, TaskInput } from '../../lib/engine/task.ts';
import { entriesInBlock, withBlock } from '../../lib/cron/crontab-block.ts';
import { CADDYFILE, hasSitesImport, IMPORT_LINE, withoutSitesImport } from '../caddy-reload/caddyfile.ts';
import { withoutSshBlock } from '../deploy-key/ssh-config-block.ts';
import { fingerprint, keysToRevoke, leftKeysWarning, listedKeys } from './forge-keys.ts';
import { keyRecordFile, type KeyRecord } from '../deploy-key/key-record.ts';
import { appImages } from './images.ts';
import { projects } from './probe.ts';
import { RemoveError, type ForgeKey, type RemoveFact, type RemoveStep, type RemoveWanted } from './types.ts';

const NOTHING_REMOVED = 'nothing was removed';

export function planRemove(w: RemoveWanted, f: RemoveFact, input?: TaskInput): Plan<RemoveStep> {
  refuseUnsafe(w, f);
  const steps: RemoveStep[] = [];
  const files: FileChange[] = [];
  const listed = listedKeys(w.forge, input?.shared);

  const pub = f.key.publicKey;
  const keySteps = pub ? forgeKeySteps(w, pub, listed, f.key.record) : [];
  steps.push(...keySteps);

  if (f.caddy.site !== null) {
    const c = f.caddy;
    const dropImport = c.otherSites.length === 0 && c.caddyfile !== null && hasSitesImport(c.caddyfile);
    const caddyfile = dropImport ? withoutSitesImport(c.caddyfile!) : null;
    const importNote = dropImport
      ? `and "${IMPORT_LINE}" from ${CADDYFILE} (no other site uses it; its other lines kept)`
      : c.otherSites.length
        ? `(the import line stays: ${c.otherSites.length} other site file(s) use it)`
        : '';
    const then = c.caddyfile === null ? `(${CADDYFILE} does not exist: nothing to validate or reload)` : `then caddy validate${c.running ? ' and caddy reload (no restart)' : ' (Caddy is not running: no reload)'}; both files are put back if either fails`;
    steps.push({
      kind: 'caddy',
      caddyfile,
      describe: `remove the Caddy site ${w.sitePath} (${addressesOf(c.site!)}) ${importNote}`.trim() + `, ${then}: no request reaches ${w.app} after this`,
    });
    files.push({ path: w.sitePath, before: c.site, after: null });
    if (caddyfile !== null) files.push({ path: CADDYFILE, before: c.caddyfile, after: caddyfile });
  }
  // After the site that names it (ca_root) is gone and Caddy reloaded.
  if (f.caddy.caRoot) steps.push({ kind: 'ca-root', describe: `delete ${w.caRootPath} (ACME_CA_ROOT, used by ${w.app}'s site only)` });

  if (f.crontab !== null) {
    const block = guarded(() => entriesInBlock(f.crontab!, w.app));
    if (block !== null) {
      const after = guarded(() => withBlock(f.crontab!, w.app, []));
      const jobs = block.filter((l) => l.trim() && !l.trim().startsWith('#')).length;
      steps.push({ kind: 'crontab', content: after, describe: `remove the hoist:${w.app} block (${jobs} job(s)) from the crontab of ${w.user}; every other line stays as it is` });
      files.push({ path: `crontab of ${w.user}`, before: f.crontab, after: after === '' ? null : after });
    }
  }

  if (f.docker === 'yes') {
    const ours = new Set(projects(w.app));
    const containers = f.containers.filter((c) => ours.has(c.project));
    if (containers.length) {
      const list = containers.map((c) => `${c.name} (${c.state}${c.release ? `, release ${c.release}` : ''})`).join(', ');
      steps.push({ kind: 'containers', ids: containers.map((c) => c.id), describe: `remove ${containers.length} container(s) of compose projects ${[...ours].join(', ')}: ${list}` });
    }
    if (f.networks.length) {
      steps.push({ kind: 'networks', ids: f.networks.map((n) => n.id), describe: `remove ${f.networks.length} network(s) of ${w.app}: ${f.networks.map((n) => n.name).join(', ')}` });
    }
    // The app's data is the user's: its volumes go only when asked in so many words (--delete-data).
    const volumes = [...new Set(f.volumes.map((v) => v.name))].sort();
    if (volumes.length && input?.shared?.deleteData === true) {
      steps.push({ kind: 'volumes', names: volumes, describe: `remove ${volumes.length} volume(s) of ${w.app}, and the data in them (--delete-data): ${volumes.join(', ')}` });
    }
    const images = appImages(w, f);
    if (images.remove.length) {
      steps.push({
        kind: 'images',
        refs: images.remove.map((i) => i.ref),
        describe:
          `remove ${images.remove.length} image(s) of ${w.app}: ${images.remove.map((i) => `${i.ref} (${i.size})`).join(', ')}` +
          `${keptNote(images.kept)}; Docker's build cache is shared by every app and stays (docker builder prune clears it)`,
      });
    }
  }

  if (f.appDir === 'dir') {
    const parts = [
      f.releases.length ? `${f.releases.length} release(s) (${f.releases.join(', ')})` : 'no release',
      ...(f.env ? ["shared/.env (the app's settings)"] : []),
      'the git cache repo.git and the slot state',
    ];
    steps.push({ kind: 'app-dir', describe: `delete ~/apps/${w.app} of ${w.user}: ${parts.join(', ')}` });
  }

  if (f.key.private || f.key.public || f.key.recordFile) {
    const unmatched =
      w.forge.kind === 'github-api' && pub && !keySteps.length
        ? ` (GitHub lists no such key for ${w.forge.owner}/${w.forge.repo})`
        : !pub
          ? ' (its public key cannot be read, so no key at the forge can be matched to it)'
          : '';
    const names = [...(f.key.private ? [`~/${w.keyFile}`] : []), ...(f.key.public ? [`~/${w.keyFile}.pub`] : []), ...(f.key.recordFile ? [`~/${keyRecordFile(w.keyFile)}`] : [])];
    steps.push({ kind: 'key-files', describe: `delete the deploy key ${names.join(' and ')} of ${w.user}${unmatched}` });
  }

  if (f.sshConfig !== null) {
    const after = guarded(() => withoutSshBlock(f.sshConfig!, w.app));
    if (after !== f.sshConfig) {
      steps.push({ kind: 'ssh-config', content: after, describe: `remove the hoist:${w.app} block (Host ${w.alias}) from ~/.ssh/config of ${w.user}; every other line stays as it is` });
      files.push({ path: '~/.ssh/config', before: f.sshConfig, after });
    }
  }

  if (f.gitUrlSections.length) {
    steps.push({
      kind: 'git-url',
      sections: f.gitUrlSections,
      describe: `remove git's URL rewrite to ${w.alias} from ~/.gitconfig of ${w.user}: ${f.gitUrlSections.map((s) => `[url "${s}"]`).join(', ')}`,
    });
  }

  const keptData = f.docker === 'yes' && f.volumes.length && input?.shared?.deleteData !== true ? dataKeptNote(w.app, [...new Set(f.volumes.map((v) => v.name))].sort()) : '';
  if (!steps.length) return { changes: false, reason: `${w.app} is not on this host${f.docker === 'yes' ? keptNote(appImages(w, f).kept) : ''}${keptData}` };
  if (keptData) steps[steps.length - 1] = { ...steps[steps.length - 1]!, describe: `${steps[steps.length - 1]!.describe}${keptData}` };
  return { changes: true, steps, files };
}

/** Names built from APP_NAME only, but a host can still point them elsewhere: refused, never followed. */
function refuseUnsafe(w: RemoveWanted, f: RemoveFact): void {
  if (f.docker === 'down') {
    throw new RemoveError(`Docker is installed but does not answer (docker info), so ${w.app}'s containers cannot be seen: start Docker (systemctl start docker) and run this again; ${NOTHING_REMOVED}`);
  }
  if (f.appDir === 'link') {
    throw new RemoveError(`~/apps/${w.app} of ${w.user} (or ~/apps) is a symbolic link, not the folder hoist made: hoist does not delete through links. Look where it points, remove the link by hand, and run this again; ${NOTHING_REMOVED}`);
  }
  if (f.appDir === 'other') {
    throw new RemoveError(`~/apps/${w.app} of ${w.user} is not a folder, so hoist did not make it: look at it, remove it by hand if it is the app's, and run this again; ${NOTHING_REMOVED}`);
  }
}

/** A damaged marker block (crontab, ssh config) is refused by its parser: said, not guessed at. */
function guarded<T>(work: () => T): T {
  try {
    return work();
  } catch (e) {
    throw new RemoveError(`${(e as Error).message}; ${NOTHING_REMOVED}`);
  }
}

function keptNote(kept: { image: { ref: string }; usedBy: string }[]): string {
  return kept.length ? ` (kept: ${kept.map((k) => `${k.image.ref}, used by container ${k.usedBy}`).join('; ')})` : '';
}

function forgeKeySteps(w: RemoveWanted, pub: string, listed: ForgeKey[] | null, record: KeyRecord | null): RemoveStep[] {
  const comment = pub.trim().split(/\s+/).slice(2).join(' ');
  const what = `deploy key ${fingerprint(pub)}${comment ? ` ("${comment}")` : ''}`;
  const f = w.forge;
  if (f.kind === 'github-api') {
    const repo = `${f.owner}/${f.repo}`;
    if (listed === null) return [{ kind: 'revoke-key', ids: [], describe: `revoke this host's ${what} at ${repo} through GitHub's API, if GitHub lists it and it is the key deploy-key registered` }];
    const verdict = keysToRevoke(listed, pub, record, { title: w.keyTitle, repo, keyFile: w.keyFile });
    const steps: RemoveStep[] = [];
    if (verdict.revoke.length) {
      const keys = verdict.revoke.map((k) => `deploy key ${k.id} "${k.title}"`).join(', ');
      steps.push({ kind: 'revoke-key', ids: verdict.revoke.map((k) => k.id), describe: `revoke ${keys} of ${repo} through GitHub's API: it is this host's ${what}` });
    }
    const warning = leftKeysWarning(verdict, repo, w.app, f.page);
    if (warning) steps.push({ kind: 'tell-key', describe: warning });
    return steps;
  }
  if (f.kind === 'manual') {
    return [{ kind: 'tell-key', describe: `GITHUB_TOKEN is not set (or ${f.repoName} is not on GitHub): delete the ${what} from the deploy keys of ${f.repoName} yourself${f.page ? ` at ${f.page}` : ''}` }];
  }
  return [{ kind: 'tell-key', describe: `APP_REPO is not set, so hoist cannot tell where the ${what} was registered: delete it there yourself` }];
}

/** The site block's addresses, for people: its first line that opens a block. */
function addressesOf(site: string): string {
  const line = site.split('\n').find((l) => l.trim().endsWith('{') && !l.trim().startsWith('#'));
  return line ? line.trim().replace(/\s*\{$/, '') : 'no address found';
}

/** The app's volumes a removal leaves, named, and how to delete them. */
function dataKeptNote(app: string, names: string[]): string {
  return `; keeps ${names.length} volume(s) of ${app} with its data: ${names.join(', ')} (hoist remove --delete-data deletes them)`;
}
