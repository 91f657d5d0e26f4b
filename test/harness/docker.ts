// Thin helpers over the docker CLI for the test bed. Every container the tests start is
// labelled, remembered, and removed at exit even when a test crashes.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const TEST_LABEL = 'hoist-test';
const started = new Set<string>();

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

export interface ShResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a shell script inside a container, as `user`; never throws on a non-zero exit. */
export async function dockerSh(container: string, script: string, user = 'root', stdin?: string): Promise<ShResult> {
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

/** Containers left by an earlier run that crashed before its own cleanup. */
export function removeStaleTestContainers(): void {
  const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=${TEST_LABEL}`]).toString().split('\n').filter(Boolean);
  if (ids.length) execFileSync('docker', ['rm', '-f', '-v', ...ids], { stdio: 'ignore' });
}

process.on('exit', () => {
  if (started.size) {
    try {
      execFileSync('docker', ['rm', '-f', '-v', ...started], { stdio: 'ignore' });
    } catch {
      // best effort at exit
    }
  }
});
