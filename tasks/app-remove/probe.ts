// app-remove's probe: ONE command, as root (the Caddy files are root's, a container may have left
// root-owned files in a release), that reports everything the app has on the host: its Caddy
// site and whether other sites use the import, the deploy user's crontab, every container, image,
// and the volumes and networks labelled with the app's two compose projects, ~/apps/APP, the
// deploy key's files, ~/.ssh/config and git's url.*.insteadof. File contents come back base64, so
// nothing a file holds can add lines (fields) to the answer; every name read is checked in parse.
import { RemoteCommandError } from '../../lib/errors.ts';
import type { ExecResult } from '../../lib/exec/executor.ts';
import { appLayout, isReleaseName } from '../../lib/release/layout.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';
import { CADDYFILE, SITES_DIR } from '../caddy-reload/caddyfile.ts';
import { projectOf } from '../docker-up/slots.ts';
import { stateProject } from '../docker-up/stateful.ts';
import { keyRecordFile, parseKeyRecord } from '../deploy-key/key-record.ts';
import type { Container, Image, RemoveFact, RemoveWanted } from './types.ts';

/** One line per container: ids and state plain, name and labels as JSON (one line, escaped). */
export const CONTAINER_FORMAT = 'ctr {{.Id}} {{.Image}} {{.State.Status}} {{json .Name}} {{json .Config.Labels}}';
export const IMAGE_FORMAT = 'img {{.ID}} {{.Size}} {{.Repository}}:{{.Tag}}';

/** The app's compose projects: its two slots and its stateful services (docker-up/stateful.ts). */
export function projects(app: string): string[] {
  return [projectOf(app, 'blue'), projectOf(app, 'green'), stateProject(app)];
}

/** What hoist itself made for the app (its volumes, its shared network) carries this label. */
export const HOIST_MADE = 'hoist';

