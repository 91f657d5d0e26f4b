// Faults made for real on a test host, with no hook in hoist's code: a watcher inside the host
// polls the process table (every ~25 ms, bounded) for a command that only runs in the middle
// of a task's apply (`git archive`, `docker-compose … up`, `caddy reload`, …) and, the moment it
// shows up, kills the sshd processes of the SSH session that runs it: a real connection loss, as
// a network blip or an sshd restart gives. The command itself is left running (an orphan, as a
// real loss leaves it) unless `killCommand` is set. Only processes under an sshd session are
// considered, so the test's own `docker exec` commands never match.
//
// The watcher runs inside the host (one `docker exec` for the whole wait): polling from outside
// with one `docker exec ps` per look costs ~100 ms each and would miss short commands.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dockerSh } from './docker.ts';
import type { TestHost } from './testbed.ts';

export interface ProcessMatch {
  /** The matching process. */
  pid: number;
  /** Its process group (the whole remote command: `timeout` makes one per command). */
  pgid: number;
  args: string;
  /** The sshd session processes (`sshd: USER [priv]`, `sshd: USER@notty`; OpenSSH 10, Debian 13: `sshd-session: …`) above it. */
  sessions: number[];
  /** When the match was seen (ms since epoch, this machine's clock). */
  at: number;
}

export interface WatchOptions {
  /** Extended regular expression (bash's [[ =~ ]]) matched against the process's full command line. */
  pattern: string;
  /** How long to watch before giving up (the watcher ends by itself then). */
  timeoutMs: number;
  /** Kill the session's sshd processes on a match (default true): the connection is lost. */
  cut?: boolean;
  /** Kill the matched command's whole process group too: the remote command dies with the session. */
  killCommand?: boolean;
  /** Milliseconds between looks (default 25). */
  pollMs?: number;
  /**
   * Once the pattern matches, wait (looking without pauses, bounded) until some file matching
   * this shell glob on the host has at least `bytes` bytes, then cut: in the middle of a
   * transfer, not at its start. No such file within the bound: the watch goes on.
   */
  fileAtLeast?: { glob: string; bytes: number };
}

export interface Watch {
  /** The match, or null when the watch ended without one (timeout or stop()). */
  readonly fired: Promise<ProcessMatch | null>;
  /** Ends the watch now (bounded); a match already seen stays in `fired`. */
  stop(): Promise<void>;
}

