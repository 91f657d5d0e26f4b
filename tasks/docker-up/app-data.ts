// Before a slot starts: the app's data in place (issue #18). One round trip reads the release's
// compose configuration and what the host keeps of the app's data; then the volumes the app
// gets for the first time are made (volumes.ts), its shared network, and its stateful services
// are started or brought to the release's definition in their own project (stateful.ts). What
// it returns goes into the slot's override and compose command.
//
// Runs only when a slot is about to start (never in a no-op release). Not undone by docker-up's
// rollback: a volume made here is empty or is the app's data, the record says which volume is
// the app's data, and a stateful service is not the release's to stop.
import { HoistError, RemoteCommandError } from '../../lib/errors.ts';
import { runChecked, type Executor } from '../../lib/exec/executor.ts';
import { byAge } from '../../lib/release/layout.ts';
import { releaseFromHost, type HostSource } from '../../lib/release/host-value.ts';
import { sh } from '../../lib/shell-quote.ts';
import { PART_END, releaseVolumesProbe, stateUp, type SlotCommand } from './commands.ts';
import type { DockerUpFact } from './probe.ts';
import { projectOf, slotPaths } from './slots.ts';
import { createNetworkCommand, networkOverrideYaml, planStateful, stateOverrideYaml, stateProject, stateReleaseFile, waitStateRunning } from './stateful.ts';
import { checkPublishedPorts } from './published-ports.ts';
import { applyVolumesCommand, parseDriverOpts, parseVolumesRecord, planVolumes, readComposeConfig, volumesFile, volumesOverrideYaml } from './volumes.ts';

export interface AppData {
  /** Top-level override lines: the pinned volumes and, with stateful services, the shared network. */
  overrideLines: string[];
  /** The slot's services when some run once outside it; undefined: all of them. */
  slotServices: string[] | undefined;
}

interface Ctx {
  progress(message: string): void;
  warn?(message: string): void;
}

/** The yaml package loads only here, when a slot starts (a run that starts nothing never pays for it). */
async function parseYaml(text: string): Promise<unknown> {
  const { parse } = await import('yaml');
  try {
    return parse(text);
  } catch (e) {
    throw new HoistError(`could not read the release's compose configuration (${(e as Error).message.split('\n')[0]})`);
  }
}

export async function prepareAppData(exec: Executor, c: SlotCommand, o: { service: string; seconds: number }, before: DockerUpFact, ctx: Ctx): Promise<AppData> {
  const r = await exec.exec(releaseVolumesProbe(c, volumesFile(c.app), stateReleaseFile(c.app)));
  if (r.code !== 0) throw new RemoteCommandError(`reading the compose configuration of ${c.release} on ${exec.label}`, r.code, r.stderr);
  const [record = '', stateRelease = '', names = '', options = '', ...config] = r.stdout.split(`${PART_END}\n`);
  const release = readComposeConfig(await parseYaml(config.join(`${PART_END}\n`)), projectOf(c.app, c.slot), `${before.home}/apps/${c.app}/releases/${c.release}`);
  // Every check and plan before anything is made: a refused compose file changes nothing on the host.
  const portNotes = checkPublishedPorts(release.services, o.service);
  const stateful = planStateful(release, o.service);
  const volumes = planVolumes({ app: c.app, active: before.active, release, record: parseVolumesRecord(record), existing: new Set(names.split('\n').map((n) => n.trim()).filter(Boolean)), driverOpts: parseDriverOpts(options) });
  const made = applyVolumesCommand(c.app, volumes);
  if (made) await runChecked(exec, made, `making the volumes of ${c.app} and recording them in ~/${volumesFile(c.app)}`);
  for (const note of [...portNotes, ...stateful.notes, ...volumes.notes]) (ctx.warn ?? ctx.progress)(note);
  const overrideLines = [...volumesOverrideYaml(volumes.pins), ...networkOverrideYaml(c.app, stateful)];
  if (!stateful.stateful.length) return { overrideLines, slotServices: undefined };

  await runChecked(exec, createNetworkCommand(c.app), `making the network ${c.app}'s services share`);
  const override = `${slotPaths(c.app).dir}/state.yaml`;
  await exec.upload(`${before.home}/${override}`, stateOverrideYaml(overrideLines, release, stateful), { mode: 0o644 });
  // Only a release at least as new as the one that last defined them changes them (a rollback
  // does not take a database back to an older definition under its data).
  const from: HostSource = { where: `~/${stateReleaseFile(c.app)}`, verb: 'holds', fix: `remove it; the next release writes it again` };
  const definedBy = releaseFromHost(stateRelease, from);
  const recreate = !definedBy || byAge([definedBy, c.release])[1] === c.release;
  ctx.progress(`${recreate ? 'starting' : 'keeping'} the stateful services ${stateful.stateful.join(', ')} (${stateProject(c.app)})`);
  const up = await exec.exec(stateUp(c, override, stateProject(c.app), stateful.stateful, recreate));
  if (up.code !== 0) throw new RemoteCommandError(`starting the stateful services ${stateful.stateful.join(', ')} of ${c.app} on ${exec.label}`, up.code, up.stderr);
  const wait = await exec.exec(waitStateRunning(c.app, o.seconds), { timeoutMs: (o.seconds + 60) * 1000 });
  if (wait.code !== 0) throw new RemoteCommandError(`waiting for the stateful services of ${c.app} on ${exec.label}`, wait.code, wait.stderr);
  if (recreate && stateRelease.trim() !== c.release) {
    const file = stateReleaseFile(c.app);
    await runChecked(exec, sh`cd && printf '%s\\n' ${c.release} > ${`${file}.tmp`} && mv -f ${`${file}.tmp`} ${file}`, `recording the release that defines the stateful services`);
  } else if (!recreate) (ctx.warn ?? ctx.progress)(`the stateful services ${stateful.stateful.join(', ')} keep the definition of release ${definedBy} (newer than ${c.release}): a rollback does not change them`);
  return { overrideLines, slotServices: stateful.slotServices };
}
