// The `hoist` command: parse, load and check everything locally, then run. Prints the live task
// list (or plain lines), the dry run's plan, a summary table, and the JSON report if asked; the
// exit code says how it went (see USAGE).
import { readFileSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../config/load-config.ts';
import { ConfigError, EXIT, exitCodeFor, HoistError, UsageError } from '../errors.ts';
import { loadPipeline } from '../engine/load-pipeline.ts';
import { runPipeline } from '../engine/run-pipeline.ts';
import { planText } from '../render/plan-text.ts';
import { summaryTable } from '../render/summary-table.ts';
import { parseCli, USAGE, type RunArgs } from './args.ts';
import { runInit } from './init.ts';

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseCli(argv);
    if (args.command === 'help') {
      console.log(USAGE);
      return EXIT.ok;
    }
    if (args.command === 'version') {
      console.log(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
      return EXIT.ok;
    }
    if (args.command === 'init') return await runInit(args);
    return await run(args);
  } catch (e) {
    const code = exitCodeFor(e);
    const kind = e instanceof ConfigError ? 'config error' : e instanceof UsageError ? 'usage error' : 'error';
    // Our own errors carry a full sentence; anything else is a bug, and its stack helps.
    process.stderr.write(`hoist: ${kind}: ${e instanceof HoistError ? e.message : ((e as Error).stack ?? String(e))}\n`);
    return code;
  }
}

async function run(args: RunArgs): Promise<number> {
  const pipeline = await loadPipeline(args.pipeline);
  const config = loadConfig({
    ...(args.envFile ? { envFile: args.envFile } : {}),
    ...(args.inventory ? { inventoryFile: args.inventory } : {}),
    only: args.hosts,
  });
  const jsonToStdout = args.json === '-';
  const report = await runPipeline(pipeline, config, {
    dryRun: args.dryRun,
    concurrency: args.concurrency,
    acceptNew: args.acceptNew,
    output: jsonToStdout ? 'silent' : 'auto',
    shared: args.to ? { rollbackTo: args.to } : {},
  });
  const human = (text: string) => (jsonToStdout ? process.stderr : process.stdout).write(`${text}\n`);
  if (args.dryRun) human(`\n${planText(report)}`);
  human(`\n${summaryTable(report)}`);
  if (args.json) {
    const json = `${JSON.stringify(report, null, 2)}\n`;
    if (jsonToStdout) process.stdout.write(json);
    else writeFileSync(args.json, json);
  }
  return report.exitCode;
}
