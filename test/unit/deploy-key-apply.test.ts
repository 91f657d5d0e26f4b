// deploy-key driven by the real engine (HostRun) against a simulated host and the OpenAPI-checked
// fake GitHub: what it runs and registers, that a second run changes nothing, that rollback
// deletes the key it added, the bounded wait without a token — and that neither the token nor
// the private key ever travels in a command line, stdin or upload.
process.env.HOIST_RETRY_MIN_MS = '1';

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import type { RunEvent } from '../../lib/engine/events.ts';
import { Interrupt } from '../../lib/engine/interrupt.ts';
import { freeDeployLock, isLockCommand } from '../harness/lock-responder.ts';
import { HostRun } from '../../lib/engine/host-run.ts';
import { definePipeline } from '../../lib/engine/pipeline.ts';
import { defineTask, type Task } from '../../lib/engine/task.ts';
import { singleExecutorPool } from '../../lib/exec/executor-pool.ts';
import type { ExecResult, UploadOptions } from '../../lib/exec/executor.ts';
import { RecordingExecutor } from '../../lib/exec/recording-executor.ts';
import { GITHUB_HOST_KEYS } from '../../lib/forge/github-host-keys.ts';
import { sh } from '../../lib/shell-quote.ts';
import { deployKey } from '../../tasks/deploy-key.ts';
import { parseKeyRecord } from '../../tasks/deploy-key/key-record.ts';
import { FakeGitHub } from '../harness/fake-github.ts';
import { testHost } from '../harness/settings.ts';

const TOKEN = 'ghp_CANARYapply00000000000000000000000000';
const PRIVATE = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n-----END OPENSSH PRIVATE KEY-----';
const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAPPLYTESTKEY0000000000000000000000000000 hoist deploy key for api on vps-1';
const repo = parseRepoUrl('git@github.com:acme/api.git')!;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const ok = (stdout = ''): ExecResult => ({ stdout, stderr: '', code: 0 });

/** The host as deploy-key sees it; `access` is what the forge grants (the fake flips it). */
interface Sim {
  privateKey: string | null;
  pub: string | null;
  config: string | null;
  insteadOf: string[];
  knownHosts: string;
  access: boolean;
  /** `git ls-remote` commands run on their own (not as part of the probe). */
  lsRemotes: number;
  /** Someone adds the key on the forge's page right after this many of them failed. */
  grantAfterLsRemotes?: number;
}
const freshSim = (): Sim => ({ privateKey: null, pub: null, config: null, insteadOf: [], knownHosts: '', access: false, lsRemotes: 0 });

class SimHost extends RecordingExecutor {
  constructor(readonly sim: Sim) {
    super([
      freeDeployLock,
      (line, opts) => {
        const s = this.sim;
        const lsOk = s.access && s.privateKey !== null && (s.config ?? '').includes('IdentityFile ~/.ssh/hoist_api_deploy') && s.insteadOf.includes(repo.url) && s.knownHosts.includes(GITHUB_HOST_KEYS[0]!);
        if (line.startsWith('cd || exit 97\n')) {
          return ok(
            [
              'home=/home/deploy',
              'hostname=vps-1',
              'git=yes',
              `keymode=${s.privateKey ? '600' : ''}`,
              `pub=${s.pub ?? ''}`,
              `sshconfig=${s.config === null ? '-' : b64(s.config)}`,
              `knownhosts=${b64(s.knownHosts)}`,
              `insteadof=${b64(s.insteadOf.map((u) => `${u}\n`).join(''))}`,
              `lsremote=${lsOk ? 0 : 128}`,
              `lserror=${lsOk ? '' : b64('git@github.com: Permission denied (publickey).')}`,
            ].join('\n'),
          );
        }
        if (line.includes('ssh-keygen -q -t ed25519')) {
          s.privateKey ??= PRIVATE;
          s.pub ??= PUB;
          return ok(`${s.pub}\n`);
        }
        if (line === 'cd && mkdir -p -m 700 .ssh' || line === 'true') return ok();
        if (line.includes('git config --global --add')) {
          s.insteadOf.push(repo.url);
          return ok();
        }
        if (line.includes('f=.ssh/known_hosts')) {
          s.knownHosts += String(opts.stdin ?? '');
          return ok();
        }
        if (line.includes('git ls-remote')) {
          if (++s.lsRemotes === s.grantAfterLsRemotes) s.access = true;
          return lsOk ? ok() : { stdout: '', stderr: 'git@github.com: Permission denied (publickey).\n', code: 128 };
        }
        return undefined;
      },
    ]);
  }

