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

/**
 * The current authorized_keys with every wanted key added once; nobody else's key is removed,
 * and a file that already has every key comes back byte for byte (no newline added, no rewrite).
 */
export function mergedAuthorizedKeys(current: string | null, wanted: string[]): string {
  const text = current ?? '';
  const present = new Set(text.split('\n').map(keyMaterial).filter(Boolean));
  const missing: string[] = [];
  for (const key of wanted) {
    const material = keyMaterial(key);
    if (material && !present.has(material)) {
      present.add(material);
      missing.push(key);
    }
  }
  if (missing.length === 0) return text;
  const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return `${base}${missing.join('\n')}\n`;
}

const KEY_TYPE = /^(ssh-|ecdsa-|sk-)/;

/**
 * "type base64" of an authorized_keys line, skipping any options before it (from="...",
 * command="..." may contain spaces inside quotes): comments and options do not make another key.
 */
function keyMaterial(line: string): string {
  const words = line.trim().match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
  if (words[0]?.startsWith('#')) return '';
  const at = words.findIndex((w) => KEY_TYPE.test(w));
  return at >= 0 && words[at + 1] ? `${words[at]} ${words[at + 1]}` : '';
}
