// Diagnostic preload for ONE untimed hoist run (never for a timed one): counts and times every
// SSH connection and command hoist makes, by wrapping ssh2's Client in the hoist process, so
// the report can say where a no-op release spends its time without touching hoist's code.
//   node --import ./scripts/bench/trace-exec.mjs bin/hoist.mjs run release ...
// Writes JSON to $BENCH_TRACE_FILE at exit: { exitAt, connects: [...], commands: [...] }, times in
// ms since the process started (performance.now()).
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { Client } = require('ssh2');
const connects = [];
const commands = [];
const ids = new WeakMap();

const origConnect = Client.prototype.connect;
Client.prototype.connect = function (cfg) {
  const id = `${cfg.username}@${cfg.host}:${cfg.port}`;
  ids.set(this, id);
  const start = performance.now();
  this.once('ready', () => connects.push({ id, start, ready: performance.now() }));
  return origConnect.call(this, cfg);
};

/** The command as the task wrote it: hoist's `timeout ... sh -c '...'` and sudo wrappers removed. */
function shortOf(line) {
  let s = line;
  for (let i = 0; i < 3; i++) {
    const m = /^(?:timeout -k \d+ \d+ sh -c|sudo -n -- sh -c) '([\s\S]*)'$/.exec(s);
    if (!m) break;
    s = m[1].replace(/'\\''/g, "'");
  }
  return s.replace(/\s+/g, ' ').trim().slice(0, 90);
}

const origExec = Client.prototype.exec;
Client.prototype.exec = function (cmd, opts, cb) {
  if (typeof opts === 'function') {
    cb = opts;
    opts = {};
  }
  const start = performance.now();
  const id = ids.get(this) ?? '?';
  return origExec.call(this, cmd, opts, (err, stream) => {
    const opened = performance.now();
    if (!err) stream.once('close', () => commands.push({ id, cmd: shortOf(cmd), sudo: cmd.includes('sudo -n'), start, opened, end: performance.now() }));
    cb(err, stream);
  });
};

process.on('exit', () => {
  if (process.env.BENCH_TRACE_FILE) writeFileSync(process.env.BENCH_TRACE_FILE, JSON.stringify({ exitAt: performance.now(), connects, commands }));
});
