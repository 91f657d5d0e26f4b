// Tools for the secrets suite (test/e2e/secrets.test.ts): the forms a secret can take in text
// (raw, each line, JSON-escaped, URL-encoded, base64 at every alignment), a search that also
// sees through terminal escape codes and line wrapping, the real CLI under a pseudo-terminal,
// and two observers on a test host: a process-list sampler and a scan of the files modified
// during a run. Canaries never go on a command line here, not even the test's own: they travel
// on stdin, so the sampler would otherwise see the test itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { quote } from '../../lib/shell-quote.ts';
import { dockerSh } from './docker.ts';
import { samplerScript } from './process-sampler.ts';
import { SERVER_DIR } from './shell-server.ts';
import { REPO_ROOT, type TestHost } from './testbed.ts';

export interface Canary {
  /** Names the secret in failure messages (the value itself is never printed). */
  name: string;
  value: string;
}

export interface Form {
  canary: string;
  form: string;
  text: string;
}

/** base64 of `s` as it shows inside a longer base64 text, for each of the 3 alignments. */
export function base64Forms(s: string): string[] {
  const bytes = Buffer.from(s);
  const out: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad, 0x41), bytes]).toString('base64');
    // Characters fully determined by `s`: skip the ones mixed with the padding, drop the tail.
    const start = Math.ceil((pad * 4) / 3);
    const end = Math.floor(((pad + bytes.length) * 4) / 3);
    const core = b64.slice(start, end);
    if (core.length >= 8) out.push(core);
  }
  return out;
}

/** Every text form worth looking for, 8 characters or longer (shorter ones match by chance). */
export function formsOf(c: Canary): Form[] {
  const forms: Form[] = [];
  const add = (form: string, text: string) => {
    if (text.length >= 8 && !forms.some((f) => f.text === text)) forms.push({ canary: c.name, form, text });
  };
  add('raw', c.value);
  for (const [i, line] of c.value.split('\n').entries()) add(`line ${i + 1}`, line.trim());
  add('JSON-escaped', JSON.stringify(c.value).slice(1, -1));
  add('URL-encoded', encodeURIComponent(c.value));
  add('form-encoded', encodeURIComponent(c.value).replace(/%20/g, '+'));
  for (const [i, b] of base64Forms(c.value).entries()) add(`base64 (alignment ${i})`, b);
  add('base64url', Buffer.from(c.value).toString('base64url'));
  return forms;
}

// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>78]/g;

/** What a terminal shows, without cursor and colour codes. */
export function stripTerminal(text: string): string {
  return text.replace(ESCAPES, '').replace(/\r/g, '');
}

/**
 * Where in `text` a form of a canary shows up: as it is, without terminal codes, and with every
 * blank removed (a value wrapped over two lines of a table or a terminal is still found).
 */
export function findCanaries(text: string, forms: Form[]): Form[] {
  const plain = stripTerminal(text);
  const compact = plain.replace(/\s+/g, '');
  return forms.filter((f) => text.includes(f.text) || plain.includes(f.text) || compact.includes(f.text.replace(/\s+/g, '')));
}

export interface TerminalResult {
  code: number;
  /** Everything the terminal received, escape codes included. */
  screen: string;
  durationMs: number;
}

/**
 * Runs the CLI in a pseudo-terminal (util-linux `script`), as a person at a terminal does: stdout
 * and stderr are the terminal. The command line holds only paths and flags; `env` (secrets
 * included) reaches the CLI through the process environment. Bounded by `timeoutMs`.
 */
export function hoistInTerminal(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<TerminalResult> {
  for (const a of args) if (!/^[A-Za-z0-9_./:=,@+-]+$/.test(a)) throw new Error(`argument needs quoting, keep it simple: ${a}`);
  const cli = [process.execPath, join(REPO_ROOT, 'bin/hoist.mjs'), ...args].join(' ');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // A wide terminal: listr2 truncates lines to the width, which would hide a leak past it.
    const child = spawn('/usr/bin/script', ['-qfec', `stty cols 400 rows 80 2>/dev/null; exec ${cli}`, '/dev/null'], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    child.stderr.on('data', (d: Buffer) => (screen += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, screen, durationMs: Date.now() - started });
    });
  });
}

/** Every regular file under `dir` (bounded) modified at or after `sinceMs`, with its contents. */
export function filesUnder(dir: string, sinceMs: number, skip: (path: string) => boolean = () => false, limit = 20_000): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      if (out.length >= limit) throw new Error(`more than ${limit} files under ${dir}`);
      const p = join(d, name);
      if (skip(p)) continue;
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.mtimeMs >= sinceMs) out.push({ path: p, text: readFileSync(p).toString('latin1') });
    }
  };
  walk(dir);
  return out;
}

/** The test's own files on a host: a tmpfs folder, left out of every scan. */
export const OWN_DIR = '/run/hoist-secrets-test';

export interface SamplerResult {
  /** How many snapshots of the process list were taken. */
  samples: number;
  /** Every distinct `ps -eo args` line seen. */
  lines: string[];
}

/**
 * Samples every command line on the host (what `ps -eo args` shows) every ~`pollMs` until stopped
 * (bounded by `maxMs`). Runs inside the host (./process-sampler.ts; a `docker exec ps` per look
 * would be too slow to see short commands); keeps only distinct lines, so a long run stays small.
 */
