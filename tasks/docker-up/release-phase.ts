// The release phase (issue #18 item 3): RELEASE_COMMAND (database migrations, say) runs once per
// release in a one-off container of the new release, after its build and before its slot
// starts, like Heroku's release phase and Dokku's app.json `release` script. Non-zero stops the
// release before anything of it runs: the live slot, Caddy and `current` are untouched, so the
// old release keeps serving.
//
// The container is what the slot's own would be: `compose run --rm -T` of APP_SERVICE in the new
// slot's project, with the slot's override (the release's image, the app's .env as env_file, the
// pinned volumes, the shared network `hoist.APP` of the stateful services), no published ports.
// `--no-deps` when the app has stateful services (they run in APP-state already, and must never
// be started a second time inside the slot), as `hoist exec` and jobs do.
//
// Once per release: the release it last succeeded for is recorded (apps/APP/release-ran). A run
// that changes nothing starts no slot, so nothing runs; a slot started again for the same release
// (its .env changed, a failed health check tried again) does not run it again; nor does a
// release older than the recorded one, and the rollback pipeline never runs it
// (dockerUpOfRollback): an older release goes back onto data the newer one migrated, which is
// why migrations must be backward compatible (README "Apps with data").
import { redact } from '../../lib/secrets/redact.ts';
import { HoistError } from '../../lib/errors.ts';
import { runChecked, type Executor } from '../../lib/exec/executor.ts';
import { byAge } from '../../lib/release/layout.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { releasePhaseRun, type SlotCommand } from './commands.ts';

/** The release whose release command last succeeded (relative to the deploy user's home). */
export const releaseRanFile = (app: string) => `apps/${app}/release-ran`;

export class ReleaseCommandError extends HoistError {}

/** How many of the command's last output lines a failure quotes. */
const TAIL = 30;

/**
 * Whether starting `release` runs the release command: there is one, and `release` is newer than
 * the one it last ran for (none recorded: it runs). Pure.
 */
export function releasePhaseDue(command: string | null, release: string, ranFor: string | null): boolean {
  if (!command) return false;
  if (!ranFor) return true;
  return ranFor !== release && byAge([ranFor, release])[1] === release;
}

/** The record written once the command succeeded (tmp + mv: never half a name). */
export function recordReleaseRan(app: string, release: string): Cmd {
  const file = releaseRanFile(app);
  return sh`cd && printf '%s\\n' ${release} > ${`${file}.tmp`} && mv -f ${`${file}.tmp`} ${file}`;
}

interface Ctx {
  progress(message: string): void;
  log?(line: string): void;
}

/**
 * Runs the command in a one-off container of the slot's release; its output (stdout and stderr
 * in order) goes to the run's log line by line, secrets hidden. Throws ReleaseCommandError on
 * non-zero, quoting the last lines.
 */
export async function runReleasePhase(exec: Executor, c: SlotCommand, o: { service: string; command: string; noDeps: boolean }, ctx: Ctx): Promise<void> {
  ctx.progress(`release phase of ${c.release}: running RELEASE_COMMAND in a one-off container of ${o.service}`);
  const r = await exec.exec(releasePhaseRun(c, o.service, o.command, o.noDeps));
  const lines = redact(r.stdout).replace(/\n$/, '').split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
  for (const line of lines) (ctx.log ?? ctx.progress)(`release command | ${line}`);
  if (r.code !== 0) {
    const tail = lines.slice(-TAIL).join('\n');
    const stderr = r.stderr.trim() ? `\n${redact(r.stderr.trim()).split('\n').slice(-5).join('\n')}` : '';
    throw new ReleaseCommandError(
      `the release command (RELEASE_COMMAND) of ${c.release} exited with ${r.code}: the release stops here, nothing of it was started and the live release keeps serving. Its last output lines:\n${tail || '(none)'}${stderr}`,
    );
  }
  await runChecked(exec, recordReleaseRan(c.app, c.release), `recording in ~/${releaseRanFile(c.app)} that the release command of ${c.release} ran`);
}
