// `hoist init --ci github`: writes .github/workflows/release.yml for the app's repository (the
// current folder) from the settings in .env, and says which secrets to create and where. Plain
// settings go into the workflow as they are; files (SSH_KEY, KNOWN_HOSTS, APP_ENV_FILE) and
// secrets become secrets holding their content: secrets of a GitHub environment that only the
// release branch may deploy to, never repository secrets (which a workflow pushed on any branch
// could read). Refuses, writing nothing, when the repository cannot run hoist (no hoist in
// package.json, or no package-lock.json for `npm ci`) or a value would be read by GitHub as an
// expression.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import dotenv from 'dotenv';
import { KEY_BY_NAME } from '../config/keys.ts';
import { parseRepoUrl } from '../config/repo-url.ts';
import { UsageError } from '../errors.ts';
import { githubWorkflow, secretName, SECRET_DOC, WORKFLOW_PATH } from '../ci/github-workflow.ts';
import type { InitArgs } from './init.ts';

/** Keys naming a file on this machine that the release reads: their content becomes a secret. */
const FILE_SECRETS = ['SSH_KEY', 'KNOWN_HOSTS'] as const;
/** Keys the release pipeline does not read (bootstrap's, or a file CI cannot have), left out with a note. */
const NOT_FOR_RELEASE: Readonly<Record<string, string>> = {
  GITHUB_TOKEN: 'only bootstrap registers deploy keys; the release does not need it',
  FORGE_KNOWN_HOSTS: "only bootstrap pins the forge's keys on the host",
  AUTHORIZED_KEYS: 'only bootstrap installs them',
  CRON_FILE: 'a file on this machine: put the crontab in the repository and name it in APP_CRONTAB',
};

export function runInitCi(args: InitArgs, ci: NonNullable<InitArgs['ci']>, out: NodeJS.WritableStream): number {
  const target = resolve(WORKFLOW_PATH);
  if (existsSync(target) && !args.force) throw new UsageError(`${target} exists already; nothing was written. Fix: edit it, or run hoist init --ci github --force to start over`);
  const pkg = readPackageJson();
  if (!pkg || !('hoist' in { ...pkg.dependencies, ...pkg.devDependencies })) {
    throw new UsageError(
      'this repository does not list hoist in package.json, so the workflow could not run it (and the npm package named "hoist" is another project: it must not be fetched by name). ' +
        'Fix: npm install --save-dev <where you get hoist: a git URL or a tarball>, commit package.json and package-lock.json, then run hoist init --ci github again',
    );
  }
  if (!existsSync('package-lock.json')) {
    throw new UsageError(
      'this repository has no package-lock.json, and the workflow installs hoist with npm ci, which needs it (an install without a lockfile could pull other versions than the ones you tested). ' +
        'Fix: npm install, commit package-lock.json, then run hoist init --ci github again',
    );
  }
  if (ci.inventory && !existsSync(resolve(ci.inventory))) throw new UsageError(`--inventory ${ci.inventory}: no such file in this repository. Fix: commit the inventory and give its path from the repository's root`);
  const env = readEnv(args.envFile);
  const plain: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  const notes: string[] = [];
  for (const key of FILE_SECRETS) secrets[key] = secretName(key);
  for (const [key, value] of Object.entries(env)) {
    const def = KEY_BY_NAME.get(key)!;
    if (!value || key in secrets || key === 'GIT_REF' || (key === 'HOST' && ci.inventory)) continue;
    if (NOT_FOR_RELEASE[key]) {
      notes.push(`${key} is left out: ${NOT_FOR_RELEASE[key]}`);
    } else if (key === 'APP_ENV_FILE' || def.secret) {
      secrets[key] = secretName(key);
    } else {
      // GitHub evaluates ${{ }} anywhere in a workflow, before the shell sees the value.
      if (value.includes('${{')) throw new UsageError(`${key} in ${args.envFile} holds "\${{", which GitHub would evaluate as an expression. Fix: change the value, or put it in the workflow yourself`);
      plain[key] = value;
    }
  }
  // --build, else .env's BUILD. Built on the runner, the image comes from the checkout of the
  // pushed commit (BUILD_SOURCE=.), not from a path on the laptop that wrote this.
  if (ci.build) plain.BUILD = ci.build;
  if (plain.BUILD && plain.BUILD !== 'host') plain.BUILD_SOURCE = '.';
  else delete plain.BUILD_SOURCE;
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, githubWorkflow({ branch: ci.branch, plain, secrets, ...(ci.inventory ? { inventory: ci.inventory } : {}), lockWaitSeconds: ci.lockWaitSeconds, nodeVersion: '20', environment: ci.environment }));
  out.write(nextSteps(target, ci, secrets, notes, env.APP_REPO, args.envFile));
  return 0;
}

/** What the user does next, in order: the environment, its branch rule, its secrets, then commit. */
function nextSteps(target: string, ci: NonNullable<InitArgs['ci']>, secrets: Record<string, string>, notes: string[], appRepo: string | undefined, envFile: string): string {
  const repo = appRepo ? parseRepoUrl(appRepo) : null;
  const where = repo?.host === 'github.com' ? `https://github.com/${repo.owner}/${repo.repo}/settings/environments` : "the repository's Settings > Environments";
  const name = ci.environment;
  return (
    `Wrote ${target}: a push to ${ci.branch} releases that commit, with the secrets of the GitHub environment "${name}".\n\n` +
    `Its secrets must be environment secrets that only ${ci.branch} can read; repository secrets would be readable by a workflow pushed on any branch. At ${where}:\n` +
    `  1. New environment: name it ${name} (Configure environment).\n` +
    `  2. Deployment branches and tags: choose "Selected branches and tags", Add deployment branch or tag rule: Branch, ${ci.branch}. Add no other rule.\n` +
    `  3. Environment secrets > Add environment secret, one for each:\n` +
    Object.entries(secrets).map(([key, secret]) => `     ${secret}: ${SECRET_DOC[key] ?? `the value of ${key}`}\n`).join('') +
    `  4. If you created these as repository secrets before (Settings > Secrets and variables > Actions > Repository secrets), delete them there.\n` +
    (notes.length ? `\n${notes.map((n) => `note: ${n}`).join('\n')}\n` : '') +
    `\nThe other settings from ${envFile} are written into the workflow as they are: check them, then commit and push.\n`
  );
}

function readPackageJson(): { dependencies?: Record<string, string>; devDependencies?: Record<string, string> } | null {
  try {
    return JSON.parse(readFileSync('package.json', 'utf8'));
  } catch {
    return null;
  }
}

/** The known keys of the .env (unknown ones are the loader's to refuse); none when there is no file. */
function readEnv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const parsed = dotenv.parse(readFileSync(path, 'utf8'));
  return Object.fromEntries(Object.entries(parsed).filter(([k]) => KEY_BY_NAME.has(k)));
}
