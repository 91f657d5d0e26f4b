// SSH_JUMP: a host reachable only through a bastion. The bastion is one test host, the target
// another, addressed by its container address as the bastion sees it; both keys are checked.
import { appendFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import { docker } from '../harness/docker.ts';
import { Testbed } from '../harness/testbed.ts';

const test = suite('proxy jump');
const tb = new Testbed();
let targetIp = '';

test.before(async () => {
  await tb.start({ count: 2, deployUser: true });
  const [bastion, target] = tb.hosts;
  targetIp = await docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', target!.container);
  // The target is known under the address the bastion reaches it at, on port 22.
  appendFileSync(tb.knownHostsPath, `${targetIp} ${target!.knownHostsLine.split(' ').slice(1).join(' ')}\n`);
  tb.writeEnv({ APP_NAME: 'jump', CRON_FILE: tb.file('jobs.crontab', '@hourly echo via-bastion\n') });
  tb.writeInventory([target!], () => ({ host: targetIp, port: 22, vars: { SSH_JUMP: `deploy@127.0.0.1:${bastion!.port}` } }));
});
test.after(() => tb.stop());

test('runs through the bastion, and a second run changes nothing', async () => {
  const [bastion, target] = tb.hosts;
  for (const expected of ['changed', 'unchanged']) {
    const r = await tb.hoist(['run', 'cron', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', '-']);
    assert.is(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as RunReport;
    assert.is(report.hosts[0]!.tasks[0]!.status, expected);
  }
  assert.match((await target!.sh('crontab -l', 'deploy')).stdout, /echo via-bastion/);
  assert.is((await bastion!.sh('crontab -l 2>/dev/null', 'deploy')).stdout, '', 'nothing was installed on the bastion');
});

test('the target\'s host key is checked even behind the bastion', async () => {
  const [bastion, target] = tb.hosts;
  const other = tb.file('known_hosts_jump_only', `${bastion!.knownHostsLine}\n`);
  tb.writeEnv({ KNOWN_HOSTS: other });
  const r = await tb.hoist(['run', 'cron', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', '-']);
  assert.is(r.code, 1);
  const report = JSON.parse(r.stdout) as RunReport;
  assert.match(report.hosts[0]!.error ?? '', new RegExp(`${targetIp.replace(/\./g, '\\.')} is not in`));
  assert.ok(target);
});

test.run();
