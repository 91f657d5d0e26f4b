// `npm run demo`: hoist's main job on a default that works out of the box, all on this machine.
// A throwaway Debian "VPS" in Docker (reached as root with a provider-style key), a git server
// holding a small web app, a DNS server for its domain and a stand-in for GitHub's API. hoist
// bootstraps the VPS, releases the app behind Caddy, then releases again (nothing to do).
// Everything is removed at the end.
import { randomBytes } from 'node:crypto';
import { DnsServer } from '../test/harness/dns-server.ts';
import { FakeGitHub } from '../test/harness/fake-github.ts';
import { startGitServer, type GitServer } from '../test/harness/git-host.ts';
import { loadAppBase, readyImage } from '../test/harness/images.ts';
import { Testbed } from '../test/harness/testbed.ts';

const DOMAIN = 'app.hoist.test';
const token = `ghp_demo${randomBytes(12).toString('hex')}`;
const tb = new Testbed();
let git: GitServer | undefined;
let dns: DnsServer | undefined;
let github: FakeGitHub | undefined;
const show = (title: string, out: string) => console.log(`\n=== ${title}\n${out.trimEnd()}`);

try {
  console.log('Preparing a throwaway VPS, a git server and a DNS server (the first time builds images: a few minutes)...');
  const image = await readyImage();
  [git] = await Promise.all([startGitServer(['app']), tb.start({ count: 1, dockerInside: true, image })]);
  const host = tb.hosts[0]!;
  dns = await DnsServer.start({ records: { [DOMAIN]: ['127.0.0.1'] } });
  const server = git;
  github = await new FakeGitHub({ token, repos: ['acme/app'], onGrant: (k) => server.grant(k.key), onRevoke: (k) => server.revoke(k.key) }).start();
  await git.commit(
    'app',
    {
      Dockerfile: 'FROM hoist-test-base\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n',
      'compose.yaml': 'services:\n  web:\n    build: .\n',
      'index.html': 'Hello from a release made by hoist\n',
    },
    'a tiny web app',
  );
  tb.writeEnv({
    SSH_USER: 'root',
    APP_NAME: 'app',
    APP_DOMAIN: DOMAIN,
    DNS_RESOLVERS: dns.address,
    APP_REPO: git.repoUrl('app'),
    FORGE_KNOWN_HOSTS: tb.file('forge_known_hosts', `${git.knownHostsLine}\n`),
    GITHUB_API_URL: github.url,
    APP_ENV_FILE: tb.file('app.env', 'GREETING=hello\n'),
    CADDY_TLS: 'off',
    CRON_FILE: tb.file('app.crontab', '*/15 * * * * cd ~/apps/app/current && ls >/dev/null\n'),
  });
  tb.writeInventory();
  const hoist = async (title: string, args: string[]) => {
    const r = await tb.hoist([...args, '--env-file', tb.envPath, '--inventory', tb.inventoryPath], { GITHUB_TOKEN: token });
    show(`${title}: hoist ${args.join(' ')} -> exit ${r.code}`, r.stdout + r.stderr);
    if (r.code !== 0) throw new Error(`${title} failed`);
  };
  await hoist('plan the bootstrap (dry run)', ['run', 'bootstrap', '--dry-run']);
  await hoist('bootstrap the fresh VPS', ['run', 'bootstrap']);
  await loadAppBase(host.container); // the app's base image: this machine has no registry to pull from
  await hoist('release the app', ['run', 'release']);
  await hoist('release again: nothing to do', ['run', 'release']);
  show(`curl http://${DOMAIN}/ on the VPS (through Caddy)`, (await host.sh(`curl -s --resolve ${DOMAIN}:80:127.0.0.1 http://${DOMAIN}/`)).stdout);
} catch (e) {
  console.error(`demo failed: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  await github?.stop();
  await dns?.stop();
  await git?.stop();
  await tb.stop();
}
