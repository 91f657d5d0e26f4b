// A build step or a container the kernel killed for memory (issue #19 item 4): on a 1 GiB VPS an
// ML image's `pip install` or a model load is killed by the OOM killer, and Docker only says
// "exit code: 137" (128 + SIGKILL). hoist says "out of memory" and what to do about it.
import { formatBytes } from '../../lib/byte-size.ts';
import { HoistError } from '../../lib/errors.ts';
import { printable } from '../../lib/printable.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { projectOf, type Slot } from './slots.ts';

export class OutOfMemoryError extends HoistError {}

/** The line of a failed build that says a step was killed (137), as BuildKit, the classic builder or compose print it. */
export function killedLine(output: string): string | null {
  // eslint-disable-next-line no-control-regex
  const lines = output.split('\n').map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim());
  return lines.find((l) => /(returned a non-zero code|exit code|exited with code|did not complete successfully: exit code):? 137\b/i.test(l) || /\bOOMKilled\b|out of memory/i.test(l)) ?? null;
}

/** The fix, in the words of hoist's settings. */
function fixes(bound: string): string {
  return ['Fix: give the host swap (SWAP_SIZE=2G, then `hoist run bootstrap`; a host under 2 GiB of memory without swap gets 2G by default)', bound, 'or a host with more memory, or build the image elsewhere and ship it'].join(', ');
}

/** A failed build whose step was killed (exit 137): the out-of-memory error; null for any other failure. */
export function buildOutOfMemory(r: { stdout: string; stderr: string }, release: string, buildMemory: number | undefined): OutOfMemoryError | null {
  const line = killedLine(`${r.stderr}\n${r.stdout}`);
  if (!line) return null;
  const bound = buildMemory ? ` (BUILD_MEMORY bounds each build step to ${formatBytes(buildMemory)})` : '';
  return new OutOfMemoryError(
    `building ${release} ran out of memory: the kernel killed a build step${bound} (${printable(line.length > 200 ? `${line.slice(0, 200)}...` : line)}). The new slot did not start; the live release keeps serving. ${fixes(buildMemory ? `or a larger BUILD_MEMORY (now ${formatBytes(buildMemory)})` : 'or bound the build with BUILD_MEMORY (e.g. 1G: the build then fails alone instead of the whole VPS thrashing)')}`,
  );
}

/** Prints `NAME OOMKILLED EXITCODE` for each container of the slot. */
export function slotExitStates(app: string, slot: Slot): Cmd {
  return sh`for id in $(docker ps -aq --filter ${`label=com.docker.compose.project=${projectOf(app, slot)}`}); do docker inspect --format '{{index .Config.Labels "com.docker.compose.service"}} {{.State.OOMKilled}} {{.State.ExitCode}}' "$id"; done`;
}

/** The slot's services the kernel killed for memory (OOMKilled, or exit 137 while stopped), from slotExitStates. */
export function oomKilledServices(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim().split(' '))
    .filter(([name, oom, code]) => name && (oom === 'true' || code === '137'))
    .map(([name]) => name!);
}

/** Said when the slot's containers were killed for memory while turning healthy. */
export function runOutOfMemoryNote(services: string[]): string {
  return `out of memory: the kernel killed ${services.join(', ')} (exit 137). ${fixes('or a memory bound (`mem_limit:` in the compose file) on the service that takes the rest')}`;
}
