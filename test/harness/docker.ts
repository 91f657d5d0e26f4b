// Thin helpers over the docker CLI for the test bed. Every container (and network) the tests
// start is labelled, remembered, and removed at exit even when a test crashes.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { runInShellServer } from './shell-server.ts';

const run = promisify(execFile);
export const TEST_LABEL = 'hoist-test';
const started = new Set<string>();
const networks = new Set<string>();

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

export interface ShResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs a shell script inside a container, as `user`; never throws on a non-zero exit. Through the
 * container's long-lived test shell when it can (./shell-server.ts), else its own `docker exec`.
 */
export async function dockerSh(container: string, script: string, user = 'root', stdin?: string): Promise<ShResult> {
  const served = await runInShellServer(container, user, script, stdin);
  if (served) return served;
  return new Promise((resolve) => {
    const child = execFile(
      'docker',
      ['exec', ...(stdin !== undefined ? ['-i'] : []), '-u', user, container, 'sh', '-c', script],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ stdout, stderr, code });
      },
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

export function remember(container: string): void {
  started.add(container);
}

export async function removeContainers(names: string[]): Promise<void> {
  if (names.length === 0) return;
  await run('docker', ['rm', '-f', '-v', ...names]).catch(() => undefined);
  for (const n of names) started.delete(n);
}

/**
 * A Docker network of this test process, `--internal` (no route out of the machine), labelled
 * like the test hosts: removed by `removeNetwork`, at exit, or as stale by a later run.
 */
export async function createTestNetwork(name: string): Promise<void> {
  networks.add(name);
  await docker('network', 'create', '--internal', ...testLabels(), name);
}

/** Removes a network (after its containers are gone); never throws. */
export async function removeNetwork(name: string): Promise<void> {
  await run('docker', ['network', 'rm', name]).catch(() => undefined);
  networks.delete(name);
}

/** `docker run` flags that mark a container as a test host of this process. */
export function testLabels(): string[] {
  return ['--label', TEST_LABEL, '--label', `${TEST_LABEL}.pid=${process.pid}`];
}

/**
 * Containers left by an earlier run that died before its own cleanup: only those whose test
 * process is gone, so two test runs on one machine never remove each other's hosts.
 */
export function removeStaleTestContainers(): void {
  const rows = execFileSync('docker', ['ps', '-a', '--filter', `label=${TEST_LABEL}`, '--format', `{{.ID}} {{.Label "${TEST_LABEL}.pid"}}`])
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '));
  const stale = rows.filter(([, pid]) => !pid || !isAlive(Number(pid))).map(([id]) => id!);
  if (stale.length) execFileSync('docker', ['rm', '-f', '-v', ...stale], { stdio: 'ignore' });
  // Then their networks (a network with a container still attached cannot go).
  const nets = execFileSync('docker', ['network', 'ls', '--filter', `label=${TEST_LABEL}`, '--format', `{{.ID}} {{.Label "${TEST_LABEL}.pid"}}`])
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '));
  const staleNets = nets.filter(([, pid]) => !pid || !isAlive(Number(pid))).map(([id]) => id!);
  try {
    if (staleNets.length) execFileSync('docker', ['network', 'rm', ...staleNets], { stdio: 'ignore' });
  } catch {
    // one still in use: the next run tries again
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

process.on('exit', () => {
  if (started.size) {
    try {
      execFileSync('docker', ['rm', '-f', '-v', ...started], { stdio: 'ignore' });
    } catch {
      // best effort at exit
    }
  }
  if (networks.size) {
    try {
      execFileSync('docker', ['network', 'rm', ...networks], { stdio: 'ignore' });
    } catch {
      // best effort at exit
    }
  }
});
