// `hoist unlock`: frees the deploy lock a run left behind (killed, or its machine gone), after
// saying whose it was, and records that in the host's audit log. It logs in like bootstrap does
// (the deploy user, else SSH_USER), which reaches every lock hoist takes.
import { EXIT } from '../errors.ts';
import { printable } from '../printable.ts';
import { SshExecutor } from '../exec/ssh-executor.ts';
import { auditLine } from '../engine/audit-log.ts';
import { breakCommand, describeHolder, newLockInfo, parseLockProbe } from '../engine/host-lock.ts';
import { executorOptions } from '../exec/executor-options.ts';
import type { UnlockArgs } from './args.ts';
import { mapLimit } from './map-limit.ts';
import { loadSelectedConfig } from './select-hosts.ts';

export async function runUnlock(args: UnlockArgs): Promise<number> {
  const config = loadSelectedConfig(args);
  const me = newLockInfo(`unlock-${Date.now()}`, 'unlock', null);
  const outcomes = await mapLimit(config.hosts, args.concurrency, async (host) => {
    const exec = new SshExecutor({ ...executorOptions(host, 'admin', args), requireSudo: false });
    try {
      await exec.connect();
      const r = parseLockProbe(await exec.exec(breakCommand(auditLine(me, 'unlocked'))));
      return { host: host.name, ok: true, text: r.heldBy ? `freed the lock held by ${describeHolder(r.heldBy)}` : 'was not locked' };
    } catch (e) {
      return { host: host.name, ok: false, text: `could not unlock: ${(e as Error).message}` };
    } finally {
      await exec.close();
    }
  });
  // The holder's record is the lock link's target, read from the host: shown escaped.
  for (const o of outcomes) process.stdout.write(`${o.host}: ${printable(o.text)}\n`);
  return outcomes.every((o) => o.ok) ? EXIT.ok : EXIT.taskFailed;
}
