// release-switch's drain for real: a slow request goes through Caddy to the live slot just as a
// release turned the other slot healthy, and is held open (a CGI endpoint of the app that answers
// only once told to) until 15 s after Caddy routes to the new slot: past the old fixed 2 s drain
// plus `docker stop`'s 10 s grace (busybox httpd as PID 1 ignores SIGTERM, so the stop kills it
// only after those 10 s; a shorter hold let the request finish even with the old drain). With the default DRAIN_TIMEOUT
// the old slot is stopped only once that request finished: it completes with 200 and its whole
// body, and the run says 0 requests were in flight when the slot stopped (the fixed 2 s drain
// before cut it: 502). With DRAIN_TIMEOUT=2 the run says 1 request was still in flight, and that
// request is indeed cut. Each release is run twice; the second changes nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunReport } from '../../lib/report/run-report.ts';
import type { GitServer } from '../harness/git-host.ts';
import { loadAppBase } from '../harness/images.ts';
import { ReleaseBed } from '../harness/release-bed.ts';
import type { TestHost } from '../harness/testbed.ts';

const test = suite('release drain, end to end');
const bed = new ReleaseBed();
const tb = bed.tb;
const TOKEN = `ghp_CANARY${randomBytes(15).toString('hex')}`;
const DOMAIN = 'app.hoist.test';
const LINES = 2000;
let git: GitServer;
let host: TestHost;

// /cgi-bin/slow waits (at most 60 s) until /tmp/go exists in its container, then answers the
// version and LINES numbered lines (busybox httpd runs it as CGI; busybox sh has the builtins).
const SLOW = `#!/bin/sh
i=0; while [ ! -e /tmp/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
printf 'Content-Type: text/plain\\r\\n\\r\\n'
cat /www/index.html
i=1; while [ $i -le ${LINES} ]; do echo "line $i"; i=$((i+1)); done
`;
const appFiles = (version: string) => ({
  'Dockerfile': `FROM hoist-test-base\nCOPY index.html /www/index.html\nCOPY slow /www/cgi-bin/slow\nRUN ["busybox", "chmod", "755", "/www/cgi-bin/slow"]\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n`,
  'compose.yaml': 'services:\n  web:\n    build: .\n',
  'index.html': `${version}\n`,
  'slow': SLOW,
});
const fullBody = (version: string) => `${version}\n${Array.from({ length: LINES }, (_, i) => `line ${i + 1}\n`).join('')}`;

test.before(async () => {
  // Debian 12 without systemd, compose v1: CI budget (#19: an sshd host starts in 4-9 s, a systemd one in 10-40 s).
  ({ git, host } = await bed.start({ domain: DOMAIN, token: TOKEN, host: 'debian12-no-systemd' }));
  await git.commit('app', appFiles('v1'), 'v1');
  bed.env({ HEALTH_TIMEOUT: '30' });
  const boot = await run();
  assert.is(boot.code, 0, boot.out);
  await loadAppBase(host.container);
  const first = await run('release');
  assert.is(first.code, 0, first.out);
});
test.after(async () => {
  await bed.stop();
});

function run(pipeline = 'bootstrap') {
  return tb.runPipeline(pipeline, { env: { GITHUB_TOKEN: TOKEN } });
}
const statuses = (report: RunReport) => report.hosts[0]!.tasks.map((t) => t.status);

/** A release with its plain output (the task lines a terminal shows), the report to a file. */
async function release(): Promise<{ code: number; out: string; report: RunReport }> {
  const json = join(tb.dir, `report-${Date.now()}.json`);
  const r = await tb.hoist(['run', 'release', '--env-file', tb.envPath, '--inventory', tb.inventoryPath, '--json', json], { GITHUB_TOKEN: TOKEN });
  return { code: r.code, out: `${r.stdout}\n${r.stderr}`, report: JSON.parse(readFileSync(json, 'utf8')) as RunReport };
}

/**
 * Arms a client on the host. As soon as docker-up marks the other slot active (it is healthy;
 * caddy-reload has yet to run, so Caddy still routes to the live slot), it asks Caddy for
 * /cgi-bin/slow. Once Caddy's config dials the new slot's port, it waits 15 s more (past the old
 * fixed 2 s drain and docker stop's 10 s grace) and lets the request answer, by creating /tmp/go in the old slot's container.
 * Every wait is bounded.
 */
