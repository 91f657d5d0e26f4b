// Loads the settings and narrows the fleet to what --hosts and --tag ask for. An empty selection
// is an error: a run that silently does nothing looks like a run that succeeded.
import { loadConfig, type LoadedConfig } from '../config/load-config.ts';
import { UsageError } from '../errors.ts';
import { registerConfigSecrets } from '../secrets/register.ts';
import type { HostArgs } from './args.ts';

export function loadSelectedConfig(args: HostArgs): LoadedConfig {
  const config = loadConfig({
    ...(args.envFile ? { envFile: args.envFile } : {}),
    ...(args.inventory ? { inventoryFile: args.inventory } : {}),
    only: args.hosts,
  });
  registerConfigSecrets(config);
  if (!args.tags.length) return config;
  const hosts = config.hosts.filter((h) => h.tags.some((t) => args.tags.includes(t)));
  if (!hosts.length) {
    const known = [...new Set(config.hosts.flatMap((h) => h.tags))].sort();
    throw new UsageError(`--tag ${args.tags.join(',')}: no selected host has that tag. Fix: use one of: ${known.join(', ') || '(no host has tags; add tags: [web] in the inventory)'}`);
  }
  return { ...config, hosts };
}
