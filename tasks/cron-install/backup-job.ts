// Scheduled backups: a crontab line whose command is `hoist-backup` runs the app's host backup
// script (lib/backup/host-script.ts: the same code `hoist backup` runs, under the deploy lock,
// keeping BACKUP_KEEP archives in ~/apps/APP/backups). Its lines go to the job log
// (~/apps/APP/logs/cron.log, `hoist logs --jobs`).
import { BACKUP_JOB_WORD, backupScriptPath } from '../../lib/backup/host-script.ts';
import { commandOf, jobLogPath } from './app-run.ts';

const isBackupJob = (command: string) => command.trim() === BACKUP_JOB_WORD || command.startsWith(`${BACKUP_JOB_WORD} `) || command.startsWith(`${BACKUP_JOB_WORD}\t`);

/** Does any job of `entries` run the host backup? */
export function usesBackupJob(entries: readonly string[]): boolean {
  return entries.some((line) => {
    const job = commandOf(line);
    return job !== null && isBackupJob(job.command);
  });
}

/** Jobs that give `hoist-backup` words of their own: it takes none (its settings are BACKUP_KEEP and BACKUP_IMAGE). */
export function backupJobsWithWords(entries: readonly string[]): string[] {
  return entries.filter((line) => {
    const job = commandOf(line);
    return job !== null && isBackupJob(job.command) && job.command.trim() !== BACKUP_JOB_WORD;
  });
}

/** The lines as installed: `hoist-backup` becomes the app's backup script, its output in the job log. */
export function withBackupJob(entries: readonly string[], app: string): string[] {
  const log = `"$HOME"/${jobLogPath(app)}`;
  return entries.map((line) => {
    const job = commandOf(line);
    if (!job || job.command.trim() !== BACKUP_JOB_WORD) return line;
    return `${job.schedule}mkdir -p "$HOME"/apps/${app}/logs && "$HOME"/${backupScriptPath(app)} create >> ${log} 2>&1`;
  });
}
