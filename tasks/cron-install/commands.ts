// The crontab command lines cron-install runs, as data (tested by exact string equality).
import { argv, type Cmd } from '../../lib/shell-quote.ts';

export function crontabCommands(w: { user: string; asOther: boolean }): { list: Cmd; install: Cmd; remove: Cmd } {
  const who = w.asOther ? ['-u', w.user] : [];
  return {
    list: argv('crontab', ...who, '-l'),
    install: argv('crontab', ...who, '-'),
    remove: argv('crontab', ...who, '-r'),
  };
}
