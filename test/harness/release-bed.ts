// What the release tests run against: ready hosts (Docker, compose, Caddy and git already in the
// image, so no test waits for apt; dockerd inside each; by default Debian 13 with systemd), a git server with the app's repo
// acme/app.git, dnsmasq answering the app's domain with 127.0.0.1 (the hosts' address in the
// inventory, so dns-verify passes), and the fake GitHub, which grants the deploy key hoist
// registers on that git server as a forge would. `env()` writes the .env that points hoist at
// all of it; what the app is (its commits) and how long it may take to turn healthy stay with
// each test. `stop()` removes everything, also after a start that failed half way.
import { DnsServer } from './dns-server.ts';
import { FakeGitHub } from './fake-github.ts';
import { startGitServer, type GitServer } from './git-host.ts';
import { readyImage, readySystemdImage, withDockerLogRotation } from './images.ts';
import { Testbed, type TestHost } from './testbed.ts';
import { timed } from './times.ts';

export interface ReleaseBedOptions {
  /** The app's domain (APP_DOMAIN); the DNS server answers it with 127.0.0.1. */
  domain: string;
  /** The token the fake GitHub accepts for deploy keys: the test hands it to hoist as GITHUB_TOKEN. */
  token: string;
  /** How many hosts (web1..webN, default 1), all in the inventory. */
  count?: number;
  /** Repositories acme/NAME on the git server and the fake GitHub (default: app). */
  repos?: string[];
  /** More domains the DNS server answers with 127.0.0.1 (a second app's). */
  moreDomains?: string[];
  /**
   * What the hosts are (see HOST_KINDS): `debian13` (the default), a Debian 13 VPS with systemd as
   * PID 1, as rented; `debian12-no-systemd`, Debian 12 with sshd as PID 1 and compose v1, which
   * hoist starts Docker and Caddy on itself. A list gives each host its kind, in order (web1
   * first): a mixed fleet, as real fleets are; `count` is then the list's length.
   */
  host?: ReleaseHostKind | ReleaseHostKind[];
}

/**
 * The release tests' host kinds, each a ready image (Docker, compose, Caddy, git installed, as
 * bootstrap leaves a host). A systemd host boots (Docker and Caddy start as services) before the
 * test gets it.
 */
export type ReleaseHostKind = 'debian13' | 'debian12-no-systemd';

export class ReleaseBed {
  /** Made at once, like a Testbed: a test may name files in its folder before the start. */
  readonly tb = new Testbed();
  // Set by start() one after the other; stop() stops whichever of them it got to.
  git!: GitServer;
  dns!: DnsServer;
  fake!: FakeGitHub;
  /** Each host's kind, in the order of `tb.hosts`. */
  kinds: ReleaseHostKind[] = [];
  private domain = '';
  private forgeKnownHosts: string | null = null;

  /** The first host: for the one-host tests, the host. */
  get host(): TestHost {
    return this.tb.hosts[0]!;
  }

  async start(opts: ReleaseBedOptions): Promise<this> {
    this.domain = opts.domain;
    if (Array.isArray(opts.host) && opts.count !== undefined && opts.count !== opts.host.length) {
      throw new Error(`count ${opts.count} and ${opts.host.length} host kinds: give one of them`);
    }
    this.kinds = Array.isArray(opts.host) ? opts.host : Array.from({ length: opts.count ?? 1 }, () => (opts.host ?? 'debian13') as ReleaseHostKind);
    // One group per run of hosts of the same kind, in order: web1..webN keep the list's order.
    const groups: { kind: ReleaseHostKind; count: number }[] = [];
    for (const kind of this.kinds) {
      const last = groups.at(-1);
      if (last?.kind === kind) last.count++;
      else groups.push({ kind, count: 1 });
    }
    const hosts = await Promise.all(groups.map(async ({ kind, count }) => kind === 'debian13'
      ? { count, init: 'systemd' as const, os: 'debian13' as const, image: await releaseHostImage('debian13') }
      : { count, dockerInside: true, image: await releaseHostImage('debian12-no-systemd') }));
    // The git server and the hosts take the longest to come up and need nothing of each other.
    const repos = opts.repos ?? ['app'];
    const t0 = Date.now();
    const what = groups.map((g) => `${g.count} ${g.kind}`).join(' + ');
    [this.git] = await Promise.all([startGitServer(repos), this.tb.start(hosts).then((tb) => (timed(`${what} host(s) started`, t0), tb))]);
    timed('git server and hosts', t0);
    // Every host, as each release test had it: a run meant for fewer names them with --hosts.
    this.tb.writeInventory();
    this.dns = await DnsServer.start({ records: Object.fromEntries([opts.domain, ...(opts.moreDomains ?? [])].map((d) => [d, ['127.0.0.1']])) });
    this.fake = await new FakeGitHub({ token: opts.token, repos: repos.map((r) => `acme/${r}`), onGrant: (k) => this.git.grant(k.key), onRevoke: (k) => this.git.revoke(k.key) }).start();
    return this;
  }

  /**
   * The .env keys every release test sets, then `extra` (which may replace one of them). Only
   * the keys: a test writing its .env another way (exact quoting, no RETRIES) adds its own.
   */
  vars(extra: Record<string, string> = {}): Record<string, string> {
    return {
      // The hosts are fresh: bootstrap logs in as root and makes the deploy user.
      SSH_USER: 'root',
      APP_NAME: 'app',
      APP_DOMAIN: this.domain,
      DNS_RESOLVERS: this.dns.address,
      // The record is there from the start: a dns-verify that misses it fails in seconds, not after
      // the default 10 minutes.
      DNS_WAIT: '5',
      APP_REPO: this.git.repoUrl('app'),
      // Written only when the test has no file of its own: one it made under the same name stays as it is.
      FORGE_KNOWN_HOSTS: extra.FORGE_KNOWN_HOSTS ?? this.forgeKnownHostsFile(),
      GITHUB_API_URL: this.fake.url,
      // No certificate authority can be reached from a test: plain HTTP on port 80.
      CADDY_TLS: 'off',
      // Room for an image build on a busy machine, yet a hung command ends the test before the
      // default 15 minutes.
      SSH_COMMAND_TIMEOUT: '600',
      ...extra,
    };
  }

  /** Writes the test bed's .env (Testbed.writeEnv: its key, known_hosts, timeouts) with vars(extra). */
  env(extra: Record<string, string> = {}): string {
    return this.tb.writeEnv(this.vars(extra));
  }

  async stop(): Promise<void> {
    await this.fake?.stop();
    await this.dns?.stop();
    await this.git?.stop();
    await this.tb.stop();
  }

  private forgeKnownHostsFile(): string {
    this.forgeKnownHosts ??= this.tb.file('forge_known_hosts', `${this.git.knownHostsLine}\n`);
    return this.forgeKnownHosts;
  }
}

/** The image of a release test's host of `kind`: the ready image with bootstrap's daemon.json (images.ts). */
export function releaseHostImage(kind: ReleaseHostKind): Promise<string> {
  return kind === 'debian13' ? withDockerLogRotation('ready-systemd-debian13', () => readySystemdImage('debian13')) : withDockerLogRotation('ready', readyImage);
}
