// How hoist logs in to a host: the SSH targets (the deploy user, or for 'admin' the deploy user
// then SSH_USER), the jump host, timeouts, sudo. Used by the engine and by the commands that
// connect without it (status, unlock, logs, exec, ssh), which so need not load the engine (listr2).
import { readFileSync } from 'node:fs';
import type { HostConfig } from '../config/load-config.ts';
import type { Login } from '../engine/task.ts';
import type { SshTarget } from '../ssh/connect.ts';
import type { SshExecutorOptions } from './ssh-executor.ts';

export function executorOptions(host: HostConfig, login: Login, opts: { acceptNew: boolean }): SshExecutorOptions {
  const s = host.settings;
  const base = {
    privateKey: readFileSync(s.sshKeyPath),
    ...(s.sshKeyPassphrase ? { passphrase: s.sshKeyPassphrase } : {}),
    knownHostsPath: s.knownHostsPath,
    acceptNew: opts.acceptNew,
    connectTimeoutMs: s.connectTimeoutMs,
  };
  const as = (user: string): SshTarget => ({ ...base, host: host.address, port: s.sshPort, user });
  const jump: SshTarget | undefined = s.jump ? { ...base, host: s.jump.host, port: s.jump.port, user: s.jump.user } : undefined;
  // 'admin' tries the deploy user first: once bootstrapped, the provider's root login is off.
  const targets = login === 'admin' && s.deployUser !== s.sshUser ? [as(s.deployUser), as(s.sshUser)] : [as(s.deployUser)];
  return { targets, ...(jump ? { jump } : {}), commandTimeoutMs: s.commandTimeoutMs, requireSudo: login === 'admin' };
}
