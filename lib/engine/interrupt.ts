// Ctrl-C and SIGTERM as run state: the CLI trips it, the engine reads it between steps. No step
// is cut in half by it (a half-run remote command is what rollback cannot always see); the
// host's in-flight task stops before its next command and the host is rolled back.
import { InterruptedError } from '../errors.ts';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export class Interrupt {
  signal: StopSignal | null = null;

  trigger(signal: StopSignal): void {
    this.signal ??= signal;
  }

  /** Throws if the run was interrupted: call before starting anything new. */
  check(): void {
    if (this.signal) throw new InterruptedError(this.signal);
  }
}
