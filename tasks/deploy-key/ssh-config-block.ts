// The deploy user's ~/.ssh/config is theirs: hoist only writes the lines between its own
// markers (# BEGIN hoist:APP / # END hoist:APP) and hands every other byte back unchanged.
// Damaged markers are refused, not guessed at.
import type { DeployKeyWanted } from './types.ts';

export function sshBlockMarkers(app: string): { begin: string; end: string } {
  return { begin: `# BEGIN hoist:${app} (managed by hoist; edits inside this block are replaced)`, end: `# END hoist:${app}` };
}

/** The lines inside the markers: a Host alias carrying the deploy key, pinned host keys only. */
export function sshBlockLines(w: Pick<DeployKeyWanted, 'alias' | 'repo' | 'keyFile'>): string[] {
  return [
    `Host ${w.alias}`,
    `  HostName ${w.repo.host}`,
    `  User ${w.repo.user}`,
    `  Port ${w.repo.port}`,
    `  IdentityFile ~/${w.keyFile}`,
    '  IdentitiesOnly yes',
    '  StrictHostKeyChecking yes',
    '  UserKnownHostsFile ~/.ssh/known_hosts',
    '  BatchMode yes',
    // Lines after the block must not become part of our Host section: back to every host.
    'Match all',
  ];
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  return (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
}

function joinLines(lines: string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function locate(lines: string[], app: string): { start: number; end: number } | null {
  const bare = `# BEGIN hoist:${app}`;
  const { end: endMarker } = sshBlockMarkers(app);
  const begins: number[] = [];
  const ends: number[] = [];
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (line === bare || line.startsWith(`${bare} `)) begins.push(i);
    else if (line === endMarker) ends.push(i);
  });
  if (begins.length === 0 && ends.length === 0) return null;
  const [start] = begins;
  const [end] = ends;
  if (begins.length !== 1 || ends.length !== 1 || start === undefined || end === undefined || end < start) {
    throw new Error(
      `the hoist block for ${app} in ~/.ssh/config is damaged (BEGIN on line(s) ${begins.map((i) => i + 1).join(', ') || 'none'}, ` +
        `END on line(s) ${ends.map((i) => i + 1).join(', ') || 'none'}); fix it by hand so there is exactly one "${bare}" line ` +
        `followed later by one "${endMarker}" line, or neither`,
    );
  }
  return { start, end };
}

/** The lines between the markers, or null when there is no block. */
export function sshBlockOf(config: string, app: string): string[] | null {
  const lines = splitLines(config);
  const loc = locate(lines, app);
  return loc ? lines.slice(loc.start + 1, loc.end) : null;
}

/** `config` with the block set to `inner` (appended when absent); every other line kept. */
export function withSshBlock(config: string, app: string, inner: string[]): string {
  const { begin, end } = sshBlockMarkers(app);
  const lines = splitLines(config);
  const loc = locate(lines, app);
  const block = [begin, ...inner, end];
  if (!loc) return joinLines([...lines, ...block]);
  return joinLines([...lines.slice(0, loc.start), ...block, ...lines.slice(loc.end + 1)]);
}

/** `config` without the app's block (markers included), every other line kept: `hoist remove`. */
export function withoutSshBlock(config: string, app: string): string {
  const lines = splitLines(config);
  const loc = locate(lines, app);
  if (!loc) return config;
  return joinLines([...lines.slice(0, loc.start), ...lines.slice(loc.end + 1)]);
}