export function removeProbe(w: Pick<RemoveWanted, 'app' | 'user' | 'sitePath' | 'caRootPath' | 'keyFile'>): Cmd {
  const L = appLayout(w.app);
  const label = (p: string) => `label=com.docker.compose.project=${p}`;
  const labelled = projects(w.app).map(
    (p) => sh`docker volume ls -q --filter ${label(p)} | while IFS= read -r v; do printf 'vol %s %s\\n' ${p} "$v"; done
docker network ls --no-trunc --filter ${label(p)} --format ${`net ${p} {{.ID}} {{.Name}}`}`,
  );
  const made = `label=hoist.app=${w.app}`;
  const hoistMade = sh`docker volume ls -q --filter ${made} | while IFS= read -r v; do printf 'vol %s %s\\n' ${HOIST_MADE} "$v"; done
docker network ls --no-trunc --filter ${made} --format ${`net ${HOIST_MADE} {{.ID}} {{.Name}}`}`;
  return sh`home=$(getent passwd ${w.user} | cut -d: -f6)
[ -n "$home" ] && cd "$home" || { echo ${`no home for user ${w.user}`} >&2; exit 97; }
printf 'home=%s\\n' "$home"
if [ -f ${w.sitePath} ]; then echo "site=$(base64 -w0 < ${w.sitePath})"; else echo site=-; fi
if [ -f ${CADDYFILE} ]; then echo "caddyfile=$(base64 -w0 < ${CADDYFILE})"; echo "caddyfile_stat=$(stat -c '%a %U:%G' ${CADDYFILE})"; else echo caddyfile=-; fi
if pidof caddy >/dev/null; then echo caddy=running; else echo caddy=stopped; fi
if [ -e ${w.caRootPath} ]; then echo caroot=yes; else echo caroot=no; fi
for f in ${SITES_DIR}/*.caddy; do if [ -e "$f" ] || [ -L "$f" ]; then printf 'othersite=%s\\n' "$(printf '%s' "\${f##*/}" | base64 -w0)"; fi; done
if crontab -u ${w.user} -l >/dev/null 2>&1; then printf 'crontab='; crontab -u ${w.user} -l | base64 -w0; echo; else echo crontab=-; fi
if ! command -v docker >/dev/null 2>&1; then echo docker=absent
elif ! timeout 20 docker info >/dev/null 2>&1; then echo docker=down
else
echo docker=yes
ids=$(docker ps -aq --no-trunc); [ -z "$ids" ] || docker inspect -f ${CONTAINER_FORMAT} $ids
docker image ls --no-trunc --format ${IMAGE_FORMAT}
${labelled[0]!}
${labelled[1]!}
${labelled[2]!}
${hoistMade}
fi
if [ -L apps ] || [ -L ${L.root} ]; then echo appdir=link; elif [ -d ${L.root} ]; then echo appdir=dir; elif [ -e ${L.root} ]; then echo appdir=other; else echo appdir=-; fi
if [ -d ${L.root} ] && [ ! -L apps ] && [ ! -L ${L.root} ]; then for d in ${L.releases}/*/; do [ -d "$d" ] || continue; n=\${d%/}; printf 'release=%s\\n' "$(printf '%s' "\${n##*/}" | tr '\\n' ' ')"; done; fi
if [ ! -L apps ]; then for d in apps/*/; do [ -d "$d" ] || continue; n=\${d%/}; printf 'hostapp=%s\\n' "\${n#apps/}"; done; for d in apps/*/releases/*/; do [ -d "$d" ] || continue; n=\${d%/}; printf 'hostrelease=%s\\n' "\${n#apps/}"; done; fi
if [ -f ${L.env} ]; then echo env=yes; else echo env=no; fi
if [ -e ${w.keyFile} ] || [ -L ${w.keyFile} ]; then echo key=yes; else echo key=no; fi
if [ -e ${`${w.keyFile}.pub`} ] || [ -L ${`${w.keyFile}.pub`} ]; then echo pubfile=yes; else echo pubfile=no; fi
if [ -f ${`${w.keyFile}.pub`} ]; then printf 'pub=%s\\n' "$(head -n 1 ${`${w.keyFile}.pub`} | head -c 4000)"; elif [ -f ${w.keyFile} ]; then printf 'pub=%s\\n' "$(ssh-keygen -y -f ${w.keyFile} 2>/dev/null | head -n 1)"; fi
if [ -f ${keyRecordFile(w.keyFile)} ] || [ -L ${keyRecordFile(w.keyFile)} ]; then echo recordfile=yes; else echo recordfile=no; fi
if [ -f ${keyRecordFile(w.keyFile)} ]; then printf 'keyrecord=%s\\n' "$(head -c 4000 ${keyRecordFile(w.keyFile)} | base64 -w0)"; fi
if [ -f .ssh/config ]; then printf 'sshconfig='; base64 -w0 .ssh/config; echo; else echo sshconfig=-; fi
if command -v git >/dev/null 2>&1; then printf 'giturls='; HOME="$home" git config --global --get-regexp '^url\\.' 2>/dev/null | base64 -w0; echo; fi
echo end=ok`;
}

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
const ID = /^(sha256:)?[0-9a-f]{12,64}$/;
const APP_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const DOCKER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
// repository[:port]/path:tag as `docker image ls` prints it (`<none>` for untagged).
const IMAGE_REF = /^([a-z0-9][a-z0-9._\/:-]*|<none>):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|<none>)$/;

