// `hoist status`: how each host is doing right now, read-only. One connection per host and the
// probes the release tasks already have (docker-up's, caddy-reload's, dns-verify's, the deploy
// lock's) plus one for every app on the host and Docker's disk (apps-probe.ts), sent concurrently
// over it, so status costs about one round trip after the handshake.
import type { HostConfig } from '../config/load-config.ts';
import type { ConnectableExecutor } from '../exec/executor-pool.ts';
import type { ExecResult } from '../exec/executor.ts';
import { describeHolder, parseLockProbe, peekCommand } from '../engine/host-lock.ts';
import type { TaskInput } from '../engine/task.ts';
import { caddyReload } from '../../tasks/caddy-reload.ts';
import { httpCheck } from '../../tasks/caddy-reload/commands.ts';
import { certificateCheck, certificateStatus, parseCertificateCheck, type CertificateStatus } from '../../tasks/caddy-reload/certificate.ts';
import { dnsVerify } from '../../tasks/dns-verify.ts';
import { dockerUp } from '../../tasks/docker-up.ts';
import { dockerProblem } from '../../tasks/docker-up/docker-daemon.ts';
import { parseDockerUpFact, type DockerUpFact } from '../../tasks/docker-up/probe.ts';
import { slotProblem } from '../../tasks/docker-up/slot-health.ts';
import { appsProbe, parseAppsFact } from './apps-probe.ts';
import { appStatuses, type AppStatus } from './app-status.ts';
import { diskUse, type HostDisk } from './disk-use.ts';
import { healthState, worstState, type HealthState } from './health-state.ts';
import { lastAlertsCommand, parseLastAlerts, type WatchdogView } from './last-alerts.ts';

export interface Check {
  ok: boolean;
  detail: string;
  /** Set where a check can be "starting" (containers whose health check has not passed yet): health-state.ts. */
  state?: HealthState;
}

export interface HostStatus {
  name: string;
  address: string;
  reachable: Check;
  release: string | null;
  commit: string | null;
  containers: Check;
  dns: Check;
  caddy: Check;
  lock: { held: boolean; detail: string };
  /** Every hoist app on the host (each folder in ~/apps), the settings' app among them. */
  apps?: AppStatus[];
  /** Docker's disk: free space, all images, build cache, dangling images; null when not read. */
  disk?: HostDisk | null;
  /** Why the apps and disk could not be read, when they could not. */
  appsProblem?: string;
  /** CADDY_TLS=auto: per domain the certificate Caddy serves (issuer, days left, a warning under 14). */
  certificates?: CertificateStatus[];
  /** The host's watchdog: its last alerts per app (last-alerts.ts); null when it could not be read. */
  watchdog?: WatchdogView | null;
  /** Reachable, the settings' app serving, DNS and Caddy right, and every app on the host serving. */
  healthy: boolean;
  /** healthy; starting: not healthy only because health checks have not passed yet since a start; else unhealthy. */
  state: HealthState;
}

const unknown = (why: string): Check => ({ ok: false, detail: why });

