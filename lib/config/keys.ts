// The documented settings, one entry each. This table is the schema: the loader rejects any key
// not listed here, `.env.example` is checked against it by a test, and every error names the
// entry's fix. Later pipelines add their keys here.
import { hostProblem, nameProblem, portProblem, positiveIntProblem, userProblem } from './validators.ts';

export interface KeyDef {
  key: string;
  doc: string;
  default?: string;
  /** Never shown in errors, output or reports. */
  secret?: boolean;
  /** May differ per host in the inventory's `vars`. */
  perHost?: boolean;
  problem?(value: string): string | null;
  fix: string;
}

export const KEYS: readonly KeyDef[] = [
  {
    key: 'HOST',
    doc: 'Address of the VPS (host name or IP). Leave empty when an inventory file lists the hosts.',
    problem: hostProblem,
    fix: 'set HOST to the VPS address, e.g. HOST=203.0.113.7 or HOST=app.example.com',
  },
  {
    key: 'SSH_PORT',
    doc: 'Port sshd listens on.',
    default: '22',
    perHost: true,
    problem: portProblem,
    fix: 'set SSH_PORT to the port sshd listens on (usually 22)',
  },
  {
    key: 'SSH_USER',
    doc: 'The account the provider gave you (root, ubuntu, ...): used by the bootstrap pipeline only.',
    default: 'root',
    perHost: true,
    problem: userProblem,
    fix: 'set SSH_USER to the login your provider gave you, e.g. root or ubuntu',
  },
  {
    key: 'DEPLOY_USER',
    doc: 'The account hoist works as after bootstrap (it owns the app, its crontab and its releases).',
    default: 'deploy',
    perHost: true,
    problem: userProblem,
    fix: 'set DEPLOY_USER to a plain user name such as deploy',
  },
  {
    key: 'SSH_KEY',
    doc: 'Path of the private key hoist logs in with (~ is your home).',
    default: '~/.ssh/id_ed25519',
    perHost: true,
    fix: 'set SSH_KEY to the path of a readable OpenSSH private key, e.g. ~/.ssh/id_ed25519',
  },
  {
    key: 'SSH_KEY_PASSPHRASE',
    doc: 'Passphrase of SSH_KEY, if it has one. Secret: never printed.',
    secret: true,
    fix: 'set SSH_KEY_PASSPHRASE to the passphrase of SSH_KEY, or leave it empty for an unencrypted key',
  },
  {
    key: 'KNOWN_HOSTS',
    doc: 'OpenSSH known_hosts file the hosts\' keys are checked against (hashed entries work).',
    default: '~/.ssh/known_hosts',
    fix: 'set KNOWN_HOSTS to a writable file path, e.g. ~/.ssh/known_hosts',
  },
  {
    key: 'SSH_JUMP',
    doc: 'Optional bastion to go through, as user@host[:port] (like ssh -J). Its key is checked too.',
    perHost: true,
    fix: 'set SSH_JUMP to user@host or user@host:port, or leave it empty',
  },
  {
    key: 'SSH_CONNECT_TIMEOUT',
    doc: 'Seconds to wait for the SSH handshake.',
    default: '20',
    problem: (v) => positiveIntProblem(v, 600),
    fix: 'set SSH_CONNECT_TIMEOUT to a number of seconds between 1 and 600',
  },
  {
    key: 'SSH_COMMAND_TIMEOUT',
    doc: 'Seconds one remote command may run before it is stopped.',
    default: '900',
    problem: (v) => positiveIntProblem(v, 86400),
    fix: 'set SSH_COMMAND_TIMEOUT to a number of seconds between 1 and 86400',
  },
  {
    key: 'RETRIES',
    doc: 'How often a step that failed for a passing reason (connection lost, apt lock held) is tried again.',
    default: '3',
    problem: (v) => (/^\d+$/.test(v) && Number(v) <= 10 ? null : 'is not a whole number from 0 to 10'),
    fix: 'set RETRIES to a whole number from 0 to 10',
  },
  {
    key: 'APP_NAME',
    doc: 'Short name of the app: marks its crontab block (and later its containers and directories).',
    default: 'app',
    problem: nameProblem,
    fix: 'set APP_NAME to lower case letters, digits, _ or -, e.g. APP_NAME=sentiment-api',
  },
  {
    key: 'CRON_FILE',
    doc: 'Crontab file with the app\'s scheduled jobs (a path on this machine). Empty: the app has no jobs.',
    perHost: true,
    fix: 'set CRON_FILE to the path of a crontab file, or leave it empty for no jobs',
  },
];

export const KEY_BY_NAME = new Map(KEYS.map((k) => [k.key, k]));
