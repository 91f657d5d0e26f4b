import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkHostKey,
  entryMatchesHost,
  fingerprint,
  hostKeyAlgorithmsFor,
  hostLookupName,
  keyTypeOfBlob,
  knownHostsLine,
  knownKeyTypes,
  parseKnownHosts,
  pinHostKey,
  readKnownHosts,
  type KnownHostEntry,
} from '../../lib/ssh/known-hosts.ts';

// Every key, fingerprint and hashed line below comes from the real ssh-keygen, so the module is
// checked against OpenSSH itself rather than against what we believe OpenSSH does.

const dir = mkdtempSync(join(tmpdir(), 'hoist-known-hosts-'));

interface Key {
  pub: string; // "type base64", without the comment
  type: string;
  blob: Buffer;
  file: string;
}

function keygen(name: string, type: string): Key {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `${name}@hoist-test`, '-f', file]);
  const [keyType, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ');
  if (keyType === undefined || b64 === undefined) throw new Error(`unreadable ${file}.pub`);
  return { pub: `${keyType} ${b64}`, type: keyType, blob: Buffer.from(b64, 'base64'), file: `${file}.pub` };
}

const ed = keygen('ed', 'ed25519');
const rsa = keygen('rsa', 'rsa');
const ecdsa = keygen('ecdsa', 'ecdsa');
const other = keygen('other', 'ed25519');
const revokedKey = keygen('revoked', 'ed25519');
const caKey = keygen('ca', 'ed25519');

/**
 * `ssh-keygen -F`: the line numbers it reports for a name, [] when it finds nothing. With
 * parseKeys it adds -l, which makes it decode each key and skip lines whose key is invalid,
 * as ssh does when it loads known_hosts (plain -F only matches names and lists those too).
 */
