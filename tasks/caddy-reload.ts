// Makes Caddy reverse-proxy the app's domain(s) to the app's active loopback port, from its own
// site file (/etc/caddy/sites/hoist-APP.caddy) imported by the main Caddyfile. Every change is
// validated by Caddy before any reload; other sites on the same Caddy are left alone.
//
// Debian's default Caddyfile (`:80` with a file_server) is kept as it is: a site block for a
// domain takes precedence over the `:80` catch-all for that host name, other names still get it.
import { fail } from '../lib/config/settings.ts';
import { VerifyError } from '../lib/errors.ts';
import { defineTask, type TaskInput } from '../lib/engine/task.ts';
import { applyCaddy, caddyMessage, rollbackCaddy } from './caddy-reload/apply.ts';
import { sitePath } from './caddy-reload/caddyfile.ts';
import { httpCheck } from './caddy-reload/commands.ts';
import { planCaddy } from './caddy-reload/plan.ts';
import { portOfActiveSlot, type PortSource } from './caddy-reload/port.ts';
import { caddyProbe, parseCaddyProbe } from './caddy-reload/probe.ts';
import { CaddyError, type CaddyFact, type CaddyStep, type CaddyWanted } from './caddy-reload/types.ts';

export type { PortInput, PortSource } from './caddy-reload/port.ts';
export type { CaddyFact, CaddyStep, CaddyWanted } from './caddy-reload/types.ts';

/** caddy-reload with the port from `getPort`, asked at probe time (after earlier tasks applied). */
export function caddyReloadFor(getPort: PortSource) {
  const factOf = (r: Parameters<typeof parseCaddyProbe>[0], input: TaskInput): CaddyFact => {
    const state = parseCaddyProbe(r);
    const port = getPort({ ...input, activeSlot: state.activeSlot, recordedPorts: state.recordedPorts });
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CaddyError(`the port source gave ${port}, not a port number`);
    return { ...state, port };
  };

  return defineTask<CaddyWanted, CaddyFact, CaddyStep>({
    name: 'caddy-reload',
    // Apply converges: written again, validated again, and a reload of an unchanged config is a no-op.
    retrySafe: true,

    want({ host }) {
      const s = host.settings;
      if (s.domains.length === 0) throw fail('APP_DOMAIN', undefined, 'is empty; caddy-reload needs the domain(s) Caddy serves the app at');
      return { app: s.appName, deployUser: s.deployUser, domains: s.domains, tls: s.caddyTls, extra: s.caddyExtra, sitePath: sitePath(s.appName) };
    },

    probe(w, input) {
      return { command: caddyProbe(w), sudo: true, parse: (r) => factOf(r, input) };
    },

    plan: planCaddy,
    apply: applyCaddy,
    rollback: rollbackCaddy,

    /** The host probed again must need nothing, and Caddy must answer for every domain. */
    async verify(exec, ctx) {
      const { wanted: w, input } = ctx;
      const again = planCaddy(w, factOf(await exec.exec(caddyProbe(w), { sudo: true }), input));
      if (again.changes) throw new VerifyError(`after applying, Caddy's files still differ: ${again.steps.map((s) => s.describe).join('; ')}`);
      const r = await exec.exec(httpCheck(w.domains, w.tls), { sudo: true });
      if (r.code !== 0) throw new VerifyError(`Caddy was reloaded but does not answer: ${caddyMessage(r.stderr)}`);
    },
  });
}

/** The port of the slot named in ~DEPLOY_USER/apps/APP/active-slot (blue when there is none). */
export const caddyReload = caddyReloadFor(portOfActiveSlot);
