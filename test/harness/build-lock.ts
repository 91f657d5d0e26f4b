// One build of a test image at a time on this machine. E2E files run side by side, each in its
// own process (test/parallel-files.ts); on a machine without the images yet (CI), two of them
// would each build the same image (debootstrap, apt) at once, doubling minutes of CPU on two
// cores, and one of the two results is thrown away. The first process to ask builds; the others
// wait for it here, then find the image made. A lock left by a process that is gone is taken over.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Longest wait for another process's build (the builds themselves give up before). */
const WAIT_MS = 20 * 60_000;

/** Runs `build` (which must itself skip an image already there) holding the machine-wide lock for `tag`. */
export async function buildAlone<T>(tag: string, build: () => Promise<T>): Promise<T> {
  const dir = join(tmpdir(), `hoist-test-build-${tag.replace(/[^A-Za-z0-9_.-]/g, '_')}.lock`);
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (abandoned(dir)) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another test process has been building ${tag} for over ${WAIT_MS / 60_000} min (lock ${dir})`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  try {
    return await build();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The holder is gone, or never wrote its pid (it died between mkdir and write: give it 30 s). */
function abandoned(dir: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  } catch {
    try {
      return Date.now() - statSync(dir).mtimeMs > 30_000;
    } catch {
      return false; // removed meanwhile: the next mkdir tells
    }
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
