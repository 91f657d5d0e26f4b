// Which release is live on a host, read the way docker-up and `hoist status` read it (docker-up's
// probe: `current`, active-slot and the slots' containers, each value checked before use), and
// in words when none is: logs, exec and ssh all refuse (or warn) with the same sentence.
import type { Settings } from '../config/settings.ts';
import type { Cmd } from '../shell-quote.ts';
import { dockerProblem } from '../../tasks/docker-up/docker-daemon.ts';
import { dockerUpProbe, type DockerUpFact, type SlotContainer } from '../../tasks/docker-up/probe.ts';
import { explicitPorts, projectOf, type Slot } from '../../tasks/docker-up/slots.ts';

export interface LiveRelease {
  /** The release the live slot runs (its app container's label; `current` when it has none). */
  release: string;
  slot: Slot;
  compose: DockerUpFact['compose'];
  /** Services with a container in the live slot, in the order Docker listed them. */
  services: string[];
  /** How many of the live slot's containers run (or restart). */
  running: number;
  /** State of each of the live slot's containers: running, exited, ... */
  states: string[];
}

/** What of docker-up's fact says which release is live. */
export type LiveFact = Pick<DockerUpFact, 'current' | 'active' | 'docker' | 'systemd' | 'compose'> & {
  containers: Pick<SlotContainer, 'slot' | 'service' | 'release' | 'state'>[];
};

export type LiveVerdict = { live: LiveRelease; problem?: undefined } | { live?: undefined; problem: string };

/** docker-up's own probe, asked as docker-up asks it: one round trip, the same checks of what it reads. */
export function liveProbe(s: Pick<Settings, 'appName' | 'appService' | 'healthPath' | 'bluePort' | 'greenPort'>): Cmd {
  return dockerUpProbe({ app: s.appName, service: s.appService, healthPath: s.healthPath, ports: explicitPorts(s) });
}

const FIRST = 'Fix: run `hoist run release` first';

/**
 * The live release, or why there is none: no `current` or active-slot, Docker not answering, or
 * no container of the live slot. A slot whose containers all stopped still counts as live here
 * (its logs are what one wants after a crash); `needsRunning` says whether the caller needs one.
 */
export function liveRelease(f: LiveFact, app: string, service: string, user: string): LiveVerdict {
  if (!f.current) return { problem: `no release of ${app} is live (there is no ~/apps/${app}/current). ${FIRST}` };
  if (!f.active) return { problem: `no release of ${app} is live (~/apps/${app}/active-slot is missing). ${FIRST}` };
  const docker = dockerProblem(f, user);
  if (docker) return { problem: docker };
  const mine = f.containers.filter((c) => c.slot === f.active);
  if (!mine.length) {
    return { problem: `no release of ${app} is live: the ${f.active} slot (compose project ${projectOf(app, f.active)}) has no containers. ${FIRST}` };
  }
  const labelled = mine.find((c) => c.service === service && c.release)?.release;
  return {
    live: {
      release: labelled ?? f.current,
      slot: f.active,
      compose: f.compose,
      services: [...new Set(mine.map((c) => c.service).filter(Boolean))],
      running: mine.filter((c) => c.state === 'running' || c.state === 'restarting').length,
      states: mine.map((c) => c.state),
    },
  };
}

/** Why the live slot cannot run a one-off container (or null when it can). */
export function notRunning(live: LiveRelease, app: string): string | null {
  if (live.running > 0) return null;
  return `no release of ${app} is live: the containers of the ${live.slot} slot (compose project ${projectOf(app, live.slot)}) are not running (${[...new Set(live.states)].join(', ')}). ${FIRST} (hoist status shows more)`;
}

/** The service is not one the live slot runs: say which ones it does. */
export function unknownService(live: LiveRelease, service: string): string | null {
  if (live.services.includes(service)) return null;
  return `the live slot (${live.slot}) has no container of service "${service}"; it runs: ${live.services.join(', ') || 'none'}. Fix: --service ${live.services[0] ?? 'NAME'} (or set APP_SERVICE)`;
}
