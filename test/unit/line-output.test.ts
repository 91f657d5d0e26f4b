// Host output as lines: prefixed per host, whole lines only (a chunk may end mid-line or mid-
// character), nothing that acts on the terminal, and the app's .env values hidden.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostPrefixes, LineOutput } from '../../lib/live/line-output.ts';
import { addSecret, clearSecrets } from '../../lib/secrets/redact.ts';

function collect(prefix = ''): { out: LineOutput; text: () => string } {
  let text = '';
  return { out: new LineOutput({ write: (t: string) => (text += t) }, prefix), text: () => text };
}

test('prefixes every line, holds a partial line until its end, and a split UTF-8 character', () => {
  const { out, text } = collect('web1 | ');
  const check = Buffer.from('✓');
  out.write(Buffer.from('one\ntw'));
  assert.is(text(), 'web1 | one\n');
  out.write(Buffer.concat([Buffer.from('o '), check.subarray(0, 1)]));
  out.write(Buffer.concat([check.subarray(1), Buffer.from('\r\nthree')]));
  assert.is(text(), 'web1 | one\nweb1 | two ✓\n');
  out.end();
  assert.is(text(), 'web1 | one\nweb1 | two ✓\nweb1 | three\n', 'the last line without a break, at the end');
});

test('escape sequences and bidi overrides are shown, not acted on; tabs stay', () => {
  const { out, text } = collect();
  out.write('\x1b[2Jcleared\tok \u202eevil\n');
  assert.is(text(), '\\u001b[2Jcleared\tok \\u202eevil\n');
});

test('.env values are hidden, also when a chunk ended inside one', () => {
  addSecret('s3cret-value-42', 'APP_ENV_FILE SECRET', 8);
  try {
    const { out, text } = collect('web2 | ');
    out.write('key=s3cret-va');
    out.write('lue-42 done\n');
    assert.is(text(), 'web2 | key=[secret APP_ENV_FILE SECRET] done\n');
  } finally {
    clearSecrets();
  }
});

test('host prefixes line up, and a name from the inventory cannot act on the terminal', () => {
  assert.equal([...hostPrefixes(['web1', 'db-primary'])], [['web1', 'web1       | '], ['db-primary', 'db-primary | ']]);
  assert.equal([...hostPrefixes(['a\x1b'])], [['a\x1b', 'a\\u001b | ']]);
});

test.run();
