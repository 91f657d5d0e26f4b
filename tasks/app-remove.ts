// Takes one app (APP_NAME) off the host and leaves every other app as it was: its deploy key at
// GitHub, its Caddy site (and the import line once no site uses it), its crontab block, both
// compose projects' containers, networks and volumes, its images, ~/apps/APP, its deploy key
// files, ssh config block and git URL rewrite. Knows it already is when the probe finds none of
// these: "APP is not on this host".
//
// No rollback: deleted data cannot come back, and putting back the Caddy site or the crontab
// after a later step failed would send traffic and jobs to an app half gone. The order makes every
// stop safe instead (tasks/app-remove/plan.ts), and a rerun finishes the job.
import { defineTask } from '../lib/engine/task.ts';
import { applyRemove } from './app-remove/apply.ts';
import { planRemove } from './app-remove/plan.ts';
import { parseRemoveProbe, removeProbe } from './app-remove/probe.ts';
import type { RemoveFact, RemoveStep, RemoveWanted } from './app-remove/types.ts';
import { removeWanted } from './app-remove/want.ts';

export type { RemoveFact, RemoveStep, RemoveWanted } from './app-remove/types.ts';

export const appRemove = defineTask<RemoveWanted, RemoveFact, RemoveStep>({
  name: 'app-remove',
  // Every step skips what is already gone: applying again after a lost connection converges.
  retrySafe: true,

  want: removeWanted,

  probe: (w) => ({ command: removeProbe(w), sudo: true, parse: (r) => parseRemoveProbe(w, r) }),

  plan: planRemove,

  apply: applyRemove,
});
