// `hoist init`'s answers given as flags: `--host H` answers HOST. Apart from the questions
// (init.ts, with their checks and the settings schema) because every command's arguments are
// parsed at start-up and only init asks anything.
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
