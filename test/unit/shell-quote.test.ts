import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { firstMismatch, generateWords } from '../harness/hostile-words.ts';
import { argv, Cmd, quote, sh, withSudo } from '../../lib/shell-quote.ts';

// Commands are data: the builders are checked by exact string equality, and then the quoted words
// are run through the real local shells, which must hand every word back byte for byte.

// ---------------------------------------------------------------------------------------------
// quote

test('quote leaves plain words alone', () => {
  for (const w of ['abc', 'ABC_123', '/etc/ssh/sshd_config', 'a.b,c:d@e%f+g^h-i', '-n', '--force', 'user@host:22', '0644']) {
    assert.is(quote(w), w, JSON.stringify(w));
  }
});

test('quote single-quotes everything else', () => {
  const cases: Array<[string, string]> = [
    ['', "''"],
    ['a b', "'a b'"],
    ["it's", `'it'\\''s'`],
    ["'", `''\\'''`],
    ["''", `''\\'''\\'''`],
    ['$HOME', "'$HOME'"],
    ['${x}', "'${x}'"],
    ['$(id)', "'$(id)'"],
    ['`id`', "'`id`'"],
    ['"q"', `'"q"'`],
    ['a\\b', "'a\\b'"],
    ['a\nb', "'a\nb'"],
    ['a\tb', "'a\tb'"],
    ['*', "'*'"],
    ['?', "'?'"],
    ['[a]', "'[a]'"],
    ['~', "'~'"],
    ['~root', "'~root'"],
    ['a;b', "'a;b'"],
    ['a&&b', "'a&&b'"],
    ['a|b', "'a|b'"],
    ['#x', "'#x'"],
    ['!x', "'!x'"],
    ['{a,b}', "'{a,b}'"],
    ['a>b', "'a>b'"],
    ['é', "'é'"],
    ['漢字', "'漢字'"],
    ['😀', "'😀'"],
    ['\x01\x7f', "'\x01\x7f'"],
    ["-n 'x'", `'-n '\\''x'\\'''`],
    ['A=b', "'A=b'"],
    ['--opt=value', "'--opt=value'"],
  ];
  for (const [word, want] of cases) assert.is(quote(word), want, JSON.stringify(word));
});

test('a NAME=value word is quoted, so it stays a word and never becomes an assignment (local sh)', () => {
  assert.is(argv('FOO=bar', 'x').line, "'FOO=bar' x");
  // Unquoted, `FOO=bar true` would be an assignment followed by `true` and exit 0.
  const r = spawnSync('sh', ['-c', argv('FOO=bar', 'true').line]);
  assert.is(r.status, 127);
  const out = execFileSync('sh', ['-c', argv('printf', '%s|', 'A=b', '--x=y').line]).toString();
  assert.is(out, 'A=b|--x=y|');
});

test('quote rejects a NUL byte', () => {
  assert.throws(() => quote('a\0b'), /NUL/);
  assert.throws(() => quote('\0'), /NUL/);
});

// ---------------------------------------------------------------------------------------------
// argv

test('argv joins quoted words', () => {
  assert.is(argv('id').line, 'id');
  assert.is(argv('crontab', '-u', 'deploy', '-l').line, 'crontab -u deploy -l');
  assert.is(argv('printf', '%s', "it's a $(test)").line, `printf %s 'it'\\''s a $(test)'`);
  assert.is(argv('echo', '').line, "echo ''");
  assert.is(argv('echo', '', '').line, "echo '' ''");
  assert.is(argv('rm', '-f', '--', '-rf /').line, "rm -f -- '-rf /'");
  assert.is(argv('ls', 'a b', 'c').line, "ls 'a b' c");
});

test('argv returns a Cmd whose toString is the line', () => {
  const c = argv('echo', 'a b');
  assert.ok(c instanceof Cmd);
  assert.is(String(c), "echo 'a b'");
  assert.is(`${c}`, "echo 'a b'");
});

