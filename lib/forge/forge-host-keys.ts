// Which known_hosts lines pin the forge's SSH host keys for the deploy user: the lines of
// FORGE_KNOWN_HOSTS that name the repo's host (and port), or GitHub's published keys for
// github.com. Chosen locally, before any connection; compared with the host's file by key.
import { readFileSync } from 'node:fs';
import type { RepoUrl } from '../config/repo-url.ts';
import { ConfigError } from '../errors.ts';
import { entryMatchesHost, hostLookupName, parseKnownHosts } from '../ssh/known-hosts.ts';
import { GITHUB_HOST_KEYS, isGitHubSshHost } from './github-host-keys.ts';

export interface ForgePins {
  /** The name ssh looks the forge up by: `host`, or `[host]:port` for a port other than 22. */
  lookupName: string;
  /** known_hosts lines (pattern, type, key) to be present in ~/.ssh/known_hosts. */
  lines: string[];
  /** Where the lines come from, for plans and messages. */
  source: string;
}

const FIX = "set FORGE_KNOWN_HOSTS to a file with the forge's keys (ssh-keyscan HOST, checked against its published fingerprints)";

export function forgePins(repo: RepoUrl, forgeKnownHostsPath: string | undefined): ForgePins {
  const lookupName = hostLookupName(repo.host, repo.port);
  if (forgeKnownHostsPath) {
    const entries = parseKnownHosts(readFileSync(forgeKnownHostsPath, 'utf8')).filter((e) => e.marker === '' && entryMatchesHost(e, lookupName));
    if (entries.length === 0) {
      throw new ConfigError('FORGE_KNOWN_HOSTS', forgeKnownHostsPath, `has no key line for ${lookupName}, the host of APP_REPO`, `add the lines of \`ssh-keyscan${repo.port === 22 ? '' : ` -p ${repo.port}`} ${repo.host}\` to it, after checking their fingerprints`);
    }
    return { lookupName, lines: entries.map((e) => `${e.patterns} ${e.keyType} ${e.keyBase64}`), source: `FORGE_KNOWN_HOSTS ${forgeKnownHostsPath}` };
  }
  if (isGitHubSshHost(repo.host)) {
    return { lookupName, lines: GITHUB_HOST_KEYS.map((k) => `${lookupName} ${k}`), source: "GitHub's published SSH host keys" };
  }
  throw new ConfigError('FORGE_KNOWN_HOSTS', undefined, `is needed: APP_REPO's host ${repo.host} is not github.com, so hoist ships no keys for it`, FIX);
}

/** The wanted lines whose key is not yet trusted for `lookupName` by the host's known_hosts text. */
export function missingPins(pins: ForgePins, knownHostsText: string): string[] {
  const present = parseKnownHosts(knownHostsText).filter((e) => e.marker === '' && entryMatchesHost(e, pins.lookupName));
  return pins.lines.filter((line) => {
    const [, type, blob] = line.split(' ');
    return !present.some((e) => e.keyType === type && e.keyBase64 === blob);
  });
}

/** The base64 key blobs of the wanted lines (what the probe greps the host's file for). */
export function pinBlobs(pins: ForgePins): string[] {
  return pins.lines.map((l) => l.split(' ')[2] ?? '').filter(Boolean);
}