async function armSlowRequest(): Promise<void> {
  const r = await host.sh(`rm -f /tmp/slow.*
(
  live=$(cat /home/deploy/apps/app/active-slot); if [ "$live" = blue ]; then next=green; else next=blue; fi
  port=$(sed -n "s/^$next //p" /home/deploy/apps/app/ports)
  old=$(docker ps -q --filter label=com.docker.compose.project=app-$live)
  # read, a builtin: a cat per look, 20 a second for a whole release, was CPU the host shares.
  i=0; until read -r now </home/deploy/apps/app/active-slot && [ "$now" = "$next" ]; do i=$((i+1)); [ $i -gt 6000 ] && exit 1; sleep 0.05; done
  echo "$live" >/tmp/slow.from
  (curl -s -o /tmp/slow.body -w '%{http_code}' --max-time 90 --resolve ${DOMAIN}:80:127.0.0.1 "http://${DOMAIN}/cgi-bin/slow" >/tmp/slow.code 2>/tmp/slow.err; echo "exit $?" >/tmp/slow.done) &
  i=0; until curl -s localhost:2019/config/apps/http/servers | grep -q "\\"dial\\":\\"127.0.0.1:$port\\""; do i=$((i+1)); [ $i -gt 1200 ] && break; sleep 0.05; done
  curl -s localhost:2019/config/apps/http/servers | grep -q "\\"dial\\":\\"127.0.0.1:$port\\"" && echo switched >/tmp/slow.switched
  sleep 15
  docker exec $old sh -c ': > /tmp/go' >/tmp/slow.go 2>&1; echo "go $?" >>/tmp/slow.go
  wait
) >/dev/null 2>&1 &`);
  assert.is(r.code, 0, r.stderr);
}

/** What the armed client got, once it is done (bounded: 120 s). */
async function slowResult(): Promise<{ from: string; switched: string; code: string; done: string; body: string }> {
  const r = await host.sh(`i=0; until [ -e /tmp/slow.done ]; do i=$((i+1)); [ $i -gt 1200 ] && break; sleep 0.1; done
printf '%s|%s|%s|%s|' "$(cat /tmp/slow.from 2>/dev/null)" "$(cat /tmp/slow.switched 2>/dev/null)" "$(cat /tmp/slow.code 2>/dev/null)" "$(cat /tmp/slow.done 2>/dev/null)"; cat /tmp/slow.body 2>/dev/null`);
  const [from = '', switched = '', code = '', done = '', ...body] = r.stdout.split('|');
  return { from, switched, code, done, body: body.join('|') };
}

const slotContainers = async (slot: string) => (await host.sh(`docker ps -q --filter label=com.docker.compose.project=app-${slot}`)).stdout.trim();

test('a request held across the switch completes with its whole body; the run says 0 in flight at the stop; again: unchanged', async () => {
  await git.commit('app', appFiles('v2'), 'v2');
  await armSlowRequest();
  const r = await release();
  assert.is(r.code, 0, r.out);
  const got = await slowResult();
  assert.is(got.from, 'blue', 'the request went out while blue was live');
  assert.is(got.switched, 'switched', 'Caddy routed to green while the request was held');
  assert.is(got.done, 'exit 0', `curl finished: ${got.done}`);
  assert.is(got.code, '200', `the request answered 200 (${got.code}, ${got.body.length} bytes)`);
  assert.is(got.body, fullBody('v1'), 'the whole body, from the old release');
  assert.match(r.out, /the blue slot stopped with 0 requests in flight on 127\.0\.0\.1:\d+ \(waited \d+\.\d s; \d+ idle keep-alive connections? closed with it\)/, r.out);
  assert.is(await slotContainers('blue'), '', 'the old slot was stopped after the drain');
  assert.is((await host.sh(`curl -s --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`)).stdout, 'v2\n');

  const again = await run('release');
  assert.is(again.code, 0, again.out);
  assert.equal(statuses(again.report), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
});

test('DRAIN_TIMEOUT=2 with a request held 15 s past the switch: the run says 1 request was still in flight, and it was cut; again: unchanged', async () => {
  bed.env({ HEALTH_TIMEOUT: '30', DRAIN_TIMEOUT: '2' });
  try {
    await git.commit('app', appFiles('v3'), 'v3');
    await armSlowRequest();
    const r = await release();
    assert.is(r.code, 0, r.out);
    assert.match(r.out, /the green slot stopped with 1 request still in flight on 127\.0\.0\.1:\d+: DRAIN_TIMEOUT \(2 s\) ran out/, r.out);
    const got = await slowResult();
    assert.is(got.from, 'green', 'the request went out while green was live');
    assert.is(got.switched, 'switched', 'Caddy routed to blue while the request was held');
    assert.ok(got.code !== '200' || got.body !== fullBody('v2'), `the request was cut (${got.code}, ${got.body.length} bytes)`);
    assert.is(await slotContainers('green'), '', 'the old slot was stopped');

    const again = await run('release');
    assert.is(again.code, 0, again.out);
    assert.equal(statuses(again.report), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
  } finally {
    bed.env({ HEALTH_TIMEOUT: '30' });
  }
});

test.run();
