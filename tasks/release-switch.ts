// Makes the release that serves traffic the `current` one and retires the other slot: `current`
// is switched atomically (a new symlink renamed over the old), then the slot no longer in use
// is stopped once no request is in flight through it (at most DRAIN_TIMEOUT), and images of releases git-sync removed are deleted. Knows
// it already is when `current` names the active slot's release, the other slot runs nothing and
// every image left belongs to a release still on the host.
import { HoistError } from '../lib/errors.ts';
import { runChecked } from '../lib/exec/executor.ts';
import { defineTask, type Step } from '../lib/engine/task.ts';
import { sh, type Cmd } from '../lib/shell-quote.ts';
import { slotCommands, stopProject } from './docker-up/commands.ts';
import { DockerUnavailableError, dockerProblem } from './docker-up/docker-daemon.ts';
import { dockerUpProbe, dockerUpReads, parseDockerUpFact, type DockerUpFact } from './docker-up/probe.ts';
import type { SlotPorts } from '../lib/release/app-ports.ts';
import { explicitPorts, other, projectOf, type Slot } from './docker-up/slots.ts';
import { drainSummary, parseDrained, waitForRequests } from './release-switch/drain.ts';
import { imageRef } from './docker-up/image-name.ts';

export interface SwitchWanted {
  app: string;
  user: string;
  service: string;
  ports: SlotPorts | null;
  healthPath: string;
  composeFile: string | null;
  /** DRAIN_TIMEOUT in seconds. */
  drainSeconds: number;
}

type SwitchStep = Step & ({ kind: 'switch-current'; release: string } | { kind: 'retire-slot'; slot: Slot; live: string; port: number | null } | { kind: 'prune-images'; tags: string[] });

export const releaseSwitch = defineTask<SwitchWanted, DockerUpFact, SwitchStep>({
  name: 'release-switch',

  want({ host }) {
    const s = host.settings;
    return { app: s.appName, user: s.deployUser, service: s.appService, ports: explicitPorts(s), healthPath: s.healthPath, composeFile: s.composeFile ?? null, drainSeconds: Math.round(s.drainTimeoutMs / 1000) };
  },

  probe(w) {
    return { command: dockerUpProbe({ app: w.app, service: w.service, healthPath: w.healthPath, ports: w.ports }), reads: dockerUpReads(w.app), parse: (r) => parseDockerUpFact(r, w.app) };
  },

  plan(w, f) {
    // Without Docker no slot can be read: "runs no release" below would send the operator the wrong way.
    const docker = dockerProblem(f, w.user);
    if (docker) throw new DockerUnavailableError(docker);
    if (!f.active) throw new HoistError(`${w.app} has no active slot: docker-up did not bring a release up`);
    const live = f.containers.find((c) => c.slot === f.active && c.release)?.release;
    if (!live) throw new HoistError(`the ${f.active} slot of ${w.app} runs no release: docker-up did not bring it up`);
    const steps: SwitchStep[] = [];
    if (f.current !== live || f.pending) steps.push({ kind: 'switch-current', release: live, describe: `point current at ${live}` });
    const idle = other(f.active);
    if (f.containers.some((c) => c.slot === idle)) {
      const port = slotPort(w, f, idle);
      steps.push({ kind: 'retire-slot', slot: idle, live, port, describe: `stop the ${idle} slot once no request is in flight on it (at most ${w.drainSeconds} s)` });
    }
    // Images of releases whose folders are gone (pruned, or a failed release rolled back); the
    // live release's image is never among them.
    const stale = f.images.filter((tag) => !f.releases.includes(tag) && tag !== live);
    if (stale.length) steps.push({ kind: 'prune-images', tags: stale, describe: `remove ${stale.length} image(s) of releases no longer on the host` });
    if (!steps.length) return { changes: false, reason: `current is ${live}, served by the ${f.active} slot; nothing else runs` };
    return { changes: true, steps };
  },

  async apply(exec, steps, { wanted: w, progress, warn }) {
    for (const step of steps) {
      if (step.kind === 'switch-current') await runChecked(exec, switchCurrent(w.app, step.release), 'switching current');
      else if (step.kind === 'retire-slot') {
        const out = await runChecked(exec, retireSlot(w.app, step.slot, step.live, step.port, w.drainSeconds), `stopping the ${step.slot} slot`);
        const drained = parseDrained(out);
        // Requests cut at the switch outlast the scroll: the report's warnings keep them.
        if (drained) (drained.inFlight > 0 && warn ? warn : progress)(drainSummary(step.slot, step.port, w.drainSeconds, drained));
      }
      else await runChecked(exec, sh`docker rmi ${step.tags.map((t) => imageRef(w.app, w.service, t))} >/dev/null`, 'removing old images');
    }
  },

  /** current and pending as they were, and the retired slot running again (its images are kept). */
  async rollback(exec, { wanted: w, before }) {
    if (before.current) await runChecked(exec, switchCurrent(w.app, before.current), 'switching current back');
    if (before.pending) await runChecked(exec, sh`cd && printf '%s\\n' ${before.pending} > ${`apps/${w.app}/pending-release`}`, 'restoring pending-release');
    if (!before.active) return;
    const idle = other(before.active);
    const release = before.containers.find((c) => c.slot === idle && c.release)?.release;
    if (release) {
      const cmds = slotCommands({ app: w.app, slot: idle, release, composeFile: w.composeFile, compose: before.compose });
      await runChecked(exec, cmds.upNoBuild, `starting the ${idle} slot again`);
    }
  },
});

/**
 * The loopback port the slot's container publishes (what Docker says), else the one the
 * settings or the host's record give it; null when none is known (the drain then waits for nothing).
 */
function slotPort(w: SwitchWanted, f: DockerUpFact, slot: Slot): number | null {
  for (const [port, project] of f.ownPorts) if (project === projectOf(w.app, slot)) return port;
  return (w.ports ?? f.recordedPorts)?.[slot] ?? null;
}

/**
 * Stops the idle slot after the drain (drain.ts), only if this run is still there to see it and `current`
 * still names the release being kept. A connection lost during the drain leaves this command
 * running on the host (sshd does not stop it): once the run rolled back (current and Caddy back
 * on the old slot), stopping that slot after the drain would leave nothing serving (issue #6, the
 * release-switch fault test saw 502s). The drain's last `echo` fails (SIGPIPE or EPIPE) once
 * the session is gone, and the check on `current` catches a rollback that came in on a new
 * connection while the old session lingered.
 */
export function retireSlot(app: string, slot: Slot, live: string, port: number | null, drainSeconds: number): Cmd {
  return afterDrainIfLive(app, live, waitForRequests(port, drainSeconds), stopProject(app, slot), `the ${slot} slot is left running`);
}

/** `action` after `drain` (which ends by printing a line), if the session is still there and `current` still names `live`; else exit 3. */
export function afterDrainIfLive(app: string, live: string, drain: Cmd, action: Cmd, skipped: string): Cmd {
  const current = `apps/${app}/current`;
  return sh`cd && ${drain} && if [ "$(readlink ${current})" = ${`releases/${live}`} ]; then ${action}; else echo ${`current no longer names ${live} (the switch was undone): ${skipped}`} >&2; exit 3; fi`;
}

/** Atomic: a new link under a temporary name, renamed over `current` (rename(2) replaces it). */
function switchCurrent(app: string, release: string) {
  const root = `apps/${app}`;
  return sh`cd && ln -sfn ${`releases/${release}`} ${`${root}/.current.tmp`} && mv -fT ${`${root}/.current.tmp`} ${`${root}/current`} && rm -f ${`${root}/pending-release`}`;
}
