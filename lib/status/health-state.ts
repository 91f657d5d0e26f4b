// One word for how a check of `hoist status` stands: healthy; starting (nothing is wrong except
// health checks that have not passed yet since their container started, as in the first seconds
// after a reboot or a restart); unhealthy. `hoist status --wait` waits through "starting".

export type HealthState = 'healthy' | 'starting' | 'unhealthy';

/**
 * For containers that are not all healthy: "starting" when at least one is running with Docker's
 * health "starting" and none has stopped or is unhealthy; else "unhealthy".
 */
export function healthState(containers: { state: string; health: string }[]): HealthState {
  const starting = containers.some((c) => c.state === 'running' && c.health === 'starting');
  const broken = containers.some((c) => c.state !== 'running' || c.health === 'unhealthy');
  return starting && !broken ? 'starting' : 'unhealthy';
}

/** The worst of several states (a host is as healthy as its least healthy check). */
export function worstState(states: HealthState[]): HealthState {
  return states.includes('unhealthy') ? 'unhealthy' : states.includes('starting') ? 'starting' : 'healthy';
}
