// A user's own pipeline: a custom task beside a built-in one. Run it with
//   hoist run ./examples/nightly.ts --dry-run
// It gets the same retries, rollback, dry run and report as hoist's own pipelines.
import { definePipeline, defineTask, runChecked, sh } from 'hoist';
import { cronInstall } from 'hoist/tasks/cron-install';

/** Makes ~/data exist with mode 750; knows it is there from one `stat`. */
const dataDir = defineTask({
  name: 'data-dir',
  want: () => ({ path: 'data', mode: '750' }),
  probe: (w) => ({
    command: sh`cd && stat -c %a ${w.path} 2>/dev/null || echo missing`,
    parse: (r) => r.stdout.trim(),
  }),
  plan: (w, mode) =>
    mode === w.mode
      ? { changes: false, reason: `~/${w.path} exists with mode ${w.mode}` }
      : { changes: true, steps: [{ describe: mode === 'missing' ? `create ~/${w.path}` : `chmod ${w.mode} ~/${w.path}` }] },
  apply: async (exec, _steps, { wanted: w }) => {
    await runChecked(exec, sh`cd && mkdir -p ${w.path} && chmod ${w.mode} ${w.path}`, 'making the data folder');
  },
  rollback: async (exec, { wanted: w, before }) => {
    if (before === 'missing') await runChecked(exec, sh`cd && rmdir ${w.path}`, 'removing the data folder');
    else await runChecked(exec, sh`cd && chmod ${before} ${w.path}`, 'restoring the data folder mode');
  },
});

export default definePipeline({
  name: 'nightly',
  description: 'data folder, then the scheduled jobs',
  login: 'deploy',
  tasks: [dataDir, cronInstall],
});
