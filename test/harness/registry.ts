// A real image registry for BUILD=registry tests: Debian's `docker-registry` (the distribution
// registry 2.8) on this machine, with htpasswd (bcrypt) login, on 127.0.0.1:PORT. Docker treats
// a registry on 127.0.0.0/8 as plain-HTTP without any daemon setting, so the same name works
// here (where hoist pushes) and in each test host, where a small forwarder (python3, in the
// host) takes 127.0.0.1:PORT to this machine's Docker gateway, and one here takes the gateway's
// PORT to the registry. Nothing listens beyond loopback and the Docker bridge.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerGateway } from './acme-ca.ts';
import { dockerSh } from './docker.ts';
import type { TestHost } from './testbed.ts';

// Forwards 127.0.0.1:PORT in a test host to the gateway's PORT (bounded: it ends after 30 min).
const FORWARDER = String.raw`
import socket, sys, threading, time
port, gw = int(sys.argv[1]), sys.argv[2]
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('127.0.0.1', port)); srv.listen(64); srv.settimeout(1)
end = time.time() + 1800
while time.time() < end:
    try: c, _ = srv.accept()
    except socket.timeout: continue
    u = socket.create_connection((gw, port))
    for a, b in ((c, u), (u, c)): threading.Thread(target=pipe, args=(a, b), daemon=True).start()
`;

export class TestRegistry {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
    private readonly relay: Server,
    private readonly gateway: string,
  ) {}

  /** REGISTRY as hoist takes it: the same name here and in the hosts. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the registry with one account; the password travels on stdin to the hash, never in argv. */
  static async start(user: string, password: string): Promise<TestRegistry> {
    const gateway = dockerGateway();
    const port = await freePortOnBoth(gateway);
    const dir = mkdtempSync(join(tmpdir(), 'hoist-registry-'));
    const hash = execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH)))'], { input: password, encoding: 'utf8' }).trim();
    writeFileSync(join(dir, 'htpasswd'), `${user}:${hash}\n`);
    writeFileSync(
      join(dir, 'config.yml'),
      `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\nauth:\n  htpasswd:\n    realm: hoist-test\n    path: ${join(dir, 'htpasswd')}\n`,
    );
    const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
    const relay = createServer((c) => {
      const u = connect(port, '127.0.0.1');
      c.pipe(u).pipe(c);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
    });
    await new Promise<void>((res, rej) => relay.once('error', rej).listen(port, gateway, () => res()));
    const reg = new TestRegistry(port, dir, child, relay, gateway);
    for (let i = 0; i < 100; i++) {
      const code = await fetch(`http://127.0.0.1:${port}/v2/`).then(
        (r) => r.status,
        () => 0,
      );
      if (code === 401) return reg;
      await new Promise((r) => setTimeout(r, 100));
    }
    await reg.stop();
    throw new Error(`docker-registry did not answer on 127.0.0.1:${port} within 10 s:\n${log}`);
  }

  /** Makes 127.0.0.1:PORT in `host` reach the registry. */
  async reachFrom(host: TestHost): Promise<void> {
    // Read first: a command run with & has /dev/null as its stdin.
    const r = await dockerSh(host.container, `s=$(cat); nohup python3 -c "$s" ${this.port} ${this.gateway} >/tmp/registry-forward.log 2>&1 &
i=0; until curl -s -o /dev/null http://127.0.0.1:${this.port}/v2/; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.1; done`, 'root', FORWARDER);
    if (r.code !== 0) throw new Error(`the registry forwarder did not start in ${host.container}: ${r.stderr}`);
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await new Promise<void>((res) => this.relay.close(() => res()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A port free both on loopback and on the gateway right now. */
async function freePortOnBoth(gateway: string): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => res(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const free = await new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(false));
      s.listen(port, gateway, () => s.close(() => res(true)));
    });
    if (free) return port;
  }
  throw new Error('no port free on both loopback and the Docker gateway');
}
