// Images the test hosts run, all made here from Debian's packages: the fresh VPS (see
// build-vps-image.sh), the same VPS with packages already installed (faster tests of the
// release tasks), and a busybox base for test apps, since no registry can be pulled from.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { KEY_BY_NAME } from '../../lib/config/keys.ts';
import { DAEMON_JSON, mergeDaemonJson } from '../../tasks/ssh-bootstrap/docker-logs.ts';
import { buildAlone } from './build-lock.ts';
import { docker, dockerSh } from './docker.ts';
import { systemdVpsImage, type SystemdOs } from './systemd-vps.ts';
import { vpsImage } from './testbed.ts';

const built = new Map<string, Promise<string>>();

/** The fresh VPS image plus Debian `packages`, cached by name and content. */
export function imageWithPackages(name: string, packages: string[]): Promise<string> {
  return imageFrom(vpsImage, name, packages);
}

/** The image `base()` gives plus Debian `packages` (or a RUN line of its own), cached by name and content (the Dockerfile names the base). */
function imageFrom(baseImage: () => Promise<string>, name: string, packages: string[], run = `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')} && rm -rf /var/lib/apt/lists/*`): Promise<string> {
  const key = `${name}:${run}`;
  let p = built.get(key);
  if (!p) {
    p = (async () => {
      const base = await baseImage();
      const dockerfile = `FROM ${base}\nRUN ${run}\n`;
      const tag = `hoist-test-${name}:${createHash('sha256').update(dockerfile).digest('hex').slice(0, 12)}`;
      if (!(await exists(tag))) await buildAlone(tag, async () => (await exists(tag)) || dockerBuild(tag, dockerfile));
      return tag;
    })();
    built.set(key, p);
  }
  return p;
}

/** A VPS as bootstrap leaves it, minus the user and sshd changes: Docker, compose, Caddy, git. */
const READY_PACKAGES = ['docker.io', 'docker-compose', 'caddy', 'git', 'curl', 'busybox-static'];
export function readyImage(): Promise<string> {
  return imageWithPackages('ready', READY_PACKAGES);
}

/** The ready image plus ufw (ufw-rollback's hosts). */
export function readyUfwImage(): Promise<string> {
  return imageWithPackages('ready-ufw', [...READY_PACKAGES, 'ufw']);
}

/**
 * A systemd VPS of `os` as bootstrap leaves it, minus the user and sshd changes: the packages
 * bootstrap installs there (Debian 13: the docker CLI is its own package, compose is v2). Installed
 * while no systemd runs, their services are enabled, not started: Docker and Caddy start at the
 * host's boot, as after a bootstrap and a reboot.
 */
export function readySystemdImage(os: SystemdOs): Promise<string> {
  const docker = os === 'debian13' ? ['docker.io', 'docker-cli'] : ['docker.io'];
  // python3 as Debian's cloud images have it: the test registry's forwarder (harness/registry.ts) runs in it.
  return imageFrom(() => systemdVpsImage(os), `ready-systemd-${os}`, [...docker, 'docker-compose', 'caddy', 'git', 'curl', 'busybox-static', 'python3']);
}

/**
 * `base` with the /etc/docker/daemon.json bootstrap writes with its default settings (Docker's
 * log rotation: tasks/ssh-bootstrap/docker-logs.ts), for the release tests' hosts, which are "as
 * bootstrap leaves them": without it every release test file's first bootstrap restarted dockerd
 * on each of its hosts (seconds of a busy CI machine's CPU, for nothing that file asks). The
 * merge and the restart themselves are proven where hosts start fresh (vps-small, vps-debian13,
 * vps-debian12, bootstrap-pipeline) or from `readyImage` (ssh-bootstrap, faults-bootstrap).
 */
export function withDockerLogRotation(name: string, base: () => Promise<string>): Promise<string> {
  const plan = mergeDaemonJson(null, { maxSize: KEY_BY_NAME.get('DOCKER_LOG_MAX_SIZE')!.default!, maxFile: Number(KEY_BY_NAME.get('DOCKER_LOG_MAX_FILE')!.default) });
  if (plan.kind !== 'write') throw new Error(`no daemon.json to write: ${plan.kind}`);
  const content = Buffer.from(plan.content).toString('base64');
  return imageFrom(base, `${name}-log-rotation`, [], `mkdir -p /etc/docker && echo ${content} | base64 -d > ${DAEMON_JSON}`);
}

/**
 * A minimal base image for test apps (`FROM hoist-test-base`), made inside a ready host from its
 * busybox-static and imported into the host's own dockerd.
 */
export async function loadAppBase(container: string): Promise<void> {
  const script = `set -e
if ! docker image inspect hoist-test-base >/dev/null 2>&1; then
  d=$(mktemp -d); mkdir -p "$d/bin" "$d/www" "$d/tmp"
  cp /bin/busybox "$d/bin/busybox"
  for c in sh httpd wget cat echo sleep ls mkdir tar cp rm; do ln -s busybox "$d/bin/$c"; done
  tar -C "$d" -c . | docker import --change 'ENV PATH=/bin' - hoist-test-base >/dev/null
  rm -rf "$d"
fi`;
  const r = await dockerSh(container, script);
  if (r.code !== 0) throw new Error(`making the app base image in ${container}: ${r.stderr}`);
}

/** Starts what bootstrap would have started, in a ready host without systemd. */
export async function startReadyServices(container: string): Promise<void> {
  const script = `set -e
pidof dockerd >/dev/null || start-stop-daemon --start --quiet --background --make-pidfile --pidfile /run/hoist-docker.pid --output /var/log/hoist-docker.log --exec /usr/sbin/dockerd
pidof caddy >/dev/null || start-stop-daemon --start --quiet --background --make-pidfile --pidfile /run/hoist-caddy.pid --chuid caddy --output /var/log/hoist-caddy.log --exec /usr/bin/caddy -- run --environ --config /etc/caddy/Caddyfile
i=0; until docker info >/dev/null 2>&1 && curl -fsS localhost:2019/config/ >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 150 ] && { echo 'dockerd or caddy did not start' >&2; exit 1; }; sleep 0.2; done`;
  const r = await dockerSh(container, script);
  if (r.code !== 0) throw new Error(`starting docker and caddy in ${container}: ${r.stderr}`);
}

/** Is an image with this tag on the machine? (The benchmark builds its own images the same way.) */
export async function exists(tag: string): Promise<boolean> {
  return docker('image', 'inspect', tag).then(
    () => true,
    () => false,
  );
}

export function dockerBuild(tag: string, dockerfile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['build', '-q', '-t', tag, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`docker build ${tag} failed (exit ${code}): ${stderr.slice(-2000)}`));
    });
    child.stdin.end(dockerfile);
  });
}

/**
 * The shell of a test app that runs but never answers (a release of it never turns healthy). It
 * ends at once on SIGTERM, as a well-behaved app does: a bare `sleep` as PID 1 ignores SIGTERM,
 * so every failed release's stop of it waited out Docker's 10 s before SIGKILL (most failing
 * release tests do that twice), which proves nothing the suite asks.
 */
export const NEVER_ANSWERS = "trap 'exit 0' TERM; sleep 100000 & wait";
