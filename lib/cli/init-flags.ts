// `hoist init`'s answers given as flags: `--host H` answers HOST. Apart from the questions
// (init.ts, with their checks and the settings schema) because every command's arguments are
// parsed at start-up and only init asks anything. Also the checks of `init --ci github`'s own flags.
import { UsageError } from '../errors.ts';

export const INIT_ANSWER_FLAGS = {
  host: 'HOST',
  port: 'SSH_PORT',
  user: 'SSH_USER',
  key: 'SSH_KEY',
  domain: 'APP_DOMAIN',
  repo: 'APP_REPO',
  name: 'APP_NAME',
  'app-port': 'APP_PORT',
} as const;

export type InitAnswerFlag = keyof typeof INIT_ANSWER_FLAGS;

/** `init --ci github --environment NAME`: the GitHub environment holding the release's secrets. */
export const DEFAULT_CI_ENVIRONMENT = 'production';

/**
 * The environment name checked: GitHub allows more, but this is what goes into the workflow's
 * YAML, a settings URL and the printed steps unquoted, so letters, digits, `.`, `_`, `-` only.
 */
export function ciEnvironmentName(value: string | undefined): string {
  if (value === undefined) return DEFAULT_CI_ENVIRONMENT;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(value)) {
    throw new UsageError(`--environment ${JSON.stringify(value)}: not a GitHub environment name hoist writes (letters, digits, . _ -, up to 100). Fix: --environment ${DEFAULT_CI_ENVIRONMENT}`);
  }
  return value;
}
