// `hoist backup` and `hoist restore FILE`. The work on the host is the script lib/backup/host-script.ts
// (installed at ~/apps/APP/bin/hoist-backup when its hash differs; it takes the host's deploy
// lock, so no release runs in the middle). Here: the settings checked before connecting, the
// archive streamed down to a local file (mode 600, it holds the app's data) with progress and
// its sha256 checked against the host's, or a local archive streamed up and handed to the script,
// which checks it whole before it touches a volume. The script's own lines are shown with the
// host's name; the app's environment never is (it stays in its containers).
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HostConfig } from '../config/load-config.ts';
import { EXIT, HoistError, UsageError } from '../errors.ts';
import { newLockInfo } from '../engine/host-lock.ts';
import { exitCodeOf, openSession } from '../exec/ssh-session.ts';
import { sh, type Cmd } from '../shell-quote.ts';
import { backupDir, BACKUP_EXIT, backupScript, backupScriptPath, backupScriptSha256 } from '../backup/host-script.ts';
import { Progress } from '../backup/progress.ts';
import type { BackupArgs, RestoreArgs } from './args.ts';
import { connectDeploy, tellHost, type HostLink } from './live-host.ts';
import { loadSelectedConfig } from './select-hosts.ts';

export async function runBackup(args: BackupArgs): Promise<number> {
  const config = loadSelectedConfig(args);
  if (args.output && config.hosts.length > 1) throw new UsageError(`--output ${args.output} names one file and ${config.hosts.length} hosts are selected. Fix: add --hosts NAME, or leave --output out (each host's archive gets its own file)`);
  let failed = 0;
  // One host after another: each archive is a full copy of an app's data, and this machine's
  // disk and link are shared by all of them.
  for (const host of config.hosts) {
    try {
      await backupOne(host, args);
    } catch (e) {
      failed++;
      tellHost(host.name, (e as Error).message);
    }
  }
  return failed ? EXIT.taskFailed : EXIT.ok;
}

