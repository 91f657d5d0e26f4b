// The crontab command lines cron-install runs, as data (tested by exact string equality).
import { argv, sh, type Cmd } from '../../lib/shell-quote.ts';

export function crontabCommands(w: { user: string; asOther: boolean }) {
  const who = w.asOther ? ['-u', w.user] : [];
  const list = argv('crontab', ...who, '-l');
  return {
    list,
    /**
     * One round trip: `home <path>`, `runner <sha256>` (or `runner -`) of the job runner at
     * `runner` under the user's home, then, for APP_CRONTAB, `file <base64>` (or `file -`) of
     * `repoFile`, then `crontab -l`, whose exit status the command keeps.
     */
    listWithRunner: (runner: string, repoFile: string | null): Cmd => {
      const head = sh`h="$(getent passwd ${w.user} | cut -d: -f6)"; echo "home $h"; r="$h"/${runner}; if [ -f "$r" ]; then echo "runner $(sha256sum < "$r" | cut -c1-64)"; else echo 'runner -'; fi`;
      if (!repoFile) return sh`${head}; ${list}`;
      return sh`${head}; f="$h"/${repoFile}; if [ -f "$f" ]; then printf 'file '; base64 -w0 < "$f"; echo; else echo 'file -'; fi; ${list}`;
    },
    install: argv('crontab', ...who, '-'),
    remove: argv('crontab', ...who, '-r'),
  };
}
