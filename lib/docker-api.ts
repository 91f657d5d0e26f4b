// Docker's Engine API on a host, read with curl through its socket: one small C process where the
// docker CLI (a large Go binary, several times the CPU per call) would start. Commands that poll
// or read many facts at once use it; what changes the host still goes through docker/compose.

/** Where dockerd listens on every host hoist bootstraps; the deploy user reaches it through the docker group. */
export const DOCKER_SOCKET = '/var/run/docker.sock';

/** The API path listing a compose project's containers, running or not. */
export function projectContainersPath(project: string): string {
  const filters = JSON.stringify({ label: [`com.docker.compose.project=${project}`] });
  return `/containers/json?all=1&filters=${encodeURIComponent(filters)}`;
}
