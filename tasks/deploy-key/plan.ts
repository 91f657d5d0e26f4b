// deploy-key's plan, pure: from what is wanted and what the probe found, the steps still
// missing (key, ssh config block, git URL rewrite, host key pins, registration, proof of
// access), or the reason nothing is needed.
import { HoistError } from '../../lib/errors.ts';
import type { Plan } from '../../lib/engine/task.ts';
import { missingPins } from '../../lib/forge/forge-host-keys.ts';
import { sshBlockLines, sshBlockOf, withSshBlock } from './ssh-config-block.ts';
import type { DeployKeyFact, DeployKeyStep, DeployKeyWanted } from './types.ts';

export function repoName(w: Pick<DeployKeyWanted, 'repo'>): string {
  return `${w.repo.owner}/${w.repo.repo}`;
}

export function planDeployKey(w: DeployKeyWanted, f: DeployKeyFact): Plan<DeployKeyStep> {
  if (!f.git) throw new HoistError('git is not installed: run the bootstrap pipeline (it installs git), then run this again');
  const key = `~/${w.keyFile}`;
  const steps: DeployKeyStep[] = [];

  if (f.keyMode === null) {
    steps.push({ kind: 'make-key', describe: `generate an ed25519 deploy key ${key} on the host (the private key never leaves it)` });
  } else {
    const type = f.publicKey?.split(' ')[0];
    if (type !== undefined && type !== 'ssh-ed25519') {
      throw new HoistError(`${key} on the host is a ${type} key, not ed25519: remove ${key} and ${key}.pub there and run again`);
    }
    if (f.publicKey === null) steps.push({ kind: 'make-key', describe: `write ${key}.pub from the private key` });
    else if (f.keyMode !== '600') steps.push({ kind: 'key-mode', describe: `chmod 600 ${key} (it is ${f.keyMode})` });
  }

  const configBefore = f.sshConfig ?? '';
  const configAfter = withSshBlock(configBefore, w.app, sshBlockLines(w));
  if (configAfter !== configBefore) {
    const verb = sshBlockOf(configBefore, w.app) === null ? 'add' : 'update';
    steps.push({
      kind: 'ssh-config',
      content: configAfter,
      describe: `${verb} the hoist:${w.app} block in ~/.ssh/config (Host ${w.alias}: ${w.repo.host} port ${w.repo.port}, key ${key}, StrictHostKeyChecking yes)`,
    });
  }
  if (!f.insteadOf.includes(w.repo.url)) {
    steps.push({ kind: 'git-url', describe: `make git reach ${w.repo.url} through ${w.alias} (url.insteadOf in ~/.gitconfig)` });
  }
  const missing = missingPins(w.pins, f.knownHosts);
  if (missing.length > 0) {
    steps.push({
      kind: 'pin-host-keys',
      lines: missing,
      describe: `pin ${missing.length} SSH host key${missing.length === 1 ? '' : 's'} of ${w.pins.lookupName} in ~/.ssh/known_hosts, from ${w.pins.source}`,
    });
  }

  if (steps.length === 0 && f.lsRemote.ok) {
    return { changes: false, reason: `deploy key for ${repoName(w)} in place and git ls-remote works` };
  }
  // A new key, or git reaching the forge differently, may need registering even if ls-remote
  // worked before (it may have used another key); registering checks before it adds.
  const accessMayChange = steps.some((s) => s.kind === 'make-key' || s.kind === 'ssh-config' || s.kind === 'git-url');
  if (!f.lsRemote.ok || accessMayChange) steps.push(registerStep(w, f.keyMode === null ? null : f.publicKey));
  steps.push({ kind: 'prove', describe: `prove access: git ls-remote ${w.repo.url} as ${w.user}` });
  return {
    changes: true,
    steps,
    ...(configAfter !== configBefore ? { files: [{ path: '~/.ssh/config', before: f.sshConfig, after: configAfter }] } : {}),
  };
}

function registerStep(w: DeployKeyWanted, publicKey: string | null): DeployKeyStep {
  const r = w.registration;
  if (r.kind === 'github-api') {
    return { kind: 'register', describe: `register the key as a read-only deploy key of ${repoName(w)} through GitHub's API (${r.apiUrl}), unless it already is` };
  }
  return { kind: 'register', describe: manualInstructions(w, publicKey ?? '(the new key, printed once generated)', r.page, r.waitMs) };
}

export function manualInstructions(w: DeployKeyWanted, publicKey: string, page: string | null, waitMs: number): string {
  const where = page ? ` at ${page}` : '';
  return `add this public key as a deploy key of ${repoName(w)}${where} (read access is enough): ${publicKey} — hoist waits up to ${Math.round(waitMs / 1000)}s for git ls-remote to work`;
}