export function parseRemoveProbe(w: Pick<RemoveWanted, 'app' | 'alias'>, r: ExecResult): RemoveFact {
  const fields = new Map<string, string>();
  const otherSites: string[] = [];
  const containers: Container[] = [];
  const images: Image[] = [];
  const volumes: RemoveFact['volumes'] = [];
  const networks: RemoveFact['networks'] = [];
  const releases: string[] = [];
  const hostReleases: Record<string, string[]> = {};
  const ours = new Set([...projects(w.app), HOIST_MADE]);
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('ctr ')) {
      const c = parseContainer(line);
      if (c) containers.push(c);
      continue;
    }
    const words = line.split(' ');
    if (words[0] === 'img' && words.length === 4 && ID.test(words[1]!) && IMAGE_REF.test(words[3]!)) {
      images.push({ id: words[1]!, size: words[2]!, ref: words[3]! });
    } else if (words[0] === 'vol' && words.length === 3 && ours.has(words[1]!) && DOCKER_NAME.test(words[2]!)) {
      volumes.push({ project: words[1]!, name: words[2]! });
    } else if (words[0] === 'net' && words.length === 4 && ours.has(words[1]!) && ID.test(words[2]!) && DOCKER_NAME.test(words[3]!)) {
      networks.push({ project: words[1]!, id: words[2]!, name: words[3]! });
    } else {
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1);
      if (key === 'othersite') otherSites.push(decode(value));
      else if (key === 'release') {
        if (isReleaseName(value)) releases.push(value);
      } else if (key === 'hostapp') {
        if (APP_NAME.test(value)) hostReleases[value] ??= [];
      } else if (key === 'hostrelease') {
        const [app = '', release = '', ...more] = value.split('/releases/');
        if (APP_NAME.test(app) && isReleaseName(release) && !more.length) (hostReleases[app] ??= []).push(release);
      } else fields.set(key, value);
    }
  }
  const home = fields.get('home') ?? '';
  if (r.code !== 0 || fields.get('end') !== 'ok') throw new RemoteCommandError(`probing what ${w.app} has on the host`, r.code, r.stderr);
  if (!/^\/[^\n]*[^/\n]$/.test(home)) throw new RemoteCommandError(`probing what ${w.app} has on the host (the deploy user's home is ${JSON.stringify(home)})`, r.code, r.stderr);
  const b64 = (k: string) => {
    const v = fields.get(k);
    return v === undefined || v === '-' ? null : decode(v);
  };
  const [mode = '644', owner = 'root:root'] = (fields.get('caddyfile_stat') ?? '').split(' ').filter(Boolean);
  const docker = fields.get('docker');
  const appdir = fields.get('appdir');
  const pub = fields.get('pub')?.trim();
  return {
    home,
    caddy: {
      site: b64('site'),
      caddyfile: b64('caddyfile'),
      caddyfileMode: mode,
      caddyfileOwner: owner,
      running: fields.get('caddy') === 'running',
      otherSites: otherSites.filter((n) => n !== `hoist-${w.app}.caddy`).sort(),
      caRoot: fields.get('caroot') === 'yes',
    },
    crontab: b64('crontab'),
    docker: docker === 'yes' || docker === 'down' ? docker : 'absent',
    containers,
    images,
    volumes,
    networks,
    appDir: appdir === 'dir' || appdir === 'link' || appdir === 'other' ? appdir : null,
    releases: releases.sort(),
    hostReleases,
    env: fields.get('env') === 'yes',
    key: {
      private: fields.get('key') === 'yes',
      public: fields.get('pubfile') === 'yes',
      publicKey: pub && /^[a-z0-9-]+ [A-Za-z0-9+/=]+( |$)/.test(pub) ? pub : null,
      record: parseKeyRecord(b64('keyrecord') ?? ''),
      recordFile: fields.get('recordfile') === 'yes',
    },
    sshConfig: b64('sshconfig'),
    gitUrlSections: ourUrlSections(b64('giturls') ?? '', w.alias),
  };
}

function parseContainer(line: string): Container | null {
  const m = /^ctr ([0-9a-f]{64}) (sha256:[0-9a-f]{64}) ([a-z]+) ("(?:[^"\\]|\\.)*") (.*)$/.exec(line);
  if (!m) return null;
  let name: string;
  let labels: Record<string, string> | null;
  try {
    name = String(JSON.parse(m[4]!)).replace(/^\//, '');
    labels = JSON.parse(m[5]!) as Record<string, string> | null;
  } catch {
    return null;
  }
  const label = (k: string) => (typeof labels?.[k] === 'string' ? labels[k] : '');
  return {
    id: m[1]!,
    image: m[2]!,
    state: m[3]!,
    name,
    project: label('com.docker.compose.project'),
    service: label('com.docker.compose.service'),
    release: label('hoist.release'),
  };
}

/**
 * The url.<section>.insteadof sections of git's config that deploy-key made for this app: the
 * section (the URL git rewrites to) goes through the alias host `hoist-APP-repo` itself, exactly.
 */
export function ourUrlSections(gitConfigUrls: string, alias: string): string[] {
  const sections = new Set<string>();
  const host = new RegExp(`^(?:ssh://)?(?:[^@/:\\s]+@)?${alias.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:[:/]|$)`);
  for (const line of gitConfigUrls.split('\n')) {
    const key = line.split(' ')[0] ?? '';
    if (!key.startsWith('url.') || !key.endsWith('.insteadof')) continue;
    const section = key.slice('url.'.length, -'.insteadof'.length);
    if (host.test(section)) sections.add(section);
  }
  return [...sections];
}
