// The app's crontab file is checked locally, before any host is contacted, because a bad line
// installed remotely is either rejected by crontab(1) halfway through a rollout or, worse,
// silently never runs. Problems name the line and the field so they can be fixed without guessing.

export interface CrontabProblem {
  line: number;
  text: string;
  problem: string;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  /** three-letter names; a name's value is its index plus `nameBase` */
  names?: readonly string[];
  nameBase?: number;
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
    nameBase: 1,
  },
  {
    name: 'day of week',
    min: 0,
    max: 7,
    names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
    nameBase: 0,
  },
];

const SCHEDULES = ['@reboot', '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

const ENV_ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)\s*=/;

/**
 * A `KEY=value` line with its value hidden (`KEY=(hidden)`), any other line as it is: the value
 * of a variable line may be a secret (a .env read as a crontab is all such lines), so it is never
 * shown in an error or a diff.
 */
export function withVariableHidden(line: string): string {
  return line.replace(/^(\s*[A-Za-z_][A-Za-z0-9_]*\s*=).*$/s, '$1(hidden)');
}

/**
 * Why a variable line is refused, and what to do instead. cron applies `KEY=value` to every line
 * after it in the whole crontab and has no unset: in an app's block it would change the jobs of
 * every block after it and the user's own lines. Putting the old value back at the block's end
 * cannot be done right (an unset MAILTO, cron's own defaults, lines the user edits later), so the
 * variable belongs to the job that needs it.
 */
function variableFix(key: string): string {
  const scope = `sets the cron variable ${key}, which cron applies to every later line of the crontab, past hoist's block (other apps' jobs, the user's own lines)`;
  if (key === 'SHELL') return `${scope}; run the job's command with that shell instead (bash -c '...')`;
  if (key === 'MAILTO') return `${scope}; send the job's output from its command instead (... 2>&1 | mail -s job you@example.com), or read it in the job log of a hoist-run job (hoist logs --jobs)`;
  if (key === 'CRON_TZ' || key === 'TZ') return `${scope}; write the job's times in the host's time zone instead`;
  return `${scope}; set it in the job's command instead (${key}=... command), or, for a hoist-run job, in the app's .env`;
}

// A copy of a marker inside the block would make the next run see a damaged or nested block.
const MARKER_PREFIXES = ['# BEGIN hoist:', '# END hoist:'];

function trimEnd(line: string): string {
  return line.replace(/\s+$/, '');
}

export function wantedEntries(text: string): string[] {
  return text
    .split('\n')
    .map(trimEnd)
    .filter((line) => line !== '');
}

/** Problems of each line; `text` is the line as it may be shown (a variable's value hidden). */
export function crontabProblems(text: string): CrontabProblem[] {
  const problems: CrontabProblem[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = trimEnd(raw);
    if (line === '') return;
    for (const problem of lineProblems(line)) problems.push({ line: index + 1, text: withVariableHidden(line), problem });
  });
  return problems;
}

function lineProblems(line: string): string[] {
  if (line.includes('\0')) return ['contains a NUL byte, which crontab(1) cannot store'];
  const body = line.trimStart();
  const marker = MARKER_PREFIXES.find((prefix) => body.startsWith(prefix));
  if (marker !== undefined) {
    return [`starts with "${marker}", which is reserved for the markers of hoist's own block`];
  }
  if (body.startsWith('#')) return [];
  const variable = ENV_ASSIGNMENT.exec(body);
  if (variable) return [variableFix(variable[1]!)];

  const tokens = body.split(/\s+/);
  const first = tokens[0] ?? '';
  if (first.startsWith('@')) {
    const problems: string[] = [];
    if (!SCHEDULES.includes(first)) {
      problems.push(`unknown schedule "${first}" (expected one of ${SCHEDULES.join(', ')})`);
    }
    if (tokens.length < 2) problems.push(`missing the command after "${first}"`);
    return problems;
  }

  if (tokens.length < FIELDS.length) {
    const noun = tokens.length === 1 ? 'field' : 'fields';
    return [`expected 5 time fields and a command, found ${tokens.length} ${noun}`];
  }
  const problems: string[] = [];
  FIELDS.forEach((spec, i) => problems.push(...fieldProblems(spec, tokens[i] ?? '')));
  if (tokens.length === FIELDS.length) problems.push('missing the command after the 5 time fields');
  return problems;
}

function fieldProblems(spec: FieldSpec, field: string): string[] {
  const items = field.split(',');
  if (items.includes('')) return [`${spec.name} "${field}" has an empty item in its comma list`];
  return items.map((item) => itemProblem(spec, item)).filter((p): p is string => p !== null);
}

function itemProblem(spec: FieldSpec, item: string): string | null {
  const slash = item.indexOf('/');
  const base = slash === -1 ? item : item.slice(0, slash);
  if (slash !== -1) {
    const step = item.slice(slash + 1);
    if (!/^\d+$/.test(step)) return `${spec.name} step "/${step}" is not a number`;
    const n = Number(step);
    if (n < 1) return `${spec.name} step "/${step}" must be at least 1`;
    if (n > spec.max) return `${spec.name} step "/${step}" is larger than ${spec.max}`;
  }
  if (base === '*') return null;

  const parts = base.split('-');
  if (parts.length > 2) return `${spec.name} "${base}" is not a valid range (expected a-b)`;
  const [from = '', to] = parts;
  if (to === undefined) return valueProblem(spec, from).problem;
  if (from === '' || to === '') return `${spec.name} range "${base}" is missing a bound`;
  const a = valueProblem(spec, from);
  if (a.problem !== null) return a.problem;
  const b = valueProblem(spec, to);
  if (b.problem !== null) return b.problem;
  if (a.value > b.value) return `${spec.name} range "${base}" goes backwards`;
  return null;
}

function valueProblem(spec: FieldSpec, token: string): { value: number; problem: string | null } {
  if (/^\d+$/.test(token)) {
    const value = Number(token);
    if (value < spec.min || value > spec.max) {
      return { value, problem: `${spec.name} "${token}" is outside ${spec.min}-${spec.max}` };
    }
    return { value, problem: null };
  }
  const names = spec.names;
  if (names !== undefined) {
    const index = names.indexOf(token.toLowerCase());
    if (index !== -1) return { value: index + (spec.nameBase ?? 0), problem: null };
    const span = `${names[0]}-${names[names.length - 1]}`;
    return { value: NaN, problem: `${spec.name} "${token}" is not a number or a name (${span})` };
  }
  return { value: NaN, problem: `${spec.name} "${token}" is not a number` };
}
