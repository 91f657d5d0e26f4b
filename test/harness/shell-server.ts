// The test bed's scripts inside its containers, without a `docker exec` each: one long-lived
// `docker exec -i CONTAINER bash` per container and user reads scripts from its stdin and runs
// each as `sh -c SCRIPT` (stdin the given text or /dev/null, as `docker exec` without -i), then
// writes back its stdout, stderr and exit status. A `docker exec` cost ~150 ms of CPU (the docker
// CLI's start, dockerd, runc entering the container's namespaces) and the e2e suite makes a few
// thousand on a 2-core machine; a script through the server costs its own `sh` and one `cat`.
//
// Not for every call: while a server runs a script, another call to the same container and user
// (tests run scripts side by side, one may wait for what another does) goes through its own
// `docker exec`, as does a stdin holding a NUL byte (a bash variable cannot). A container without
// bash, or whose server died (a reboot, the container removed), gets `docker exec` too; a later
// call starts a new server. What a script sees is what `docker exec -u USER` gives it: the same
// user, environment and working folder (the server is one), no terminal.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ShellResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Where the server keeps each script's stdin and output while it runs (emptied once read, so no
 * test output, which may hold a secret, stays on the host): under /run, outside the trees the
 * secrets tests scan for canaries (they leave it out by this name).
 */
export const SERVER_DIR = '/run/hoist-test-shell';

// bash reads lengths in bytes under LC_ALL=C; the scripts get the locale they would have had.
// The marker that frames each answer is made by the server (so it is not on any command line a
// script might print) and announced as its first line.
const SERVER = `had_lc=\${LC_ALL+x}; lc=\${LC_ALL-}; export LC_ALL=C
d=$1/$$; mkdir -m 700 "$d" || exit 1
mark="hoist-test-shell-$SRANDOM$SRANDOM$SRANDOM$SRANDOM"
: > "$d/started"
printf '%s\\n' "$mark"
n=0
while IFS=' ' read -r slen ilen; do
  n=$((n + 1)); script=; input=
  [ "$slen" -gt 0 ] && { IFS= read -r -N "$slen" script || exit 1; }
  # A user's groups are read when its server starts (as at each docker exec): once /etc/group or
  # /etc/passwd changed (bootstrap adds deploy to the docker group), this server is out of date.
  if [ /etc/group -nt "$d/started" ] || [ /etc/passwd -nt "$d/started" ]; then printf '%s stale\\n' "$mark"; exit 0; fi
  src=/dev/null
  if [ "$ilen" -ge 0 ]; then
    [ "$ilen" -gt 0 ] && { IFS= read -r -N "$ilen" input || exit 1; }
    src=$d/$n.in; printf '%s' "$input" > "$src"
  fi
  (if [ -n "$had_lc" ]; then export LC_ALL=$lc; else unset LC_ALL; fi; exec sh -c "$script") < "$src" > "$d/$n.out" 2> "$d/$n.err"
  rc=$?
  cat "$d/$n.out" - "$d/$n.err" <<< "$mark"
  printf '%s %s\\n' "$mark" "$rc"
  : > "$d/$n.out"; : > "$d/$n.err"; [ "$src" = /dev/null ] || : > "$src"
done`;

interface Server {
  child: ChildProcess;
  mark: string;
  busy: boolean;
  /** Let go of by forgetShellServers: its end must not touch the map, a newer server may be there. */
  forgotten: boolean;
  /** Its `docker exec` ended. */
  dead: boolean;
  out: Buffer;
  /** Called with each chunk of output while a script runs. */
  onData?: () => void;
}

const servers = new Map<string, Promise<Server | null>>();
/** Containers and users whose server could not start (no bash, say): `docker exec` from then on. */
const unable = new Set<string>();

/**
 * Lets go of a container's servers before it restarts (a reboot): a call made before the old
 * server's end is noticed would otherwise be written to it and fail. The next call starts anew.
 */
export function forgetShellServers(container: string): void {
  for (const [key, p] of servers) {
    if (!key.startsWith(`${container}\0`)) continue;
    servers.delete(key);
    void p.then((s) => {
      if (!s) return;
      s.forgotten = true;
      s.child.kill();
    });
  }
}

/**
 * A user's folder for its server, made by root (only root writes under /run): null when that
 * fails (the user does not exist yet: bootstrap makes `deploy`), to be tried again next time.
 */
async function userDir(container: string, user: string): Promise<string | null> {
  const dir = `${SERVER_DIR}/${user}`;
  if (!/^[a-z_][a-z0-9_-]*$/.test(user)) return null;
  const made = await runInShellServer(container, 'root', `install -d -m 711 ${SERVER_DIR} && install -d -m 700 -o ${user} ${dir}`);
  return made?.code === 0 ? dir : null;
}