export async function hostStatus(host: HostConfig, exec: ConnectableExecutor): Promise<HostStatus> {
  const input: TaskInput = { host, loginUser: host.settings.deployUser };
  const address = `${host.address}:${host.settings.sshPort}`;
  const dns = dnsCheck(input);
  try {
    await exec.connect();
  } catch (e) {
    const why = `not reachable: ${(e as Error).message}`;
    return finish({ name: host.name, address, reachable: { ok: false, detail: (e as Error).message }, release: null, commit: null, containers: unknown(why), dns: await dns, caddy: unknown(why), lock: { held: false, detail: 'unknown' }, apps: [], disk: null });
  }
  const docker = dockerUp.want(input) as Awaited<ReturnType<typeof dockerUp.want>>;
  const caddy = caddyReload.want(input) as Awaited<ReturnType<typeof caddyReload.want>>;
  const dockerProbe = dockerUp.probe(docker, input) as { command: Parameters<ConnectableExecutor['exec']>[0] };
  const caddyProbe = caddyReload.probe(caddy, input) as { command: Parameters<ConnectableExecutor['exec']>[0]; sudo?: boolean; parse(r: ExecResult): unknown };
  // Sent with the others, read at the end: what https://DOMAIN serves, under CADDY_TLS=auto.
  const certR = caddy.tls === 'auto' ? exec.exec(certificateCheck(caddy.domains, host.settings.healthPath)).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message })) : null;
  const watchdogR = exec.exec(lastAlertsCommand()).catch(() => null);
  const [lockR, dockerR, caddyR, httpR, appsR] = await Promise.all([
    exec.exec(peekCommand(`apps/${host.settings.appName}/current`)),
    exec.exec(dockerProbe.command),
    exec.exec(caddyProbe.command, { sudo: caddyProbe.sudo ?? false }),
    exec.exec(httpCheck(caddy.domains, caddy.tls), { sudo: true }),
    exec.exec(appsProbe({ app: docker.app, healthPath: docker.healthPath })),
  ]);
  const lock = parseLockProbe(lockR);
  let fact: DockerUpFact | null = null;
  let containers: Check;
  try {
    fact = parseDockerUpFact(dockerR, docker.app);
    containers = containerCheck(fact, docker.service, docker.user);
  } catch (e) {
    containers = unknown((e as Error).message);
  }
  let caddyCheck: Check;
  try {
    const plan = caddyReload.plan(caddy, caddyProbe.parse(caddyR) as never, input);
    const codes = httpR.stdout.trim().split('\n').filter(Boolean).map((l) => l.split(' '));
    const bad = codes.filter(([, code]) => !code || Number(code) >= 500);
    if (plan.changes) caddyCheck = { ok: false, detail: `config differs: ${plan.steps.map((s) => s.describe).join('; ')}` };
    else if (httpR.code !== 0) caddyCheck = { ok: false, detail: `does not answer: ${httpR.stderr.trim().split('\n').pop() ?? ''}` };
    // A 5xx while the app's containers are still starting is their start, not Caddy's fault (settled below).
    else if (bad.length) caddyCheck = { ok: false, detail: bad.map(([d, c]) => `${d} answers ${c}`).join(', '), state: 'starting' };
    else caddyCheck = { ok: true, detail: codes.map(([d, c]) => `${d} ${c}`).join(', ') };
  } catch (e) {
    caddyCheck = unknown((e as Error).message);
  }
  const release = lock.current ?? fact?.current ?? null;
  let apps: AppStatus[] = [];
  let disk: HostDisk | null = null;
  let appsProblem: string | undefined;
  try {
    const appsFact = parseAppsFact(appsR);
    const use = diskUse(appsFact);
    disk = use.host;
    apps = appStatuses(appsFact, use, { app: docker.app, service: docker.service, healthPath: docker.healthPath, docker: fact ? dockerProblem(fact, docker.user) : null });
  } catch (e) {
    appsProblem = (e as Error).message;
  }
  if (caddyCheck.state === 'starting' && containers.state !== 'starting' && !apps.some((a) => a.health.state === 'starting')) caddyCheck = { ok: false, detail: caddyCheck.detail };
  return finish({
    name: host.name,
    address,
    reachable: { ok: true, detail: exec.label },
    release,
    commit: release?.split('-')[1] ?? null,
    containers,
    dns: await dns,
    caddy: caddyCheck,
    lock: lock.heldBy ? { held: true, detail: describeHolder(lock.heldBy) } : { held: false, detail: 'free' },
    apps,
    disk,
    ...(appsProblem ? { appsProblem } : {}),
    watchdog: await watchdogR.then((r) => (r ? parseLastAlerts(r) : null)),
    ...(certR ? { certificates: certificateStatus(parseCertificateCheck((await certR).stdout, caddy.domains), new Date()) } : {}),
  });
}

function finish(s: Omit<HostStatus, 'healthy' | 'state'>): HostStatus {
  const healthy = s.reachable.ok && s.containers.ok && s.dns.ok && s.caddy.ok && (s.apps ?? []).every((a) => a.health.ok) && (s.certificates ?? []).every((c) => !c.warning);
  const of = (c: Check): HealthState => (c.ok ? 'healthy' : (c.state ?? 'unhealthy'));
  const certs: HealthState = (s.certificates ?? []).every((c) => !c.warning) ? 'healthy' : 'unhealthy';
  const state = healthy ? 'healthy' : worstState([of(s.reachable), of(s.containers), of(s.dns), of(s.caddy), certs, ...(s.apps ?? []).map((a) => a.health.state)]);
  return { ...s, healthy, state };
}

/** Docker answering, the live slot's containers all running (healthy where checked), its port answering. */
function containerCheck(f: DockerUpFact, service: string, user: string): Check {
  const docker = dockerProblem(f, user);
  if (docker) return { ok: false, detail: docker };
  if (!f.active) return { ok: false, detail: 'no release has been brought up' };
  const problem = slotProblem(f, f.active, service);
  if (problem) {
    const live = f.containers.filter((c) => c.slot === f.active);
    const state = live.some((c) => c.service === service) ? healthState(live) : 'unhealthy';
    return { ok: false, detail: `${state === 'starting' ? 'starting: ' : ''}${problem}`, state };
  }
  const running = f.containers.filter((c) => c.slot === f.active).length;
  return { ok: true, detail: `${running} running in the ${f.active} slot, health ${f.http[f.active]}` };
}

async function dnsCheck(input: TaskInput): Promise<Check> {
  try {
    const w = dnsVerify.want(input) as Awaited<ReturnType<typeof dnsVerify.want>>;
    const probe = dnsVerify.probe(w, input) as { local(): Promise<Parameters<typeof dnsVerify.plan>[1]> };
    const plan = dnsVerify.plan(w, await probe.local(), input);
    return plan.changes ? { ok: false, detail: plan.steps.map((s) => s.describe).join('; ') } : { ok: true, detail: plan.reason };
  } catch (e) {
    return unknown((e as Error).message);
  }
}
