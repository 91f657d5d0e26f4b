// The `hoist` command: parse, load and check everything locally, then run. Prints the live task
// list (or plain lines), the dry run's plan, a summary table, and the JSON report if asked; the
// exit code says how it went (see USAGE).
//
// Start-up is paid by every command (`--version`, `status`, `logs` too): this file statically
// imports only what parsing the arguments and reporting an error need. Everything else, the
// settings loader included, is imported by the command that uses it, when it uses it (checked by
// test/unit/startup-modules.test.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { packageFile } from '../package-root.ts';
import { ConfigError, EXIT, exitCodeFor, HoistError, UsageError } from '../errors.ts';
import type { Interrupt, StopSignal } from '../engine/interrupt.ts';
import { printableJson, printableLines } from '../printable.ts';
import type { RunReport } from '../report/run-report.ts';
import { parseCli, USAGE, type RunArgs } from './args.ts';

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseCli(argv);
    if (args.command === 'help') {
      console.log(USAGE);
      return EXIT.ok;
    }
    if (args.command === 'version') {
      console.log(JSON.parse(readFileSync(packageFile('package.json'), 'utf8')).version);
      return EXIT.ok;
    }
    // Loaded on demand: each command pulls in only its own modules (startup is paid on every run).
    if (args.command === 'init') return await (await import('./init.ts')).runInit(args);
    if (args.command === 'status') return await (await import('./status.ts')).runStatus(args);
    if (args.command === 'unlock') return await (await import('./unlock.ts')).runUnlock(args);
    if (args.command === 'logs') return await (await import('./logs.ts')).runLogs(args);
    if (args.command === 'exec') return await (await import('./exec.ts')).runExec(args);
    if (args.command === 'ssh') return await (await import('./ssh.ts')).runSsh(args);
    if (args.command === 'backup') return await (await import('./backup.ts')).runBackup(args);
    if (args.command === 'restore') return await (await import('./backup.ts')).runRestore(args);
    return await run(args);
  } catch (e) {
    const code = exitCodeFor(e);
    const kind = e instanceof ConfigError ? 'config error' : e instanceof UsageError ? 'usage error' : 'error';
    // Our own errors carry a full sentence; anything else is a bug, and its stack helps. Either
    // may quote a host's answer: no control character reaches the terminal (lib/printable.ts).
    process.stderr.write(`hoist: ${kind}: ${printableLines(e instanceof HoistError ? e.message : ((e as Error).stack ?? String(e)))}\n`);
    return code;
  }
}

async function run(args: RunArgs, seen?: (report: RunReport) => void): Promise<number> {
  const { loadPipeline } = await import('../engine/load-pipeline.ts');
  const pipeline = await loadPipeline(args.pipeline);
  const { loadSelectedConfig } = await import('./select-hosts.ts');
  const config = loadSelectedConfig(args);
  // Destructive (remove): the dry run, then the operator's yes, or --yes (lib/cli/confirm.ts).
  const word = args.dryRun || args.yes ? undefined : pipeline.confirmWord?.(config.hosts);
  if (word !== undefined) {
    const { confirmRun } = await import('./confirm.ts');
    const stop = await confirmRun({
      pipeline: pipeline.name,
      word,
      hosts: config.hosts.map((h) => h.name),
      preview: async () => {
        let changes = false;
        const code = await run({ ...args, dryRun: true, json: undefined }, (r) => (changes = r.hosts.some((h) => h.tasks.some((t) => t.status === 'changed'))));
        return { code, changes };
      },
    });
    if (stop !== null) return stop;
  }
  // The engine (listr2) and what shows its outcome load only once the settings are good: a config
  // error is cheap.
  const [{ runPipeline }, { Interrupt }, { planText }, { summaryTable }, { settingsSourcesText }, { appendStepSummary }, { saveRunReport }] = await Promise.all([
    import('../engine/run-pipeline.ts'),
    import('../engine/interrupt.ts'),
    import('../render/plan-text.ts'),
    import('../render/summary-table.ts'),
    import('../render/settings-sources.ts'),
    import('../report/step-summary.ts'),
    import('../report/run-history.ts'),
  ]);
  const jsonToStdout = args.json === '-';
  const human = (text: string) => (jsonToStdout ? process.stderr : process.stdout).write(`${text}\n`);
  // Where each setting came from (names only), once the local checks passed and before any
  // connection: a value the environment gave is seen before it takes effect. (A run refused by
  // a check prints only its error.)
  const sources = settingsSourcesText(config.sources);
  const interrupt = new Interrupt();
  const stopListening = listenForStop(interrupt);
  let report;
  try {
    report = await runPipeline(pipeline, config, {
      dryRun: args.dryRun,
      concurrency: args.concurrency,
      ...(args.batch ? { batch: args.batch } : {}),
      ...(args.canary !== undefined ? { canary: args.canary } : {}),
      ...(args.maxFail ? { maxFail: args.maxFail } : {}),
      fleetRollback: args.fleetRollback,
      acceptNew: args.acceptNew,
      output: jsonToStdout ? 'silent' : 'auto',
      shared: { ...(args.to ? { rollbackTo: args.to } : {}), ...(args.deleteData ? { deleteData: true } : {}) },
      interrupt,
      ...(args.lockWait ? { lockWaitMs: args.lockWait * 1000 } : {}),
      beforeConnecting: () => {
        if (sources) human(sources);
      },
    });
  } finally {
    stopListening();
  }
  // NOTIFY_URL: after the run (locks freed, rollbacks done), bounded; a failed delivery is a warning.
  if (!args.dryRun && config.hosts.some((h) => h.settings.notifyUrl)) {
    const { notifyRun } = await import('../notify/notify-run.ts');
    const notice = await notifyRun(report, config);
    report = { ...report, notified: notice.sent, ...(notice.warnings.length ? { warnings: [...(report.warnings ?? []), ...notice.warnings] } : {}) };
  }
  if (args.dryRun) human(`\n${planText(report)}`);
  human(`\n${summaryTable(report)}`);
  const summaryProblem = appendStepSummary(report);
  if (summaryProblem) human(`warning: ${summaryProblem}`);
  const json = `${printableJson(report)}\n`;
  try {
    human(`report: ${saveRunReport(report)}`);
  } catch (e) {
    human(`warning: the run report could not be kept under .hoist/runs (${(e as Error).message})`);
  }
  if (args.json) {
    if (jsonToStdout) process.stdout.write(json);
    else writeFileSync(args.json, json);
  }
  seen?.(report);
  return report.exitCode;
}

/**
 * First Ctrl-C / SIGTERM: no new step starts, hosts in flight finish their current command and
 * are rolled back, locks are freed, exit 130 / 143. A second one exits at once (locks may stay).
 */
function listenForStop(interrupt: Interrupt): () => void {
  const on = (signal: StopSignal) => () => {
    const code = signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
    if (interrupt.signal) {
      process.stderr.write(`\nhoist: ${signal} again: exiting now without cleaning up. Hosts may still be locked: hoist unlock\n`);
      process.exit(code);
    }
    interrupt.trigger(signal);
    process.stderr.write(`\nhoist: ${signal}: stopping. Steps in flight finish, their hosts are rolled back, locks are freed. ${signal} again exits at once.\n`);
  };
  const handlers = { SIGINT: on('SIGINT'), SIGTERM: on('SIGTERM') };
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
  return () => {
    process.off('SIGINT', handlers.SIGINT);
    process.off('SIGTERM', handlers.SIGTERM);
  };
}