export async function runRestore(args: RestoreArgs): Promise<number> {
  const config = loadSelectedConfig(args);
  if (config.hosts.length !== 1) throw new UsageError(`hoist restore puts one archive back on one host; ${config.hosts.length} are selected. Fix: hoist restore ${args.file} --hosts NAME`);
  let size: number;
  try {
    const st = statSync(args.file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    throw new UsageError(`${args.file} is not a file here. Fix: give the path of an archive hoist backup wrote (e.g. .hoist/backups/HOST/APP-STAMP.tar)`);
  }
  const host = config.hosts[0]!;
  try {
    await restoreOne(host, args, size);
    return EXIT.ok;
  } catch (e) {
    tellHost(host.name, (e as Error).message);
    return EXIT.taskFailed;
  }
}

/** Where `hoist backup` puts a host's archive unless --output says: .hoist/backups/HOST/NAME. */
export function defaultBackupPath(hostName: string, archive: string, cwd = process.cwd()): string {
  return join(cwd, '.hoist', 'backups', hostName.replace(/[^A-Za-z0-9._-]/g, '_'), archive);
}

/** `archive NAME SIZE SHA256`, the script's last line of a backup. */
export function parseArchiveLine(stdout: string): { name: string; size: number; sha256: string } | null {
  const m = /^archive ([A-Za-z0-9_.-]+\.tar) (\d+) ([0-9a-f]{64})$/m.exec(stdout);
  return m ? { name: m[1]!, size: Number(m[2]), sha256: m[3]! } : null;
}

async function backupOne(host: HostConfig, args: BackupArgs): Promise<void> {
  const s = host.settings;
  const link = await connectDeploy(host, args);
  try {
    const home = await installScript(link, host);
    const record = JSON.stringify(lockRecord('backup'));
    const made = await stream(link, host, sh`${`${home}/${backupScriptPath(s.appName)}`} create ${record}`, {});
    if (made.code === BACKUP_EXIT.lockHeld) throw new HoistError(`no backup taken: the deploy lock is held (see above). Fix: wait for that run to end, then hoist backup again`);
    if (made.code !== 0) throw new HoistError(`the backup failed on the host (exit ${made.code}, see above); no archive was kept`);
    const archive = parseArchiveLine(made.stdout);
    if (!archive) throw new HoistError('the host did not say which archive it wrote');
    const onHost = `${home}/${backupDir(s.appName)}/${archive.name}`;
    if (args.hostOnly) {
      tellHost(host.name, `backup ${onHost} (${archive.size} bytes, sha256 ${archive.sha256}), kept on the host`);
      return;
    }
    const out = args.output ?? defaultBackupPath(host.name, archive.name);
    await download(link, host, onHost, out, archive);
    if (s.backupKeep === 0) {
      await link.exec.exec(sh`rm -f ${onHost}`);
      tellHost(host.name, `backup saved to ${out} (sha256 ${archive.sha256}); BACKUP_KEEP=0: not kept on the host`);
    } else tellHost(host.name, `backup saved to ${out} (sha256 ${archive.sha256}); also kept on the host as ${onHost}`);
  } finally {
    await link.exec.close();
  }
}

async function restoreOne(host: HostConfig, args: RestoreArgs, size: number): Promise<void> {
  const s = host.settings;
  const link = await connectDeploy(host, args);
  try {
    const home = await installScript(link, host);
    const dir = `${home}/${backupDir(s.appName)}`;
    const incoming = `${dir}/incoming-${Date.now()}-${process.pid}.tar`;
    // Up first, whole: the script checks the archive before anything on the host changes.
    const progress = new Progress(`${host.name}: sending ${args.file}`, size);
    const sent = await stream(link, host, sh`mkdir -p ${dir} && chmod 700 ${dir} && cat > ${incoming}`, { stdin: createReadStream(args.file), progress });
    progress.end();
    if (sent.code !== 0 || progress.bytes !== size) {
      await link.exec.exec(sh`rm -f ${incoming}`).catch(() => undefined);
      throw new HoistError(`sending the archive failed (exit ${sent.code}); nothing changed`);
    }
    const record = JSON.stringify(lockRecord('restore'));
    const r = await stream(link, host, sh`${`${home}/${backupScriptPath(s.appName)}`} restore ${incoming} ${record}`, {});
    if (r.code === BACKUP_EXIT.refused) throw new HoistError(`${args.file} was refused (see above); nothing on the host changed`);
    if (r.code === BACKUP_EXIT.lockHeld) throw new HoistError(`not restored: the deploy lock is held (see above); nothing changed. Fix: wait for that run to end, then hoist restore again`);
    if (r.code !== 0) throw new HoistError(`the restore failed (exit ${r.code}, see above)`);
  } finally {
    await link.exec.close();
  }
}

/** The lock record the script takes: this machine, without a pid (a dead local process must not free a lock the host's script still holds). */
function lockRecord(pipeline: 'backup' | 'restore') {
  const { pid: _pid, ...info } = newLockInfo(`${pipeline}-${Date.now()}`, pipeline, null);
  return info;
}

/** The host script in place (written only when its hash differs); returns the deploy user's home. */
async function installScript(link: HostLink, host: HostConfig): Promise<string> {
  const s = host.settings;
  const script = backupScript({ app: s.appName, image: s.backupImage, keep: s.backupKeep });
  const path = backupScriptPath(s.appName);
  const r = await link.exec.exec(sh`cd && pwd && { sha256sum ${path} 2>/dev/null || echo -; }`);
  const [home = '', sum = ''] = r.stdout.split('\n');
  if (r.code !== 0 || !home.startsWith('/')) throw new HoistError(`could not read the deploy user's home on ${link.exec.label} (exit ${r.code})`);
  if (sum.split(' ')[0] !== backupScriptSha256(script)) {
    const r2 = await link.exec.exec(sh`mkdir -p ${`${home}/${path.slice(0, path.lastIndexOf('/'))}`}`);
    if (r2.code !== 0) throw new HoistError(`could not make ~/${path.slice(0, path.lastIndexOf('/'))} on ${link.exec.label}: ${r2.stderr.trim()}`);
    await link.exec.upload(`${home}/${path}`, script, { mode: 0o700 });
  }
  return home;
}

async function download(link: HostLink, host: HostConfig, onHost: string, out: string, archive: { size: number; sha256: string }): Promise<void> {
  mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
  const part = `${out}.part`;
  const hash = createHash('sha256');
  const progress = new Progress(`${host.name}: downloading`, archive.size);
  const file = createWriteStream(part, { mode: 0o600 });
  const got = await stream(link, host, sh`cat ${onHost}`, { progress, hash, sink: file });
  progress.end();
  const sum = hash.digest('hex');
  if (got.code !== 0 || progress.bytes !== archive.size || sum !== archive.sha256) {
    rmSync(part, { force: true });
    throw new HoistError(`the download of ${onHost} ${got.code !== 0 ? `failed (exit ${got.code})` : `does not match the host's (${progress.bytes} of ${archive.size} bytes, sha256 ${sum})`}; it is still on the host`);
  }
  chmodSync(part, 0o600);
  renameSync(part, out);
}

interface StreamOptions {
  stdin?: Readable;
  /** stdout goes here (with progress and hash); else it is collected. */
  sink?: NodeJS.WritableStream;
  progress?: Progress;
  hash?: ReturnType<typeof createHash>;
}

/** Runs `cmd`, streaming stdin / stdout as asked; the host's stderr lines are shown, host first. */
async function stream(link: HostLink, host: HostConfig, cmd: Cmd, o: StreamOptions): Promise<{ code: number; stdout: string }> {
  const session = await openSession(link.client, cmd.line, null);
  const { channel } = session;
  let stdout = '';
  let errLine = '';
  channel.stderr.on('data', (d: Buffer) => {
    const lines = (errLine + d.toString('utf8')).split('\n');
    errLine = lines.pop() ?? '';
    for (const line of lines) tellHost(host.name, line);
  });
  const counter = new PassThrough();
  counter.on('data', (d: Buffer) => {
    o.progress?.add(d.length);
    o.hash?.update(d);
  });
  const work: Promise<unknown>[] = [];
  if (o.stdin) work.push(pipeline(o.stdin, counter, channel));
  else {
    channel.end();
    if (o.sink) work.push(pipeline(channel, counter, o.sink));
    else channel.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  }
  if (o.stdin) channel.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  const [end] = await Promise.all([session.ended, ...work.map((p) => p.catch((e: Error) => e))]);
  if (errLine) tellHost(host.name, errLine);
  return { code: exitCodeOf(end), stdout };
}