// $PATTERN, $ID, $TRIES, $POLL, $CUT, $KILLCMD, $SIZEGLOB, $SIZEMIN come from the environment: the pattern never appears
// on a command line, so the watcher cannot match itself. bash alone looks (each process's
// cmdline and stat read with builtins, the pause a `read -t` on a pipe nobody writes): `ps`, awk
// and sleep 40 times a second kept most of a core busy for as long as a watch lasted (minutes of
// apt in faults-bootstrap). Processes are looked at in PID order, as `ps` lists them (an indexed
// array keyed by PID), and a command line is its words joined by spaces, as `ps -o args` shows it.
const WATCHER = `
shopt -s nullglob
stop=/tmp/hoist-fault-$ID.stop
tick=/run/hoist-fault-$ID.tick
rm -f "$tick"; mkfifo "$tick" && exec 5<>"$tick" || { echo "no pipe for the pause at $tick" >&2; exit 1; }
sshd_re='^sshd(-session)?: '
listener_re='\\[listener\\]'
echo ready
i=0
while [ "$i" -lt "$TRIES" ] && [ ! -e "$stop" ]; do
  i=$((i+1))
  args=(); ppid=(); pgid=()
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    { mapfile -d '' -t w < "$d/cmdline" && IFS= read -r st < "$d/stat"; } 2>/dev/null || continue
    set -f; set -- \${st##*) }; set +f
    ppid[p]=$2; pgid[p]=$3
    # As ps shows a command line: its words joined by spaces, control characters (a script's line
    # breaks) as '?', so a match is one line and a pattern sees what it saw in ps.
    if [ \${#w[@]} -gt 0 ]; then a="\${w[*]}"; args[p]=\${a//[[:cntrl:]]/?}; else args[p]='[kernel or zombie]'; fi
  done
  hit=
  for p in "\${!args[@]}"; do
    [[ \${args[p]} =~ $PATTERN ]] || continue
    s=; q=\${ppid[p]}; hops=0
    while [ "\${q:-0}" -gt 1 ] && [ "$hops" -lt 64 ]; do
      hops=$((hops+1))
      if [[ \${args[q]} =~ $sshd_re ]] && ! [[ \${args[q]} =~ $listener_re ]]; then s="$s $q"; fi
      q=\${ppid[q]}
    done
    [ -n "$s" ] || continue
    hit="$p \${pgid[p]}$s|\${args[p]}"
    break
  done
  if [ -n "$hit" ] && [ -n "$SIZEGLOB" ]; then
    # The command runs: look at the file(s) without pausing (a transfer is fast), bounded.
    big=; j=0
    while [ -z "$big" ] && [ "$j" -lt 3000 ]; do
      j=$((j+1))
      for n in $(stat -c %s $SIZEGLOB 2>/dev/null); do if [ "$n" -ge "$SIZEMIN" ]; then big=1; fi; done
    done
    [ -n "$big" ] || hit=
  fi
  if [ -n "$hit" ]; then
    set -f; set -- \${hit%%|*}; set +f
    pid=$1; grp=$2; shift 2
    if [ "$KILLCMD" = 1 ]; then kill -KILL -- "-$grp" 2>/dev/null; fi
    if [ "$CUT" = 1 ]; then kill -KILL "$@" 2>/dev/null; fi
    rm -f "$tick"
    echo "match $hit"
    exit 0
  fi
  read -t "$POLL" -u 5 _
done
rm -f "$stop" "$tick"
echo none
`;

/**
 * Starts watching `host`; resolves once the watcher runs (so the caller can start hoist after).
 * `fired` resolves with what matched (and was cut), or null.
 */