async function startServer(container: string, user: string): Promise<Server | null> {
  const key = `${container}\0${user}`;
  const dir = user === 'root' ? `${SERVER_DIR}/root` : await userDir(container, user);
  if (dir === null) return null;
  return new Promise((resolve) => {
    const prepare = user === 'root' ? `install -d -m 711 ${SERVER_DIR} && install -d -m 700 ${dir} && ` : '';
    const child = spawn('docker', ['exec', '-i', '-u', user, container, 'bash', '-c', `${prepare}exec bash -c "$0" bash ${dir}`, SERVER], { stdio: ['pipe', 'pipe', 'ignore'] });
    const server: Server = { child, mark: '', busy: false, forgotten: false, dead: false, out: Buffer.alloc(0) };
    const gone = () => {
      server.dead = true;
      if (!server.forgotten) {
        servers.delete(key);
        // Never announced itself: this container and user have no server (no bash, no folder).
        if (!server.mark) unable.add(key);
      }
      server.onData?.();
      resolve(null);
    };
    child.on('error', gone);
    child.on('close', gone);
    child.stdin!.on('error', () => undefined);
    child.stdout!.on('data', (d: Buffer) => {
      server.out = Buffer.concat([server.out, d]);
      if (!server.mark) {
        const nl = server.out.indexOf(10);
        if (nl < 0) return;
        server.mark = server.out.subarray(0, nl).toString();
        server.out = server.out.subarray(nl + 1);
        holdOpen(server, false);
        resolve(server);
        return;
      }
      server.onData?.();
    });
    // A server that does not announce itself within 20 s is given up (docker exec is used).
    setTimeout(() => {
      if (!server.mark) {
        child.kill();
        gone();
      }
    }, 20_000).unref();
  });
}

/** An idle server holds no event loop open (a test process ends when its tests do); a busy one does. */
function holdOpen(server: Server, hold: boolean): void {
  for (const h of [server.child, server.child.stdout, server.child.stdin] as unknown as { ref(): void; unref(): void }[]) {
    if (hold) h.ref();
    else h.unref();
  }
}

/**
 * Runs `script` in `container` as `user` through that container's server, or returns null when
 * it cannot (busy, no server, a NUL in stdin): the caller then runs it with `docker exec`.
 */
export async function runInShellServer(container: string, user: string, script: string, stdin?: string): Promise<ShellResult | null> {
  if (stdin?.includes('\0') || script.includes('\0')) return null;
  const key = `${container}\0${user}`;
  if (unable.has(key)) return null;
  let p = servers.get(key);
  if (!p) {
    p = startServer(container, user);
    servers.set(key, p);
  }
  const server = await p;
  if (!server && servers.get(key) === p) servers.delete(key);
  if (!server || server.busy || server.dead) return null;
  server.busy = true;
  holdOpen(server, true);
  const body = Buffer.from(script);
  const input = stdin === undefined ? null : Buffer.from(stdin);
  server.out = Buffer.alloc(0);
  const tail = Buffer.from(`${server.mark} `);
  const middle = Buffer.from(`${server.mark}\n`);
  const stale = Buffer.from(`${server.mark} stale\n`);
  try {
    return await new Promise<ShellResult | null>((resolve) => {
      server.onData = () => {
        // Out of date (its user's groups changed): it ends; this script goes by docker exec.
        if (server.out.equals(stale)) {
          server.onData = undefined;
          server.dead = true;
          server.forgotten = true;
          if (servers.get(key) === p) servers.delete(key);
          return resolve(null);
        }
        if (server.dead) {
          server.onData = undefined;
          return resolve({ stdout: '', stderr: `the test shell in ${container} ended while running the script`, code: 255 });
        }
        const out = server.out;
        if (out.length === 0 || out[out.length - 1] !== 10) return;
        const end = out.lastIndexOf(tail);
        if (end < 0) return;
        const status = out.subarray(end + tail.length, out.length - 1).toString();
        if (!/^\d+$/.test(status)) return;
        const mid = out.lastIndexOf(middle, end);
        if (mid < 0) return;
        server.onData = undefined;
        resolve({ stdout: out.subarray(0, mid).toString(), stderr: out.subarray(mid + middle.length, end).toString(), code: Number(status) });
      };
      server.child.stdin!.write(`${body.length} ${input === null ? -1 : input.length}\n`);
      server.child.stdin!.write(body);
      if (input) server.child.stdin!.write(input);
    });
  } finally {
    server.out = Buffer.alloc(0);
    server.busy = false;
    holdOpen(server, false);
  }
}
