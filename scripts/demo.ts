// `npm run demo`: the main job on a default that works out of the box. Starts a throwaway
// Debian "VPS" in Docker (sshd, cron, a deploy user), points a .env at it, and runs the cron
// pipeline twice through the real CLI: the first run changes the crontab, the second changes
// nothing. The VPS is removed at the end.
import { Testbed } from '../test/harness/testbed.ts';

const tb = new Testbed();
const show = (title: string, out: string) => console.log(`\n=== ${title}\n${out.trimEnd()}`);
try {
  console.log('Starting a throwaway VPS (the first time builds its image with debootstrap, about 2 minutes)...');
  await tb.start({ count: 1, deployUser: true });
  const host = tb.hosts[0]!;
  const cronFile = tb.file('app.crontab', '# refresh the model every 15 minutes\n*/15 * * * * cd ~/current && ./refresh-model\n');
  tb.writeEnv({ HOST: '127.0.0.1', SSH_PORT: String(host.port), APP_NAME: 'demo', CRON_FILE: cronFile });
  for (const [title, args] of [
    ['plan (dry run)', ['--dry-run']],
    ['first run', []],
    ['second run: nothing to do', []],
  ] as const) {
    const r = await tb.hoist(['run', 'cron', '--env-file', tb.envPath, ...args]);
    show(`${title}: hoist run cron ${args.join(" ")}  -> exit ${r.code}`, r.stdout + r.stderr);
    if (r.code !== 0) process.exitCode = r.code;
  }
  show('crontab -l on the VPS', (await host.sh('crontab -l', 'deploy')).stdout);
} finally {
  await tb.stop();
}
