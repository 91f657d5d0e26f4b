// The crontab command lines cron-install runs, as data (tested by exact string equality).
import { argv, sh, type Cmd } from '../../lib/shell-quote.ts';

export function crontabCommands(w: { user: string; asOther: boolean }) {
  const who = w.asOther ? ['-u', w.user] : [];
  const list = argv('crontab', ...who, '-l');
  return {
    list,
    /**
     * One round trip for APP_CRONTAB: a first line `file <base64>` (or `file -`) with the file
     * at `path` under the user's home, then `crontab -l` (whose exit status the command keeps).
     */
    listWithRepoFile: (path: string): Cmd =>
      sh`f="$(getent passwd ${w.user} | cut -d: -f6)"/${path}; if [ -f "$f" ]; then printf 'file '; base64 -w0 < "$f"; echo; else echo 'file -'; fi; ${list}`,
    install: argv('crontab', ...who, '-'),
    remove: argv('crontab', ...who, '-r'),
  };
}
