// Unit-test backend: answers commands from a script instead of a host and records every call, so
// engine and task tests can check exactly what would have been run, in what order, without SSH.
import type { Cmd } from '../shell-quote.ts';
import type { ExecOptions, ExecResult, Executor, UploadOptions } from './executor.ts';

export interface RecordedCall {
  kind: 'exec' | 'upload';
  line?: string;
  sudo: boolean;
  stdin?: string;
  path?: string;
  content?: string;
  mode?: number;
}

/** Answers one command line, throws the Error it returns, or passes (undefined) to the next. */
export type Responder = (line: string, opts: ExecOptions) => ExecResult | Error | undefined;

export interface RecordingExecutorOptions {
  /** Thrown by successive connect() calls, in order, before connecting succeeds. */
  connectFailures?: Error[];
}

export class RecordingExecutor implements Executor {
  readonly label = 'recording';
  readonly calls: RecordedCall[] = [];
  connectCount = 0;
  private readonly connectFailures: Error[];

  constructor(
    private readonly responders: Responder[],
    opts: RecordingExecutorOptions = {},
  ) {
    this.connectFailures = [...(opts.connectFailures ?? [])];
  }

  async connect(): Promise<void> {
    this.connectCount++;
    const failure = this.connectFailures.shift();
    if (failure) throw failure;
  }

  async exec(cmd: Cmd, opts: ExecOptions = {}): Promise<ExecResult> {
    const line = cmd.line;
    this.calls.push({
      kind: 'exec',
      line,
      sudo: opts.sudo ?? false,
      ...(opts.stdin !== undefined ? { stdin: opts.stdin.toString() } : {}),
    });
    for (const respond of this.responders) {
      const answer = respond(line, opts);
      if (answer instanceof Error) throw answer;
      if (answer) return answer;
    }
    throw new Error(`RecordingExecutor: unexpected command: ${line}`);
  }

  async upload(path: string, content: string | Buffer, opts: UploadOptions): Promise<void> {
    this.calls.push({ kind: 'upload', path, content: content.toString(), mode: opts.mode, sudo: opts.sudo ?? false });
  }

  /** The command lines run so far, in order. */
  get lines(): string[] {
    return this.calls.flatMap((c) => (c.kind === 'exec' && c.line !== undefined ? [c.line] : []));
  }

  async close(): Promise<void> {}
}
