// Opens one verified ssh2 connection. Host keys are checked here against known_hosts (ssh2 only
// hands us the key), and connection failures are sorted into "try again" (refused, reset, timed
// out) and "stop now" (key rejected, host key wrong), which the retry layer relies on.
import type { Client as SshClient, ConnectConfig } from 'ssh2';
import { AuthError, ConnectError, HostKeyError } from '../errors.ts';
import {
  checkHostKey,
  fingerprint,
  hostKeyAlgorithmsFor,
  hostLookupName,
  keyTypeOfBlob,
  knownKeyTypes,
  pinHostKey,
  readKnownHosts,
} from './known-hosts.ts';

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  privateKey: Buffer;
  passphrase?: string;
  knownHostsPath: string;
  /** Pin the key of a host not yet in known_hosts instead of refusing it. */
  acceptNew: boolean;
  connectTimeoutMs: number;
}

export const KEEPALIVE_INTERVAL_MS = 15_000;
export const KEEPALIVE_COUNT_MAX = 4;

/** Connects to `target`, through `sock` when going via a bastion. */
export async function openConnection(target: SshTarget, sock?: NodeJS.ReadableStream): Promise<SshClient> {
  const lookup = hostLookupName(target.host, target.port);
  const entries = await readKnownHosts(target.knownHostsPath);
  const knownTypes = knownKeyTypes(entries, lookup);
  let refusal: HostKeyError | null = null;

  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    privateKey: target.privateKey,
    ...(target.passphrase ? { passphrase: target.passphrase } : {}),
    readyTimeout: target.connectTimeoutMs,
    keepaliveInterval: KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    // Ask only for key types we know for this host, so a server offering several keys is
    // checked against the one we pinned rather than refused for offering another type.
    ...(knownTypes.length ? { algorithms: { serverHostKey: hostKeyAlgorithmsFor(knownTypes) as never } } : {}),
    ...(sock ? { sock: sock as never } : {}),
    hostVerifier: (blob: Buffer, verify: (ok: boolean) => void) => {
      const verdict = checkHostKey(entries, lookup, blob);
      const got = `${keyTypeOfBlob(blob)} ${fingerprint(blob)}`;
      if (verdict.kind === 'known') return verify(true);
      if (verdict.kind === 'unknown' && target.acceptNew) {
        pinHostKey(target.knownHostsPath, lookup, blob).then(
          () => verify(true),
          (e: Error) => {
            refusal = new HostKeyError(`${lookup}: could not pin its host key in ${target.knownHostsPath}: ${e.message}`);
            verify(false);
          },
        );
        return;
      }
      refusal = hostKeyRefusal(verdict, lookup, got, target.knownHostsPath);
      verify(false);
    },
  };

  // ssh2 loads with the first connection (or the first key checked: lib/config/settings.ts), not
  // with this module: a command that stops before either (a config error) never loads it.
  const { default: ssh2 } = await import('ssh2');
  const client = new ssh2.Client();
  return new Promise<SshClient>((resolvePromise, reject) => {
    let settled = false;
    client.once('ready', () => {
      settled = true;
      resolvePromise(client);
    });
    // Stays attached for the client's life: ssh2 may emit a second error after the first (a
    // timeout, then "connection lost"), and an unheard 'error' would crash the process. After
    // the handshake the owner learns of trouble from 'close'.
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(refusal ?? classify(err, target));
    });
    client.connect(config);
  });
}

function hostKeyRefusal(
  verdict: ReturnType<typeof checkHostKey>,
  lookup: string,
  got: string,
  file: string,
): HostKeyError {
  switch (verdict.kind) {
    case 'unknown':
      return new HostKeyError(
        `${lookup} is not in ${file}; its key is ${got}. Fix: check that fingerprint with your provider, then run again with --accept-new to pin it`,
      );
    case 'revoked':
      return new HostKeyError(`${lookup} offered a revoked host key (${got}); nothing was run on it`);
    case 'changed':
      return new HostKeyError(
        `HOST KEY CHANGED for ${lookup}: ${file} has ${verdict.expected.join(', ')} but the server offered ${got}. ` +
          `Nothing was run on it. Fix: if the host was rebuilt, remove its old line (ssh-keygen -R '${lookup}' -f ${file}) and run with --accept-new; otherwise treat it as an attack`,
      );
    default:
      return new HostKeyError(`${lookup}: host key refused`);
  }
}

const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

function classify(err: Error & { level?: string; code?: string }, t: SshTarget): Error {
  const where = `${t.user}@${t.host}:${t.port}`;
  if (err.level === 'client-authentication') {
    return new AuthError(
      `${where} refused the key (${err.message}). Fix: check SSH_KEY and that its public key is in ~${t.user}/.ssh/authorized_keys on the host; not retried`,
    );
  }
  if (err.level === 'client-timeout') {
    return new ConnectError(`${where}: no SSH handshake within ${t.connectTimeoutMs / 1000}s`, true);
  }
  if (err.code && TRANSIENT_CODES.has(err.code)) return new ConnectError(`${where}: ${err.code} (${err.message})`, true);
  if (err.code === 'ENOTFOUND') return new ConnectError(`${where}: host name does not resolve. Fix: check HOST`, false);
  return new ConnectError(`${where}: ${err.message}`, /reset|closed|ended|lost|socket/i.test(err.message));
}
