// git-sync's command lines as exact strings (hostile-free by construction: every path comes from
// the layout, every value through shell-quote), and the rollback's .env restore run for real:
// it puts back only a backup that is byte for byte the file the probe saw.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRepoUrl } from '../../lib/config/repo-url.ts';
import { gitSyncCommands } from '../../tasks/git-sync/commands.ts';

const c = gitSyncCommands({ app: 'api', repo: parseRepoUrl('git@github.com:acme/api.git')! });
const SHA = 'abcdef0123456789abcdef0123456789abcdef01';
const N = '20240301120000-abcdef012345';
const R = `apps/api/releases/${N}`;
const T = `apps/api/releases/.${N}.tmp`;
const G = 'git --git-dir=apps/api/repo.git';

test('cache: bare repo made once, every branch and tag fetched, then the commit by itself, checked', () => {
  assert.is(
    c.cache(SHA).line,
    `cd && mkdir -p apps/api && if [ ! -d apps/api/repo.git ]; then rm -rf apps/api/repo.git.tmp && git init -q --bare apps/api/repo.git.tmp && mv apps/api/repo.git.tmp apps/api/repo.git; fi && ` +
      `${G} fetch -q --prune --no-tags git@github.com:acme/api.git '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*' </dev/null && ` +
      `{ ${G} cat-file -e '${SHA}^{commit}' 2>/dev/null || ${G} fetch -q --no-tags git@github.com:acme/api.git ${SHA} </dev/null; } && ` +
      `{ ${G} cat-file -e '${SHA}^{commit}' || { echo 'commit ${SHA} is not in git@github.com:acme/api.git' >&2; exit 3; }; }`,
  );
});

test('release: git archive into a staging folder, REVISION, rename; nothing if complete', () => {
  assert.is(
    c.release(N, SHA).line,
    `cd && if [ ! -f ${R}/REVISION ]; then rm -rf ${T} ${T}.tar ${R} && mkdir -p ${T} && ${G} archive --format=tar -o ${T}.tar ${SHA} && tar -x -f ${T}.tar -C ${T} && rm -f ${T}.tar && printf '%s\\n' ${SHA} >${T}/REVISION && mv ${T} ${R}; fi`,
  );
});

test('env, link, pending, prune and the rollback commands', () => {
  assert.is(c.envPrepare.line, 'cd && mkdir -p apps/api/shared && chmod 700 apps/api/shared && if [ -f apps/api/shared/.env ]; then cp -p apps/api/shared/.env apps/api/shared/.env.prev; else rm -f apps/api/shared/.env.prev; fi');
  assert.is(c.envPath('/home/deploy/'), '/home/deploy/apps/api/shared/.env');
  assert.is(c.link(N).line, `cd && rm -rf ${R}/.env && ln -s ../../shared/.env ${R}/.env`);
  assert.is(c.pending(N).line, `cd && printf '%s\\n' ${N} >apps/api/pending-release.tmp && mv -f apps/api/pending-release.tmp apps/api/pending-release`);
  assert.is(c.prune([N, '20240101000000-111111111111']).line, `cd && rm -rf -- ${R} apps/api/releases/20240101000000-111111111111`);
  assert.is(c.removeRelease(N).line, `cd && rm -rf -- ${R} ${T} ${T}.tar`);
  assert.is(c.clearPending.line, 'cd && rm -f apps/api/pending-release');
  assert.is(c.removeEnv.line, 'cd && rm -f apps/api/shared/.env apps/api/shared/.env.prev');
  assert.is(
    c.restoreEnv('e'.repeat(64)).line,
    `cd && if [ -f apps/api/shared/.env.prev ] && [ "$(sha256sum <apps/api/shared/.env.prev | cut -d' ' -f1)" = ${'e'.repeat(64)} ]; then mv -f apps/api/shared/.env.prev apps/api/shared/.env; fi`,
  );
});

test('restoreEnv puts back only the very file the probe saw', () => {
  const home = mkdtempSync(join(tmpdir(), 'hoist-gs-env-'));
  mkdirSync(join(home, 'apps/api/shared'), { recursive: true });
  const env = join(home, 'apps/api/shared/.env');
  const sh = (line: string) => execFileSync('sh', ['-c', line], { env: { PATH: process.env.PATH, HOME: home } });
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  writeFileSync(env, 'OLD=1\n');
  sh(c.envPrepare.line);
  writeFileSync(env, 'NEW=2\n');
  sh(c.restoreEnv(sha('SOMETHING ELSE\n')).line);
  assert.is(readFileSync(env, 'utf8'), 'NEW=2\n', 'a backup that is not the probed file is not restored');
  sh(c.restoreEnv(sha('OLD=1\n')).line);
  assert.is(readFileSync(env, 'utf8'), 'OLD=1\n');
  rmSync(home, { recursive: true, force: true });
});

test.run();
