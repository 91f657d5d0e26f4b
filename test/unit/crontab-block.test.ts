import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blockMarkers, entriesInBlock, findBlock, shownForDiff, withBlock } from '../../lib/cron/crontab-block.ts';

const { begin: BEGIN, end: END } = blockMarkers('web');
const OTHER = blockMarkers('other');

test('blockMarkers', () => {
  assert.equal(blockMarkers('web'), {
    begin: '# BEGIN hoist:web (managed by hoist; edits inside this block are replaced)',
    end: '# END hoist:web',
  });
});

test('blockMarkers rejects app names that would break the marker line', () => {
  for (const app of ['', 'a b', 'a\nb', 'a\tb']) {
    assert.throws(() => blockMarkers(app), /cannot be used/, JSON.stringify(app));
  }
});

const entries = ['MAILTO=""', '*/5 * * * * cmd one', '# nightly', '@daily cmd two'];
const block = [BEGIN, ...entries, END].join('\n') + '\n';

const cases: Array<{ name: string; before: string; entries: string[]; after: string }> = [
  { name: 'insert into empty crontab', before: '', entries, after: block },
  { name: 'insert after content with final newline', before: 'a\n', entries, after: 'a\n' + block },
  { name: 'insert after content without final newline', before: 'a', entries, after: 'a\n' + block },
  {
    name: 'insert adds no blank line after trailing blank lines',
    before: 'a\n\n',
    entries,
    after: 'a\n\n' + block,
  },
  {
    name: 'replace an existing block in the middle',
    before: `# mine\n0 1 * * * x\n${BEGIN}\nold one\nold two\n${END}\n\n5 5 * * * y\n`,
    entries: ['new'],
    after: `# mine\n0 1 * * * x\n${BEGIN}\nnew\n${END}\n\n5 5 * * * y\n`,
  },
  {
    name: 'replace a block whose END is the last line without a newline',
    before: `a\n${BEGIN}\nold\n${END}`,
    entries: ['new'],
    after: `a\n${BEGIN}\nnew\n${END}\n`,
  },
  {
    name: 'replace an empty block',
    before: `${BEGIN}\n${END}\n`,
    entries: ['new'],
    after: `${BEGIN}\nnew\n${END}\n`,
  },
  {
    name: 'replace rewrites an older BEGIN comment text',
    before: `a\n# BEGIN hoist:web (old wording)\nold\n${END}\nz\n`,
    entries: ['new'],
    after: `a\n${BEGIN}\nnew\n${END}\nz\n`,
  },
  {
    name: 'remove the block when entries are empty',
    before: `a\n${BEGIN}\nold\n${END}\nz\n`,
    entries: [],
    after: 'a\nz\n',
  },
  { name: 'remove the only content leaves empty', before: block, entries: [], after: '' },
  {
    name: 'remove keeps blank lines around the block',
    before: `\n${BEGIN}\nold\n${END}\n\n`,
    entries: [],
    after: '\n\n',
  },
  { name: 'no block and no entries leaves content alone', before: 'a\n\n# c\n', entries: [], after: 'a\n\n# c\n' },
  { name: 'no block and no entries on empty crontab', before: '', entries: [], after: '' },
  {
    name: 'other app blocks are untouched',
    before: `${OTHER.begin}\nother job\n${OTHER.end}\n`,
    entries: ['mine'],
    after: `${OTHER.begin}\nother job\n${OTHER.end}\n${BEGIN}\nmine\n${END}\n`,
  },
  {
    name: 'an app whose name extends ours is not our block',
    before: `# BEGIN hoist:webapp (managed)\nx\n# END hoist:webapp\n`,
    entries: ['mine'],
    after: `# BEGIN hoist:webapp (managed)\nx\n# END hoist:webapp\n${BEGIN}\nmine\n${END}\n`,
  },
  {
    name: 'user lines before and after are byte-for-byte (CRLF, tabs, trailing spaces, %)',
    before: `MAILTO=me\r\n0 1 * * *\tx %y  \n\n   \n${BEGIN}\nold\n${END}\n# after \r\n\t\n* * * * * z`,
    entries: ['new'],
    after: `MAILTO=me\r\n0 1 * * *\tx %y  \n\n   \n${BEGIN}\nnew\n${END}\n# after \r\n\t\n* * * * * z\n`,
  },
  {
    name: 'markers with CRLF or trailing whitespace are still found',
    before: `a\r\n${BEGIN}  \r\nold\r\n${END}\r\nz\r\n`,
    entries: ['new'],
    after: `a\r\n${BEGIN}\nnew\n${END}\nz\r\n`,
  },
  {
    name: 'BEGIN marker without comment text is still found',
    before: `# BEGIN hoist:web\nold\n${END}\n`,
    entries: ['new'],
    after: `${BEGIN}\nnew\n${END}\n`,
  },
];

