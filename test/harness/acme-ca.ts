// A real ACME CA for tests: Debian's `pebble` (Let's Encrypt's own test server) on this machine,
// listening on the Docker bridge's gateway address, where the test hosts reach it (their Caddy
// asks it for certificates). Its validation authority resolves names through the bed's dnsmasq
// (-dnsserver) and connects to ports 80 (HTTP-01) and 443 (TLS-ALPN-01) of the address found,
// as a real CA does. Its own TLS pair (the directory's https) is made here with openssl: that
// CA's file is what hoist's ACME_CA_ROOT names. Started and stopped by tests like the DNS server;
// its log (stdout and stderr) is kept so tests can count the orders it received.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface AcmeCaOptions {
  /** The bed's DNS server (DnsServer.address, 127.0.0.1:PORT): how pebble finds the hosts. */
  dnsServer: string;
}

export class AcmeCa {
  private log = '';
  private child: ChildProcess | null = null;

  private constructor(
    /** The Docker bridge's gateway (docker0): the test hosts reach this machine there. */
    readonly gateway: string,
    readonly port: number,
    readonly managementPort: number,
    private readonly dir: string,
    private readonly opts: AcmeCaOptions,
  ) {}

  /** ACME_CA: the directory URL, as the test hosts reach it. */
  get directoryUrl(): string {
    return `https://${this.gateway}:${this.port}/dir`;
  }

  /** ACME_CA_ROOT: the CA that signed pebble's own https certificate (not its issuing root). */
  get tlsRootFile(): string {
    return join(this.dir, 'tls-ca.pem');
  }

  static async start(opts: AcmeCaOptions): Promise<AcmeCa> {
    const gateway = dockerGateway();
    const dir = mkdtempSync(join(tmpdir(), 'hoist-acme-'));
    await makeTlsPair(dir, gateway);
    const [port, managementPort] = [await freeTcpPort(gateway), await freeTcpPort(gateway)];
    const ca = new AcmeCa(gateway, port, managementPort, dir, opts);
    writeFileSync(
      join(dir, 'pebble.json'),
      JSON.stringify({
        pebble: {
          listenAddress: `${gateway}:${port}`,
          managementListenAddress: `${gateway}:${managementPort}`,
          certificate: join(dir, 'tls-cert.pem'),
          privateKey: join(dir, 'tls-key.pem'),
          httpPort: 80,
          tlsPort: 443,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      }),
    );
    await ca.resume();
    return ca;
  }

  /** Starts pebble (again, after `stopServing`): a new process, so a new issuing root too. */
  async resume(): Promise<void> {
    if (this.child) return;
    const child = spawn('pebble', ['-config', join(this.dir, 'pebble.json'), '-dnsserver', this.opts.dnsServer], {
      // No artificial validation delay; no random nonce rejections (a flaky test is no proof).
      env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    child.once('exit', () => {
      running.delete(child);
      if (this.child === child) this.child = null;
    });
    const keep = (d: Buffer) => {
      this.log += d;
      if (process.env.HOIST_TEST_ACME_LOG) process.stderr.write(`[pebble] ${d}`);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.child = child;
    await this.waitUntilServing();
  }

  /** Stops pebble: the directory URL then refuses connections (a CA that cannot be reached). */
  async stopServing(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  async stop(): Promise<void> {
    await this.stopServing();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Everything pebble printed (all runs). */
  get output(): string {
    return this.log;
  }

  /** How many new orders pebble accepted (its WFE logs one line per `newOrder`), all runs. */
  get orders(): number {
    return this.log.split('\n').filter((l) => /added order/i.test(l)).length;
  }

  /** How many certificates pebble issued, all runs. */
  get issued(): number {
    return this.log.split('\n').filter((l) => /issued certificate serial/i.test(l)).length;
  }

  /** The issuing root as PEM, from the management interface (for curl --cacert on a host). */
  async issuingRoot(): Promise<string> {
    return this.management('/roots/0');
  }

  /** GET on the management interface, trusting only our TLS CA; bounded. */
  private async management(path: string): Promise<string> {
    const { stdout } = await promisify(execFile)('curl', ['-sS', '--fail', '--max-time', '5', '--cacert', this.tlsRootFile, `https://${this.gateway}:${this.managementPort}${path}`]);
    return stdout;
  }

  private async waitUntilServing(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.child) throw new Error(`pebble exited:\n${this.log}`);
      try {
        const { stdout } = await promisify(execFile)('curl', ['-sS', '--fail', '--max-time', '2', '--cacert', this.tlsRootFile, this.directoryUrl]);
        if (stdout.includes('newOrder')) return;
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`pebble did not serve ${this.directoryUrl} within ${timeoutMs / 1000}s (${last}):\n${this.log}`);
  }
}

/** docker0's IPv4 address: the default bridge's gateway, this machine as the containers see it. */
export function dockerGateway(): string {
  const out = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'docker0']).toString();
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out);
  if (!m) throw new Error(`docker0 has no IPv4 address: ${out}`);
  return m[1]!;
}

/** A small CA and, signed by it, pebble's https certificate for the gateway's address. */
async function makeTlsPair(dir: string, ip: string): Promise<void> {
  const run = (args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });
  await run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=hoist test ACME TLS CA', '-keyout', 'tls-ca-key.pem', '-out', 'tls-ca.pem']);
  await run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${ip}`, '-keyout', 'tls-key.pem', '-out', 'tls.csr']);
  writeFileSync(join(dir, 'tls.ext'), `subjectAltName=IP:${ip},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`);
  await run(['x509', '-req', '-in', 'tls.csr', '-CA', 'tls-ca.pem', '-CAkey', 'tls-ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', 'tls.ext', '-out', 'tls-cert.pem']);
}

/** A TCP port free on `host` right now. */
function freeTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}
