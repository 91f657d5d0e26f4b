// Builds every image the e2e files start hosts from, before the tests (CI's setup step, `.ci/run`),
// so a fresh machine does not pay minutes of debootstrap and apt inside the first tests that ask.
// Independent chains build side by side (each image has its own machine-wide build lock, so a test
// started meanwhile waits for the one being built, never builds it twice); an image already there
// is not built again. Prints each image's time, then the whole. Exit 1 when a build failed.
//   node --import tsx test/build-images.ts
import { gitImage } from './harness/git-host.ts';
import { readyImage, readySystemdImage, readyUfwImage } from './harness/images.ts';
import { releaseHostImage } from './harness/release-bed.ts';
import { systemdVpsImage } from './harness/systemd-vps.ts';
import { vpsImage } from './harness/testbed.ts';

const started = Date.now();
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(0)} s`;

async function timed(build: () => Promise<string>): Promise<string> {
  const t0 = Date.now();
  const tag = await build();
  console.log(`  ${tag}: ${seconds(t0)}`);
  return tag;
}

// A chain's later images are made FROM its first: they wait for it, the chains do not wait for each other.
const chains: (() => Promise<unknown>)[] = [
  async () => {
    await timed(vpsImage);
    await Promise.all([timed(readyImage), timed(gitImage)]);
    await Promise.all([timed(readyUfwImage), timed(() => releaseHostImage('debian12-no-systemd'))]);
  },
  async () => {
    await timed(() => systemdVpsImage('debian13'));
    await timed(() => readySystemdImage('debian13'));
    await timed(() => releaseHostImage('debian13'));
  },
  () => timed(() => systemdVpsImage('debian12')),
];

console.log('building the test images (each one only when missing):');
const results = await Promise.allSettled(chains.map((c) => c()));
const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
for (const f of failed) console.log(`  FAILED: ${f.reason instanceof Error ? f.reason.message : String(f.reason)}`);
console.log(`test images: ${seconds(started)}${failed.length ? `, ${failed.length} failed` : ''}`);
process.exit(failed.length ? 1 : 0);
