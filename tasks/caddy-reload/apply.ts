// Writing, validating and reloading Caddy's config so a bad config never reaches the running
// Caddy: files written, `caddy validate` on the whole config, reload only if valid; on any failure
// the files go back as the probe read them. Caddy is never restarted (that drops connections),
// and every reload first has the kernel keep the connections queued on Caddy's closing socket
// (commands.ts, keepQueuedConnections).
import { runChecked, type Executor } from '../../lib/exec/executor.ts';
import type { ApplyContext } from '../../lib/engine/task.ts';
import { CADDYFILE, caRootPath } from './caddyfile.ts';
import { dnsGate } from './dns-gate.ts';
import { MIGRATE_REQ_UNSET, makeSitesDir, reloadCaddy, removeFile, validateConfig } from './commands.ts';
import { caddyProbe, parseCaddyProbe } from './probe.ts';
import { CaddyError, type CaddyFact, type CaddyHostState, type CaddyStep, type CaddyWanted } from './types.ts';

type Ctx = ApplyContext<CaddyWanted, CaddyFact>;

export async function applyCaddy(exec: Executor, steps: CaddyStep[], ctx: Ctx): Promise<void> {
  const { wanted: w, before } = ctx;
  const written = { site: false, caddyfile: false, caRoot: false };
  // Before any file is written: a site Caddy would order certificates for needs DNS right first.
  if (steps.some((s) => s.kind === 'dns')) {
    ctx.progress('checking DNS before Caddy asks the CA for certificates');
    await dnsGate(ctx.input, ctx.progress);
  }
  ctx.progress('writing the new config');
  await runChecked(exec, makeSitesDir(), 'making the Caddy sites folder', { sudo: true });
  for (const step of steps) {
    if (step.kind === 'ca-root' && w.acme?.caRootPath) {
      written.caRoot = true;
      await exec.upload(w.acme.caRootPath, step.content, { mode: 0o644, owner: 'root:root', sudo: true });
    } else if (step.kind === 'site') {
      written.site = true;
      await exec.upload(w.sitePath, step.content, { mode: 0o644, owner: 'root:root', sudo: true });
    } else if (step.kind === 'import') {
      written.caddyfile = true;
      await exec.upload(CADDYFILE, step.content, caddyfileMode(before));
    }
  }
  ctx.progress('caddy validate');
  const check = await exec.exec(validateConfig(), { sudo: true });
  if (check.code !== 0) {
    await restore(exec, w, before, written);
    throw new CaddyError(`caddy validate rejected the new config, so Caddy was not reloaded and the previous files are back: ${caddyMessage(check.stderr)}`);
  }
  ctx.progress('caddy reload');
  // Only the CA root changed: the config text is the same, and Caddy skips such a reload.
  const reload = await exec.exec(reloadCaddy(written.caRoot && !written.site && !written.caddyfile), { sudo: true });
  if (reload.code !== 0) {
    await restore(exec, w, before, written);
    const again = await exec.exec(reloadCaddy(), { sudo: true });
    const then = again.code === 0 ? 'the previous files are back and reloaded' : `the previous files are back but reloading them failed too: ${caddyMessage(again.stderr)}`;
    throw new CaddyError(`caddy reload failed (${caddyMessage(reload.stderr)}); ${then}`);
  }
  if (reload.stdout.includes(MIGRATE_REQ_UNSET)) ctx.progress('net.ipv4.tcp_migrate_req could not be set to 1 here: a connection Caddy had queued but not yet accepted may have been reset by this reload');
}

/** Puts back what the probe saw, only where it differs now; reloads only if something did. */
export async function rollbackCaddy(exec: Executor, { wanted: w, before }: Ctx): Promise<void> {
  const now = parseCaddyProbe(await exec.exec(caddyProbe(w), { sudo: true }));
  const differs = { site: now.site !== before.site, caddyfile: now.caddyfile !== before.caddyfile, caRoot: now.caRoot !== before.caRoot };
  if (!differs.site && !differs.caddyfile && !differs.caRoot) return;
  await restore(exec, w, before, differs);
  await runChecked(exec, reloadCaddy(), 'reloading Caddy with the previous config', { sudo: true });
}

async function restore(exec: Executor, w: CaddyWanted, before: CaddyHostState, which: { site: boolean; caddyfile: boolean; caRoot: boolean }): Promise<void> {
  const root = caRootPath(w.app);
  if (which.caRoot) {
    if (before.caRoot === null) await runChecked(exec, removeFile(root), `removing ${root}`, { sudo: true });
    else await exec.upload(root, before.caRoot, { mode: 0o644, owner: 'root:root', sudo: true });
  }
  if (which.site) {
    if (before.site === null) await runChecked(exec, removeFile(w.sitePath), `removing ${w.sitePath}`, { sudo: true });
    else await exec.upload(w.sitePath, before.site, { mode: 0o644, owner: 'root:root', sudo: true });
  }
  if (which.caddyfile && before.caddyfile !== null) await exec.upload(CADDYFILE, before.caddyfile, caddyfileMode(before));
}

function caddyfileMode(s: CaddyHostState) {
  return { mode: parseInt(s.caddyfileMode, 8), owner: s.caddyfileOwner, sudo: true };
}

/** Caddy's own `Error: …` lines (its info logs dropped), else the last lines of stderr. */
export function caddyMessage(stderr: string): string {
  const errors = stderr.split('\n').filter((l) => l.startsWith('Error: '));
  const lines = errors.length ? errors : stderr.trim().split('\n').slice(-3);
  return lines.join(' | ').trim() || '(no message)';
}
