// The documented settings, one entry each. This table is the schema: the loader rejects any key
// not listed here, `.env.example` is checked against it by a test, and every error names the
// entry's fix. Later pipelines add their keys here.
import { byteSizeProblem, parseByteSize } from '../byte-size.ts';
import { CADDY_EXTRA_DIRECTIVES, caddyExtraProblem } from './caddy-extra.ts';
import { parseRepoUrl } from './repo-url.ts';
import {
  apiUrlProblem,
  booleanProblem,
  hostNameProblem,
  hostProblem,
  ipProblem,
  listProblem,
  nameProblem,
  notifyUrlProblem,
  packageProblem,
  portProblem,
  positiveIntProblem,
  resolverProblem,
  sshdDirectiveProblem,
  userProblem,
} from './validators.ts';

export interface KeyDef {
  key: string;
  doc: string;
  default?: string;
  /** Never shown in errors, output or reports. */
  secret?: boolean;
  /** May differ per host in the inventory's `vars`. */
  perHost?: boolean;
  problem?(value: string): string | null;
  fix: string;
}

export const KEYS: readonly KeyDef[] = [
  {
    key: 'HOST',
    doc: 'Address of the VPS (host name or IP). Leave empty when an inventory file lists the hosts.',
    problem: hostProblem,
    fix: 'set HOST to the VPS address, e.g. HOST=203.0.113.7 or HOST=app.example.com',
  },
  {
    key: 'SSH_PORT',
    doc: 'Port sshd listens on.',
    default: '22',
    perHost: true,
    problem: portProblem,
    fix: 'set SSH_PORT to the port sshd listens on (usually 22)',
  },
  {
    key: 'SSH_USER',
    doc: 'The account the provider gave you (root, ubuntu, ...): used by the bootstrap pipeline only.',
    default: 'root',
    perHost: true,
    problem: userProblem,
    fix: 'set SSH_USER to the login your provider gave you, e.g. root or ubuntu',
  },
  {
    key: 'DEPLOY_USER',
    doc: 'The account hoist works as after bootstrap (it owns the app, its crontab and its releases).',
    default: 'deploy',
    perHost: true,
    problem: userProblem,
    fix: 'set DEPLOY_USER to a plain user name such as deploy',
  },
  {
    key: 'SSH_KEY',
    doc: 'Path of the private key hoist logs in with (~ is your home).',
    default: '~/.ssh/id_ed25519',
    perHost: true,
    fix: 'set SSH_KEY to the path of a readable OpenSSH private key, e.g. ~/.ssh/id_ed25519',
  },
  {
    key: 'SSH_KEY_PASSPHRASE',
    doc: 'Passphrase of SSH_KEY, if it has one. Secret: never printed.',
    secret: true,
    fix: 'set SSH_KEY_PASSPHRASE to the passphrase of SSH_KEY, or leave it empty for an unencrypted key',
  },
  {
    key: 'KNOWN_HOSTS',
    doc: 'OpenSSH known_hosts file the hosts\' keys are checked against (hashed entries work).',
    default: '~/.ssh/known_hosts',
    fix: 'set KNOWN_HOSTS to a writable file path, e.g. ~/.ssh/known_hosts',
  },
  {
    key: 'SSH_JUMP',
    doc: 'Optional bastion to go through, as user@host[:port] (like ssh -J). Its key is checked too.',
    perHost: true,
    fix: 'set SSH_JUMP to user@host or user@host:port, or leave it empty',
  },
  {
    key: 'SSH_CONNECT_TIMEOUT',
    doc: 'Seconds to wait for the SSH handshake.',
    default: '20',
    problem: (v) => positiveIntProblem(v, 600),
    fix: 'set SSH_CONNECT_TIMEOUT to a number of seconds between 1 and 600',
  },
  {
    key: 'SSH_COMMAND_TIMEOUT',
    doc: 'Seconds one remote command may run before it is stopped.',
    default: '900',
    problem: (v) => positiveIntProblem(v, 86400),
    fix: 'set SSH_COMMAND_TIMEOUT to a number of seconds between 1 and 86400',
  },
  {
    key: 'RETRIES',
    doc: 'How often a step that failed for a passing reason (connection lost, apt lock held) is tried again.',
    default: '3',
    problem: (v) => (/^\d+$/.test(v) && Number(v) <= 10 ? null : 'is not a whole number from 0 to 10'),
    fix: 'set RETRIES to a whole number from 0 to 10',
  },
  {
    key: 'APP_NAME',
    doc: 'Short name of the app: marks its crontab block (and later its containers and directories).',
    default: 'app',
    problem: nameProblem,
    fix: 'set APP_NAME to lower case letters, digits, _ or -, e.g. APP_NAME=sentiment-api',
  },
  {
    key: 'CRON_FILE',
    doc: 'Crontab file with the app\'s scheduled jobs (a path on this machine). Empty: the app has no jobs.',
    perHost: true,
    fix: 'set CRON_FILE to the path of a crontab file, or leave it empty for no jobs',
  },
  {
    key: 'APP_PORT',
    doc: 'Port the app listens on inside its container (Caddy proxies the domain to it).',
    default: '8000',
    problem: portProblem,
    fix: 'set APP_PORT to the port your app listens on, e.g. 8000',
  },
  {
    key: 'APP_DOMAIN',
    doc: 'Domain(s) the app is served at, comma-separated (e.g. api.example.com). dns-verify checks they point at the host.',
    perHost: true,
    problem: (v) => listProblem(v, hostNameProblem),
    fix: 'set APP_DOMAIN to one or more domain names, e.g. APP_DOMAIN=api.example.com',
  },
  {
    key: 'PUBLIC_IPS',
    doc: "The host's public addresses, comma-separated. Empty: HOST if it is an address, else what HOST resolves to.",
    perHost: true,
    problem: (v) => listProblem(v, ipProblem),
    fix: 'set PUBLIC_IPS to IP addresses, e.g. 203.0.113.7,2001:db8::7, or leave it empty',
  },
  {
    key: 'DNS_RESOLVERS',
    doc: 'DNS servers dns-verify asks, comma-separated, as IP or IP:port. Empty: the system resolvers.',
    problem: (v) => listProblem(v, resolverProblem),
    fix: 'set DNS_RESOLVERS to addresses such as 1.1.1.1,9.9.9.9 or 127.0.0.1:5353',
  },
  {
    key: 'DNS_AUTHORITATIVE',
    doc: "Also ask the zone's authoritative name servers, so a new record is seen before caches catch up (true/false).",
    default: 'false',
    problem: booleanProblem,
    fix: 'set DNS_AUTHORITATIVE to true or false',
  },
  {
    key: 'DNS_WAIT',
    doc: 'Seconds dns-verify waits for records to appear or change before it gives up.',
    default: '600',
    problem: (v) => positiveIntProblem(v, 86400),
    fix: 'set DNS_WAIT to a number of seconds between 1 and 86400',
  },
  {
    key: 'APP_REPO',
    doc: 'SSH URL of the app repository: git@github.com:owner/repo.git or ssh://git@host:port/owner/repo.git.',
    problem: (v) => (parseRepoUrl(v) ? null : 'is not an SSH git URL'),
    fix: 'set APP_REPO to the SSH clone URL, e.g. git@github.com:acme/sentiment-api.git',
  },
  {
    key: 'GITHUB_TOKEN',
    doc: 'Token allowed to add deploy keys to APP_REPO (fine-grained: Administration write). Secret. Empty: hoist prints the key for you to add.',
    secret: true,
    // It travels in an HTTP header: a line break would end the header (and start another one).
    problem: (v) => (/^[\x21-\x7e]+$/.test(v) ? null : 'holds spaces, line breaks or non-ASCII characters, which no token has'),
    fix: 'set GITHUB_TOKEN to a token with access to the repository, or leave it empty to add the key by hand',
  },
  {
    key: 'GITHUB_API_URL',
    doc: "GitHub's REST API root; change it for GitHub Enterprise (https://HOST/api/v3).",
    default: 'https://api.github.com',
    problem: apiUrlProblem,
    fix: 'set GITHUB_API_URL to https://api.github.com or your Enterprise API URL (https://HOST/api/v3); plain http only to this machine (127.0.0.1, ::1, localhost)',
  },
  {
    key: 'FORGE_KNOWN_HOSTS',
    doc: "Path of a file (on this machine) with the git server's known_hosts lines, pinned for the deploy user. Empty: GitHub's published keys (github.com only).",
    fix: "set FORGE_KNOWN_HOSTS to a file with the forge's keys (ssh-keyscan HOST, checked against its published fingerprints)",
  },
  {
    key: 'DEPLOY_KEY_WAIT',
    doc: 'Without GITHUB_TOKEN: seconds to wait for you to add the deploy key by hand.',
    default: '600',
    problem: (v) => positiveIntProblem(v, 86400),
    fix: 'set DEPLOY_KEY_WAIT to a number of seconds between 1 and 86400',
  },
  {
    key: 'AUTHORIZED_KEYS',
    doc: "Extra public keys for the deploy user (a file in authorized_keys format). The public half of SSH_KEY is always added.",
    fix: 'set AUTHORIZED_KEYS to the path of a file of public keys, or leave it empty',
  },
  {
    key: 'EXTRA_PACKAGES',
    doc: 'Extra Debian/Ubuntu packages bootstrap installs (your productivity tools), space- or comma-separated.',
    perHost: true,
    problem: (v) => listProblem(v, packageProblem, /[\s,]+/),
    fix: 'set EXTRA_PACKAGES to the names of packages to install, e.g. EXTRA_PACKAGES=htop tmux (nothing after a name: a trailing - would remove that package)',
  },
  {
    key: 'FIREWALL',
    doc: 'none, or ufw: allow only SSH (SSH_PORT), 80 and 443 in.',
    default: 'none',
    problem: (v) => (v === 'none' || v === 'ufw' ? null : 'is neither none nor ufw'),
    fix: 'set FIREWALL to none or ufw',
  },
  {
    key: 'SSHD_OPTIONS',
    doc: "Extra sshd directives for hoist's hardening drop-in, ';'-separated (e.g. MaxAuthTries 3; ClientAliveInterval 300).",
    perHost: true,
    problem: (v) => listProblem(v, sshdDirectiveProblem, /\s*;\s*/),
    fix: 'set SSHD_OPTIONS to directives like "MaxAuthTries 3; ClientAliveInterval 300" (no Match blocks)',
  },
  {
    key: 'DOCKER_LOG_MAX_SIZE',
    doc: "Docker's container logs are rotated at this size (json-file max-size in /etc/docker/daemon.json, merged with your other keys; dockerd restarts when it changes, never while a release runs). Applies to containers created after the change (the next release). off: hoist leaves daemon.json alone.",
    default: '10m',
    problem: (v) => (v === 'off' || /^[1-9]\d{0,5}[kmg]$/.test(v) ? null : 'is not a size Docker takes for logs (a number with k, m or g, e.g. 10m) or off'),
    fix: 'set DOCKER_LOG_MAX_SIZE to a size such as 10m or 100m, or off to leave /etc/docker/daemon.json alone',
  },
  {
    key: 'DOCKER_LOG_MAX_FILE',
    doc: 'How many rotated log files Docker keeps per container (json-file max-file), with DOCKER_LOG_MAX_SIZE.',
    default: '3',
    problem: (v) => positiveIntProblem(v, 100),
    fix: 'set DOCKER_LOG_MAX_FILE to a number from 1 to 100, e.g. 3',
  },
  {
    key: 'SWAP_SIZE',
    doc: 'A swapfile (/swapfile, mode 600, in /etc/fstab) of this size (e.g. 2G). Empty: 2G when the host has less than 2 GiB of memory and no swap (1G when the disk is short). 0 or off: hoist creates none and leaves swap alone.',
    perHost: true,
    problem: swapSizeProblem,
    fix: 'set SWAP_SIZE to a size from 64M to 64G (e.g. 2G), 0 or off for no swapfile, or leave it empty for the automatic choice',
  },
  {
    key: 'AUTO_UPGRADES',
    doc: 'security: unattended-upgrades installs security updates every day, and never reboots the host by itself. off: hoist does not touch the host\'s setup.',
    default: 'off',
    perHost: true,
    problem: (v) => (v === 'off' || v === 'security' ? null : 'is neither off nor security'),
    fix: 'set AUTO_UPGRADES to security or off',
  },
  {
    key: 'APP_CRONTAB',
    doc: "Crontab file inside the app's repo (e.g. deploy/crontab), read from the live release; its jobs run the release's code through ~/apps/APP_NAME/current. Use this or CRON_FILE.",
    problem: (v) => repoPathProblem(v),
    fix: 'set APP_CRONTAB to a path inside the repo, e.g. deploy/crontab, and leave CRON_FILE empty (or the other way round)',
  },
  {
    key: 'GIT_REF',
    doc: 'What release deploys: a branch, tag or commit of APP_REPO. Resolved to one commit before any host is touched.',
    default: 'main',
    problem: (v) => (/^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/.test(v) && !v.includes('..') && !v.endsWith('.lock') ? null : 'is not a branch, tag or commit name'),
    fix: 'set GIT_REF to a branch (main), a tag (v1.2.0) or a commit sha',
  },
  {
    key: 'APP_ENV_FILE',
    doc: "The app's own .env on this machine: uploaded to the host (mode 600), linked into every release, never printed.",
    fix: "set APP_ENV_FILE to the path of the app's .env file, or leave it empty",
  },
  {
    key: 'KEEP_RELEASES',
    doc: 'How many releases stay on the host (the live one included); older ones and their images are removed.',
    default: '5',
    problem: (v) => positiveIntProblem(v, 100),
    fix: 'set KEEP_RELEASES to a number from 1 to 100',
  },
  {
    key: 'BACKUP_KEEP',
    doc: "How many archives `hoist backup` (and a `hoist-backup` job) keep on the host in ~/apps/APP_NAME/backups; older ones are removed. 0: `hoist backup` keeps none there once it is downloaded (a job still keeps its latest).",
    default: '3',
    problem: (v) => (/^\d+$/.test(v) && Number(v) <= 1000 ? null : /^\d+$/.test(v) ? 'is outside 0-1000' : 'is not a whole number'),
    fix: 'set BACKUP_KEEP to a number from 0 to 1000, e.g. 3',
  },
  {
    key: 'BACKUP_IMAGE',
    doc: 'The image of the throwaway containers that read and write the app\'s volumes for a backup or restore (needs sh, tar, cp and rm). Pulled once if the host lacks it.',
    default: 'busybox:1.36',
    problem: (v) => (/^[a-z0-9][a-z0-9._\/:@-]{0,254}$/.test(v) && !v.includes('..') ? null : 'is not an image reference'),
    fix: 'set BACKUP_IMAGE to an image with sh and tar, e.g. busybox:1.36',
  },
  {
    key: 'BUILD_MIN_FREE',
    doc: "Free space Docker's disk must have before a release builds (e.g. 2G, 500M; 0: no check). Empty: the larger of 1 GiB and 1.5 × the app's live image. Short, the release stops before the build, saying what could be pruned.",
    problem: byteSizeProblem,
    fix: 'set BUILD_MIN_FREE to a size such as 2G or 500M, 0 to build without checking, or leave it empty',
  },
  {
    key: 'BUILD',
    doc: "Where the release's image is built: host (on each host, from its checkout), local (once on this machine from the release's commit, then shipped to each host over SSH: only the layers a host lacks travel) or registry (built here, pushed to REGISTRY once, pulled by each host).",
    default: 'host',
    problem: (v) => (['host', 'local', 'registry'].includes(v) ? null : 'is not host, local or registry'),
    fix: 'set BUILD to host (build on each host), local (build here, ship over SSH) or registry (build here, push to REGISTRY, hosts pull)',
  },
  {
    key: 'BUILD_SOURCE',
    doc: "With BUILD=local or registry, the git checkout on this machine that holds the release's commit (its files are taken with git archive, never the working tree).",
    default: '.',
    // A path, read here by git: a line break is no path anyone means (and would split a log line).
    problem: (v) => (/[\0\r\n]/.test(v) ? 'holds a line break or NUL' : null),
    fix: "set BUILD_SOURCE to a git checkout of the app on this machine, e.g. BUILD_SOURCE=. when hoist runs in it",
  },
  {
    key: 'REGISTRY',
    doc: 'With BUILD=registry, the registry images are pushed to and pulled from, as host[:port][/path] (e.g. ghcr.io/acme or registry.example.com:5000).',
    problem: (v) => (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(v) ? null : 'is not a registry address host[:port][/path]'),
    fix: 'set REGISTRY to host[:port][/path], e.g. ghcr.io/acme or registry.example.com:5000',
  },
  {
    key: 'REGISTRY_USER',
    doc: 'With BUILD=registry, the account to log in to REGISTRY with (empty: no login, an open registry).',
    fix: 'set REGISTRY_USER to the registry account, or leave it empty for a registry without login',
  },
  {
    key: 'REGISTRY_PASSWORD',
    doc: 'With BUILD=registry, the password or token of REGISTRY_USER. Sent to docker login on standard input only; never printed. In CI, give it as an environment variable.',
    secret: true,
    // docker login --password-stdin reads one line: a line break would log in with a cut password.
    problem: (v) => (/[\0\r\n]/.test(v) ? 'holds a line break or NUL (docker login reads one line)' : null),
    fix: 'set REGISTRY_PASSWORD (in CI: a secret in the environment) when REGISTRY_USER is set',
  },
  {
    key: 'BUILD_MEMORY',
    doc: "Memory bound of each image build on the host (e.g. 1G): a build step that needs more is stopped as out of memory instead of pushing the whole VPS into the kernel's OOM killer. Compose v2 then builds with Docker's classic builder (BuildKit ignores the bound). Empty: no bound.",
    problem: (v) => byteSizeProblem(v) ?? (parseByteSize(v) < 6 * 1024 * 1024 ? 'is below 6M, the least Docker takes' : null),
    fix: 'set BUILD_MEMORY to a size such as 1G or 768M, or leave it empty',
  },
  {
    key: 'COMPOSE_FILE',
    doc: 'Compose file in the repo, relative to its root. Empty: compose.yaml, compose.yml, docker-compose.yml or docker-compose.yaml.',
    problem: (v) => repoPathProblem(v),
    fix: 'set COMPOSE_FILE to a path inside the repo, e.g. deploy/compose.yaml',
  },
  {
    key: 'APP_SERVICE',
    doc: 'The compose service that answers HTTP on APP_PORT; hoist publishes it on 127.0.0.1 (blue/green ports) for Caddy.',
    default: 'web',
    // hoist tags the service's image hoist-APP_NAME-APP_SERVICE, and Docker refuses an image name
    // with upper case letters or a separator at the end: such a service would fail at the build,
    // after the release was checked out on every host.
    problem: (v) => (/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(v) ? null : /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(v) ? 'cannot be part of a Docker image name (lower case letters and digits, joined by ., _ or -)' : 'is not a compose service name'),
    fix: 'set APP_SERVICE to the name of the service in your compose file, e.g. web (rename a service with upper case letters)',
  },
  {
    key: 'HEALTH_PATH',
    doc: 'HTTP path that answers 2xx/3xx when the app is ready; probed from the host before traffic moves.',
    default: '/',
    problem: (v) => (/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/.test(v) ? null : 'is not a URL path starting with /'),
    fix: 'set HEALTH_PATH to a path such as /health',
  },
  {
    key: 'HEALTH_TIMEOUT',
    doc: 'Seconds a new release has to turn healthy before it is stopped and the old one keeps serving.',
    default: '120',
    problem: (v) => positiveIntProblem(v, 3600),
    fix: 'set HEALTH_TIMEOUT to a number of seconds from 1 to 3600',
  },
  {
    key: 'RELEASE_COMMAND',
    doc: "Release phase: a command (e.g. database migrations) run once per release with `sh -c` in a one-off container of APP_SERVICE of the new release (its image, .env, volumes, stateful services), after the build and before it starts; non-zero stops the release and the live one keeps serving. Not run by a rollback, nor again for a release it already ran for. Empty: none.",
    problem: (v) => (v.length > 4096 ? 'is longer than 4096 characters' : /[\0\r\n]/.test(v) ? 'holds a line break or NUL (one command line; use && or a script in the image)' : null),
    fix: 'set RELEASE_COMMAND to one command line, e.g. RELEASE_COMMAND=python manage.py migrate --noinput (or put a script in the image and name it), or leave it empty',
  },
  {
    key: 'DRAIN_TIMEOUT',
    doc: 'Seconds a release waits, after Caddy moved traffic to the new slot, for requests still running on the old slot to finish before it stops it (it stops at once when none is open). 0: stop at once.',
    default: '30',
    problem: (v) => (/^\d+$/.test(v) && Number(v) <= 3600 ? null : /^\d+$/.test(v) ? 'is outside 0-3600' : 'is not a whole number'),
    fix: 'set DRAIN_TIMEOUT to a number of seconds from 0 to 3600, e.g. 30 (longer than your slowest request)',
  },
  {
    key: 'BLUE_PORT',
    doc: 'Loopback port of the "blue" slot; a new release starts on the slot the live one is not using. Empty (with GREEN_PORT): hoist picks a free pair on each host from 18001 up, records it in ~/apps/APP_NAME/ports and keeps it, so apps sharing a VPS never collide.',
    perHost: true,
    problem: portProblem,
    fix: 'set BLUE_PORT to a free port, e.g. 18001',
  },
  {
    key: 'GREEN_PORT',
    doc: 'Loopback port of the "green" slot. Set both or neither.',
    perHost: true,
    problem: portProblem,
    fix: 'set GREEN_PORT to a free port other than BLUE_PORT, e.g. 18002',
  },
  {
    key: 'CADDY_TLS',
    doc: "auto (Let's Encrypt/ZeroSSL certificates), internal (Caddy's own CA, for private hosts and tests) or off (plain HTTP).",
    default: 'auto',
    problem: (v) => (['auto', 'internal', 'off'].includes(v) ? null : 'is not auto, internal or off'),
    fix: 'set CADDY_TLS to auto, internal or off',
  },
  {
    key: 'CADDY_EXTRA',
    doc: "Extra Caddyfile directives inside the app's site block, ';'-separated, one line each (e.g. encode gzip; header X-Robots-Tag noindex). Only header, request_header, encode, redir, rewrite, uri, method, respond, abort, error, log, skip_log, vars: nothing that reads the host's files (import, root, file_server, tls), no braces or placeholders.",
    perHost: true,
    problem: caddyExtraProblem,
    fix: `set CADDY_EXTRA to one-line directives separated by ; (${CADDY_EXTRA_DIRECTIVES.join(', ')}), or leave it empty`,
  },
  {
    key: 'ACME_EMAIL',
    doc: "With CADDY_TLS=auto: the contact of the certificate authority's account (expiry and problem notices). Empty: no contact.",
    // Written into the Caddyfile as one word: nothing that ends the word, the line or the block.
    problem: (v) => (/^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/.test(v) ? null : 'is not an e-mail address (name@example.com)'),
    fix: 'set ACME_EMAIL to your e-mail address, e.g. ops@example.com, or leave it empty',
  },
  {
    key: 'ACME_CA',
    doc: "With CADDY_TLS=auto: the ACME directory URL Caddy asks for certificates (Let's Encrypt staging, ZeroSSL, your company's CA). Empty: Caddy's defaults (Let's Encrypt, then ZeroSSL).",
    problem: (v) => (/^https:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~%/+-]*)?$/.test(v) ? null : 'is not an https URL of an ACME directory'),
    fix: 'set ACME_CA to a directory URL such as https://acme-staging-v02.api.letsencrypt.org/directory, or leave it empty',
  },
  {
    key: 'ACME_CA_ROOT',
    doc: "With ACME_CA: a PEM file (on this machine) of the CA that signed the ACME directory's https certificate, when the system does not trust it; hoist uploads it for Caddy.",
    fix: 'set ACME_CA_ROOT to the path of a PEM certificate file, or leave it empty',
  },
  {
    key: 'NOTIFY_URL',
    doc: "A webhook hoist POSTs to after each run (pipeline, hosts ok/failed, release, duration, the failing task and its reason) and the hosts' watchdog POSTs to on a change of state (an app down or up again, restarting in a loop, disk below ALERT_DISK_FREE, a certificate below 14 days). Secret: never printed; on the host in a file only the deploy user reads. Empty: no messages (the watchdog still keeps its alerts for `hoist status`).",
    secret: true,
    problem: notifyUrlProblem,
    fix: 'set NOTIFY_URL to the https URL of your webhook (a Slack or Discord incoming webhook, or your own receiver), or leave it empty',
  },
  {
    key: 'NOTIFY_FORMAT',
    doc: "The body NOTIFY_URL gets: json (hoist's own fields), slack ({\"text\"}) or discord ({\"content\"}).",
    default: 'json',
    problem: (v) => (['json', 'slack', 'discord'].includes(v) ? null : 'is not json, slack or discord'),
    fix: 'set NOTIFY_FORMAT to json, slack or discord',
  },
  {
    key: 'ALERT_DISK_FREE',
    doc: "The watchdog posts once when the free space of the deploy user's disk falls below this (e.g. 1G, 500M; 0: no disk alert), and once when it is back above.",
    default: '1G',
    problem: byteSizeProblem,
    fix: 'set ALERT_DISK_FREE to a size such as 1G or 500M, or 0 for no disk alert',
  },
];

/**
 * A path inside the repo, as the release checks it out. `.env` at the release's root is the
 * app's secret .env (git-sync links it there): as a crontab or compose file it would be printed
 * in diffs and error messages, so no segment may be `.env`.
 */
function repoPathProblem(v: string): string | null {
  if (!/^[A-Za-z0-9._/-]+$/.test(v) || v.split('/').includes('..') || v.startsWith('/')) return 'is not a relative path inside the repo';
  return v.split('/').includes('.env') ? "names the app's .env (secrets), which hoist links into every release" : null;
}

/** SWAP_SIZE: empty (automatic), 0 / off, or a size from 64 MiB to 64 GiB. */
function swapSizeProblem(v: string): string | null {
  if (v === 'off' || v === '0') return null;
  const problem = byteSizeProblem(v);
  if (problem) return `${problem}, nor 0 or off`;
  const bytes = parseByteSize(v);
  return bytes < 64 * 1024 ** 2 ? 'is below 64M' : bytes > 64 * 1024 ** 3 ? 'is above 64G' : null;
}

export const KEY_BY_NAME = new Map(KEYS.map((k) => [k.key, k]));
