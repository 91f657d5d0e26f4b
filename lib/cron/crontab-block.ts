// A user's crontab is shared with whatever they, other tools and other apps put there, so hoist
// only ever rewrites the lines between its own markers and hands back every other byte unchanged.
// Damaged markers are refused rather than guessed at: a wrong guess would delete someone's jobs.
import { withVariableHidden } from './crontab-file.ts';

export function blockMarkers(app: string): { begin: string; end: string } {
  if (app === '' || /[\s\0]/.test(app)) {
    throw new Error(`app name ${JSON.stringify(app)} cannot be used in a crontab block marker`);
  }
  return {
    begin: `# BEGIN hoist:${app} (managed by hoist; edits inside this block are replaced)`,
    end: `# END hoist:${app}`,
  };
}

/** Line indexes (0-based) of the begin and end marker lines. */
export interface BlockLocation {
  start: number;
  end: number;
}

// "a\nb\n" and "a\nb" are both the lines [a, b]; the final newline is always written back,
// since crontab(1) wants one.
function splitLines(text: string): string[] {
  if (text === '') return [];
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return body.split('\n');
}

function joinLines(lines: string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

// Matching only the prefix of the begin marker lets its explanatory text change between
// versions without orphaning blocks written by older ones.
function markerMatchers(app: string): { isBegin: (line: string) => boolean; isEnd: (line: string) => boolean } {
  const { end } = blockMarkers(app);
  const beginBare = `# BEGIN hoist:${app}`;
  const trimmed = (line: string) => line.replace(/\s+$/, '');
  return {
    isBegin: (line) => {
      const t = trimmed(line);
      return t === beginBare || t.startsWith(`${beginBare} `);
    },
    isEnd: (line) => trimmed(line) === end,
  };
}

function locate(lines: string[], app: string): BlockLocation | null {
  const { isBegin, isEnd } = markerMatchers(app);
  const begins: number[] = [];
  const ends: number[] = [];
  lines.forEach((line, i) => {
    if (isBegin(line)) begins.push(i);
    else if (isEnd(line)) ends.push(i);
  });
  if (begins.length === 0 && ends.length === 0) return null;

  const damaged = (what: string) =>
    new Error(
      `the crontab's hoist block for ${app} is damaged (${what}); ` +
        'fix it by hand with `crontab -e` so that there is exactly one ' +
        `"# BEGIN hoist:${app} ..." line followed later by one "# END hoist:${app}" line, or neither`,
    );
  const lineNos = (xs: number[]) => xs.map((i) => i + 1).join(', ');
  if (begins.length > 1) throw damaged(`BEGIN markers on lines ${lineNos(begins)}`);
  if (ends.length > 1) throw damaged(`END markers on lines ${lineNos(ends)}`);
  const [start] = begins;
  const [end] = ends;
  if (start === undefined) throw damaged(`END marker on line ${lineNos(ends)} has no BEGIN marker`);
  if (end === undefined) throw damaged(`BEGIN marker on line ${start + 1} has no END marker`);
  if (end < start) {
    throw damaged(`END marker on line ${end + 1} comes before the BEGIN marker on line ${start + 1}`);
  }
  return { start, end };
}

export function findBlock(crontab: string, app: string): BlockLocation | null {
  return locate(splitLines(crontab), app);
}

export function entriesInBlock(crontab: string, app: string): string[] | null {
  const lines = splitLines(crontab);
  const loc = locate(lines, app);
  return loc === null ? null : lines.slice(loc.start + 1, loc.end);
}

export function withBlock(crontab: string, app: string, entries: string[]): string {
  const markers = blockMarkers(app);
  const { isBegin, isEnd } = markerMatchers(app);
  for (const entry of entries) {
    // Either would change what the next run reads back as the block.
    if (/[\n\r]/.test(entry)) throw new Error(`crontab entry ${JSON.stringify(entry)} contains a line break`);
    if (isBegin(entry) || isEnd(entry)) {
      throw new Error(`crontab entry ${JSON.stringify(entry)} looks like a hoist block marker`);
    }
  }

  const lines = splitLines(crontab);
  const loc = locate(lines, app);
  const block = entries.length === 0 ? [] : [markers.begin, ...entries, markers.end];
  if (loc === null) return joinLines([...lines, ...block]);
  return joinLines([...lines.slice(0, loc.start), ...block, ...lines.slice(loc.end + 1)]);
}

/**
 * The crontab as a diff may show it (dry run, the JSON report, CI artifacts): the app's own block
 * with each variable's value hidden (`KEY=(hidden)`; a block written before variables were
 * refused may hold one), and every other line folded into a count. Those lines are the user's and
 * other apps' (a token on a command line, their variables); hoist never changes them, so showing
 * them would tell nothing about the change and could leak what they hold.
 */
export function shownForDiff(crontab: string, app: string): string {
  const lines = splitLines(crontab);
  const loc = locate(lines, app);
  const out: string[] = [];
  let others = 0;
  const fold = () => {
    if (others > 0) out.push(`# (${others} ${others === 1 ? 'line' : 'lines'} outside hoist:${app}, kept as ${others === 1 ? 'it is' : 'they are'}, not shown)`);
    others = 0;
  };
  lines.forEach((line, i) => {
    if (loc === null || i < loc.start || i > loc.end) {
      others++;
      return;
    }
    fold();
    out.push(withVariableHidden(line));
  });
  fold();
  return joinLines(out);
}
