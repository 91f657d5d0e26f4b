// `hoist remove` on the command line: the alias of `hoist run remove`, --yes, and the question a
// destructive pipeline asks (lib/cli/confirm.ts) driven by a scripted terminal: refused without
// one (exit 2 before any host), nothing asked when the dry run fails or finds nothing, the app's
// name typed to go on, anything else cancels.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCli } from '../../lib/cli/args.ts';
import { confirmRun, type Terminal } from '../../lib/cli/confirm.ts';
import { exitCodeFor, UsageError } from '../../lib/errors.ts';

test('hoist remove is hoist run remove; --yes and --dry-run', () => {
  assert.equal(parseCli(['remove', '--dry-run', '--hosts', 'web1']), parseCli(['run', 'remove', '--dry-run', '--hosts', 'web1']));
  assert.equal(parseCli(['remove']), { command: 'run', pipeline: 'remove', hosts: [], tags: [], acceptNew: false, concurrency: 10, dryRun: false, fleetRollback: false });
  assert.is((parseCli(['remove', '--yes']) as { yes: boolean }).yes, true);
  assert.is((parseCli(['run', 'release']) as { yes?: boolean }).yes, undefined);
  assert.throws(() => parseCli(['remove', '--force']), (e: unknown) => e instanceof UsageError);
});

function terminal(interactive: boolean, typed: string) {
  const log: string[] = [];
  const t: Terminal = {
    interactive,
    ask: async (q) => {
      log.push(`ask: ${q}`);
      return typed;
    },
    say: (text) => log.push(`say: ${text}`),
  };
  return { t, log };
}

const options = (t: Terminal, preview = { code: 0, changes: true }) => {
  const previews: number[] = [];
  return {
    previews,
    o: { pipeline: 'remove', word: 'web', hosts: ['web1', 'web2'], terminal: t, preview: async () => (previews.push(1), preview) },
  };
};

test('no terminal: a usage error (exit 2) with the fix, before the dry run contacts anything', async () => {
  const { t, log } = terminal(false, 'web');
  const { o, previews } = options(t);
  try {
    await confirmRun(o);
    assert.unreachable();
  } catch (e) {
    assert.is(exitCodeFor(e), 2);
    assert.is((e as Error).message, '"hoist run remove" deletes what its dry run lists and cannot be undone, and there is no terminal to confirm on. Fix: look first (hoist run remove --dry-run), then add --yes');
  }
  assert.equal([previews.length, log], [0, []]);
});

test('the app\'s name typed: go on (null); the question names the hosts', async () => {
  const { t, log } = terminal(true, ' web\n');
  assert.is(await confirmRun(options(t).o), null);
  assert.equal(log, ['ask: \nThe dry run above lists what "remove" deletes on 2 hosts (web1, web2); it cannot be undone.\nType web to go on (anything else cancels): ']);
});

test('anything else cancels with exit 1, saying nothing changed', async () => {
  const { t, log } = terminal(true, 'yes');
  assert.is(await confirmRun(options(t).o), 1);
  assert.is(log[1], 'say: hoist: cancelled ("yes" is not web): nothing was changed');
});

test('a dry run that fails, or finds nothing to remove, asks nothing and gives its exit code', async () => {
  for (const preview of [{ code: 1, changes: true }, { code: 0, changes: false }]) {
    const { t, log } = terminal(true, 'web');
    assert.is(await confirmRun(options(t, preview).o), preview.code);
    assert.equal(log, []);
  }
});

test.run();