for (const c of cases) {
  test(`withBlock: ${c.name}`, () => {
    const result = withBlock(c.before, 'web', c.entries);
    assert.is(result, c.after);
    assert.is(withBlock(result, 'web', c.entries), result, 'withBlock twice should equal once');
    assert.ok(result === '' || result.endsWith('\n'), 'non-empty result ends with a newline');
    assert.equal(entriesInBlock(result, 'web'), c.entries.length === 0 ? null : c.entries);
  });
}

test('withBlock for one app then another leaves the first block intact', () => {
  const start = 'a\n';
  const one = withBlock(start, 'web', ['w']);
  const two = withBlock(one, 'other', ['o']);
  assert.is(two, `a\n${BEGIN}\nw\n${END}\n${OTHER.begin}\no\n${OTHER.end}\n`);
  assert.is(withBlock(two, 'web', []), `a\n${OTHER.begin}\no\n${OTHER.end}\n`);
});

test('findBlock returns the marker line indexes, or null', () => {
  assert.is(findBlock('', 'web'), null);
  assert.is(findBlock('a\nb\n', 'web'), null);
  assert.equal(findBlock(`a\n\n${BEGIN}\nx\ny\n${END}\nz\n`, 'web'), { start: 2, end: 5 });
  assert.is(findBlock(`${OTHER.begin}\nx\n${OTHER.end}\n`, 'web'), null);
});

test('entriesInBlock returns the lines between the markers exactly', () => {
  assert.is(entriesInBlock('a\n', 'web'), null);
  assert.equal(entriesInBlock(`${BEGIN}\n${END}\n`, 'web'), []);
  assert.equal(entriesInBlock(`${BEGIN}\n x \n\nlast\r\n${END}\n`, 'web'), [' x ', '', 'last\r']);
});

const damaged: Array<[string, string, RegExp]> = [
  ['BEGIN without END', `a\n${BEGIN}\nx\n`, /BEGIN marker on line 2 has no END marker/],
  ['END without BEGIN', `a\nb\n${END}\n`, /END marker on line 3 has no BEGIN marker/],
  ['END before BEGIN', `${END}\nx\n${BEGIN}\n`, /END marker on line 1 comes before the BEGIN marker on line 3/],
  ['two BEGINs', `${BEGIN}\n${BEGIN}\nx\n${END}\n`, /BEGIN markers on lines 1, 2/],
  ['two blocks', `${BEGIN}\n${END}\n${BEGIN}\n${END}\n`, /BEGIN markers on lines 1, 3/],
  ['two ENDs', `${BEGIN}\nx\n${END}\n${END}\n`, /END markers on lines 3, 4/],
];

for (const [name, crontab, detail] of damaged) {
  test(`damaged markers throw: ${name}`, () => {
    for (const call of [
      () => findBlock(crontab, 'web'),
      () => withBlock(crontab, 'web', ['x']),
      () => withBlock(crontab, 'web', []),
      () => entriesInBlock(crontab, 'web'),
    ]) {
      try {
        call();
        assert.unreachable('should have thrown');
      } catch (err) {
        assert.instance(err, Error);
        const message = (err as Error).message;
        assert.match(message, "the crontab's hoist block for web is damaged");
        assert.match(message, 'crontab -e');
        assert.match(message, detail);
      }
    }
  });
}

test('another app with damaged markers does not stop ours', () => {
  const crontab = `${OTHER.begin}\nx\n`;
  assert.is(withBlock(crontab, 'web', ['y']), `${OTHER.begin}\nx\n${BEGIN}\ny\n${END}\n`);
});

test('withBlock refuses entries that would corrupt the block', () => {
  assert.throws(() => withBlock('', 'web', ['a\nb']), /line break/);
  assert.throws(() => withBlock('', 'web', ['a\rb']), /line break/);
  assert.throws(() => withBlock('', 'web', [END]), /marker/);
  assert.throws(() => withBlock('', 'web', ['# BEGIN hoist:web (copy)']), /marker/);
});

test('shownForDiff: the block as it is but variables\' values, other lines folded into a count', () => {
  assert.is(shownForDiff('', 'web'), '');
  assert.is(shownForDiff('SECRET=abc\n', 'web'), '# (1 line outside hoist:web, kept as it is, not shown)\n', 'no block: all folded');
  const crontab = `A=1\n@daily mine\n${BEGIN}\n  MAILTO = x@y\n# note=1\n@daily job\n${END}\n${OTHER.begin}\n@daily theirs\n${OTHER.end}\n`;
  assert.is(shownForDiff(crontab, 'web'), `# (2 lines outside hoist:web, kept as they are, not shown)\n${BEGIN}\n  MAILTO =(hidden)\n# note=1\n@daily job\n${END}\n# (3 lines outside hoist:web, kept as they are, not shown)\n`);
  assert.throws(() => shownForDiff(`${BEGIN}\n`, 'web'), /damaged/);
});

test.run();
