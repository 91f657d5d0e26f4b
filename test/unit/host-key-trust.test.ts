// Host key checking is never switched off, checked on the source itself: every ssh2 connection is
// opened in lib/ssh/connect.ts (whose verifier the e2e tests exercise: refused on mismatch, pinned
// only with --accept-new), no code anywhere accepts any key (`hostVerifier: () => true`), and no
// command or config hoist sends to a host turns OpenSSH's checking off (StrictHostKeyChecking
// no / off / accept-new, UserKnownHostsFile /dev/null). The test harness is left out: it probes
// hosts it made itself (test/harness/ssh-login.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO_ROOT } from '../harness/testbed.ts';

const test = suite('host key trust (static)');
const SOURCE_DIRS = ['bin', 'lib', 'tasks', 'pipelines', 'scripts', 'examples'];

function sources(): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name === 'node_modules') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts|mjs|js|sh|ya?ml|conf)$/.test(name)) out.push({ path: relative(REPO_ROOT, p), text: readFileSync(p, 'utf8') });
    }
  };
  for (const d of SOURCE_DIRS) walk(join(REPO_ROOT, d));
  return out;
}

/** What in `text` turns host key checking off; one entry per finding. */
export function trustProblems(text: string): string[] {
  const found: string[] = [];
  const rules: [RegExp, string][] = [
    [/hostVerifier\s*:\s*(?:async\s*)?(?:\([^)]*\)|[A-Za-z_$][\w$]*)\s*=>\s*(?:true\b|\{\s*return\s+true\b)/, 'a hostVerifier that accepts any key'],
    [/hostVerifier\s*:\s*(?:async\s+)?function\s*\([^)]*\)\s*\{\s*return\s+true\b/, 'a hostVerifier that accepts any key'],
    [/hostVerifier\s*:\s*\(\s*[^,)]*,\s*(\w+)\s*\)\s*=>\s*\1\s*\(\s*true\s*\)/, 'a hostVerifier that accepts any key'],
    [/StrictHostKeyChecking\s*[= ]\s*["']?(?:no|off|accept-new|false)\b/i, 'StrictHostKeyChecking switched off'],
    [/UserKnownHostsFile\s*[= ]\s*["']?\/dev\/null/i, 'known hosts thrown away (UserKnownHostsFile /dev/null)'],
    [/GlobalKnownHostsFile\s*[= ]\s*["']?\/dev\/null/i, 'known hosts thrown away (GlobalKnownHostsFile /dev/null)'],
  ];
  for (const [re, what] of rules) if (re.test(text)) found.push(what);
  return found;
}

test('the detector finds what it must (it could fail)', () => {
  assert.equal(trustProblems('client.connect({ host, hostVerifier: () => true })'), ['a hostVerifier that accepts any key']);
  assert.equal(trustProblems('hostVerifier: (key) => { return true; }'), ['a hostVerifier that accepts any key']);
  assert.equal(trustProblems('hostVerifier: function (k) { return true }'), ['a hostVerifier that accepts any key']);
  assert.equal(trustProblems('hostVerifier: (blob, verify) => verify(true)'), ['a hostVerifier that accepts any key']);
  assert.equal(trustProblems("sh`git -c core.sshCommand='ssh -o StrictHostKeyChecking=no'`"), ['StrictHostKeyChecking switched off']);
  assert.equal(trustProblems('  StrictHostKeyChecking accept-new\n  UserKnownHostsFile /dev/null'), ['StrictHostKeyChecking switched off', 'known hosts thrown away (UserKnownHostsFile /dev/null)']);
  assert.equal(trustProblems('  StrictHostKeyChecking yes\n  UserKnownHostsFile ~/.ssh/known_hosts'), []);
  assert.equal(trustProblems('hostVerifier: (key) => Buffer.compare(key, pinned) === 0'), []);
});

test('no source file accepts any host key or switches OpenSSH\'s checking off', () => {
  const files = sources();
  assert.ok(files.length > 50, `${files.length} files scanned`);
  const problems = files.flatMap((f) => trustProblems(f.text).map((p) => `${f.path}: ${p}`));
  assert.equal(problems, []);
});

test('every ssh2 connection hoist opens goes through lib/ssh/connect.ts (one verifier, checked end to end)', () => {
  const makers = sources()
    .filter((f) => /new\s+(?:ssh2\.)?Client\s*\(/.test(f.text) || /hostVerifier\s*:/.test(f.text))
    .map((f) => f.path)
    .sort();
  // scripts/bench/floor.mjs: the benchmark's floor (raw ssh2), which compares the pinned key itself.
  assert.equal(makers, ['lib/ssh/connect.ts', 'scripts/bench/floor.mjs']);
  const floor = readFileSync(join(REPO_ROOT, 'scripts/bench/floor.mjs'), 'utf8');
  assert.match(floor, /hostVerifier: \(key\) => Buffer\.compare\(key, Buffer\.from\(h\.hostKey, 'base64'\)\) === 0/);
  const connect = readFileSync(join(REPO_ROOT, 'lib/ssh/connect.ts'), 'utf8');
  // The only verify(true) calls: a key known_hosts has, or one just pinned with --accept-new.
  const accepts = connect.split('\n').filter((l) => /verify\(true\)/.test(l)).map((l) => l.trim());
  assert.equal(accepts, ["if (verdict.kind === 'known') return verify(true);", '() => verify(true),']);
  assert.match(connect, /if \(verdict\.kind === 'unknown' && target\.acceptNew\) \{\n\s+pinHostKey\(/, 'pinning only for an unknown host with --accept-new');
});

test.run();