test('argv needs a program and rejects NUL', () => {
  assert.throws(() => argv(), /at least the program name/);
  assert.throws(() => argv('echo', 'a\0'), /NUL/);
});

// ---------------------------------------------------------------------------------------------
// sh

test('sh keeps literal parts and quotes string interpolations', () => {
  const p = '/etc/my file';
  assert.is(sh`test -f ${p} && cat ${p}`.line, "test -f '/etc/my file' && cat '/etc/my file'");
  assert.is(sh`echo ${"it's"}`.line, `echo 'it'\\''s'`);
  assert.is(sh`echo ${'$(reboot)'}; ls`.line, "echo '$(reboot)'; ls");
  assert.is(sh`echo ${''}`.line, "echo ''");
  assert.is(sh`cat ${'/etc/hosts'}`.line, 'cat /etc/hosts');
  assert.is(sh`${'a'}${'b c'}`.line, "a'b c'");
});

test('sh without interpolations is the literal text', () => {
  assert.is(sh``.line, '');
  assert.is(sh`echo hi | wc -c`.line, 'echo hi | wc -c');
  assert.is(sh`echo "$HOME" '$x'`.line, `echo "$HOME" '$x'`);
});

test('sh renders numbers as plain decimals', () => {
  assert.is(sh`sleep ${5}`.line, 'sleep 5');
  assert.is(sh`x ${0}`.line, 'x 0');
  assert.is(sh`x ${-3}`.line, 'x -3');
  assert.is(sh`x ${1.5}`.line, 'x 1.5');
  assert.is(sh`chmod ${0o640.toString(8)} f`.line, 'chmod 640 f');
  assert.is(sh`head -c ${1048576} f`.line, 'head -c 1048576 f');
});

test('sh rejects non-finite numbers', () => {
  assert.throws(() => sh`sleep ${NaN}`, /not a finite number: NaN/);
  assert.throws(() => sh`sleep ${Infinity}`, /not a finite number: Infinity/);
  assert.throws(() => sh`sleep ${-Infinity}`, /not a finite number: -Infinity/);
});

test('sh turns an array into several quoted words', () => {
  assert.is(sh`rm -f ${['a', 'b c', "d'e"]}`.line, `rm -f a 'b c' 'd'\\''e'`);
  assert.is(sh`ls ${[]} x`.line, 'ls  x');
  assert.is(sh`echo ${['']}`.line, "echo ''");
  const ro: readonly string[] = Object.freeze(['-l', '$(id)']);
  assert.is(sh`ls ${ro}`.line, "ls -l '$(id)'");
});

test('sh inserts a nested Cmd as already-built shell', () => {
  const inner = argv('grep', '-c', 'a b');
  assert.is(sh`${inner} /etc/passwd || true`.line, "grep -c 'a b' /etc/passwd || true");
  const twice = sh`( ${sh`cd ${'/tmp/x y'} && ${inner}`} )`;
  assert.is(twice.line, "( cd '/tmp/x y' && grep -c 'a b' )");
  assert.is(sh`${sh``}`.line, '');
});

test('sh mixes every kind of interpolation', () => {
  const c = sh`${argv('install', '-m')} ${'600'} ${['a b', 'c']} ${3} ${'$x'}`;
  assert.is(c.line, "install -m 600 'a b' c 3 '$x'");
});

test('sh rejects a NUL byte in a string or an array', () => {
  assert.throws(() => sh`echo ${'a\0b'}`, /NUL/);
  assert.throws(() => sh`echo ${['ok', '\0']}`, /NUL/);
});

// ---------------------------------------------------------------------------------------------
// withSudo

