// Makes the prepared release run and answer healthy on a blue/green slot, and points the app's
// active-slot at it; the slot that was live keeps running (release-switch retires it once
// traffic has moved). Knows it already is when the active slot runs that release, every
// container of it runs (healthy where checked) and HEALTH_PATH answers 2xx/3xx. Refuses, in
// words, a host whose Docker does not answer (before compose would, with a Python traceback).
import { HoistError } from '../lib/errors.ts';
import { runChecked } from '../lib/exec/executor.ts';
import { defineTask, type Step } from '../lib/engine/task.ts';
import { sh } from '../lib/shell-quote.ts';
import { slotCommands, stopProject, waitHealthy, writeActiveSlot } from './docker-up/commands.ts';
import { DockerUnavailableError, dockerProblem } from './docker-up/docker-daemon.ts';
import { dockerUpProbe, parseDockerUpFact, type DockerUpFact } from './docker-up/probe.ts';
import { slotProblem } from './docker-up/slot-health.ts';
import { other, overrideYaml, portOf, slotPaths, type Slot } from './docker-up/slots.ts';

export interface DockerUpWanted {
  app: string;
  /** Who runs compose (the deploy user): named when Docker is not open to it. */
  user: string;
  service: string;
  appPort: number;
  ports: Record<Slot, number>;
  composeFile: string | null;
  healthPath: string;
  healthSeconds: number;
}

export interface DockerUpStep extends Step {
  slot: Slot;
  release: string;
  /** False when the release's image is on the host already (a rollback): start it as it is. */
  build: boolean;
}

export class UnhealthyReleaseError extends HoistError {}

export const dockerUp = defineTask<DockerUpWanted, DockerUpFact, DockerUpStep>({
  name: 'docker-up',

  want({ host }) {
    const s = host.settings;
    return {
      app: s.appName,
      user: s.deployUser,
      service: s.appService,
      appPort: s.appPort,
      ports: { blue: portOf('blue', s), green: portOf('green', s) },
      composeFile: s.composeFile ?? null,
      healthPath: s.healthPath,
      healthSeconds: Math.round(s.healthTimeoutMs / 1000),
    };
  },

  probe(w) {
    return { command: dockerUpProbe({ app: w.app, service: w.service, healthPath: w.healthPath, ports: w.ports }), parse: (r) => parseDockerUpFact(r, w.app) };
  },

  plan(w, f) {
    const docker = dockerProblem(f, w.user);
    if (docker) throw new DockerUnavailableError(docker);
    const target = f.pending ?? f.current;
    if (!target) throw new HoistError(`no release of ${w.app} on the host: git-sync prepares one (run the release pipeline)`);
    if (f.compose === 'none') throw new HoistError('neither docker compose nor docker-compose is installed: run the bootstrap pipeline');
    if (f.active && servesHealthy(f, f.active, target, w.service)) {
      return { changes: false, reason: `release ${target} is live on the ${f.active} slot (127.0.0.1:${w.ports[f.active]}) and healthy` };
    }
    const slot = f.active ? other(f.active) : 'blue';
    const build = !f.images.includes(target);
    return {
      changes: true,
      steps: [{ slot, release: target, build, describe: `${build ? 'build and start' : 'start (image already built)'} ${target} on the ${slot} slot (127.0.0.1:${w.ports[slot]}), wait until ${w.healthPath} answers (up to ${w.healthSeconds}s)` }],
    };
  },

  async apply(exec, steps, ctx) {
    const { wanted: w, before } = ctx;
    for (const step of steps) {
      const cmds = slotCommands({ app: w.app, slot: step.slot, release: step.release, composeFile: w.composeFile, compose: before.compose });
      const paths = slotPaths(w.app);
      await runChecked(exec, sh`cd && mkdir -p ${paths.dir}`, 'making the slots folder');
      await exec.upload(`${before.home}/${paths.override(step.slot)}`, overrideYaml({ service: w.service, port: w.ports[step.slot], appPort: w.appPort, app: w.app, release: step.release }), { mode: 0o644 });
      ctx.progress(`building and starting ${step.release} on ${step.slot}`);
      await runChecked(exec, step.build ? cmds.up : cmds.upNoBuild, `docker compose up of ${step.release}`);
      ctx.progress(`waiting for ${step.release} on ${step.slot} to turn healthy`);
      const health = await exec.exec(waitHealthy(w.app, step.slot, w.ports[step.slot], w.healthPath, w.healthSeconds), { timeoutMs: (w.healthSeconds + 60) * 1000 });
      if (health.code !== 0) {
        const logs = await exec.exec(cmds.logs);
        await exec.exec(cmds.down);
        throw new UnhealthyReleaseError(
          `${step.release} did not turn healthy on the ${step.slot} slot (${health.stderr.trim()}); its containers are removed, the live release keeps serving. Last log lines:\n${logs.stdout.trim().split('\n').slice(-20).join('\n')}`,
        );
      }
      await runChecked(exec, writeActiveSlot(w.app, step.slot), 'recording the active slot');
    }
  },

  /** Traffic intent back to the old slot, the new slot's containers removed. */
  async rollback(exec, { wanted: w, before }) {
    await runChecked(exec, writeActiveSlot(w.app, before.active), 'restoring the active slot');
    const started = before.active ? other(before.active) : 'blue';
    await runChecked(exec, stopProject(w.app, started), `removing the ${started} slot's containers`);
  },
});

function servesHealthy(f: DockerUpFact, slot: Slot, release: string, service: string): boolean {
  const app = f.containers.find((c) => c.slot === slot && c.service === service);
  return app?.release === release && slotProblem(f, slot, service) === null;
}
