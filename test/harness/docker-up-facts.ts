// The port and .env parts of a docker-up fact for hand-made facts in unit tests: no record, no
// other app, nothing listening, no .env.
import type { DockerUpFact } from '../../tasks/docker-up/probe.ts';

export const NO_PORTS: Pick<DockerUpFact, 'recordedPorts' | 'otherPorts' | 'listening' | 'ownPorts' | 'envSha256'> = {
  recordedPorts: null,
  otherPorts: {},
  listening: new Map(),
  ownPorts: new Map(),
  envSha256: null,
};
