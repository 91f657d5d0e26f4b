// A user's home folder on the host, into a shell variable. Probes that run at every release ask
// for the deploy user's home while logged in as that user most of the time: then sshd's $HOME is
// the answer and nothing is forked (issue #12: the host's cost of "nothing to do").
import { sh, type Cmd } from '../shell-quote.ts';

/** Sets shell variable `name` to USER's home: the session's when logged in as USER, else the passwd database's. */
export function setHome(name: 'h' | 'home', user: string): Cmd {
  return sh`if [ "$LOGNAME" = ${user} ] && [ -n "$HOME" ]; then ${name}=$HOME; else ${name}=$(getent passwd ${user} | cut -d: -f6); fi`;
}
