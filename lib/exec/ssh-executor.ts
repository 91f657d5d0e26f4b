// Executor over one SSH connection per host, shared by every task of a run (each command is a
// channel on it). A lost connection is reported as transient and re-opened on the next call, so
// the retry layer can simply call again.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Client as SshClient, ClientChannel, SFTPWrapper } from 'ssh2';
import { AuthError, CommandTimeoutError, ConnectError, ConnectionLostError } from '../errors.ts';
import { sh, withSudo, type Cmd } from '../shell-quote.ts';
import { openConnection, type SshTarget } from '../ssh/connect.ts';
import { runChecked, type ExecOptions, type ExecResult, type Executor, type UploadOptions } from './executor.ts';
import { Semaphore } from './semaphore.ts';

export interface SshExecutorOptions {
  /** Tried in order; the next only when the previous one's key was refused (AuthError). */
  targets: SshTarget[];
  /** Bastion to tunnel through (ProxyJump). */
  jump?: SshTarget;
  commandTimeoutMs: number;
  /** Skip an earlier target whose account cannot `sudo -n` (the 'admin' login). */
  requireSudo?: boolean;
}

/**
 * sshd allows 10 channels per connection (MaxSessions); the 11th is refused. Keep below that,
 * with room for the SFTP channel.
 */
const MAX_CHANNELS = 6;
/** Tries to open a channel before giving up (about 10 s in all, see openChannel). */
const CHANNEL_OPEN_TRIES = 20;
/** Exit status of coreutils `timeout` when it had to stop the command. */
const TIMEOUT_EXIT = 124;
/** How long past the limit we wait for the host's `timeout` before giving up on the channel. */
const BACKSTOP_MS = 10_000;

export class SshExecutor implements Executor {
  label: string;
  /** How many connections this executor opened: 1 in a healthy run, more after reconnects. */
  connectionsOpened = 0;
  /**
   * How many SSH connections it tried to open, whether they got through or not (each account
   * tried, and the bastion's, count): what proves a refused key was not tried again.
   */
  connectAttempts = 0;
  /** Commands sent (one SSH round trip each, a retry counts again): the report's `commands`. */
  commandsSent = 0;
  private client: SshClient | null = null;
  private jumpClient: SshClient | null = null;
  private connecting: Promise<SshClient> | null = null;
  private sftpChannel: Promise<SFTPWrapper> | null = null;
  private readonly channels = new Semaphore(MAX_CHANNELS);

  /** The account the open connection is logged in as. */
  private target: SshTarget;

  constructor(private readonly opts: SshExecutorOptions) {
    if (opts.targets.length === 0) throw new Error('SshExecutor needs a target');
    this.target = opts.targets[0]!;
    this.label = labelOf(this.target);
  }

  get user(): string {
    return this.target.user;
  }

  get isRoot(): boolean {
    return this.target.user === 'root';
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
    let jump: SshClient | null = null;
    try {
      let client: SshClient | null = null;
      // A reconnect tries the account the connection had first: accounts change during a run
      // (bootstrap creates the deploy user), and an apply or rollback that began as root must
      // not go on as another user (issue #6: ssh-bootstrap's rollback, reconnected as the deploy
      // user it had just created, could not remove that user while logged in as it). The others
      // follow: after sshd is hardened, root is refused and the deploy user takes over.
      const targets = this.connectionsOpened > 0 ? [this.target, ...this.opts.targets.filter((t) => t !== this.target)] : this.opts.targets;
      for (const [i, target] of targets.entries()) {
        if (this.opts.jump) {
          jump?.end();
          this.connectAttempts++;
          jump = await openConnection(this.opts.jump);
          sock = await forward(jump, this.opts.jump, target);
        }
        const last = i === targets.length - 1;
        try {
          this.connectAttempts++;
          client = await openConnection(target, sock);
        } catch (e) {
          if (!(e instanceof AuthError) || last) throw e;
          continue;
        }
        // An earlier target that logs in but cannot sudo is not the admin we need.
        if (this.opts.requireSudo && !last && target.user !== 'root' && !(await canSudo(client))) {
          client.end();
          client = null;
          continue;
        }
        this.target = target;
        this.label = labelOf(target);
        break;
      }
      if (!client) throw new Error('unreachable: no target connected');
      this.connectionsOpened++;
      const lost = () => {
        if (this.client === client) this.dropConnection();
      };
      for (const c of jump ? [client, jump] : [client]) {
        c.on('close', lost);
        c.on('end', lost);
        c.on('error', lost);
      }
      this.client = client;
      this.jumpClient = jump;
      return client;
    } catch (e) {
      jump?.end();
      throw e;
    }
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
    const timeoutMs = opts.timeoutMs ?? this.opts.commandTimeoutMs;
    // The host enforces the time limit itself: closing our end of a channel does not stop a
    // remote process (a hung apt-get would keep the dpkg lock), `timeout` kills its whole group.
    const bounded = sh`timeout -k 5 ${Math.ceil(timeoutMs / 1000)} sh -c ${cmd.line}`;
    const line = opts.sudo && !this.isRoot ? withSudo(bounded).line : bounded.line;
    this.commandsSent++;
    return this.channels.run(async () => {
      const channel = await this.openChannel(client, line);
      const started = Date.now();
      const result = await this.collect(client, channel, timeoutMs + BACKSTOP_MS, opts.stdin);
      if (result.code === TIMEOUT_EXIT && Date.now() - started >= timeoutMs - 1000) throw this.timedOut(timeoutMs);
      return result;
    });
  }

