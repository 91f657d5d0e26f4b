// Makes the release to go back to the pending one: `--to RELEASE`, or the release before
// `current` (by name, which is by time). docker-up, caddy-reload and release-switch then bring
// it up exactly as a release would, from its image already on the host (no build).
import { HoistError } from '../lib/errors.ts';
import { runChecked } from '../lib/exec/executor.ts';
import { defineTask, type Step } from '../lib/engine/task.ts';
import { hostSources, oneLineOfLink, readOneLine, releaseFromHost } from '../lib/release/host-value.ts';
import { appLayout, byAge, isReleaseName } from '../lib/release/layout.ts';
import { sh } from '../lib/shell-quote.ts';

export interface RollbackFact {
  releases: string[];
  current: string | null;
  pending: string | null;
}

type SelectStep = Step & { release: string };

export const rollbackSelect = defineTask<{ app: string }, RollbackFact, SelectStep>({
  name: 'rollback-select',
  retrySafe: true,

  want: ({ host }) => ({ app: host.settings.appName }),

  probe({ app }) {
    const L = appLayout(app);
    const from = hostSources(app);
    return {
      command: sh`cd && printf 'current=%s\\n' ${oneLineOfLink(L.current)}; ${readOneLine('pending', L.pending)}; printf 'pending=%.256s\\n' "$pending"; ls -1 ${L.releases} 2>/dev/null | sed 's/^/release /'`,
      parse(r) {
        const fact: RollbackFact = { releases: [], current: null, pending: null };
        for (const line of r.stdout.split('\n')) {
          if (line.startsWith('current=')) fact.current = releaseFromHost(line.slice(8), from.current);
          else if (line.startsWith('pending=')) fact.pending = releaseFromHost(line.slice(8), from.pending);
          else if (line.startsWith('release ') && isReleaseName(line.slice(8).trim())) fact.releases.push(line.slice(8).trim());
        }
        fact.releases = byAge(fact.releases);
        return fact;
      },
    };
  },

  plan(w, f, input) {
    const to = input?.shared?.rollbackTo;
    let target: string;
    if (typeof to === 'string') {
      if (!f.releases.includes(to)) throw new HoistError(`--to ${to}: no such release of ${w.app} on this host; it has ${f.releases.join(', ') || 'none'}`);
      target = to;
    } else {
      const at = f.current ? f.releases.indexOf(f.current) : -1;
      if (at <= 0) throw new HoistError(`no release of ${w.app} before ${f.current ?? '(no current release)'} to go back to; the host has ${f.releases.join(', ') || 'none'}`);
      target = f.releases[at - 1]!;
    }
    if (f.current === target && !f.pending) return { changes: false, reason: `current is ${target} already` };
    if (f.pending === target) return { changes: false, reason: `${target} is pending already` };
    return { changes: true, steps: [{ release: target, describe: `go back to ${target} (from ${f.current ?? 'none'})` }] };
  },

  async apply(exec, steps, { wanted }) {
    const L = appLayout(wanted.app);
    for (const step of steps) await runChecked(exec, sh`cd && printf '%s\\n' ${step.release} > ${L.pending}`, 'choosing the release to go back to');
  },

  async rollback(exec, { wanted, before }) {
    const L = appLayout(wanted.app);
    const restore = before.pending ? sh`cd && printf '%s\\n' ${before.pending} > ${L.pending}` : sh`cd && rm -f ${L.pending}`;
    await runChecked(exec, restore, 'restoring pending-release');
  },
});
