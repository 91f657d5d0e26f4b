// `hoist init --ci github`: the release workflow for the app's repository, as text. Pure: the
// settings and what the repository holds go in, the YAML and the secrets to create come out.
//
// What it makes true: a push to the branch releases that exact commit (GIT_REF is the pushed
// sha); two pushes never release at once (a concurrency group, queued, not cancelled: a release
// cut in half is rolled back, but a queued one just runs later); a laptop release of the same
// host at the same time is waited for (--lock-wait); the JSON report is kept as an artifact and
// the run's table lands on the job's page (GITHUB_STEP_SUMMARY). Settings come from the step's
// environment (HOIST_ENV=1): plain values from .env written in, files and secrets as secrets.
// hoist is the repository's own devDependency, installed by `npm ci` from the committed
// package-lock.json and run from node_modules/.bin: the npm package named "hoist" is another
// project, and `npx hoist` (even `npx --no`) asks the registry for it when the install is missing.
//
// Who can release: anyone who can push a branch can run a workflow of their own on it, so the
// secrets are a GitHub environment's, and only runs on the release branch get them (the
// environment's deployment branch rule, set by the user as init says: the one guard a pushed
// edit of this file cannot remove). The job also runs only for the release branch (`if:`) and
// its first step refuses any other ref, so a dispatch from another branch releases nothing;
// the dispatch takes no input, so it can only release the branch's head. Actions are pinned by
// commit (a moved tag cannot change what runs next to the deploy key), the token is read-only
// and not left in the checkout's git config.
import YAML from 'yaml';

export interface WorkflowOptions {
  /** Branch whose pushes release. */
  branch: string;
  /** Settings written into the workflow as they are (no secrets, no file keys). */
  plain: Record<string, string>;
  /** Setting key -> the secret that holds it (its content, for a file key). */
  secrets: Record<string, string>;
  /** The inventory file inside the repository, when there is one. */
  inventory?: string;
  /** Seconds a release waits for another run's deploy lock. */
  lockWaitSeconds: number;
  /** Node version for actions/setup-node. */
  nodeVersion: string;
  /** The GitHub environment holding the secrets, restricted to `branch` by its deployment branch rule. */
  environment: string;
}

/**
 * The actions the workflow uses, pinned by the commit of a released tag (the version in the
 * comment). Each sha is the commit the tag (and the moving `v4` tag) points at in the action's
 * own repository, cross-checked against other public workflows pinning the same version.
 */
export const ACTIONS = {
  checkout: { uses: 'actions/checkout@11d5960a326750d5838078e36cf38b85af677262', version: 'v4.4.0' },
  setupNode: { uses: 'actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020', version: 'v4.4.0' },
  uploadArtifact: { uses: 'actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02', version: 'v4.6.2' },
} as const;

export const REPORT_FILE = 'hoist-report.json';
export const WORKFLOW_PATH = '.github/workflows/release.yml';

/** The release command the workflow runs (also its e2e test's). */
export function releaseCommand(o: Pick<WorkflowOptions, 'inventory' | 'lockWaitSeconds'>): string {
  const inventory = o.inventory ? ` --inventory ${shellWord(o.inventory)}` : '';
  return `./node_modules/.bin/hoist run release${inventory} --lock-wait ${o.lockWaitSeconds} --json ${REPORT_FILE}`;
}