  override async upload(path: string, content: string | Buffer, opts: UploadOptions): Promise<void> {
    await super.upload(path, content, opts);
    if (path === '/home/deploy/.ssh/config') this.sim.config = content.toString();
  }
}

const alwaysFails = defineTask({
  name: 'always-fails',
  want: () => null,
  probe: () => ({ command: sh`true`, parse: () => null }),
  plan: () => ({ changes: true, steps: [{ describe: 'fail on purpose' }] }),
  apply: async () => {
    throw new Error('failing on purpose');
  },
});

async function run(sim: Sim, settings: Parameters<typeof testHost>[0], tasks: Task[] = [deployKey as Task]) {
  const host = testHost({ appName: 'api', repo, ...settings }, 'web1');
  const input = { host, loginUser: 'deploy' };
  const pipeline = definePipeline({ name: 't', description: 't', login: 'deploy', tasks });
  const wanted = await Promise.all(tasks.map((t) => t.want(input)));
  const exec = new SimHost(sim);
  const events: RunEvent[] = [];
  const hr = new HostRun(input, pipeline, wanted, singleExecutorPool(exec), { dryRun: false, retries: 1, runId: 'unit', interrupt: new Interrupt() }, (e) => events.push(e));
  await hr.start(() => undefined);
  let error: Error | null = null;
  for (let i = 0; i < tasks.length; i++) {
    try {
      await hr.runTask(i);
    } catch (e) {
      error = e as Error;
      break;
    }
  }
  return { exec, events, results: hr.results, error };
}

/** Everything that went to the host: command lines, stdin, uploaded contents. */
const sent = (exec: RecordingExecutor) => exec.calls.map((c) => [c.line, c.stdin, c.content].filter(Boolean).join('\n')).join('\n');

const fake = new FakeGitHub({
  token: TOKEN,
  repos: ['acme/api'],
  onGrant: async () => {
    current.access = true;
  },
  onRevoke: async () => {
    current.access = false;
  },
});
let current: Sim = freshSim();

test.before(async () => {
  await fake.start();
});
test.after(async () => {
  await fake.stop();
});

test('with a token: key made on the host, block, git URL, pins, registered once; then unchanged', async () => {
  current = freshSim();
  const first = await run(current, { githubToken: TOKEN, githubApiUrl: fake.url });
  assert.is(first.error, null, first.error?.message);
  assert.is(first.results[0]!.status, 'changed');
  assert.equal(fake.requests.map((r) => `${r.method} ${r.status}`), ['GET 200', 'POST 201']);
  assert.equal(fake.calls('repos/create-deploy-key')[0]!.body, { title: 'hoist web1', key: PUB, read_only: true });
  assert.ok(first.exec.lines.some((l) => l.includes("ssh-keygen -q -t ed25519 -N '' -C 'hoist deploy key for api on vps-1' -f .ssh/hoist_api_deploy")));
  const all = sent(first.exec);
  assert.not.ok(all.includes(TOKEN), 'the token never goes to the host');
  assert.not.ok(all.includes('PRIVATE KEY') || all.includes('b3BlbnNzaC1rZXkt'), 'the private key never travels');
  assert.not.ok(JSON.stringify(first.events).includes('PRIVATE KEY'));
  assert.ok(first.events.some((e) => e.type === 'task-progress' && e.message.includes('added read-only deploy key')));
  // What GitHub answered is recorded beside the key, the deploy user's, for `hoist remove` to check against.
  const created = fake.keys.get('acme/api')![0]!;
  const records = first.exec.calls.filter((c) => c.kind === 'upload' && c.path === '/home/deploy/.ssh/hoist_api_deploy.github');
  assert.is(records.length, 1);
  assert.is(records[0]!.mode, 0o600);
  assert.equal(parseKeyRecord(String(records[0]!.content)), { id: created.id, title: 'hoist web1', repo: 'acme/api', key: PUB.split(' ').slice(0, 2).join(' ') });

  const before = fake.requests.length;
  const second = await run(current, { githubToken: TOKEN, githubApiUrl: fake.url });
  assert.is(second.results[0]!.status, 'unchanged');
  assert.is(second.results[0]!.reason, 'deploy key for acme/api in place and git ls-remote works');
  assert.is(fake.requests.length, before, 'a second run asks GitHub nothing');
  assert.equal(second.exec.lines.filter((l) => !isLockCommand(l)).length, 1, 'a second run is one probe (besides the deploy lock)');
});

