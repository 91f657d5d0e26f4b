// Makes the prepared release run and answer healthy on a blue/green slot, and points the app's
// active-slot at it; the slot that was live keeps running (release-switch retires it once
// traffic has moved). Knows it already is when the active slot runs that release, every
// container of it runs (healthy where checked) with the app's current .env, and HEALTH_PATH
// answers 2xx/3xx. Refuses, in words, a host whose Docker does not answer (before compose would,
// with a Python traceback). The slots' ports are the app's on this host: chosen once among what
// other apps and processes do not hold, recorded (lib/release/app-ports.ts), kept.
import { ConfigError, HoistError, RemoteCommandError } from '../lib/errors.ts';
import { runChecked } from '../lib/exec/executor.ts';
import { defineTask, type ApplyContext, type Plan, type Step, type TaskInput } from '../lib/engine/task.ts';
import type { Executor } from '../lib/exec/executor.ts';
import { isReleaseName, parseReleaseName, SHORT_SHA } from '../lib/release/layout.ts';
import { releaseTargetOf } from '../lib/release/target.ts';
import { sh } from '../lib/shell-quote.ts';
import { retagImages, slotCommands, stopProject, waitHealthy, watchFile, writeActiveSlot, type SlotCommand } from './docker-up/commands.ts';
import { prepareAppData } from './docker-up/app-data.ts';
import { appImageNameProblem, imageRef, imageRepo, legacyImageRepo } from './docker-up/image-name.ts';
import { DockerUnavailableError, dockerProblem } from './docker-up/docker-daemon.ts';
import { dockerUpProbe, dockerUpReads, parseDockerUpFact, type DockerUpFact } from './docker-up/probe.ts';
import { slotProblem } from './docker-up/slot-health.ts';
import { checkBuildRoom, ranOutOfRoom } from './docker-up/disk.ts';
import { releasePhaseDue, runReleasePhase } from './docker-up/release-phase.ts';
import { buildOutOfMemory, oomKilledServices, runOutOfMemoryNote, slotExitStates } from './docker-up/out-of-memory.ts';
import { checkPortFree, choosePorts, portsFile, portsRecord, type SlotPorts } from '../lib/release/app-ports.ts';
import { explicitPorts, other, overrideYaml, slotPaths, type Slot } from './docker-up/slots.ts';
import type { ShipImage } from '../lib/ship/layers.ts';
import { shipImage } from '../lib/ship/ship-image.ts';
import { pullOnHost, type PushedImage } from '../lib/ship/registry.ts';

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
  /** RELEASE_COMMAND (docker-up/release-phase.ts); null: none, and always in the rollback pipeline. */
  releaseCommand: string | null;
  /** BUILD: where images are built; with local, the release pipeline's prepare built it here (input.shared.ship). */
  buildWhere: 'host' | 'local' | 'registry';
  commandTimeoutMs: number;
  /** ~/apps/APP/watch for the host's watchdog (commands.ts watchFile), written with the active slot. */
  watch: string;
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
  /** BUILD=local: the image is shipped from here (lib/ship/) instead of built; the host never builds. */
  ship: boolean;
  ports: SlotPorts;
  /** Write apps/APP/ports first (the first release here, or BLUE_PORT/GREEN_PORT changed). */
  record: boolean;
  /** sha256 of shared/.env, handed to the container (env_file) and labelled; null: none. */
  envSha256: string | null;
  /** The app's images under hoist's old name, to re-tag first (tasks/docker-up/image-name.ts). */
  retag: { from: string; to: string }[];
  /** RELEASE_COMMAND to run in a one-off container of the release before its slot starts; null: not this time. */
  releaseCommand: string | null;
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
      releaseCommand: s.releaseCommand ?? null,
      buildWhere: s.build,
      commandTimeoutMs: s.commandTimeoutMs,
      buildMemory: s.buildMemory ?? null,
      watch: watchFile(s.healthPath, s.caddyTls === 'off' ? [] : s.domains),
    };
  },

  probe(w) {
    return { command: dockerUpProbe({ app: w.app, service: w.service, healthPath: w.healthPath, ports: w.ports }), reads: dockerUpReads(w.app), parse: (r) => parseDockerUpFact(r, w.app) };
  },

  plan(w, f, input) {
    const docker = dockerProblem(f, w.user);
    if (docker) throw new DockerUnavailableError(docker);
    const coming = comingRelease(f, input);
    if (coming) return coming(w);
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
      return { changes: true, steps: [{ start: false, slot: f.active, release: target, build: false, ship: false, ports, record, envSha256, retag, releaseCommand: null, describe }] };
    }
    const slot = f.active ? other(f.active) : 'blue';
    checkPortFree({ app: w.app, listening: f.listening, ownProjects: f.ownPorts }, slot, ports[slot]);
    const missing = !f.images.includes(target);
    // BUILD=local: the image missing here is shipped (its room checked against its missing layers), never built.
    const ship = missing && w.buildWhere !== 'host';
    if (ship && !shippable(input)) throw new HoistError(`the image of ${target} is not on the host, and BUILD=${w.buildWhere} does not build on hosts: release it with the release pipeline (which builds it here and ships it), or set BUILD=host`);
    const build = missing && !ship;
    // Before any compose command: a build that cannot fit is refused with the numbers and what could be pruned.
    if (build && f.disk) checkBuildRoom(f.disk, { app: w.app, service: w.service, release: target, live: (f.active && liveRelease(f, f.active, w.service)) || f.current, minFree: w.buildMinFree });
    const why = f.active && liveRelease(f, f.active, w.service) === target && envSha256 ? ' (its .env changed)' : '';
    const releaseCommand = releasePhaseDue(w.releaseCommand, target, f.releaseRan ?? null) ? w.releaseCommand : null;
    const phase = releaseCommand ? `run the release command (RELEASE_COMMAND: ${releaseCommand}) in a one-off container of ${target}, then ` : '';
    const notAgain = w.releaseCommand && !releaseCommand ? ` (the release command is not run: ${f.releaseRan === target ? 'it ran for this release already' : `it last ran for ${f.releaseRan}, a newer release`})` : '';
    return {
      changes: true,
      steps: [
        {
          start: true,
          slot,
          release: target,
          build,
          ship,
          ports,
          record,
          envSha256,
          retag,
          releaseCommand,
          describe: `${retagNote}${record ? `record ports blue ${ports.blue} / green ${ports.green}, then ` : ''}${ship ? `${w.buildWhere === 'registry' ? 'pull the image pushed from here' : 'ship the image built here'}, then ` : ''}${releaseCommand ? `${build ? 'build' : ship ? 'take' : 'take (image already built)'} ${target}${why}, ${phase}start it` : `${build ? 'build and start' : ship ? 'start' : 'start (image already built)'} ${target}${why}`} on the ${slot} slot (127.0.0.1:${ports[slot]}), wait until ${w.healthPath} answers (up to ${w.healthSeconds}s)${notAgain}`,
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
      if (!isReleaseName(step.release)) throw new HoistError(`no release of ${w.app} is prepared on ${exec.label}: git-sync prepares one (run the release pipeline)`);
      // The image first (BUILD=local/registry): a transfer that fails leaves the app's data and slots untouched.
      if (step.ship) await bringImage(exec, imageRef(w.app, w.service, step.release), ctx, w);
      const port = step.ports[step.slot];
      const slotCmd: SlotCommand = { app: w.app, slot: step.slot, release: step.release, composeFile: w.composeFile, compose: before.compose, ...(w.buildMemory ? { buildMemory: w.buildMemory } : {}) };
      const paths = slotPaths(w.app);
      const env = step.envSha256 ? { path: `${before.home}/apps/${w.app}/shared/.env`, sha256: step.envSha256 } : null;
      await runChecked(exec, sh`cd && mkdir -p ${paths.dir}`, 'making the slots folder');
      // The app's volumes and stateful services first: the slot starts with its data in place.
      const data = await prepareAppData(exec, slotCmd, { service: w.service, seconds: w.healthSeconds }, before, ctx);
      const cmds = slotCommands({ ...slotCmd, services: data.slotServices });
      await exec.upload(`${before.home}/${paths.override(step.slot)}`, overrideYaml({ service: w.service, port, appPort: w.appPort, app: w.app, release: step.release, env, volumes: data.overrideLines }), { mode: 0o644 });
      let build = step.build;
      if (step.releaseCommand) {
        // Built first, then the release phase, then the slot starts from the built image.
        if (build) {
          ctx.progress(`building ${step.release}`);
          const built = await exec.exec(cmds.build);
          if (built.code !== 0) throw ranOutOfRoom(built, before.disk, { app: w.app, release: step.release, live: before.current }) ?? buildOutOfMemory(built, step.release, w.buildMemory ?? undefined) ?? new RemoteCommandError(`docker compose build of ${step.release} on ${exec.label}`, built.code, built.stderr);
          build = false;
        }
        await runReleasePhase(exec, { ...slotCmd, services: data.slotServices }, { service: w.service, command: step.releaseCommand, noDeps: data.slotServices !== undefined }, ctx);
      }
      ctx.progress(`${build ? 'building and starting' : 'starting'} ${step.release} on ${step.slot}`);
      const up = await exec.exec(build ? cmds.up : cmds.upNoBuild);
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
      await runChecked(exec, writeActiveSlot(w.app, step.slot, w.watch), 'recording the active slot');
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

/**
 * A dry run of the release pipeline: git-sync has not prepared the commit yet (no pending release,
 * `current` another commit), so this host's view alone would say "live already". What the run
 * would do instead, from the commit the pipeline resolved: start it on the idle slot, after its
 * release phase when RELEASE_COMMAND is set (a new release is newer than any it ran for). In a real
 * run git-sync has written pending-release by now, so this never plans an apply.
 */
function comingRelease(f: DockerUpFact, input: TaskInput | undefined): ((w: DockerUpWanted) => Plan<DockerUpStep>) | null {
  const next = input ? releaseTargetOf(input) : null;
  if (!next || f.pending || (f.current && parseReleaseName(f.current)?.shortSha === next.sha.slice(0, SHORT_SHA))) return null;
  return (w) => {
    const slot = f.active ? other(f.active) : 'blue';
    const name = `the release of ${next.sha.slice(0, SHORT_SHA)} (${next.ref}) git-sync prepares`;
    // BUILD=local/registry: the pipeline's prepare builds it here; the host gets the image, never builds.
    const how = w.buildWhere === 'host' ? 'build' : w.buildWhere === 'registry' ? 'pull (pushed from here) the image of' : 'ship (built here) the image of';
    const phase = w.releaseCommand ? `, run the release command (RELEASE_COMMAND: ${w.releaseCommand}) in a one-off container of it` : '';
    const ports = f.recordedPorts ?? w.ports;
    const where = ports ? ` (127.0.0.1:${ports[slot]})` : '';
    return {
      changes: true,
      steps: [{ start: true, slot, release: '', build: w.buildWhere === 'host', ship: w.buildWhere !== 'host', ports: ports ?? { blue: 0, green: 0 }, record: false, envSha256: null, retag: [], releaseCommand: w.releaseCommand, describe: `${how} ${name}${phase}, start it on the ${slot} slot${where}, wait until ${w.healthPath} answers (up to ${w.healthSeconds}s)` }],
    };
  };
}

/** The image the release pipeline built here (BUILD=local: its layers; registry: where it was pushed), or null. */
const shippable = (input: TaskInput | undefined): ShipImage | PushedImage | null => (input?.shared?.ship as ShipImage | undefined) ?? (input?.shared?.pushed as PushedImage | undefined) ?? null;

/** BUILD=local: the missing layers travel over this connection; registry: the host pulls (the password on stdin). */
async function bringImage(exec: Executor, tag: string, ctx: ApplyContext<DockerUpWanted, DockerUpFact>, w: DockerUpWanted): Promise<void> {
  const from = shippable(ctx.input)!;
  if ('layers' in from) {
    await shipImage(exec, w.app, from, tag, { progress: ctx.progress, ...(ctx.note ? { note: ctx.note } : {}), commandTimeoutMs: w.commandTimeoutMs });
    return;
  }
  ctx.progress(`pulling ${from.ref}`);
  await runChecked(exec, pullOnHost(from, tag), `pulling ${from.ref}`, { stdin: ctx.input.host.settings.registry?.password ?? '', timeoutMs: Math.max(w.commandTimeoutMs, 3_600_000) });
  ctx.note?.(`image ${tag}: pulled from ${from.registry}`);
}

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

/**
 * docker-up of the rollback pipeline: an earlier release goes back onto the data as it is, its
 * release command is never run (it ran when that release was new; a rollback must not migrate
 * the data back or again). README "Apps with data": migrations must be backward compatible.
 */
export const dockerUpOfRollback = defineTask<DockerUpWanted, DockerUpFact, DockerUpStep>({
  ...dockerUp,
  async want(input) {
    return { ...(await dockerUp.want(input)), releaseCommand: null };
  },
  plan(w, f, input) {
    const plan = dockerUp.plan(w, f, input);
    if (!plan.changes || !input?.host.settings.releaseCommand) return plan;
    return { ...plan, steps: plan.steps.map((st) => (st.start ? { ...st, describe: `${st.describe} (a rollback does not run RELEASE_COMMAND)` } : st)) };
  },
});