export async function startSampler(host: TestHost, maxMs: number, pollMs = 50): Promise<{ stop(): Promise<SamplerResult> }> {
  const id = randomBytes(4).toString('hex');
  const stopFile = `${OWN_DIR}/sampler-${id}.stop`;
  const tries = Math.ceil(maxMs / pollMs);
  const sampler = samplerScript({ stop: stopFile, tick: `${OWN_DIR}/sampler-${id}.tick`, samples: tries, pause: pollMs / 1000 });
  const script = `mkdir -p ${OWN_DIR}; echo ready >&2
bash -c ${quote(sampler)} | awk '/^--- sample$/ { n++; next } !seen[$0]++ { print } END { print "--- samples " n }'
rm -f ${stopFile}`;
  const child: ChildProcess = spawn('docker', ['exec', host.container, 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const backstop = setTimeout(() => child.kill('SIGKILL'), maxMs * 2 + 60_000);
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the process sampler did not start on ${host.container}: ${err}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return {
    async stop() {
      await dockerSh(host.container, `touch ${stopFile}`);
      await Promise.race([closed, new Promise((r) => setTimeout(r, 30_000))]);
      clearTimeout(backstop);
      const lines = out.split('\n').filter(Boolean);
      const last = lines.pop() ?? '';
      const m = /^--- samples (\d+)$/.exec(last);
      if (!m) throw new Error(`the process sampler on ${host.container} ended without its count: ${last} ${err}`);
      return { samples: Number(m[1]), lines };
    },
  };
}

/**
 * Paths a scan of a host leaves out, and why that is honest:
 * - /proc, /sys, /dev: kernel views, not files anything writes;
 * - the test's own folders (its scans', and the test shell's: ./shell-server.ts);
 * - Docker's and containerd's state (/var/lib/docker, /var/lib/containerd, /run/docker,
 *   /run/containerd): Docker, not hoist, keeps a container's configuration there, and a container
 *   started with the app's env_file holds the app's variables by design. What hoist hands to
 *   Docker is checked elsewhere: its command lines (sampler) and the files it writes (the
 *   compose override under ~/apps, which this scan covers).
 */
export const SCAN_EXCLUDES = ['/proc', '/sys', '/dev', OWN_DIR, SERVER_DIR, '/var/lib/docker', '/var/lib/containerd', '/run/docker', '/run/containerd'];

/**
 * Files a host's own timers write every minute whatever hoist does: the watchdog's state (its
 * timer runs as the deploy user) and, on a systemd host, the journal and the login banner. A
 * check that a run "writes nothing" leaves these out; the canary scan still reads them.
 */
const BACKGROUND_WRITES = [/^\/home\/[^/]+\/\.hoist\/watchdog\//, /^\/var\/log\/journal\//, /^\/run\/motd\.dynamic$/];

/** The changed files a run itself wrote: `changed` less the host's background writes. */
export function writtenByRun(changed: string[]): string[] {
  return changed.filter((f) => !BACKGROUND_WRITES.some((re) => re.test(f)));
}

export interface ChangedFiles {
  /** Regular files modified since the marker. */
  changed: string[];
  /** Those of them that hold a form of a canary. */
  hits: string[];
}

/** Leaves a marker on the host: `changedSince` lists files modified after it. */
export async function markHost(host: TestHost): Promise<string> {
  const marker = `${OWN_DIR}/marker-${randomBytes(4).toString('hex')}`;
  const r = await dockerSh(host.container, `mkdir -p ${OWN_DIR} && touch ${marker} && sleep 0.02`);
  if (r.code !== 0) throw new Error(`marking ${host.container}: ${r.stderr}`);
  return marker;
}

/**
 * Every regular file on the host's root and /run filesystems modified after `marker`, and which
 * of them hold any of `forms` (grep -F; patterns from stdin, kept on tmpfs in the test's folder).
 */
export async function changedSince(host: TestHost, marker: string, forms: Form[]): Promise<ChangedFiles> {
  const prune = SCAN_EXCLUDES.map((p) => `-path ${p}`).join(' -o ');
  const pats = `${OWN_DIR}/patterns-${randomBytes(4).toString('hex')}`;
  const script = `set -u
umask 077; cat > ${pats}
find / /run -xdev \\( ${prune} \\) -prune -o -type f -newer ${marker} -print 2>/dev/null | sort -u > ${pats}.list
while IFS= read -r f; do printf 'changed %s\\n' "$f"; done < ${pats}.list
tr '\\n' '\\0' < ${pats}.list | xargs -0 -r grep -lsF -f ${pats} -- | sed 's/^/hit /'
rm -f ${pats} ${pats}.list
true`;
  const patterns = [...new Set(forms.map((f) => f.text.split('\n')).flat().filter((t) => t.length >= 8))];
  const r = await dockerSh(host.container, script, 'root', `${patterns.join('\n')}\n`);
  if (r.code !== 0) throw new Error(`scanning ${host.container}: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  return {
    changed: lines.filter((l) => l.startsWith('changed ')).map((l) => l.slice(8)),
    hits: lines.filter((l) => l.startsWith('hit ')).map((l) => l.slice(4)),
  };
}
