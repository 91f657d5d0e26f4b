// The exit code hoist gives for a remote session's end, as a shell (and ssh) would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exitCodeOf } from '../../lib/exec/ssh-session.ts';

test('the status as it is; a signal as 128 + its number; no status at all as 255, like ssh', () => {
  assert.is(exitCodeOf({ code: 0, signal: null }), 0);
  assert.is(exitCodeOf({ code: 3, signal: null }), 3);
  assert.is(exitCodeOf({ code: null, signal: 'TERM' }), 143);
  assert.is(exitCodeOf({ code: null, signal: 'INT' }), 130);
  // As ssh2's 'exit' event gives it (a sleep killed by Ctrl-C over `hoist ssh -- CMD` exited 255 before).
  assert.is(exitCodeOf({ code: null, signal: 'SIGINT' }), 130);
  assert.is(exitCodeOf({ code: null, signal: 'NOSUCH' }), 255);
  assert.is(exitCodeOf({ code: null, signal: null }), 255);
});

test.run();