export function githubWorkflow(o: WorkflowOptions): string {
  const env: Record<string, string> = { HOIST_ENV: '1' };
  for (const [key, value] of Object.entries(o.plain)) env[key] = value;
  for (const [key, secret] of Object.entries(o.secrets)) env[key] = `\${{ secrets.${secret} }}`;
  // The pushed commit, not whatever the branch points at when the queued job starts.
  env.GIT_REF = '${{ github.sha }}';
  const ref = `refs/heads/${o.branch}`;
  const doc = {
    name: 'release',
    // No dispatch input: a run on demand releases the release branch's head, never a sha given.
    on: { push: { branches: [o.branch] }, workflow_dispatch: {} },
    // One release at a time for this repository; a newer push waits, it does not cancel.
    concurrency: { group: 'hoist-release', 'cancel-in-progress': false },
    permissions: { contents: 'read' },
    jobs: {
      release: {
        // A dispatch from another branch (or a tag) is skipped: only the release branch releases.
        if: `github.ref == '${ref}'`,
        environment: o.environment,
        'runs-on': 'ubuntu-latest',
        'timeout-minutes': 60,
        steps: [
          // The same rule inside the job, so a run that got here another way stops before anything.
          { name: `Refuse any ref but ${o.branch}`, run: refuseOtherRefs(o.branch) },
          { uses: ACTIONS.checkout.uses, with: { 'persist-credentials': false } },
          { uses: ACTIONS.setupNode.uses, with: { 'node-version': o.nodeVersion, cache: 'npm' } },
          { name: 'Install hoist', run: 'npm ci --no-audit --no-fund' },
          { name: 'Release', env, run: releaseCommand(o) },
          {
            name: 'Keep the run report',
            if: 'always()',
            uses: ACTIONS.uploadArtifact.uses,
            with: { name: 'hoist-report', path: REPORT_FILE, 'if-no-files-found': 'ignore' },
          },
        ],
      },
    },
  };
  const header = [
    '# Written by `hoist init --ci github`: a push to the branch below releases that commit.',
    `# Secrets it reads, from the GitHub environment "${o.environment}" (Settings > Environments), whose`,
    `# deployment branch rule must allow ${o.branch} only; not repository secrets, which any branch could read:`,
    ...Object.entries(o.secrets).map(([key, secret]) => `#   ${secret}: ${SECRET_DOC[key] ?? `the value of ${key}`}`),
    ...(o.plain.BUILD === 'local' ? ["# BUILD=local: the runner's Docker builds the image of the pushed commit; hoist ships to each host only the layers it lacks, over SSH."] : []),
    ...(o.plain.BUILD === 'registry' ? ['# BUILD=registry: the runner builds the image of the pushed commit and pushes it to REGISTRY; each host pulls it.'] : []),
    '',
  ];
  return `${header.join('\n')}${pinComments(YAML.stringify(doc, { lineWidth: 0 }))}`;
}

/** The guard step's script: the runner's GITHUB_REF must be the release branch. */
function refuseOtherRefs(branch: string): string {
  const ref = shellWord(`refs/heads/${branch}`);
  return `if [ "$GITHUB_REF" != ${ref} ]; then echo "::error::hoist releases ${branch} only, not $GITHUB_REF: nothing was done" >&2; exit 1; fi`;
}

/** Each pinned `uses:` line gets its version as a comment (yaml cannot attach one to a value). */
function pinComments(yamlText: string): string {
  let out = yamlText;
  for (const a of Object.values(ACTIONS)) out = out.replaceAll(`uses: ${a.uses}\n`, `uses: ${a.uses} # ${a.version}\n`);
  return out;
}

/** What each secret must hold, for the workflow's header and `hoist init`'s instructions. */
export const SECRET_DOC: Readonly<Record<string, string>> = {
  SSH_KEY: "the private key hoist logs in with: the whole file's content (-----BEGIN ... END ... KEY-----)",
  KNOWN_HOSTS: "the hosts' known_hosts lines (from your KNOWN_HOSTS file: ssh-keygen -F '[HOST]:PORT' -f ~/.ssh/known_hosts), so the runner checks each host's key",
  SSH_KEY_PASSPHRASE: "SSH_KEY's passphrase",
  APP_ENV_FILE: "the app's own .env: the whole file's content",
  GITHUB_TOKEN: 'a token allowed to add deploy keys (only bootstrap needs it)',
};

/** The secret named for a setting: prefixed, since GitHub refuses secret names starting GITHUB_. */
export function secretName(key: string): string {
  return `HOIST_${key}`;
}

/** A word for a POSIX shell, quoted only when needed. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
