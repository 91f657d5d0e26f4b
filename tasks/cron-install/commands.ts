// The crontab command lines cron-install runs, as data (tested by exact string equality).
import { setHome } from '../../lib/exec/home-of.ts';
import { fileLinesFunction } from '../../lib/exec/file-lines.ts';
import { argv, sh, type Cmd } from '../../lib/shell-quote.ts';

export function crontabCommands(w: { user: string; asOther: boolean }) {
  const who = w.asOther ? ['-u', w.user] : [];
  const list = argv('crontab', ...who, '-l');
  return {
    list,
    /**
     * One round trip: `home <path>`, `runner <sha256>` (or `runner -`) of the job runner at
     * `runner` under the user's home, then, for APP_CRONTAB, what `repo.file` inside the release
     * folder `repo.root` is, then `crontab -l`, whose exit status the command keeps. The file is
     * resolved (`readlink -f`: every link in its path) and read only when it is a regular file
     * inside the release folder: `file |`, its lines as `|line` (the last, without a line break,
     * `/rest`: lib/exec/file-lines.ts), then `file end`. Otherwise the answer names what it is and sends
     * none of its content: `file -` (not there), `file outside <base64 of the resolved path>` (a
     * link out of the release: the app's .env, another app's files) or `file not-regular` (a
     * folder, a fifo that would block the read, a dangling link). base64 has no space or `-`, so
     * the answers cannot be mistaken for one another.
     */
    listWithRunner: (runner: string, repo: { root: string; file: string } | null, backup?: string): Cmd => {
      // With `backup` (the host backup script a `hoist-backup` job runs): `backup <sha256>` or `backup -` after the runner's line.
      const backupLine = backup ? sh`; b="$h"/${backup}; if [ -f "$b" ]; then set -- $(sha256sum < "$b"); echo "backup $1"; else echo 'backup -'; fi` : sh``;
      const head = sh`${setHome('h', w.user)}; echo "home $h"; r="$h"/${runner}; if [ -f "$r" ]; then set -- $(sha256sum < "$r"); echo "runner $1"; else echo 'runner -'; fi${backupLine}`;
      if (!repo) return sh`${head}; ${list}`;
      // Resolved by the shell where it can (issue #20: each readlink and base64 was a process):
      // `cd -P` into a folder leaves its path with every link resolved in $PWD, so only a file
      // that is itself a link needs `readlink -f`. The folder changes here, which nothing after
      // depends on (the paths are absolute, crontab needs none).
      return sh`${head}; d="$h"/${repo.root}; f="$d"/${repo.file}; if [ ! -e "$f" ] && [ ! -L "$f" ]; then echo 'file -'; else c=; t=; if cd -P -- "$d" 2>/dev/null; then c=$PWD; fi; if [ -L "$f" ]; then t=$(readlink -f -- "$f"); elif cd -P -- "\${f%/*}" 2>/dev/null; then t=$PWD/\${f##*/}; fi; i=; if [ -n "$c" ]; then case "$t" in "$c"/*) i=1;; esac; fi; if [ -z "$i" ]; then printf 'file outside '; printf '%s' "$t" | base64 -w0; echo; elif [ -f "$t" ]; then echo 'file |'; ${fileLinesFunction}; hoist_lines '' "$t" 16777216; echo 'file end'; else echo 'file not-regular'; fi; fi; ${list}`;
    },
    install: argv('crontab', ...who, '-'),
    remove: argv('crontab', ...who, '-r'),
  };
}
