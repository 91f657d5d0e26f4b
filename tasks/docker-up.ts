// Makes the prepared release run and answer healthy on a blue/green slot, and points the app's
// active-slot at it; the slot that was live keeps running (release-switch retires it once
// traffic has moved). Knows it already is when the active slot runs that release, every
// container of it runs (healthy where checked) with the app's current .env, and HEALTH_PATH
// answers 2xx/3xx. Refuses, in words, a host whose Docker does not answer (before compose would,
// with a Python traceback). The slots' ports are the app's on this host: chosen once among what
// other apps and processes do not hold, recorded (lib/release/app-ports.ts), kept.
import { ConfigError, HoistError, RemoteCommandError } from '../lib/errors.ts';
import { runChecked } from '../lib/exec/executor.ts';
import { defineTask, type Step } from '../lib/engine/task.ts';
import { sh } from '../lib/shell-quote.ts';
import { retagImages, slotCommands, stopProject, waitHealthy, writeActiveSlot, type SlotCommand } from './docker-up/commands.ts';
import { prepareAppData } from './docker-up/app-data.ts';
import { appImageNameProblem, imageRepo, legacyImageRepo } from './docker-up/image-name.ts';
import { DockerUnavailableError, dockerProblem } from './docker-up/docker-daemon.ts';
import { dockerUpProbe, parseDockerUpFact, type DockerUpFact } from './docker-up/probe.ts';
import { slotProblem } from './docker-up/slot-health.ts';
import { checkBuildRoom, ranOutOfRoom } from './docker-up/disk.ts';
import { buildOutOfMemory, oomKilledServices, runOutOfMemoryNote, slotExitStates } from './docker-up/out-of-memory.ts';
import { checkPortFree, choosePorts, portsFile, portsRecord, type SlotPorts } from '../lib/release/app-ports.ts';
import { explicitPorts, other, overrideYaml, slotPaths, type Slot } from './docker-up/slots.ts';

export interface DockerUpWanted {
  app: string;
  /** Who runs compose (the deploy user): named when Docker is not open to it. */
  user: string;
  service: string;
  appPort: number;
  /** BLUE_PORT/GREEN_PORT, or null: the host's record, else a free pair chosen there. */
  ports: SlotPorts | null;
  /** APP_ENV_FILE is set: shared/.env goes into the app container's environment. */
  env: boolean;
  composeFile: string | null;
  healthPath: string;
  healthSeconds: number;
  /** BUILD_MIN_FREE in bytes; null: the rule in docker-up/disk.ts (1 GiB, or 1.5 × the live image). */
  buildMinFree: number | null;
  /** BUILD_MEMORY in bytes: the memory bound of the build; null: none. */
  buildMemory: number | null;
}

export interface DockerUpStep extends Step {
  /** Start `release` on `slot` (false: only record the ports the live slot already uses). */
  start: boolean;
  slot: Slot;
  release: string;
  /** False when the release's image is on the host already (a rollback): start it as it is. */
  build: boolean;
  ports: SlotPorts;
  /** Write apps/APP/ports first (the first release here, or BLUE_PORT/GREEN_PORT changed). */
  record: boolean;
  /** sha256 of shared/.env, handed to the container (env_file) and labelled; null: none. */
  envSha256: string | null;
  /** The app's images under hoist's old name, to re-tag first (tasks/docker-up/image-name.ts). */
  retag: { from: string; to: string }[];
}

export class UnhealthyReleaseError extends HoistError {}

