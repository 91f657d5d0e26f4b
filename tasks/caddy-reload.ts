// Makes Caddy reverse-proxy the app's domain(s) to the app's active loopback port, from its own
// site file (/etc/caddy/sites/hoist-APP.caddy) imported by the main Caddyfile. Every change is
// validated by Caddy before any reload; other sites on the same Caddy are left alone.
//
// Debian's default Caddyfile (`:80` with a file_server) is kept as it is: a site block for a
// domain takes precedence over the `:80` catch-all for that host name, other names still get it.
//
// CADDY_TLS=auto: DNS is checked before a site that makes Caddy order certificates is written
// (dns-gate.ts), and the change is verified only once https://DOMAIN answers HEALTH_PATH with a
// certificate for that domain (and only the app's domains) and http:// redirects to https://. A
// CA that refuses or cannot be reached fails the task with Caddy's own reason (its log), and the
// previous site is put back: the live release keeps its certificate, or plain HTTP if it had none.
import { readFileSync } from 'node:fs';
import { fail } from '../lib/config/settings.ts';
import { VerifyError } from '../lib/errors.ts';
import type { Settings } from '../lib/config/settings.ts';
import type { Executor } from '../lib/exec/executor.ts';
import { defineTask, type TaskInput } from '../lib/engine/task.ts';
import { applyCaddy, caddyMessage, rollbackCaddy } from './caddy-reload/apply.ts';
import { caRootPath, sitePath } from './caddy-reload/caddyfile.ts';
import { caddyLogTail, certificateCheck, obtainErrors, parseCertificateCheck, servingProblems } from './caddy-reload/certificate.ts';
import { httpCheck } from './caddy-reload/commands.ts';
import { planCaddy } from './caddy-reload/plan.ts';
import { portOfActiveSlot, type PortSource } from './caddy-reload/port.ts';
import { caddyProbe, caddyReads, parseCaddyProbe } from './caddy-reload/probe.ts';
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
      const base: CaddyWanted = { app: s.appName, deployUser: s.deployUser, domains: s.domains, tls: s.caddyTls, extra: s.caddyExtra, sitePath: sitePath(s.appName) };
      // ACME_* only mean something when Caddy gets certificates itself.
      if (s.caddyTls !== 'auto' || (!s.acmeEmail && !s.acmeCa)) return base;
      const caRoot = s.acmeCa && s.acmeCaRoot ? readFileSync(s.acmeCaRoot, 'utf8') : undefined;
      return {
        ...base,
        acme: { ...(s.acmeEmail ? { email: s.acmeEmail } : {}), ...(s.acmeCa ? { ca: s.acmeCa } : {}), ...(caRoot !== undefined ? { caRootPath: caRootPath(s.appName) } : {}) },
        ...(caRoot !== undefined ? { caRoot } : {}),
      };
    },

    probe(w, input) {
      // No sudo: the probe reads Caddy's files as the login user and uses `sudo -n` only for one
      // it cannot read (probe.ts), so a no-op release costs the host no sudo session.
      return { command: caddyProbe(w), reads: caddyReads(), parse: (r) => factOf(r, input) };
    },

    plan: planCaddy,
    apply: applyCaddy,
    rollback: rollbackCaddy,

    /** The host probed again must need nothing, and Caddy must answer for every domain. */
    async verify(exec, ctx) {
      const { wanted: w, input } = ctx;
      const again = planCaddy(w, factOf(await exec.exec(caddyProbe(w)), input));
      if (again.changes) throw new VerifyError(`after applying, Caddy's files still differ: ${again.steps.map((s) => s.describe).join('; ')}`);
      if (w.tls === 'auto') return waitForCertificates(exec, w, input.host.settings, ctx.progress);
      const r = await exec.exec(httpCheck(w.domains, w.tls), { sudo: true });
      if (r.code !== 0) throw new VerifyError(`Caddy was reloaded but does not answer: ${caddyMessage(r.stderr)}`);
    },
  });
}

/**
 * Under CADDY_TLS=auto: https://DOMAIN must answer HEALTH_PATH with its certificate, within
 * HEALTH_TIMEOUT. Caddy's first `tls.obtain` error since the reload ends the wait at once, with
 * Caddy's words (Caddy itself would only try again a minute later).
 */
async function waitForCertificates(exec: Executor, w: CaddyWanted, s: Settings, progress: (m: string) => void): Promise<void> {
  const deadline = Date.now() + s.healthTimeoutMs;
  for (;;) {
    const r = await exec.exec(certificateCheck(w.domains, s.healthPath));
    const problems = servingProblems(parseCertificateCheck(r.stdout, w.domains), w.domains);
    if (problems.length === 0) return;
    progress(`waiting for Caddy's certificates: ${problems.join('; ')}`);
    const log = await exec.exec(caddyLogTail(), { sudo: true });
    // With Caddy's default issuers, a failure at the first (Let's Encrypt) is followed by ZeroSSL.
    const reasons = log.code === 0 ? obtainErrors(log.stdout, w.domains, { finalOnly: !w.acme?.ca }) : [];
    if (reasons.length > 0) {
      const ca = w.acme?.ca ?? "Caddy's default CAs";
      throw new VerifyError(`Caddy could not get a certificate from ${ca}: ${reasons.map((e) => `${e.domain}: ${e.error}`).join('; ')} (Caddy's log). The previous site is put back.`);
    }
    if (Date.now() >= deadline) {
      const logNote = log.code === 0 ? '' : ` (Caddy's log could not be read: ${caddyMessage(log.stderr)})`;
      throw new VerifyError(`https is not served within HEALTH_TIMEOUT (${s.healthTimeoutMs / 1000}s): ${problems.join('; ')}${logNote}`);
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
}

/** The port of the slot named in ~DEPLOY_USER/apps/APP/active-slot (blue when there is none). */
export const caddyReload = caddyReloadFor(portOfActiveSlot);
