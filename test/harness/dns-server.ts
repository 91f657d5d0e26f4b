// A real DNS server for tests: dnsmasq on 127.0.0.1 and a free port, answering only from a
// hosts file the test rewrites (dnsmasq re-reads it on SIGHUP). Names it does not know get
// NXDOMAIN (--local=/#/), as a real zone would, never a forward anywhere: loopback only.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** name -> addresses (IPv4 and IPv6 mixed); a name left out does not exist. */
export type Records = Record<string, string[]>;

export interface DnsServerOptions {
  records?: Records;
  /** More dnsmasq options: an NS record, an authoritative zone. */
  extraArgs?: string[];
}

// Queries are always logged (to our pipe): tests use them to know a client has asked.

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class DnsServer {
  private log = '';
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly hostsFile: string,
  ) {
    child.stderr!.on('data', (d) => {
      this.log += d;
      if (process.env.HOIST_TEST_DNS_LOG) process.stderr.write(`[dnsmasq :${port}] ${d}`);
    });
  }

  /** What to put in DNS_RESOLVERS. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(opts: DnsServerOptions = {}): Promise<DnsServer> {
    const dir = mkdtempSync(join(tmpdir(), 'hoist-dns-'));
    // dnsmasq drops to `nobody` when started as root and re-reads the file as that user.
    chmodSync(dir, 0o755);
    const hostsFile = join(dir, 'hosts');
    writeFileSync(hostsFile, hostsText(opts.records ?? {}), { mode: 0o644 });
    // The free UDP port may be taken for TCP (dnsmasq wants both) or grabbed in between: retry.
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freeUdpPort();
      const child = spawn(
        'dnsmasq',
        [
          '--keep-in-foreground',
          '--conf-file=/dev/null',
          '--pid-file=',
          `--port=${port}`,
          '--listen-address=127.0.0.1',
          '--bind-interfaces',
          '--no-resolv',
          '--no-hosts',
          '--local=/#/',
          `--addn-hosts=${hostsFile}`,
          '--log-facility=-',
          '--log-queries',
          ...(opts.extraArgs ?? []),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      running.add(child);
      child.once('exit', () => running.delete(child));
      const server = new DnsServer(port, child, dir, hostsFile);
      try {
        await server.waitUntilAnswering();
        return server;
      } catch (e) {
        lastError = e;
        await server.kill();
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  /** Replaces every record and waits (bounded) until dnsmasq has read them. */
  async setRecords(records: Records): Promise<void> {
    const reads = this.readCount();
    writeFileSync(this.hostsFile, hostsText(records));
    this.child.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while (this.readCount() <= reads) {
      if (Date.now() > deadline) throw new Error(`dnsmasq on ${this.address} did not re-read ${this.hostsFile} within 5s:\n${this.log}`);
      await sleep(20);
    }
  }

  /** The server stops answering (SIGSTOP): lookups time out, as with a resolver that went away. */
  pause(): void {
    this.child.kill('SIGSTOP');
  }

  /** Answers again (SIGCONT); queries that arrived meanwhile are answered late. */
  resume(): void {
    this.child.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** How often `name` was asked for, any type. */
  queriesFor(name: string): number {
    return this.log.split('\n').filter((l) => / query\[\w+\] /.test(l) && l.includes(`] ${name} from `)).length;
  }

  /** Waits (bounded) until `name` has been asked for at least `count` times in all. */
  async waitForQueries(name: string, count = 1, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queriesFor(name) < count) {
      if (Date.now() > deadline) throw new Error(`nobody asked ${this.address} for ${name} within ${timeoutMs / 1000}s`);
      await sleep(20);
    }
  }

  private readCount(): number {
    return this.log.split(`read ${this.hostsFile}`).length - 1;
  }

  private async waitUntilAnswering(timeoutMs = 5000): Promise<void> {
    const r = new Resolver({ timeout: 300, tries: 1 });
    r.setServers([this.address]);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`dnsmasq exited (${this.child.exitCode}): ${this.log.trim()}`);
      // Any DNS answer (NXDOMAIN, or REFUSED from an authoritative-only server) means it is serving.
      const code = await r.resolve4('ready.invalid').then(
        () => 'ok',
        (e: NodeJS.ErrnoException) => e.code,
      );
      if (code !== 'ETIMEOUT' && code !== 'ECONNREFUSED') return;
      await sleep(50);
    }
    throw new Error(`dnsmasq on ${this.address} did not answer within ${timeoutMs / 1000}s:\n${this.log}`);
  }

  private async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((res) => this.child.once('exit', () => res()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/** dnsmasq's --dns-rr option for an NS record (type 2): the target name in wire format, hex. */
export function nsRecordArg(zone: string, nsName: string): string {
  const wire = Buffer.concat([...nsName.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
  return `--dns-rr=${zone},2,${wire.toString('hex')}`;
}

function hostsText(records: Records): string {
  return Object.entries(records).flatMap(([name, addresses]) => addresses.map((a) => `${a} ${name}\n`)).join('');
}

/** A port nothing listens on right now: bind UDP to 0, note the port, let it go. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