export async function watchFor(host: TestHost, opts: WatchOptions): Promise<Watch> {
  const id = randomBytes(4).toString('hex');
  const pollMs = opts.pollMs ?? 25;
  const env = {
    PATTERN: opts.pattern,
    ID: id,
    TRIES: String(Math.max(1, Math.ceil(opts.timeoutMs / pollMs))),
    POLL: (pollMs / 1000).toFixed(3),
    CUT: opts.cut === false ? '0' : '1',
    KILLCMD: opts.killCommand ? '1' : '0',
    SIZEGLOB: opts.fileAtLeast?.glob ?? '',
    SIZEMIN: String(opts.fileAtLeast?.bytes ?? 0),
  };
  const child: ChildProcess = spawn('docker', ['exec', ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), host.container, 'bash', '-c', WATCHER], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((res) => (onReady = res));
  child.stderr!.on('data', (d) => (err += d));
  // Polls take ~25 ms each, but a loaded machine can stretch them: bound the client side too.
  const backstop = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs * 3 + 30_000);
  const fired = new Promise<ProcessMatch | null>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready\n')) onReady();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(backstop);
      onReady();
      const line = out.split('\n').find((l) => l.startsWith('match '));
      if (!line) {
        if (!out.includes('none')) return reject(new Error(`fault watcher on ${host.container} ended (exit ${code}) without an answer: ${err || out}`));
        return resolve(null);
      }
      const bar = line.indexOf('|');
      const [pid, pgid, ...sessions] = line.slice('match '.length, bar).trim().split(/\s+/).map(Number);
      resolve({ pid: pid!, pgid: pgid!, sessions, args: line.slice(bar + 1), at: Date.now() });
    });
  });
  fired.catch(() => undefined);
  await ready;
  return {
    fired,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await dockerSh(host.container, `touch /tmp/hoist-fault-${id}.stop`);
      await Promise.race([fired.catch(() => null), new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

/** Kills the sshd session(s) above `pid` and, with `killCommand`, its process group: `watchFor` after the fact. */
export async function cutSession(host: TestHost, match: Pick<ProcessMatch, 'pgid' | 'sessions'>, killCommand: boolean): Promise<void> {
  const parts = [killCommand ? `kill -KILL -- -${match.pgid} 2>/dev/null` : ':', match.sessions.length ? `kill -KILL ${match.sessions.join(' ')} 2>/dev/null` : ':'];
  await dockerSh(host.container, `${parts.join('; ')}; true`);
}

/** The SSH sessions open on `host` now (their `sshd: USER…` or `sshd-session: USER…` processes): none once hoist is done. */
export async function sshSessions(host: TestHost): Promise<string[]> {
  const r = await dockerSh(host.container, "ps -eo args= | grep -E '^sshd(-session)?: ' | grep -v '\\[listener\\]' || true");
  return r.stdout.split('\n').filter(Boolean);
}

/**
 * Holds dpkg's locks (lock-frontend and lock), as another package manager run does: `dpkg
 * --set-selections` takes both and keeps them while it reads its standard input, which is this
 * process's pipe. Resolves once the locks are held; `release()` ends the input and resolves
 * when dpkg has let go (ms since epoch). Bounded on the host by `maxSeconds`.
 */
export async function holdDpkgLock(host: TestHost, maxSeconds: number): Promise<{ release(): Promise<number> }> {
  const child = spawn('docker', ['exec', '-i', host.container, 'sh', '-c', `timeout ${maxSeconds} dpkg --set-selections; echo released`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const released = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('released')) resolve(Date.now());
    });
    child.on('error', reject);
    child.on('close', () => resolve(Date.now()));
  });
  const release = () => {
    child.stdin!.end();
    return released;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await dockerSh(host.container, 'pidof dpkg >/dev/null && grep -q " POSIX  ADVISORY  WRITE " /proc/locks');
    if (r.code === 0) return { release };
    if (Date.now() > deadline) {
      await release();
      throw new Error(`dpkg did not take its lock on ${host.container} within 10s`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * Points the host's apt at a local file repository (no network) holding one package,
 * `hoist-test-slow`, whose configuration takes `seconds` and prints before and after: a package
 * install with a window to cut, that writes to its output the way real maintainer scripts do.
 */
export async function localAptRepo(host: TestHost, seconds = 3): Promise<void> {
  const script = `set -e
repo=/srv/hoist-test-apt
rm -rf $repo; mkdir -p $repo/build/DEBIAN $repo/build/usr/share/doc/hoist-test-slow
printf '%s\\n' 'Package: hoist-test-slow' 'Version: 1.0' 'Architecture: all' 'Maintainer: hoist tests <tests@hoist.invalid>' \\
  'Description: a package whose configuration takes a while' >$repo/build/DEBIAN/control
printf '#!/bin/sh\\nset -e\\necho "hoist-test-slow: configuring"\\nsleep ${seconds}\\necho "hoist-test-slow: configured"\\n' >$repo/build/DEBIAN/postinst
chmod 755 $repo/build/DEBIAN/postinst
echo slow >$repo/build/usr/share/doc/hoist-test-slow/README
dpkg-deb --build $repo/build $repo/hoist-test-slow_1.0_all.deb >/dev/null
rm -rf $repo/build
cd $repo && deb=hoist-test-slow_1.0_all.deb
{ dpkg-deb -f $deb; echo "Filename: ./$deb"; echo "Size: $(stat -c %s $deb)"; echo "SHA256: $(sha256sum $deb | cut -d' ' -f1)"; echo; } >Packages
echo "deb [trusted=yes] file:$repo ./" >/etc/apt/sources.list
rm -f /etc/apt/sources.list.d/*`;
  const r = await dockerSh(host.container, script);
  if (r.code !== 0) throw new Error(`making the local apt repository on ${host.container}: ${r.stderr}`);
}