export const dockerUp = defineTask<DockerUpWanted, DockerUpFact, DockerUpStep>({
  name: 'docker-up',

  want({ host }) {
    const s = host.settings;
    // The app's images are hoist/APP/SERVICE (docker-up/image-name.ts): Docker must accept APP there.
    const imageProblem = appImageNameProblem(s.appName);
    if (imageProblem) throw new ConfigError('APP_NAME', s.appName, imageProblem, 'set APP_NAME to lower case letters and digits joined by -, _ or __, not ending in - or _ (e.g. sentiment-api)');
    return {
      app: s.appName,
      user: s.deployUser,
      service: s.appService,
      appPort: s.appPort,
      ports: explicitPorts(s),
      env: Boolean(s.appEnvFile),
      composeFile: s.composeFile ?? null,
      healthPath: s.healthPath,
      healthSeconds: Math.round(s.healthTimeoutMs / 1000),
      buildMinFree: s.buildMinFree ?? null,
      buildMemory: s.buildMemory ?? null,
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
    const ports = choosePorts({ app: w.app, explicit: w.ports, recorded: f.recordedPorts, others: f.otherPorts, listening: f.listening, ownProjects: f.ownPorts });
    const record = !f.recordedPorts || f.recordedPorts.blue !== ports.blue || f.recordedPorts.green !== ports.green;
    const envSha256 = w.env ? f.envSha256 : null;
    const retag = f.legacy ?? [];
    const retagNote = retag.length ? `re-tag ${retag.length} image(s) of ${w.app} from the old name ${legacyImageRepo(w.app, w.service)} to ${imageRepo(w.app, w.service)}, then ` : '';
    if (f.active && servesHealthy(f, f.active, target, w.service, envSha256)) {
      const live = `release ${target} is live on the ${f.active} slot (127.0.0.1:${ports[f.active]}) and healthy`;
      if (!record && !retag.length) return { changes: false, reason: live };
      const recordNote = record ? `record the ports of ${w.app} (blue ${ports.blue}, green ${ports.green}) in ~/${portsFile(w.app)}; ` : '';
      const describe = `${retagNote}${recordNote}${live}`;
      return { changes: true, steps: [{ start: false, slot: f.active, release: target, build: false, ports, record, envSha256, retag, describe }] };
    }
    const slot = f.active ? other(f.active) : 'blue';
    checkPortFree({ app: w.app, listening: f.listening, ownProjects: f.ownPorts }, slot, ports[slot]);
    const build = !f.images.includes(target);
    // Before any compose command: a build that cannot fit is refused with the numbers and what could be pruned.
    if (build && f.disk) checkBuildRoom(f.disk, { app: w.app, service: w.service, release: target, live: (f.active && liveRelease(f, f.active, w.service)) || f.current, minFree: w.buildMinFree });
    const why = f.active && liveRelease(f, f.active, w.service) === target && envSha256 ? ' (its .env changed)' : '';
    return {
      changes: true,
      steps: [
        {
          start: true,
          slot,
          release: target,
          build,
          ports,
          record,
          envSha256,
          retag,
          describe: `${retagNote}${record ? `record ports blue ${ports.blue} / green ${ports.green}, then ` : ''}${build ? 'build and start' : 'start (image already built)'} ${target}${why} on the ${slot} slot (127.0.0.1:${ports[slot]}), wait until ${w.healthPath} answers (up to ${w.healthSeconds}s)`,
        },
      ],
    };
  },

  async apply(exec, steps, ctx) {
    const { wanted: w, before } = ctx;
    for (const step of steps) {
      if (step.retag.length) await runChecked(exec, retagImages(w.app, step.retag), `re-tagging the images of ${w.app} under hoist's new name`);
      if (step.record) await runChecked(exec, writePortsRecord(w.app, step.ports), `recording the ports in ~/${portsFile(w.app)}`);
      if (!step.start) continue;
      const port = step.ports[step.slot];
      const slotCmd: SlotCommand = { app: w.app, slot: step.slot, release: step.release, composeFile: w.composeFile, compose: before.compose, ...(w.buildMemory ? { buildMemory: w.buildMemory } : {}) };
      const paths = slotPaths(w.app);
      const env = step.envSha256 ? { path: `${before.home}/apps/${w.app}/shared/.env`, sha256: step.envSha256 } : null;
      await runChecked(exec, sh`cd && mkdir -p ${paths.dir}`, 'making the slots folder');
      // The app's volumes and stateful services first: the slot starts with its data in place.
      const data = await prepareAppData(exec, slotCmd, { service: w.service, seconds: w.healthSeconds }, before, ctx);
      const cmds = slotCommands({ ...slotCmd, services: data.slotServices });
      await exec.upload(`${before.home}/${paths.override(step.slot)}`, overrideYaml({ service: w.service, port, appPort: w.appPort, app: w.app, release: step.release, env, volumes: data.overrideLines }), { mode: 0o644 });
      ctx.progress(`building and starting ${step.release} on ${step.slot}`);
      const up = await exec.exec(step.build ? cmds.up : cmds.upNoBuild);
      if (up.code !== 0) {
        throw (
          ranOutOfRoom(up, before.disk, { app: w.app, release: step.release, live: before.current }) ??
          buildOutOfMemory(up, step.release, w.buildMemory ?? undefined) ??
          new RemoteCommandError(`docker compose up of ${step.release} on ${exec.label}`, up.code, up.stderr)
        );
      }
      ctx.progress(`waiting for ${step.release} on ${step.slot} to turn healthy`);
      const health = await exec.exec(waitHealthy(w.app, step.slot, port, w.healthPath, w.healthSeconds), { timeoutMs: (w.healthSeconds + 60) * 1000 });
      if (health.code !== 0) {
        const logs = await exec.exec(cmds.logs);
        const killed = oomKilledServices((await exec.exec(slotExitStates(w.app, step.slot))).stdout);
        await exec.exec(cmds.down);
        throw new UnhealthyReleaseError(
          `${step.release} did not turn healthy on the ${step.slot} slot (${health.stderr.trim()})${killed.length ? `: ${runOutOfMemoryNote(killed)}` : ''}; its containers are removed, the live release keeps serving. Last log lines:\n${logs.stdout.trim().split('\n').slice(-20).join('\n')}`,
        );
      }
      await runChecked(exec, writeActiveSlot(w.app, step.slot), 'recording the active slot');
    }
  },

  /** Traffic intent back to the old slot, the new slot's containers removed. */
  async rollback(exec, { wanted: w, before }) {
    await runChecked(exec, writePortsRecord(w.app, before.recordedPorts), `restoring ~/${portsFile(w.app)}`);
    await runChecked(exec, writeActiveSlot(w.app, before.active), 'restoring the active slot');
    const started = before.active ? other(before.active) : 'blue';
    await runChecked(exec, stopProject(w.app, started), `removing the ${started} slot's containers`);
  },
});

/** The slot runs `release`, started with the .env the host has now (when the app has one), healthy. */
function servesHealthy(f: DockerUpFact, slot: Slot, release: string, service: string, envSha256: string | null): boolean {
  const app = f.containers.find((c) => c.slot === slot && c.service === service);
  return app?.release === release && (envSha256 === null || app.env === envSha256) && slotProblem(f, slot, service) === null;
}

const liveRelease = (f: DockerUpFact, slot: Slot, service: string) => f.containers.find((c) => c.slot === slot && c.service === service)?.release;

/** apps/APP/ports written whole (tmp + mv), or removed when there was none before. */
function writePortsRecord(app: string, ports: SlotPorts | null) {
  const file = portsFile(app);
  if (!ports) return sh`cd && rm -f ${file}`;
  return sh`cd && mkdir -p ${`apps/${app}`} && printf '%s' ${portsRecord(ports)} > ${`${file}.tmp`} && mv -f ${`${file}.tmp`} ${file}`;
}
