// The image the benchmark's hosts run: the test bed's ready VPS (Docker, compose, Caddy, git)
// plus python3, which Ansible needs on its targets (hoist needs nothing but a shell). Built as
// a thin layer FROM the ready image so the slow apt install of Docker is shared with the tests;
// cached by the hash of its Dockerfile (which names the ready image's content tag).
import { createHash } from 'node:crypto';
import { dockerBuild, exists, readyImage } from '../../test/harness/images.ts';

export async function benchImage(): Promise<string> {
  const ready = await readyImage();
  // docker-compose v1 depends on python3, so the ready image usually has it already and this
  // layer is empty; installing it explicitly keeps the bench correct if that ever changes.
  const dockerfile = `FROM ${ready}\nRUN command -v python3 >/dev/null || (apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*)\n`;
  const tag = `hoist-test-bench:${createHash('sha256').update(dockerfile).digest('hex').slice(0, 12)}`;
  if (!(await exists(tag))) await dockerBuild(tag, dockerfile);
  return tag;
}