function sshKeygenFind(name: string, file: string, parseKeys = false): number[] {
  const args = [...(parseKeys ? ['-l'] : []), '-F', name, '-f', file];
  const r = spawnSync('ssh-keygen', args, { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`ssh-keygen -F failed: ${r.stderr}`);
  return [...r.stdout.matchAll(/^# Host .* found: line (\d+)/gm)].map((m) => Number(m[1]));
}

function sshKeygenFingerprint(pubFile: string): string {
  const out = execFileSync('ssh-keygen', ['-lf', pubFile], { encoding: 'utf8' });
  const fp = out.split(' ')[1];
  if (fp === undefined) throw new Error(`unexpected ssh-keygen -l output: ${out}`);
  return fp;
}

function matchingLines(entries: KnownHostEntry[], name: string): number[] {
  return entries.filter((e) => entryMatchesHost(e, name)).map((e) => e.line);
}

const plainText = [
  '# hosts hoist deploys to',
  `example.com,Alias.Example.com ${ed.pub} trailing comment here`,
  `[127.0.0.1]:2201 ${ecdsa.pub}`,
  '',
  `   10.0.0.5 ${rsa.pub}`,
  `*.wild.test,!bad.wild.test ${rsa.pub}`,
  `host?.lan ${ed.pub}`,
  `[10.1.2.*]:2201 ${ecdsa.pub}`,
].join('\n') + '\n';

const plainFile = join(dir, 'known_hosts');
writeFileSync(plainFile, plainText);
const hashedFile = join(dir, 'known_hosts_hashed');
writeFileSync(hashedFile, plainText);
execFileSync('ssh-keygen', ['-H', '-f', hashedFile], { stdio: 'ignore' });
const hashedText = readFileSync(hashedFile, 'utf8');

const probeNames = [
  'example.com',
  'alias.example.com',
  'EXAMPLE.com',
  'www.example.com',
  '[example.com]:2201',
  '[127.0.0.1]:2201',
  '127.0.0.1',
  '[127.0.0.1]:2202',
  '10.0.0.5',
  '[10.0.0.5]:2201',
  'a.wild.test',
  'deep.a.wild.test',
  'bad.wild.test',
  'wild.test',
  'host1.lan',
  'host12.lan',
  'host.lan',
  '[10.1.2.77]:2201',
  '10.1.2.77',
];

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('parseKnownHosts skips comments and blanks and keeps fields and 1-based line numbers', () => {
  const entries = parseKnownHosts(plainText);
  assert.equal(entries.map((e) => e.line), [2, 3, 5, 6, 7, 8]);
  assert.equal(entries[0], {
    marker: '',
    patterns: 'example.com,Alias.Example.com',
    keyType: 'ssh-ed25519',
    keyBase64: ed.blob.toString('base64'),
    line: 2,
  });
  assert.is(entries[2]?.patterns, '10.0.0.5');
  assert.is(entries[2]?.keyType, 'ssh-rsa');
});

test('parseKnownHosts reads markers and ignores malformed lines, as OpenSSH does', () => {
  const b64 = ed.blob.toString('base64');
  const text = [
    `@revoked * ${revokedKey.pub}`,
    `@cert-authority *.example.com ${caKey.pub}`,
    `@bogus example.com ${ed.pub}`, // unknown marker
    'example.com', // no key
    'example.com ssh-ed25519', // no key
    `example.com ssh-rsa ${b64}`, // declared type disagrees with the key
    'example.com ssh-ed25519 not*base64!', // not base64
    'example.com ssh-ed25519 AAAA', // too short to be a key blob
    `@revoked ${ed.pub}`, // marker without key
    `good.example.com ${ed.pub}\r`, // CRLF file
  ].join('\n');
  const entries = parseKnownHosts(text);
  assert.equal(
    entries.map((e) => [e.marker, e.patterns, e.line]),
    [
      ['@revoked', '*', 1],
      ['@cert-authority', '*.example.com', 2],
      ['', 'good.example.com', 10],
    ],
  );
  // ssh-keygen, decoding keys, skips exactly the same lines: it only ever reports the three we kept
  const file = join(dir, 'malformed_hosts');
  writeFileSync(file, text);
  for (const name of ['good.example.com', 'example.com']) {
    assert.equal(matchingLines(entries, name), sshKeygenFind(name, file, true), name);
  }
  assert.equal(sshKeygenFind('good.example.com', file, true), [1, 2, 10]);
  assert.equal(sshKeygenFind('example.com', file, true), [1]);
});

test('hostLookupName uses the bare name on port 22 and [host]:port otherwise', () => {
  assert.is(hostLookupName('example.com', 22), 'example.com');
  assert.is(hostLookupName('127.0.0.1', 2201), '[127.0.0.1]:2201');
  assert.is(hostLookupName('Example.COM', 22), 'example.com');
  // the name ssh-keygen -F looks up for a non-standard port is the same one we build
  const entries = parseKnownHosts(plainText);
  assert.equal(sshKeygenFind(hostLookupName('127.0.0.1', 2201), plainFile), [3]);
  assert.equal(matchingLines(entries, hostLookupName('127.0.0.1', 2201)), [3]);
  assert.equal(matchingLines(entries, hostLookupName('127.0.0.1', 22)), []);
});

test('keyTypeOfBlob reads the type out of real ssh-keygen keys', () => {
  assert.is(keyTypeOfBlob(ed.blob), 'ssh-ed25519');
  assert.is(keyTypeOfBlob(rsa.blob), 'ssh-rsa');
  assert.is(keyTypeOfBlob(ecdsa.blob), 'ecdsa-sha2-nistp256');
  assert.throws(() => keyTypeOfBlob(Buffer.alloc(2)));
  assert.throws(() => keyTypeOfBlob(ed.blob.subarray(0, 8)));
});

test('fingerprint equals what ssh-keygen -lf prints', () => {
  for (const key of [ed, rsa, ecdsa]) {
    const fp = fingerprint(key.blob);
    assert.is(fp, sshKeygenFingerprint(key.file), key.type);
    assert.not.ok(fp.includes('='));
  }
});

test('plain entries match the right host and port and nothing else', () => {
  const entries = parseKnownHosts(plainText);
  assert.equal(matchingLines(entries, 'example.com'), [2]);
  assert.equal(matchingLines(entries, 'alias.example.com'), [2]);
  assert.equal(matchingLines(entries, 'EXAMPLE.com'), [2]);
  assert.equal(matchingLines(entries, 'www.example.com'), []);
  assert.equal(matchingLines(entries, '[example.com]:2201'), []);
  assert.equal(matchingLines(entries, '[127.0.0.1]:2201'), [3]);
  assert.equal(matchingLines(entries, '127.0.0.1'), []);
  assert.equal(matchingLines(entries, '[127.0.0.1]:2202'), []);
  assert.equal(matchingLines(entries, '10.0.0.5'), [5]);
  assert.equal(matchingLines(entries, '[10.0.0.5]:2201'), []);
});

test('wildcards and negation', () => {
  const entries = parseKnownHosts(plainText);
  assert.equal(matchingLines(entries, 'a.wild.test'), [6]);
  assert.equal(matchingLines(entries, 'deep.a.wild.test'), [6]);
  assert.equal(matchingLines(entries, 'wild.test'), []);
  assert.equal(matchingLines(entries, 'bad.wild.test'), [], 'negated name is excluded');
  assert.equal(matchingLines(entries, 'host1.lan'), [7]);
  assert.equal(matchingLines(entries, 'host12.lan'), [], '? is exactly one character');
  assert.equal(matchingLines(entries, 'host.lan'), []);
  assert.equal(matchingLines(entries, '[10.1.2.77]:2201'), [8]);
  assert.equal(matchingLines(entries, '10.1.2.77'), []);
  // the negation wins even when it comes before the positive pattern
  const e = parseKnownHosts(`!bad.wild.test,*.wild.test ${rsa.pub}`)[0];
  assert.ok(e);
  assert.not.ok(entryMatchesHost(e, 'bad.wild.test'));
  assert.ok(entryMatchesHost(e, 'ok.wild.test'));
  // regex metacharacters in names are literal
  assert.not.ok(entryMatchesHost(e, 'okXwild.test'));
});

test('ssh-keygen -H output: hashed entries match the same hosts as the plain ones', () => {
  const hashed = parseKnownHosts(hashedText);
  const hashedPatterns = hashed.filter((e) => e.patterns.startsWith('|1|'));
  // one hashed line per name: example.com, alias.example.com, [127.0.0.1]:2201, 10.0.0.5
  assert.is(hashedPatterns.length, 4);
  assert.not.ok(hashedText.includes('example.com'));
  const plain = parseKnownHosts(plainText);
  for (const name of probeNames) {
    const viaPlain = plain.filter((e) => entryMatchesHost(e, name.toLowerCase())).map((e) => e.keyBase64);
    const viaHashed = hashed.filter((e) => entryMatchesHost(e, name.toLowerCase())).map((e) => e.keyBase64);
    assert.equal(viaHashed, viaPlain, name);
  }
  const h = hashedPatterns[0];
  assert.ok(h);
  assert.ok(entryMatchesHost(h, 'example.com'));
  assert.not.ok(entryMatchesHost(h, 'example.org'));
  assert.not.ok(entryMatchesHost(h, '[example.com]:2201'));
});

test('ssh-keygen -F agrees with entryMatchesHost, line for line, on plain and hashed files', () => {
  for (const [file, text] of [
    [plainFile, plainText],
    [hashedFile, hashedText],
  ] as const) {
    const entries = parseKnownHosts(text);
    for (const name of probeNames) {
      // ssh-keygen -F compares hashed names exactly; ssh itself lowercases first (as hostLookupName does)
      if (file === hashedFile && name !== name.toLowerCase()) continue;
      assert.equal(matchingLines(entries, name), sshKeygenFind(name, file), `${name} in ${file}`);
    }
  }
});

test('checkHostKey: known, unknown and changed', () => {
  for (const text of [plainText, hashedText]) {
    const entries = parseKnownHosts(text);
    assert.equal(checkHostKey(entries, 'example.com', ed.blob), { kind: 'known' });
    assert.equal(checkHostKey(entries, '[127.0.0.1]:2201', ecdsa.blob), { kind: 'known' });
    assert.equal(checkHostKey(entries, 'nowhere.example', ed.blob), { kind: 'unknown' });
    assert.equal(checkHostKey(entries, '127.0.0.1', ecdsa.blob), { kind: 'unknown' });
    // same key type, different key: a classic MITM / reinstalled server
    assert.equal(checkHostKey(entries, 'example.com', other.blob), {
      kind: 'changed',
      expected: [sshKeygenFingerprint(ed.file)],
      got: sshKeygenFingerprint(other.file),
    });
    // only an ecdsa key is known and the server offers ed25519: OpenSSH refuses, so do we
    assert.equal(checkHostKey(entries, '[127.0.0.1]:2201', ed.blob), {
      kind: 'changed',
      expected: [sshKeygenFingerprint(ecdsa.file)],
      got: sshKeygenFingerprint(ed.file),
    });
  }
});

test('checkHostKey: several known keys are all reported when none matches', () => {
  const entries = parseKnownHosts(`h.example ${ed.pub}\nh.example ${rsa.pub}\nh.example ${ed.pub}\n`);
  assert.equal(checkHostKey(entries, 'h.example', rsa.blob), { kind: 'known' });
  assert.equal(checkHostKey(entries, 'h.example', other.blob), {
    kind: 'changed',
    expected: [sshKeygenFingerprint(ed.file), sshKeygenFingerprint(rsa.file)],
    got: sshKeygenFingerprint(other.file),
  });
});

test('checkHostKey: @revoked wins for any host, @cert-authority lines are ignored', () => {
  const text = [
    `@revoked other.example ${revokedKey.pub}`,
    `example.com ${revokedKey.pub}`,
    `@cert-authority *.example.com ${caKey.pub}`,
    `example.com ${ed.pub}`,
  ].join('\n');
  const entries = parseKnownHosts(text);
  const got = sshKeygenFingerprint(revokedKey.file);
  assert.equal(checkHostKey(entries, 'example.com', revokedKey.blob), { kind: 'revoked', got });
  assert.equal(checkHostKey(entries, 'unrelated.example', revokedKey.blob), { kind: 'revoked', got });
  assert.equal(checkHostKey(entries, 'example.com', ed.blob), { kind: 'known' });
  // a CA key is not a host key: presenting it is unknown for a host only covered by the CA line...
  assert.equal(checkHostKey(entries, 'www.example.com', caKey.blob), { kind: 'unknown' });
  // ...and does not count as a known key of a host that has real entries
  assert.equal(checkHostKey(entries, 'example.com', caKey.blob).kind, 'changed');
  assert.equal(knownKeyTypes(entries, 'www.example.com'), []);
});

test('knownKeyTypes and hostKeyAlgorithmsFor', () => {
  const text = [
    `multi.example ${ed.pub}`,
    `@revoked multi.example ${ecdsa.pub}`,
    `multi.example,other.example ${rsa.pub}`,
    `*.example ${ed.pub}`,
  ].join('\n');
  const entries = parseKnownHosts(text);
  assert.equal(knownKeyTypes(entries, 'multi.example'), ['ssh-ed25519', 'ssh-rsa']);
  assert.equal(knownKeyTypes(entries, 'other.example'), ['ssh-rsa', 'ssh-ed25519']);
  assert.equal(knownKeyTypes(entries, 'nothing.here'), []);
  assert.equal(knownKeyTypes(parseKnownHosts(hashedText), '[127.0.0.1]:2201'), ['ecdsa-sha2-nistp256']);

  assert.equal(hostKeyAlgorithmsFor([]), []);
  assert.equal(hostKeyAlgorithmsFor(['ssh-rsa']), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.equal(hostKeyAlgorithmsFor(knownKeyTypes(entries, 'multi.example')), [
    'ssh-ed25519',
    'rsa-sha2-512',
    'rsa-sha2-256',
    'ssh-rsa',
  ]);
  assert.equal(hostKeyAlgorithmsFor(['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']), [
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
  ]);
});

test('knownHostsLine is what ssh-keygen would store', () => {
  const line = knownHostsLine('[127.0.0.1]:2201', ed.blob);
  assert.is(line, `[127.0.0.1]:2201 ${ed.pub}`);
  assert.not.ok(line.endsWith('\n'));
  assert.is(knownHostsLine('example.com', rsa.blob), `example.com ${rsa.pub}`);
});

test('pinHostKey creates dir 700 and file 600 with a line ssh-keygen -F finds', async () => {
  const file = join(dir, 'fresh', 'nested', 'known_hosts');
  await pinHostKey(file, '[127.0.0.1]:2201', ed.blob);
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.is(statSync(join(dir, 'fresh', 'nested')).mode & 0o777, 0o700);
  assert.is(readFileSync(file, 'utf8'), `[127.0.0.1]:2201 ${ed.pub}\n`);
  assert.equal(sshKeygenFind('[127.0.0.1]:2201', file), [1]);
  assert.equal(sshKeygenFind('127.0.0.1', file), []);

  await pinHostKey(file, 'example.com', rsa.blob);
  assert.equal(sshKeygenFind('example.com', file), [2]);
  const entries = await readKnownHosts(file);
  assert.equal(checkHostKey(entries, '[127.0.0.1]:2201', ed.blob), { kind: 'known' });
  assert.equal(checkHostKey(entries, 'example.com', rsa.blob), { kind: 'known' });
});

test('pinHostKey terminates an unterminated last line before appending', async () => {
  const file = join(dir, 'unterminated_known_hosts');
  writeFileSync(file, `example.com ${rsa.pub}`, { mode: 0o644 });
  await pinHostKey(file, '[127.0.0.1]:2201', ed.blob);
  assert.is(readFileSync(file, 'utf8'), `example.com ${rsa.pub}\n[127.0.0.1]:2201 ${ed.pub}\n`);
  assert.is(statSync(file).mode & 0o777, 0o644, 'an existing file keeps its mode');
  assert.equal(sshKeygenFind('example.com', file), [1]);
  assert.equal(sshKeygenFind('[127.0.0.1]:2201', file), [2]);
});

test('readKnownHosts: missing file is empty, existing file is parsed', async () => {
  assert.equal(await readKnownHosts(join(dir, 'does-not-exist', 'known_hosts')), []);
  assert.equal(await readKnownHosts(plainFile), parseKnownHosts(plainText));
});

test.run();
