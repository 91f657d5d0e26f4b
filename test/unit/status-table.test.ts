// `hoist status`'s table, exact text: one line per host; below, one line per app on each host
// (every app there, not only APP_NAME) with its slot, ports, health and disk use, and once per
// host what belongs to no app (the build cache, dangling images); then what is wrong, once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statusTable } from '../../lib/render/status-table.ts';
import type { AppStatus } from '../../lib/status/app-status.ts';
import type { AppDisk, HostDisk } from '../../lib/status/disk-use.ts';
import type { HostStatus } from '../../lib/status/host-status.ts';

const R1 = '20261125000000-def000000001';
const R2 = '20261126000000-abc000000002';
const MiB = 1024 ** 2;
const ok = (detail: string) => ({ ok: true, detail, state: 'healthy' as const });
const no = (detail: string) => ({ ok: false, detail, state: 'unhealthy' as const });

const disk = (over: Partial<AppDisk> = {}): AppDisk => ({ images: [], imagesBytes: 0, ownBytes: 0, releasesBytes: 12 * 1024, repoBytes: 40 * 1024, ...over });
const image = (release: string, onHost = true) => ({ ref: `hoist-x-web:${release}`, id: `sha256:${release}`, bytes: 10 * MiB, release, releaseOnHost: onHost, live: false });
const app = (name: string, over: Partial<AppStatus> = {}): AppStatus => ({
  name,
  release: R2,
  slot: 'green',
  ports: { blue: 18001, green: 18002 },
  health: ok('1 running in the green slot, / answers 200'),
  containers: [],
  stateful: [],
  volumes: [],
  disk: disk({ images: [image(R1), image(R2)], imagesBytes: 1.5 * 1024 * MiB }),
  ...over,
});
const hostDisk: HostDisk = {
  dockerRoot: '/var/lib/docker',
  freeBytes: 3.25 * 1024 * MiB,
  totalBytes: 24.5 * 1024 * MiB,
  imagesBytes: 2.5 * 1024 * MiB,
  buildCache: { bytes: 300 * MiB, reclaimableBytes: 120 * MiB, entries: 14, perApp: false },
  dangling: { count: 3, bytes: 80 * MiB },
};
const host = (name: string, over: Partial<HostStatus>): HostStatus => ({
  name,
  address: '127.0.0.1:22',
  reachable: ok('deploy@127.0.0.1:22'),
  release: R2,
  commit: 'abc000000002',
  containers: ok('1 running in the green slot, health 200'),
  dns: ok('up to date'),
  caddy: ok('app.example.com 200'),
  lock: { held: false, detail: 'free' },
  healthy: true,
  state: 'healthy',
  ...over,
});

test('two apps on web1 (one without release, one with an image that outlived its release), web2 unreachable, Docker stopped on web3', () => {
  const stopped = 'Docker is not running on this host (nothing answers on /var/run/docker.sock). Fix: start it';
  const text = statusTable([
    host('web1', {
      apps: [
        app('api', { disk: disk({ images: [image(R1, false), image(R2)], imagesBytes: 1.5 * 1024 * MiB }) }),
        app('scorer', { release: null, slot: null, ports: { blue: 18003, green: 18004 }, health: no('no release is live'), disk: disk({ releasesBytes: null }) }),
      ],
      disk: hostDisk,
      healthy: false,
    }),
    host('web2', { reachable: no('connect ECONNREFUSED'), release: null, containers: no('not reachable'), caddy: no('not reachable'), lock: { held: false, detail: 'unknown' }, apps: [], disk: null, healthy: false }),
    host('web3', { containers: no(stopped), apps: [app('api', { health: no(stopped), disk: disk() })], disk: { ...hostDisk, dockerRoot: null, freeBytes: null, totalBytes: null }, healthy: false }),
  ]);
  assert.is(
    text,
    [
      'HOST  REACHABLE  RELEASE                      CONTAINERS  DNS  CADDY  LOCK  DOCKER DISK FREE',
      'web1  ok         20261126000000-abc000000002  ok          ok   ok     free  3.25 GiB of 24.5 GiB',
      'web2  NO         -                            NO          ok   NO     free  -',
      'web3  ok         20261126000000-abc000000002  NO          ok   ok     free  -',
      '',
      'HOST  APP     RELEASE                      SLOT   PORTS        HEALTH  IMAGES                           RELEASES',
      'web1  api     20261126000000-abc000000002  green  18001/18002  ok      2, 1.50 GiB (1 without release)  12.0 KiB',
      'web1  scorer  -                            -      18003/18004  NO      0, 0 B                           -',
      'web3  api     20261126000000-abc000000002  green  18001/18002  NO      0, 0 B                           12.0 KiB',
      'web1: all images 2.50 GiB; build cache 300 MiB (120 MiB unused), not split by app (Docker does not record which app a build was for); dangling images 3, 80.0 MiB',
      '',
      'web1: app scorer: no release is live',
      'web2: reachable: connect ECONNREFUSED',
      'web2: containers: not reachable',
      'web2: caddy: not reachable',
      `web3: containers: ${stopped}`,
      '',
      '0 of 3 hosts healthy',
    ].join('\n'),
  );
});

test('a host whose apps could not be read says why; one app, nothing wrong: no problem lines', () => {
  const text = statusTable([host('web1', { apps: [app('api')], disk: { ...hostDisk, buildCache: { bytes: 0, reclaimableBytes: 0, entries: 0, perApp: false }, dangling: { count: 0, bytes: 0 } } })]);
  assert.is(
    text,
    [
      'HOST  REACHABLE  RELEASE                      CONTAINERS  DNS  CADDY  LOCK  DOCKER DISK FREE',
      'web1  ok         20261126000000-abc000000002  ok          ok   ok     free  3.25 GiB of 24.5 GiB',
      '',
      'HOST  APP  RELEASE                      SLOT   PORTS        HEALTH  IMAGES       RELEASES',
      'web1  api  20261126000000-abc000000002  green  18001/18002  ok      2, 1.50 GiB  12.0 KiB',
      'web1: all images 2.50 GiB; build cache empty, not split by app (Docker does not record which app a build was for); dangling images none',
      '',
      '1 of 1 hosts healthy',
    ].join('\n'),
  );
  const unread = statusTable([host('web1', { appsProblem: 'reading the apps and Docker\'s disk use failed (exit 124): \x1b[2J', healthy: true })]);
  assert.ok(unread.includes("\nweb1: apps: reading the apps and Docker's disk use failed (exit 124): \\u001b[2J\n"), unread);
  assert.not.ok(unread.includes('APP '), 'no app table without apps');
});

test('names and releases from the host are escaped before they are measured: a row stays one row', () => {
  const text = statusTable([host('web1', { apps: [app('x\x1b[2Jy', { release: 'r\nweb9', health: no('exited \u202eevil') })], disk: hostDisk, healthy: false })]);
  const appRow = text.split('\n')[4]!;
  assert.is(appRow.split(/\s+/).slice(0, 3).join(' '), 'web1 x\\u001b[2Jy r\\u000aweb9');
  assert.ok(text.includes('web1: app x\\u001b[2Jy: exited \\u202eevil'), text);
});

test.run();
