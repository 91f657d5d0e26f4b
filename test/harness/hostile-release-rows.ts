// The hostile-but-valid values only a bootstrap or release reads, carried through by
// test/e2e/env-values.test.ts on its real release (Docker, Caddy, git). hostile-config.test.ts
// counts these rows when it checks that every key of the schema has one; env-values.test.ts
// checks that it sets exactly these keys to the values below.

/** `m` is the run's marker path prefix: an injection would create a file starting with it. */
export function releaseCarriedValues(m: string): Record<string, string> {
  return {
    // A query string with $(), quotes, && and ;: curl must send it as one word (the test app's
    // CGI script logs the QUERY_STRING it got).
    HEALTH_PATH: `/cgi-bin/health?a=$(touch$IFS${m}-hp1)&b=';touch$IFS${m}-hp2;'&c=&&touch$IFS${m}-hp3`,
    // One quoted header value with $(), backticks, ' and &&, then a second directive.
    CADDY_EXTRA: `header X-Hoist-Test "it's $(touch ${m}-caddy) \`touch ${m}-caddy2\` && touch ${m}-caddy3 | x"; header X-Second plain`,
    // Every separator a service name (and Docker image name) may have.
    APP_SERVICE: 'web_1.api-x',
    COMPOSE_FILE: 'deploy/compose.hoist-1_x.yaml',
    // A branch name with every separator the schema allows.
    GIT_REF: 'release/v1.0_rc-1',
    // sshd takes the value as a path; nothing may expand it.
    SSHD_OPTIONS: `MaxAuthTries 5; Banner /etc/hoist-banner-$(touch$IFS${m}-sshd)`,
    EXTRA_PACKAGES: 'busybox-static,  curl',
  };
}

/** Keys whose carried row is a file's content rather than the value itself. */
export const RELEASE_CARRIED_FILES = ['AUTHORIZED_KEYS', 'FORGE_KNOWN_HOSTS', 'APP_ENV_FILE'] as const;

export const RELEASE_CARRIED: { key: string }[] = [
  ...Object.keys(releaseCarriedValues('/tmp/x')).map((key) => ({ key })),
  ...RELEASE_CARRIED_FILES.map((key) => ({ key })),
];
