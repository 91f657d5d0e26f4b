// Settings for unit tests that need a HostConfig but no files: every field at its default.
import type { HostConfig } from '../../lib/config/load-config.ts';
import type { Settings } from '../../lib/config/settings.ts';

export function testSettings(overrides: Partial<Settings> = {}): Settings {
  return {
    sshPort: 22,
    sshUser: 'root',
    deployUser: 'deploy',
    sshKeyPath: '/dev/null',
    knownHostsPath: '/dev/null',
    connectTimeoutMs: 1000,
    commandTimeoutMs: 1000,
    retries: 2,
    appName: 'app',
    appPort: 8000,
    authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJmYXJ0ZXN0a2V5Zm9ydW5pdHRlc3RzMDAwMDAw hoist'],
    domains: [],
    publicIps: [],
    dnsResolvers: [],
    dnsAuthoritative: false,
    dnsWaitMs: 600_000,
    githubApiUrl: 'https://api.github.com',
    deployKeyWaitMs: 600_000,
    extraPackages: [],
    firewall: 'none',
    sshdOptions: [],
    gitRef: 'main',
    keepReleases: 5,
    backupKeep: 3,
    backupImage: 'busybox:1.36',
    build: 'host',
    buildSource: '/nonexistent-build-source',
    appService: 'web',
    healthPath: '/',
    healthTimeoutMs: 120_000,
    drainTimeoutMs: 30_000,
    bluePort: null,
    greenPort: null,
    caddyTls: 'auto',
    caddyExtra: [],
    notifyFormat: 'json',
    alertDiskFree: 1024 ** 3,
    dockerLog: { maxSize: '10m', maxFile: 3 },
    swap: 'auto',
    autoUpgrades: 'off',
    ...overrides,
  };
}

export function testHost(overrides: Partial<Settings> = {}, name = 'h1'): HostConfig {
  return { name, address: '127.0.0.1', tags: [], settings: testSettings(overrides) };
}