test('a later failure rolls back: the key this run added is deleted; host files stay', async () => {
  current = freshSim();
  fake.keys.set('acme/api', []);
  fake.requests.length = 0;
  const r = await run(current, { githubToken: TOKEN, githubApiUrl: fake.url }, [deployKey as Task, alwaysFails]);
  assert.match(r.error?.message ?? '', /failing on purpose/);
  assert.equal(r.results.map((x) => x.status), ['rolled-back', 'failed']);
  assert.equal(fake.requests.map((x) => `${x.method} ${x.status}`), ['GET 200', 'POST 201', 'DELETE 204']);
  assert.not.ok(current.access, 'access was taken away again');
  assert.ok(current.privateKey, 'the key pair is left on the host for the next run');
  assert.equal(fake.keys.get('acme/api'), []);
});

test('the answer to the POST is lost: the retry finds the key, and a later failure still deletes it', async () => {
  current = freshSim();
  fake.keys.set('acme/api', []);
  fake.requests.length = 0;
  fake.dropNext.push({ operationId: 'repos/create-deploy-key', when: 'after' });
  const r = await run(current, { githubToken: TOKEN, githubApiUrl: fake.url }, [deployKey as Task, alwaysFails]);
  assert.match(r.error?.message ?? '', /failing on purpose/);
  assert.is(r.results[0]!.attempts, 2, 'the apply was retried after the lost answer');
  assert.equal(r.results.map((x) => x.status), ['rolled-back', 'failed']);
  // POST status 0: the key was made, the answer never came; the retry found it by its material.
  assert.equal(fake.requests.map((x) => `${x.method} ${x.status}`), ['GET 200', 'POST 0', 'GET 200', 'DELETE 204']);
  assert.equal(fake.keys.get('acme/api'), [], 'the key this run added is gone');
  assert.not.ok(current.access);
});

test('a key already registered is not added again, and rollback does not delete what it did not add', async () => {
  current = freshSim();
  current.privateKey = PRIVATE;
  current.pub = PUB;
  fake.seed('acme/api', [{ key: PUB, title: 'by hand' }]);
  current.access = true;
  fake.requests.length = 0;
  const r = await run(current, { githubToken: TOKEN, githubApiUrl: fake.url }, [deployKey as Task, alwaysFails]);
  assert.equal(fake.requests.map((x) => `${x.method} ${x.status}`), ['GET 200']);
  assert.equal(r.results.map((x) => x.status), ['rolled-back', 'failed']);
  assert.is(fake.keys.get('acme/api')!.length, 1);
  fake.keys.set('acme/api', []);
});

test('without a token: prints the key and the page, waits DEPLOY_KEY_WAIT, then fails naming both', async () => {
  current = freshSim();
  const started = Date.now();
  const r = await run(current, { deployKeyWaitMs: 1500 });
  const took = Date.now() - started;
  assert.ok(took >= 1500, `it waited out DEPLOY_KEY_WAIT: ${took} ms`);
  // Bounded, counted not timed: the look before the wait, then one poll a second (at least 1) up
  // to the deadline (at most 1500/1000 rounded up); a wait that went on would poll on and on.
  assert.ok(current.lsRemotes >= 2 && current.lsRemotes <= 3, `git ls-remote ran ${current.lsRemotes} times`);
  assert.is(r.results[0]!.status, 'failed');
  const message = r.error?.message ?? '';
  assert.match(message, /nobody added the deploy key to acme\/api within 2s \(DEPLOY_KEY_WAIT\)/);
  assert.ok(message.includes(PUB) && message.includes('https://github.com/acme/api/settings/keys/new'), message);
  const progress = r.events.flatMap((e) => (e.type === 'task-progress' ? [e.message] : []));
  assert.ok(progress.some((m) => m.includes(PUB) && m.includes('https://github.com/acme/api/settings/keys/new')), progress.join('\n'));
});

test('without a token: the run goes on as soon as someone adds the key', async () => {
  // The key is added while the task waits: right after its first `git ls-remote` failed.
  current = { ...freshSim(), grantAfterLsRemotes: 1 };
  const r = await run(current, { deployKeyWaitMs: 20_000 });
  assert.is(r.error, null, r.error?.message);
  assert.is(r.results[0]!.status, 'changed');
  // Counted, not timed: the failed one, then one poll of the wait (it worked, the wait ended
  // there) and proveAccess's check. Waiting out the 20 s would have polled about ten times more.
  assert.is(current.lsRemotes, 3);
});

test('no request to the fake GitHub broke its OpenAPI description', () => {
  assert.equal(fake.violations, []);
});

test.run();