test('withSudo wraps the line as one quoted argument of sh -c', () => {
  assert.is(withSudo(argv('id', '-u')).line, "sudo -n -- sh -c 'id -u'");
  assert.is(withSudo(argv('true')).line, 'sudo -n -- sh -c true');
  assert.is(withSudo(sh`echo ${"it's"}`).line, `sudo -n -- sh -c 'echo '\\''it'\\''\\'\\'''\\''s'\\'''`);
  assert.is(
    withSudo(sh`cat ${'/etc/a b'} > /dev/null && echo ok`).line,
    `sudo -n -- sh -c 'cat '\\''/etc/a b'\\'' > /dev/null && echo ok'`,
  );
  assert.ok(withSudo(argv('id')) instanceof Cmd);
});

test('withSudo: the inner sh -c sees exactly the original line (local sh)', () => {
  const cmds = [
    argv('printf', '%s|', "it's", '$(echo no)', '`echo no`', 'a\nb', ''),
    sh`printf '%s|' ${["'", '"', '\\', '$HOME']} && printf done`,
  ];
  for (const cmd of cmds) {
    const wrapped = withSudo(cmd).line;
    assert.ok(wrapped.startsWith('sudo -n -- '));
    // Drop the sudo part: what remains is what sudo would exec.
    const rest = wrapped.slice('sudo -n -- '.length);
    const direct = execFileSync('sh', ['-c', cmd.line]);
    const viaSh = execFileSync('sh', ['-c', rest]);
    assert.equal(viaSh, direct, cmd.line);
  }
});

// ---------------------------------------------------------------------------------------------
// Property: every word survives the real local shells byte for byte.


const WORDS = generateWords(500, 0x5eed1234);

test('generator covers the nasty cases', () => {
  assert.is(WORDS.length, 500);
  const all = WORDS.join('');
  for (const needle of ["'", '"', '`', '$(', '${', '\\', '\n', '\t', ' ', '*', '?', '[', '~', ';', '&&', '|', '#', '😀', '漢', '\u0301', '\x7f', '\x01']) {
    assert.ok(all.includes(needle), `no ${JSON.stringify(needle)} in the generated words`);
  }
  assert.ok(WORDS.includes(''));
  assert.ok(WORDS.filter((w) => w.startsWith('-')).length > 20);
  assert.ok(!all.includes('\0'));
  // Same seed, same words.
  assert.equal(generateWords(500, 0x5eed1234), WORDS);
});

for (const shell of ['sh', 'bash']) {
  test(`${shell}: 500 generated words come back byte for byte`, () => {
    const line = `printf '%s\\0' ${argv(...WORDS).line}`;
    const out = execFileSync(shell, ['-c', line], { maxBuffer: 64 * 1024 * 1024 });
    const want = Buffer.from(WORDS.map((w) => w + '\0').join(''), 'utf8');
    if (!out.equals(want)) {
      const got = out.toString('utf8').split('\0').slice(0, -1);
      assert.unreachable(firstMismatch(got, WORDS));
    }
  });

  test(`${shell}: each word alone as the only argument`, () => {
    for (const w of WORDS.slice(0, 120)) {
      const out = execFileSync(shell, ['-c', argv('printf', '%s', w).line]);
      assert.ok(out.equals(Buffer.from(w, 'utf8')), `${shell} changed ${JSON.stringify(w)} into ${JSON.stringify(out.toString('utf8'))}`);
    }
  });

  test(`${shell}: sh template with an array interpolation`, () => {
    const words = WORDS.slice(200, 300);
    const out = execFileSync(shell, ['-c', sh`printf '%s\\0' ${words} && printf ${'end'}`.line]);
    assert.ok(out.equals(Buffer.from(words.map((w) => w + '\0').join('') + 'end', 'utf8')));
  });
}

test('sh -c through withSudo-style nesting keeps the words (local sh)', () => {
  const words = WORDS.slice(0, 200);
  const inner = argv('printf', '%s\\0', ...words);
  const rest = withSudo(inner).line.slice('sudo -n -- '.length);
  const out = execFileSync('sh', ['-c', rest], { maxBuffer: 64 * 1024 * 1024 });
  assert.ok(out.equals(Buffer.from(words.map((w) => w + '\0').join(''), 'utf8')));
});

test.run();
