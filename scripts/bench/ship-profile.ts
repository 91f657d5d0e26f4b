// Where a first ship's time goes (scripts/bench/ship.ts measures the totals): one test host,
// an image with a large random layer built here, then each piece timed alone, in one run:
// the floor (docker save | ssh docker load), the raw channel into /dev/null (OpenSSH and ssh2),
// the raw channel into a file, the host's sha256sum of the staged layer, and hoist's ship with
// its phases (streaming + check per layer, then the load) from its progress messages.
// Usage: node --import tsx scripts/bench/ship-profile.ts [--layer-mb 500]
import { createReadStream, readFileSync } from 'node:fs';
import { SshExecutor } from '../../lib/exec/ssh-executor.ts';
import { savedImage } from '../../lib/ship/local-build.ts';
import { shipImage } from '../../lib/ship/ship-image.ts';
import { sh } from '../../lib/shell-quote.ts';
import { dockerBuild, readySystemdImage } from '../../test/harness/images.ts';
import { Testbed } from '../../test/harness/testbed.ts';
import { dockerSh } from '../../test/harness/docker.ts';
import { runHere } from './ship-paths.ts';

const mbArg = process.argv.indexOf('--layer-mb');
const MB = mbArg > 0 ? Number(process.argv[mbArg + 1]) : 500;
const TAG = `hoist-bench-profile:${MB}`;

async function main(): Promise<void> {
  const tb = new Testbed();
  const log = (l: string) => console.error(`[ship-profile ${new Date().toISOString().slice(11, 19)}] ${l}`);
  try {
    await dockerBuild(TAG, `FROM hoist-test-base\nRUN ["busybox", "dd", "if=/dev/urandom", "of=/blob", "bs=1048576", "count=${MB}"]\n`);
    const image = await savedImage(TAG);
    const big = image.layers.reduce((a, l) => (l.size > a.size ? l : a));
    log(`image ${image.id.slice(7, 19)}: layers ${image.layers.map((l) => l.size).join(', ')}`);
    await tb.start({ count: 1, init: 'systemd', os: 'debian13', image: await readySystemdImage('debian13') });
    const h = tb.hosts[0]!;
    const ssh = ['-F', 'none', '-i', tb.keyPath, '-o', `UserKnownHostsFile=${tb.knownHostsPath}`, '-o', 'BatchMode=yes', '-p', String(h.port), 'root@127.0.0.1'];
    const exec = new SshExecutor({
      targets: [{ host: '127.0.0.1', port: h.port, user: 'root', privateKey: readFileSync(tb.keyPath), knownHostsPath: tb.knownHostsPath, acceptNew: false, connectTimeoutMs: 30_000 }],
      commandTimeoutMs: 1_800_000,
    });
    await exec.exec(sh`true`);
    const empty = async () => {
      const r = await dockerSh(h.container, `ids=$(docker image ls -aq | sort -u); [ -z "$ids" ] || docker rmi -f $ids >/dev/null; rm -rf /root/apps /tmp/p*; sync`);
      if (r.code !== 0) throw new Error(r.stderr);
    };
    const timed = async (what: string, fn: () => Promise<unknown>) => {
      const t = Date.now();
      await fn();
      const ms = Date.now() - t;
      log(`${what}: ${(ms / 1000).toFixed(2)} s`);
      return ms;
    };
    for (let round = 1; round <= 2; round++) {
      log(`round ${round}`);
      await empty();
      await timed('floor: docker save | ssh docker load', async () => {
        const r = await runHere('bash', ['-c', 'set -o pipefail; t=$1; shift; docker save "$t" | ssh "$@" docker load -q', 'bash', TAG, ...ssh]);
        if (r.code !== 0) throw new Error(r.out);
      });
      await empty();
      await timed(`OpenSSH: big layer into /dev/null`, async () => {
        const r = await runHere('bash', ['-c', 'f=$1; shift; ssh "$@" "cat >/dev/null" < "$f"', 'bash', big.file, ...ssh]);
        if (r.code !== 0) throw new Error(r.out);
      });
      await timed(`ssh2: big layer into /dev/null`, () => exec.exec(sh`cat >/dev/null`, { stdin: createReadStream(big.file) }));
      await timed(`ssh2: big layer into a file`, () => exec.exec(sh`cat >/tmp/p1`, { stdin: createReadStream(big.file) }));
      await timed(`host: sha256sum of it`, () => exec.exec(sh`sha256sum /tmp/p1 >/dev/null`));
      await timed(`host: docker load of docker save's tar written there (OpenSSH, then load)`, async () => {
        const r = await runHere('bash', ['-c', 'set -o pipefail; t=$1; shift; docker save "$t" | ssh "$@" "cat > /tmp/p2.tar"', 'bash', TAG, ...ssh]);
        if (r.code !== 0) throw new Error(r.out);
      });
      await timed(`host: docker load < that file`, () => exec.exec(sh`docker load -q < /tmp/p2.tar >/dev/null`));
      await empty();
      let loadingAt = 0;
      const t = Date.now();
      await shipImage(exec, 'app', image, `${TAG}-shipped`, {
        progress: (m) => {
          if (m.startsWith('loading')) loadingAt = Date.now();
        },
        commandTimeoutMs: 1_800_000,
      });
      const end = Date.now();
      log(`hoist ship: ${((end - t) / 1000).toFixed(2)} s (probe + layers streamed and checked ${((loadingAt - t) / 1000).toFixed(2)} s, load ${((end - loadingAt) / 1000).toFixed(2)} s)`);
    }
    await exec.close();
  } finally {
    await tb.stop();
    await runHere('docker', ['rmi', TAG]);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exitCode = 1;
});
