// Real git over SSH for the deploy-key tests: an image made FROM the test VPS image plus Debian's
// git, used both for a git server container (user `git` with git-shell, a bare repo
// acme/app.git with one commit) and for VPS containers that need git as a client.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { docker, dockerSh, remember, removeContainers, testLabels, type ShResult } from './docker.ts';
import { imageWithPackages } from './images.ts';


/** The VPS image plus git, built once and cached by the hash of its Dockerfile (which names the base). */
export function gitImage(): Promise<string> {
  return imageWithPackages('git', ['git']);
}

async function ipOf(container: string): Promise<string> {
  return docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', container);
}

/** Waits (bounded) until sshd listens inside the container. */
async function waitForSshd(container: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await dockerSh(container, "timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/22' 2>/dev/null");
    if (r.code === 0) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`sshd in ${container} did not listen within ${timeoutMs / 1000}s`);
}

function must(r: ShResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export interface GitServer {
  container: string;
  /** Its address on the docker bridge, where the VPS containers reach it. */
  ip: string;
  /** known_hosts line of its ed25519 host key, for `ip`. */
  knownHostsLine: string;
  /** scp-like URL of the bare repo acme/NAME.git. */
  repoUrl(name: string): string;
  /** Lets `publicKey` read and write the repo (as a forge does once a deploy key is added). */
  grant(publicKey: string): Promise<void>;
  revoke(publicKey: string): Promise<void>;
  authorizedKeys(): Promise<string>;
  /** Commits `files` (path → content) on main of acme/NAME.git, optionally tags it; returns the sha. */
  commit(name: string, files: Record<string, string>, message: string, tag?: string): Promise<string>;
  stop(): Promise<void>;
}

// "$@" are the repository names; each gets a bare repo with one commit on main.
const SERVER_SETUP = `set -e
useradd -m -s /usr/bin/git-shell git
install -d -m 700 -o git -g git /home/git/.ssh
install -m 600 -o git -g git /dev/null /home/git/.ssh/authorized_keys
mkdir -p /home/git/acme
w=$(mktemp -d)
git -C "$w" init -q -b main
echo 'hello from the test forge' >"$w/README"
git -C "$w" add README
git -C "$w" -c user.name=test -c user.email=test@example.invalid commit -q -m 'first commit'
for name in "$@"; do
  git init -q --bare -b main "/home/git/acme/$name.git"
  git -C "$w" push -q "/home/git/acme/$name.git" main
done
rm -rf "$w"
chown -R git:git /home/git/acme`;

/** A git server with bare repos acme/NAME.git for each of `repos` (names: [a-z0-9-]). */
export async function startGitServer(repos: string[] = ['app']): Promise<GitServer> {
  if (!repos.every((r) => /^[a-z0-9-]+$/.test(r))) throw new Error(`bad repo names ${repos.join(',')}`);
  const image = await gitImage();
  const container = `hoist-test-${randomBytes(3).toString('hex')}-git`;
  remember(container);
  await docker('run', '-d', '--name', container, '--hostname', 'forge', ...testLabels(), image);
  await waitForSshd(container);
  must(await dockerSh(container, `set -- ${repos.join(' ')}\n${SERVER_SETUP}`), 'setting up the git server');
  const ip = await ipOf(container);
  const [type, blob] = must(await dockerSh(container, 'cat /etc/ssh/ssh_host_ed25519_key.pub'), 'reading the host key').trim().split(/\s+/);
  const keyFields = (publicKey: string) => publicKey.trim().split(/\s+/).slice(0, 2);
  return {
    container,
    ip,
    knownHostsLine: `${ip} ${type} ${blob}`,
    repoUrl: (name) => `git@${ip}:acme/${name}.git`,
    async grant(publicKey) {
      const [t, b] = keyFields(publicKey);
      must(await dockerSh(container, 'cat >>/home/git/.ssh/authorized_keys', 'git', `restrict ${t} ${b}\n`), 'granting a key');
    },
    async revoke(publicKey) {
      const [, b] = keyFields(publicKey);
      const script = 'f=/home/git/.ssh/authorized_keys; grep -vF -e "$1" "$f" >"$f.new" || true; cat "$f.new" >"$f"; rm -f "$f.new"';
      must(await dockerSh(container, `set -- ${b}; ${script}`, 'git'), 'revoking a key');
    },
    async authorizedKeys() {
      return must(await dockerSh(container, 'cat /home/git/.ssh/authorized_keys', 'git'), 'reading authorized_keys');
    },
    async commit(name, files, message, tag) {
      // The contents travel as a base64 tar on stdin: no file content is ever a shell word.
      const tar = await tarOf(files);
      const script = `set -e
w=$(mktemp -d); git clone -q /home/git/acme/$1.git "$w"
base64 -d | tar -x -C "$w"
git -C "$w" add -A
git -C "$w" -c user.name=test -c user.email=test@example.invalid commit -q -m "$2"
if [ -n "$3" ]; then git -C "$w" tag -a "$3" -m "$3"; fi
git -C "$w" push -q origin main --tags
git -C "$w" rev-parse HEAD
rm -rf "$w"`;
      return must(await dockerSh(container, `set -- ${name} '${message.replace(/'/g, '')}' '${tag ?? ''}'
${script}`, 'git', tar), 'committing').trim();
    },
    stop: () => removeContainers([container]),
  };
}

/** A tar (base64) of `files`, made with the local tar from a temporary folder. */
async function tarOf(files: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hoist-commit-'));
  try {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    return execFileSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 256 * 1024 * 1024 }).toString('base64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
