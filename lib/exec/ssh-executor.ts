// Executor over one SSH connection per host, shared by every task of a run (each command is a
// channel on it). A lost connection is reported as transient and re-opened on the next call, so
// the retry layer can simply call again.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Client as SshClient, ClientChannel, SFTPWrapper } from 'ssh2';
import { CommandTimeoutError, ConnectError, ConnectionLostError } from '../errors.ts';
import { sh, withSudo, type Cmd } from '../shell-quote.ts';
import { openConnection, type SshTarget } from '../ssh/connect.ts';
import { runChecked, type ExecOptions, type ExecResult, type Executor, type UploadOptions } from './executor.ts';

export interface SshExecutorOptions {
  target: SshTarget;
  /** Bastion to tunnel through (ProxyJump). */
  jump?: SshTarget;
  commandTimeoutMs: number;
}

export class SshExecutor implements Executor {
  readonly label: string;
  /** How many connections this executor opened: 1 in a healthy run, more after reconnects. */
  connectionsOpened = 0;
  private client: SshClient | null = null;
  private jumpClient: SshClient | null = null;
  private connecting: Promise<SshClient> | null = null;
  private sftpChannel: Promise<SFTPWrapper> | null = null;

  constructor(private readonly opts: SshExecutorOptions) {
    const t = opts.target;
    this.label = `${t.user}@${t.host}:${t.port}`;
  }

  get isRoot(): boolean {
    return this.opts.target.user === 'root';
  }

  /** Connects now (the engine does it first, to show connecting as its own step). */
  connect(): Promise<SshClient> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async open(): Promise<SshClient> {
    let sock: NodeJS.ReadableStream | undefined;
    if (this.opts.jump) {
      const jump = await openConnection(this.opts.jump);
      this.jumpClient = jump;
      sock = await new Promise<NodeJS.ReadableStream>((res, rej) =>
        jump.forwardOut('127.0.0.1', 0, this.opts.target.host, this.opts.target.port, (err, stream) =>
          err ? rej(new ConnectError(`bastion ${this.opts.jump!.host} could not reach ${this.label}: ${err.message}`, true)) : res(stream),
        ),
      );
    }
    const client = await openConnection(this.opts.target, sock);
    this.connectionsOpened++;
    const lost = () => {
      if (this.client === client) this.dropConnection();
    };
    client.on('close', lost);
    client.on('end', lost);
    client.on('error', lost);
    this.client = client;
    return client;
  }

  private dropConnection(): void {
    this.client?.end();
    this.jumpClient?.end();
    this.client = null;
    this.jumpClient = null;
    this.sftpChannel = null;
  }

  async exec(cmd: Cmd, opts: ExecOptions = {}): Promise<ExecResult> {
    const client = await this.connect();
    const line = opts.sudo && !this.isRoot ? withSudo(cmd).line : cmd.line;
    const timeoutMs = opts.timeoutMs ?? this.opts.commandTimeoutMs;
    const channel = await new Promise<ClientChannel>((res, rej) =>
      client.exec(line, (err, stream) => (err ? rej(this.lost(err.message)) : res(stream))),
    );
    return new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.removeListener('close', onConnectionClose);
        fn();
      };
      const timer = setTimeout(() => {
        channel.close();
        finish(() => reject(new CommandTimeoutError(`a command on ${this.label} ran longer than ${timeoutMs / 1000}s and was stopped`)));
      }, timeoutMs);
      const onConnectionClose = () => finish(() => reject(this.lost('connection closed while a command was running')));
      client.once('close', onConnectionClose);
      channel.on('data', (d: Buffer) => out.push(d));
      channel.stderr.on('data', (d: Buffer) => errOut.push(d));
      channel.on('close', (code: number | null, signal?: string) => {
        if (code === null || code === undefined) {
          // No exit status means the far end went away (sshd or the session was killed).
          finish(() => reject(this.lost(`command ended without an exit status${signal ? ` (signal ${signal})` : ''}`)));
          return;
        }
        finish(() => resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8'), code }));
      });
      channel.end(opts.stdin ?? undefined);
    });
  }

  async upload(path: string, content: string | Buffer, opts: UploadOptions): Promise<void> {
    const needsRoot = opts.sudo && !this.isRoot;
    // Without root we cannot write into root's folders over SFTP: stage the file in /tmp with a
    // private mode, then let `install` place it; with root or in our own folders, SFTP and rename.
    const dir = needsRoot ? '/tmp' : posix.dirname(path);
    const temp = posix.join(dir, `.hoist-${randomBytes(6).toString('hex')}.tmp`);
    const sftp = await this.sftp();
    await new Promise<void>((res, rej) =>
      sftp.writeFile(temp, content, { mode: needsRoot ? 0o600 : opts.mode }, (err) => (err ? rej(this.sftpError(err, temp)) : res())),
    );
    const mode = opts.mode.toString(8);
    if (needsRoot) {
      const staged = `${path}.hoist-new`;
      const owner = opts.owner ?? 'root:root';
      const [user, group = user] = owner.split(':');
      await runChecked(
        this,
        sh`install -m ${mode} -o ${user!} -g ${group!} ${temp} ${staged} && rm -f ${temp} && mv -f ${staged} ${path}`,
        `installing ${path}`,
        { sudo: true },
      );
      return;
    }
    const chown = opts.owner ? sh` && chown ${opts.owner} ${temp}` : sh``;
    await runChecked(this, sh`chmod ${mode} ${temp}${chown} && mv -f ${temp} ${path}`, `placing ${path}`, {
      sudo: opts.sudo ?? false,
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    this.sftpChannel ??= this.connect().then(
      (client) => new Promise<SFTPWrapper>((res, rej) => client.sftp((err, s) => (err ? rej(this.lost(err.message)) : res(s)))),
    );
    return this.sftpChannel;
  }

  private sftpError(err: Error, path: string): Error {
    return this.client ? new Error(`writing ${path} on ${this.label}: ${err.message}`) : this.lost(err.message);
  }

  private lost(reason: string): ConnectionLostError {
    this.dropConnection();
    return new ConnectionLostError(`lost the connection to ${this.label}: ${reason}`);
  }

  async close(): Promise<void> {
    this.dropConnection();
  }
}

