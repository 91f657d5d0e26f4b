// The crontab command lines cron-install runs, as data (tested by exact string equality).
import { setHome } from '../../lib/exec/home-of.ts';
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
      const head = sh`${setHome('h', w.user)}; echo "home $h"; r="$h"/${runner}; if [ -f "$r" ]; then set -- $(sha256sum < "$r"); echo "runner $1"; else echo 'runner -'; fi`;
      if (!repoFile) return sh`${head}; ${list}`;
      return sh`${head}; f="$h"/${repoFile}; if [ -f "$f" ]; then printf 'file '; base64 -w0 < "$f"; echo; else echo 'file -'; fi; ${list}`;
    },
    install: argv('crontab', ...who, '-'),
    remove: argv('crontab', ...who, '-r'),
  };
}