  /**
   * sshd frees a finished session's slot a moment after the channel closes, so under load a new
   * channel can be refused although fewer than MaxSessions are open: wait a little and ask
   * again (bounded). A refused channel is not a lost connection: running commands go on.
   */
  private async openChannel(client: SshClient, line: string): Promise<ClientChannel> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await new Promise<ClientChannel>((res, rej) => client.exec(line, (err, stream) => (err ? rej(err) : res(stream))));
      } catch (e) {
        if (this.client !== client) throw this.lost((e as Error).message);
        if (attempt >= CHANNEL_OPEN_TRIES) throw new ConnectError(`${this.label} refused a new channel ${attempt} times: ${(e as Error).message}`, true);
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  private collect(client: SshClient, channel: ClientChannel, timeoutMs: number, stdin: ExecOptions['stdin']): Promise<ExecResult> {
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
      // Only if the host's own `timeout` did not end it (a hung sshd, a frozen host).
      const timer = setTimeout(() => {
        channel.close();
        finish(() => reject(this.timedOut(timeoutMs - BACKSTOP_MS)));
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
      if (stdin && typeof stdin !== 'string' && !Buffer.isBuffer(stdin)) {
        // A failing source ends the channel: the host's command sees a short input and fails.
        stdin.on('error', () => channel.close());
        stdin.pipe(channel);
      } else channel.end(stdin ?? undefined);
    });
  }

  async upload(path: string, content: string | Buffer, opts: UploadOptions): Promise<void> {
    const needsRoot = opts.sudo && !this.isRoot;
    // Without root we cannot write into root's folders over SFTP: stage the file in /tmp with a
    // private mode, then let `install` place it; with root or in our own folders, SFTP and rename.
    const dir = needsRoot ? '/tmp' : posix.dirname(path);
    const temp = posix.join(dir, `.hoist-${randomBytes(6).toString('hex')}.tmp`);
    await this.writeViaSftp(temp, content, needsRoot ? 0o600 : opts.mode);
    const mode = opts.mode.toString(8);
    try {
      if (needsRoot) {
        const staged = `${path}.hoist-${randomBytes(6).toString('hex')}`;
        const [user, group = user] = (opts.owner ?? 'root:root').split(':');
        await runChecked(
          this,
          sh`install -m ${mode} -o ${user!} -g ${group!} ${temp} ${staged} && mv -f ${staged} ${path} || { rm -f ${staged}; exit 1; }`,
          `installing ${path}`,
          { sudo: true },
        );
      } else {
        const chown = opts.owner ? sh` && chown ${opts.owner} ${temp}` : sh``;
        await runChecked(this, sh`chmod ${mode} ${temp}${chown} && mv -f ${temp} ${path}`, `placing ${path}`, { sudo: opts.sudo ?? false });
      }
    } finally {
      // Gone already after a successful mv; after a failure it must not linger with the content.
      await this.exec(sh`rm -f ${temp}`, { sudo: opts.sudo ?? false }).catch(() => undefined);
    }
  }

  private async writeViaSftp(path: string, content: string | Buffer, mode: number): Promise<void> {
    const sftp = await this.sftp();
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => {
        this.sftpChannel = null;
        rej(new ConnectionLostError(`writing ${path} on ${this.label}: SFTP did not answer within ${this.opts.commandTimeoutMs / 1000}s`));
      }, this.opts.commandTimeoutMs);
      sftp.writeFile(path, content, { mode }, (err) => {
        clearTimeout(timer);
        if (err) rej(this.client ? new Error(`writing ${path} on ${this.label}: ${err.message}`) : this.lost(err.message));
        else res();
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    if (!this.sftpChannel) {
      const opening = this.connect().then(
        (client) =>
          new Promise<SFTPWrapper>((res, rej) =>
            client.sftp((err, s) => {
              if (err) return rej(new ConnectError(`${this.label} refused an SFTP channel: ${err.message}`, true));
              // The subsystem can end while the connection lives on: open a new one next time.
              s.on('close', () => {
                if (this.sftpChannel === opening) this.sftpChannel = null;
              });
              res(s);
            }),
          ),
      );
      // A failed open must not be remembered: the next upload tries again.
      opening.catch(() => {
        if (this.sftpChannel === opening) this.sftpChannel = null;
      });
      this.sftpChannel = opening;
    }
    return this.sftpChannel;
  }

  private timedOut(limitMs: number): CommandTimeoutError {
    return new CommandTimeoutError(`a command on ${this.label} ran longer than ${limitMs / 1000}s and was killed`);
  }

  private lost(reason: string): ConnectionLostError {
    this.dropConnection();
    return new ConnectionLostError(`lost the connection to ${this.label}: ${reason}`);
  }

  async close(): Promise<void> {
    this.dropConnection();
  }
}

function labelOf(t: SshTarget): string {
  return `${t.user}@${t.host}:${t.port}`;
}

/** A tunnel through the bastion to the target's sshd (ssh -J). */
function forward(bastion: SshClient, jump: SshTarget, target: SshTarget): Promise<NodeJS.ReadableStream> {
  return new Promise((res, rej) =>
    bastion.forwardOut('127.0.0.1', 0, target.host, target.port, (err, stream) =>
      err ? rej(new ConnectError(`bastion ${jump.host} could not reach ${target.host}:${target.port}: ${err.message}`, true)) : res(stream),
    ),
  );
}

function canSudo(client: SshClient): Promise<boolean> {
  return new Promise((resolve) => {
    client.exec('sudo -n true', (err, stream) => {
      if (err) return resolve(false);
      stream.on('close', (code: number | null) => resolve(code === 0));
      stream.resume();
      stream.stderr.resume();
    });
  });
}
