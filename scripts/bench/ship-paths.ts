// The ways an image built here reaches N hosts, as the ship benchmark (ship.ts) times them:
// the floor (`docker save IMAGE | ssh HOST docker load`, one stream per host, all at once), hoist's
// ship step (lib/ship/ship-image.ts over hoist's own SSH executor, all at once), and a registry
// (push once from here, every host pulls at once). Plus what each needs around it: emptying a
// host's Docker images between paths, and the bytes a host received on its network interface
// (the kernel's counter for the container's eth0: what crossed the wire, SSH and TCP included).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SshExecutor } from '../../lib/exec/ssh-executor.ts';
import { pullOnHost, pushImage, type PushedImage } from '../../lib/ship/registry.ts';
import { shipImage, type ShipReport } from '../../lib/ship/ship-image.ts';
import type { ShipImage } from '../../lib/ship/layers.ts';
import { dockerSh } from '../../test/harness/docker.ts';
import type { Testbed, TestHost } from '../../test/harness/testbed.ts';

/** A bound on any one path's run: 10 hosts × 500 MB on two busy cores take minutes, not hours. */
const PATH_TIMEOUT_MS = 30 * 60_000;

export interface Run {
  code: number;
  out: string;
  ms: number;
}

/** Runs a local command (argv, no shell unless asked), stdin from a string; bounded. */
export function runHere(cmd: string, args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer) => (out = (out + d.toString()).slice(-8000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? PATH_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code: code ?? -1, out, ms: Date.now() - started });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

const must = async (what: string, r: Promise<Run>): Promise<Run> => {
  const x = await r;
  if (x.code !== 0) throw new Error(`${what}: exit ${x.code}: ${x.out.slice(-2000)}`);
  return x;
};

/** Bytes the host's eth0 has received since it started (the kernel's counter, read from outside the SSH path). */
export async function rxBytes(h: TestHost): Promise<number> {
  const r = await dockerSh(h.container, 'cat /sys/class/net/eth0/statistics/rx_bytes');
  const n = Number(r.stdout.trim());
  if (r.code !== 0 || !Number.isFinite(n)) throw new Error(`reading ${h.name}'s rx_bytes: ${r.stderr}`);
  return n;
}

/** Per host, the bytes its eth0 received while `fn` ran. */
export async function received<T>(hosts: TestHost[], fn: () => Promise<T>): Promise<{ result: T; bytes: number[] }> {
  const before = await Promise.all(hosts.map(rxBytes));
  const result = await fn();
  const after = await Promise.all(hosts.map(rxBytes));
  return { result, bytes: after.map((a, i) => a - before[i]!) };
}

/**
 * Removes every image (and what a ship staged) from the host's Docker, so the next path starts
 * from a host that has none of the image's layers. Refuses to go on if any image is left.
 */
export async function emptyImages(h: TestHost): Promise<void> {
  const r = await dockerSh(
    h.container,
    `ids=$(docker image ls -aq | sort -u); [ -z "$ids" ] || docker rmi -f $ids >/dev/null; rm -rf /home/deploy/apps/app/ship; docker image ls -aq | wc -l`,
  );
  if (r.code !== 0 || r.stdout.trim() !== '0') throw new Error(`emptying ${h.name}'s images: ${r.stdout} ${r.stderr}`);
}

export async function hasImage(h: TestHost, id: string): Promise<boolean> {
  const r = await dockerSh(h.container, `docker image inspect -f '{{.Id}}' ${id}`);
  return r.code === 0 && r.stdout.trim() === id;
}

/** OpenSSH as the deploy user to a test host, with the bed's key and known_hosts (no agent, no config). */
const sshArgs = (tb: Testbed, h: TestHost) => ['-F', 'none', '-i', tb.keyPath, '-o', `UserKnownHostsFile=${tb.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-p', String(h.port), 'deploy@127.0.0.1'];

/** The floor: `docker save TAG | ssh deploy@HOST docker load`, one pipeline per host, all hosts at once. */
export async function floorShip(tb: Testbed, hosts: TestHost[], tag: string): Promise<number> {
  const started = Date.now();
  await Promise.all(
    hosts.map((h) => must(`floor to ${h.name}`, runHere('bash', ['-c', 'set -o pipefail; tag=$1; shift; docker save "$tag" | ssh "$@" docker load -q', 'bash', tag, ...sshArgs(tb, h)]))),
  );
  return Date.now() - started;
}

/**
 * The floor without `docker save`: the image's tar, saved here once before (as hoist's cache
 * keeps its layers), `ssh deploy@HOST docker load < TAR`, one stream per host, all at once.
 */
export async function floorFromTar(tb: Testbed, hosts: TestHost[], tar: string): Promise<number> {
  const started = Date.now();
  await Promise.all(hosts.map((h) => must(`floor (saved tar) to ${h.name}`, runHere('bash', ['-c', 'f=$1; shift; ssh "$@" docker load -q < "$f"', 'bash', tar, ...sshArgs(tb, h)]))));
  return Date.now() - started;
}

/** hoist's ship step alone: shipImage over one SshExecutor per host (as the release's docker-up does), all hosts at once. */
export async function hoistShip(tb: Testbed, hosts: TestHost[], image: ShipImage, tag: string): Promise<{ ms: number; reports: ShipReport[] }> {
  const key = readFileSync(tb.keyPath);
  const started = Date.now();
  const reports = await Promise.all(
    hosts.map(async (h) => {
      const exec = new SshExecutor({
        targets: [{ host: '127.0.0.1', port: h.port, user: 'deploy', privateKey: key, knownHostsPath: tb.knownHostsPath, acceptNew: false, connectTimeoutMs: 30_000 }],
        commandTimeoutMs: PATH_TIMEOUT_MS,
      });
      try {
        return await shipImage(exec, 'app', image, tag, { progress: () => undefined, commandTimeoutMs: PATH_TIMEOUT_MS });
      } finally {
        await exec.close();
      }
    }),
  );
  return { ms: Date.now() - started, reports };
}

export interface RegistryTimes {
  pushMs: number;
  pullMs: number;
}

/**
 * The registry path: push once from here (login on stdin, a private Docker config: lib/ship's
 * pushImage), then every host pulls at once (lib/ship's pullOnHost over OpenSSH, the password on stdin).
 */
export async function registryShip(tb: Testbed, hosts: TestHost[], tag: string, registry: { address: string; user: string; password: string }, sha: string): Promise<RegistryTimes> {
  const t0 = Date.now();
  const pushed: PushedImage = await pushImage(tag, registry, 'app', 'web', sha);
  const pushMs = Date.now() - t0;
  const t1 = Date.now();
  await Promise.all(hosts.map((h) => must(`pull on ${h.name}`, runHere('ssh', [...sshArgs(tb, h), String(pullOnHost(pushed, tag))], { stdin: registry.password }))));
  return { pushMs, pullMs: Date.now() - t1 };
}

/** Removes the registry's copy of the image here (the tag pushImage made). */
export async function forgetPushed(registryAddress: string, sha: string): Promise<void> {
  await runHere('docker', ['rmi', `${registryAddress}/hoist/app/web:${sha.slice(0, 12)}`]);
}

/** OpenSSH command to one host as the deploy user: for the manual steps of the seed's user. */
export const sshTo = (tb: Testbed, h: TestHost, remote: string): Promise<Run> => runHere('ssh', [...sshArgs(tb, h), remote]);
