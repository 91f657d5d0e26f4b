// `hoist init --ci github`: the release workflow for the app's repository, as text. Pure: the
// settings and what the repository holds go in, the YAML and the secrets to create come out.
//
// What it makes true: a push to the branch releases that exact commit (GIT_REF is the pushed
// sha); two pushes never release at once (a concurrency group, queued, not cancelled: a release
// cut in half is rolled back, but a queued one just runs later); a laptop release of the same
// host at the same time is waited for (--lock-wait); the JSON report is kept as an artifact and
// the run's table lands on the job's page (GITHUB_STEP_SUMMARY). Settings come from the step's
// environment (HOIST_ENV=1): plain values from .env written in, files and secrets as secrets.
// hoist is the repository's own devDependency, run from node_modules/.bin: the npm package
// named "hoist" is another project, and `npx hoist` (even `npx --no`) asks the registry for it
// when the install is missing.
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
  /** The repository has a package-lock.json (npm's cache keyed on it). */
  lockfile: boolean;
}

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
  const doc = {
    name: 'release',
    on: { push: { branches: [o.branch] }, workflow_dispatch: {} },
    // One release at a time for this repository; a newer push waits, it does not cancel.
    concurrency: { group: 'hoist-release', 'cancel-in-progress': false },
    permissions: { contents: 'read' },
    jobs: {
      release: {
        'runs-on': 'ubuntu-latest',
        'timeout-minutes': 60,
        steps: [
          { uses: 'actions/checkout@v4' },
          { uses: 'actions/setup-node@v4', with: { 'node-version': o.nodeVersion, ...(o.lockfile ? { cache: 'npm' } : {}) } },
          { name: 'Install hoist', run: o.lockfile ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund' },
          { name: 'Release', env, run: releaseCommand(o) },
          {
            name: 'Keep the run report',
            if: 'always()',
            uses: 'actions/upload-artifact@v4',
            with: { name: 'hoist-report', path: REPORT_FILE, 'if-no-files-found': 'ignore' },
          },
        ],
      },
    },
  };
  const header = [
    '# Written by `hoist init --ci github`: a push to the branch below releases that commit.',
    '# Secrets it reads (Settings > Secrets and variables > Actions > New repository secret):',
    ...Object.entries(o.secrets).map(([key, secret]) => `#   ${secret}: ${SECRET_DOC[key] ?? `the value of ${key}`}`),
    '',
  ];
  return `${header.join('\n')}${YAML.stringify(doc, { lineWidth: 0 })}`;
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
