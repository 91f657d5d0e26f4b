// The three files ssh-bootstrap owns on the host, rendered from settings. Pure, so the dry run
// can show their diffs and the tests can check them without a host.

export const SSHD_DROP_IN = '/etc/ssh/sshd_config.d/00-hoist.conf';

export function sudoersPath(user: string): string {
  // sudo skips files in sudoers.d whose names contain a dot: no dots here.
  return `/etc/sudoers.d/hoist-${user}`;
}

export function sudoersContent(user: string): string {
  return `# Managed by hoist: the deploy user runs hoist's steps as root without a password.\n${user} ALL=(ALL) NOPASSWD:ALL\n`;
}

/**
 * sshd takes the first value it reads for a keyword, and Debian/Ubuntu include
 * sshd_config.d/*.conf at the top of sshd_config: a 00- file wins over the rest.
 */
export function sshdDropIn(extra: string[]): string {
  return [
    '# Managed by hoist: key logins only, no root login. Checked with sshd -t before every reload.',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    'PubkeyAuthentication yes',
    ...extra,
    '',
  ].join('\n');
}

/** The current authorized_keys with every wanted key added; nobody else's key is removed. */
export function mergedAuthorizedKeys(current: string | null, wanted: string[]): string {
  const lines = (current ?? '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const material = (line: string) => line.trim().split(/\s+/).slice(0, 2).join(' ');
  const present = new Set(lines.filter((l) => l.trim()).map(material));
  const missing = wanted.filter((k) => !present.has(material(k)));
  const all = [...lines, ...missing];
  return all.length ? `${all.join('\n')}\n` : '';
}
