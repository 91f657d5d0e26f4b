// Test hosts with systemd as PID 1, as every rented VPS has (build-vps-systemd-image.sh): Debian
// 12 and 13 images, cached by name and the build script's hash, built one at a time on this
// machine; the `docker run` flags such a host needs; and waits for its boot, which is also what
// a reboot (`docker restart`, a clean shutdown through SIGRTMIN+3) is waited out with.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildAlone } from './build-lock.ts';
import { dockerSh } from './docker.ts';

const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'build-vps-systemd-image.sh');

export type SystemdOs = 'debian12' | 'debian13';
const SUITES: Record<SystemdOs, string> = { debian12: 'bookworm', debian13: 'trixie' };

const images = new Map<SystemdOs, Promise<string>>();

/** The fresh systemd VPS image of `os`, built once (minutes: debootstrap and apt) and cached. */
export function systemdVpsImage(os: SystemdOs): Promise<string> {
  let p = images.get(os);
  if (!p) {
    p = (async () => {
      const hash = createHash('sha256').update(readFileSync(BUILD_SCRIPT)).update(SUITES[os]).digest('hex').slice(0, 12);
      const tag = `hoist-test-vps-systemd-${os}:${hash}`;
      await buildAlone(tag, () => promisify(execFile)('bash', [BUILD_SCRIPT, SUITES[os], tag], { timeout: 20 * 60_000 }));
      return tag;
    })();
    images.set(os, p);
  }
  return p;
}

/**
 * What systemd as PID 1 needs besides the Docker-inside flags: /run/lock on a tmpfs, and a stop
 * signal it takes as "shut down" (SIGTERM makes systemd re-execute itself: `docker restart` would
 * wait out its timeout and kill it, a power cut rather than a reboot).
 */
export const SYSTEMD_FLAGS = ['--tmpfs', '/run/lock', '--stop-signal', 'SIGRTMIN+3'];

/**
 * A free loopback port for a host's sshd. Fixed at `docker run`, so a restarted container (a
 * reboot) keeps its address, as a VPS keeps its IP; an ephemeral `-p 127.0.0.1::22` may change.
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Waits (bounded) until systemd has finished booting, and fails naming the failed units if it
 * is degraded: a test host whose boot went wrong would make every later failure a riddle.
 * systemd itself says when (`is-system-running --wait`): one process per boot, where a poll
 * made two every half second for as long as a boot took on a busy machine. Before systemd
 * answers on its bus (the first moments of a boot) the call fails at once; it is asked again.
 */
export async function waitForBoot(container: string, seconds = 120): Promise<void> {
  const r = await dockerSh(
    container,
    `s=booting; end=$(($(date +%s) + ${seconds})); while :; do left=$((end - $(date +%s))); [ $left -gt 0 ] || { echo "still $s after ${seconds}s" >&2; exit 1; }
s=$(timeout $left systemctl is-system-running --wait 2>/dev/null); case "$s" in running) exit 0;; degraded) systemctl --failed --no-legend --plain >&2; exit 1;; esac; sleep 0.5; done`,
  );
  if (r.code !== 0) throw new Error(`${container} did not boot cleanly: ${r.stderr.trim()}`);
}
