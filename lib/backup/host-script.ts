// The host side of `hoist backup` / `hoist restore` and of a scheduled `hoist-backup` job: one
// script hoist keeps at ~/apps/APP/bin/hoist-backup (hoist backup / restore install it when its
// hash differs; cron-install does for a job). The same code runs whether the user's machine or
// cron started it, so a job's archive is the one `hoist restore` reads.
//
// `hoist-backup create [LOCK_RECORD]`: under the host's deploy lock (no release can run meanwhile),
// one archive ~/apps/APP/backups/APP-STAMP.tar of the app's volumes (the record apps/APP/volumes):
// - a stateful service (compose project APP-state) whose container carries a dump command
//   (x-hoist.backup, as labels) is dumped by it, running; its volumes are then not copied;
// - any other volume is copied by tar in a throwaway container (BACKUP_IMAGE); a running
//   stateful service mounting it is stopped for that copy (docker stop, 60 s bound) and started
//   again right after, also when the copy fails or the script is stopped (the EXIT trap).
// The archive is an uncompressed tar: parts/* first, `manifest` last (a cut archive lacks it),
// the manifest listing each part's size and sha256 and ending with its own sha256. Older
// archives beyond BACKUP_KEEP are removed (the newest one always stays). Prints
// `archive NAME SIZE SHA256` on stdout.
//
// `hoist-backup restore FILE [LOCK_RECORD]`: under the lock, unpacks FILE into a work folder and
// checks it whole (tar reads, manifest present and its own sha256, each part's size and sha256,
// the app's name) BEFORE anything else: a cut or damaged archive is refused with nothing
// changed (exit 4). A dumped service must be running (its restore command runs in it). Then the
// app's containers are stopped (slots, then stateful services), every volume it replaces (each
// recorded one, and an unrecorded hoist.APP.KEY that `hoist remove` kept) is copied to
// NAME-before-restore-STAMP (kept, never deleted here), each archived volume is emptied and
// filled from the archive (made and recorded first when the host has none: a freshly
// bootstrapped host needs no release before it), the stateful services started, dumps fed to
// their restore commands, the slots started. Any failure after the first copy puts every volume
// back from its copy, removes the volumes it made and puts the record back as it was (a release
// must not start on part of an archive), and starts the app again. Output never holds the app's environment: commands come from labels,
// values stay in the containers.
import { createHash } from 'node:crypto';
import { quote } from '../shell-quote.ts';
import { BACKUP_DUMP_LABEL, BACKUP_RESTORE_LABEL, stateProject } from '../../tasks/docker-up/stateful.ts';
import { volumesFile } from '../../tasks/docker-up/volumes.ts';

/** The script and where backups live, relative to the deploy user's home. */
export const backupScriptPath = (app: string): string => `apps/${app}/bin/hoist-backup`;
export const backupDir = (app: string): string => `apps/${app}/backups`;

/** Exit statuses the CLI tells apart. */
export const BACKUP_EXIT = { lockHeld: 75, refused: 4 } as const;

/** The word a crontab line starts with to run a backup on the host (tasks/cron-install). */
export const BACKUP_JOB_WORD = 'hoist-backup';

export interface BackupScriptInput {
  app: string;
  image: string;
  /** BACKUP_KEEP (0 keeps the newest one: a job's archive must stay somewhere). */
  keep: number;
}

export const backupScriptSha256 = (script: string): string => createHash('sha256').update(script).digest('hex');

export function backupScript(i: BackupScriptInput): string {
  return `#!/bin/sh
# Written by hoist; do not edit (hoist backup, hoist restore and a release with a hoist-backup job rewrite it).
# create: an archive of ${i.app}'s volumes in ~/${backupDir(i.app)}; restore FILE: puts one back.
set -u
umask 077
app=${quote(i.app)}
image=${quote(i.image)}
keep=${Math.max(1, i.keep)}
root="$HOME/apps/$app"
dir="$HOME/${backupDir(i.app)}"
record="$HOME/${volumesFile(i.app)}"
lock="$HOME/.hoist/lock"
state=${quote(stateProject(i.app))}
dump_label=${quote(BACKUP_DUMP_LABEL)}
restore_label=${quote(BACKUP_RESTORE_LABEL)}
locked=''; me=''; work=''; stopped=''; phase=''; saved=''; made=''; record_was=''; upload=''; held=''; slots=''; what_run=''

say() { printf '%s\\n' "$*" >&2; }
fail() { say "$1"; exit "\${2:-1}"; }

# The host's deploy lock, as hoist runs take it (lib/engine/host-lock.ts): a symlink whose target is the holder's record.
take_lock() {
  me=$1
  mkdir -p "$HOME/.hoist" && chmod 700 "$HOME/.hoist" || exit 1
  if ln -s "$me" "$lock" 2>/dev/null; then locked=1; else fail "deploy lock held by $(readlink "$lock"): a release or another backup runs; try again when it ended (hoist unlock frees a lock left behind)" 75; fi
}
free_lock() {
  if [ -n "$locked" ] && [ "$(readlink "$lock" 2>/dev/null)" = "$me" ]; then rm -f "$lock"; fi
  locked=''
}

# Our rollback stack, in the order it must unwind: volumes put back, containers started, work removed, lock freed.
finish() {
  rc=$?
  trap '' HUP INT TERM
  if [ "$phase" = swapping ]; then
    # What runs must not write while its volumes are put back: stopped again, started after.
    [ -z "$(echo $slots)" ] || docker stop -t 10 $slots >/dev/null 2>&1
    [ -z "$(echo $held)" ] || docker stop -t 60 $held >/dev/null 2>&1
    put_back
    stopped="$held $slots"
  fi
  if [ -n "$(echo $stopped)" ]; then docker start $stopped >/dev/null 2>&1 || say "could not start again: $stopped (docker start them)"; fi
  [ -z "$work" ] || rm -rf "$work"
  [ -z "$upload" ] || rm -f "$upload"
  if [ -n "$locked" ]; then
    result=ok; [ "$rc" -eq 0 ] || result=failed
    printf '{"at":"%s","pipeline":"%s","result":"%s","exit":%s}\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$what_run" "$result" "$rc" >> "$HOME/.hoist/audit.log"
  fi
  free_lock
  exit "$rc"
}
trap finish EXIT
# The user's connection may go mid-run: a write to it then must not kill the script before its
# EXIT trap has started the app again and freed the lock (SIGPIPE ignored: the write just fails).
trap '' PIPE
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

valid_name() { case "$1" in ''|*[!A-Za-z0-9_.-]*) return 1;; *) return 0;; esac; }

# Stateful containers: "ID RUNNING SERVICE VOL1,VOL2," per line.
state_containers() {
  for id in $(docker ps -aq --filter "label=com.docker.compose.project=$state"); do
    docker inspect --format '{{.Id}} {{.State.Running}} {{index .Config.Labels "com.docker.compose.service"}} {{range .Mounts}}{{if eq .Type "volume"}}{{.Name}},{{end}}{{end}}' "$id" || return 1
  done
}
label_of() { docker inspect --format "{{index .Config.Labels \\"$2\\"}}" "$1"; }

# Copies volume $1 into volume $2 (emptied first), in a throwaway container.
copy_volume() {
  docker run --rm -v "$1:/from:ro" -v "$2:/to" --entrypoint sh "$image" -c 'cd /to && rm -rf -- ./* ./.[!.]* ./..?* && cp -a /from/. /to/'
}

# A job's lock record (hoist backup passes its own, naming the user's machine).
job_record() {
  printf '{"who":"hoist-backup job on %s","run":"backup-%s","pipeline":"backup","revision":null,"since":"%s"}' "$(uname -n)" "$(date -u +%s)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

create() {
  what_run=backup
  r=$1; [ -n "$r" ] || r=$(job_record)
  take_lock "$r"
  [ -f "$record" ] || fail "$app has no volumes recorded in $record: nothing to back up (a release of an app with named volumes records them)"
  mkdir -p "$dir" && chmod 700 "$dir" || exit 1
  # One archive a second at most (the name is the time): a second backup within it waits (bounded).
  tries=0
  while stamp=$(date -u +%Y%m%dT%H%M%SZ); [ -e "$dir/$app-$stamp.tar" ] && [ "$tries" -lt 3 ]; do tries=$((tries + 1)); sleep 1; done
  work="$dir/.work-$stamp"
  mkdir "$work" "$work/parts" || exit 1
  list="$work/list"
  : > "$list"
  states=$(state_containers) || fail "could not read the stateful services of $app"
  dumped=','
  while read -r id running service mounts; do
    [ -n "$id" ] || continue
    cmd=$(label_of "$id" "$dump_label") || exit 1
    [ -n "$cmd" ] || continue
    [ "$running" = true ] || fail "the stateful service $service is not running: its backup command (x-hoist.backup.dump) runs in it. Fix: start it (hoist run release), then back up again"
    valid_name "$service" || fail "unexpected service name"
    say "dumping $service (its x-hoist.backup.dump command)"
    docker exec "$id" sh -c "$cmd" > "$work/parts/dump-$service" || fail "the backup command of $service failed (exit $?): nothing was kept"
    printf 'dump %s dump-%s\\n' "$service" "$service" >> "$list"
    dumped="$dumped$mounts"
  done <<EOF
$states
EOF
  while read -r key name; do
    [ -n "$key" ] || continue
    valid_name "$key" && valid_name "$name" || fail "$record holds an unexpected line; it lists KEY NAME per volume"
    case "$dumped" in *",$name,"*) say "volume $key: in the dump of its service"; continue;; esac
    docker volume inspect "$name" >/dev/null 2>&1 || fail "volume $name ($key) is recorded for $app but not on this host"
    hold=''
    while read -r id running service mounts; do
      [ -n "$id" ] && [ "$running" = true ] || continue
      case ",$mounts" in *",$name,"*) hold="$hold $id";; esac
    done <<EOF
$states
EOF
    if [ -n "$hold" ]; then
      say "stopping the stateful services on $key for the copy"
      stopped="$hold"
      docker stop -t 60 $hold >/dev/null || fail "could not stop the services on volume $key"
    fi
    say "copying volume $key ($name)"
    docker run --rm -v "$name:/v:ro" --entrypoint tar "$image" -C /v -cf - . > "$work/parts/volume-$key.tar"
    copied=$?
    if [ -n "$stopped" ]; then docker start $stopped >/dev/null || fail "could not start again: $stopped"; stopped=''; fi
    [ "$copied" -eq 0 ] || fail "copying volume $key failed (exit $copied; BACKUP_IMAGE $image needs sh and tar)"
    printf 'volume %s volume-%s.tar %s\\n' "$key" "$key" "$name" >> "$list"
  done < "$record"
  [ -s "$list" ] || fail "$app has no volumes to back up"
  {
    printf 'hoist-backup 1\\napp %s\\ncreated %s\\n' "$app" "$stamp"
    while read -r kind what file rest; do
      printf '%s %s %s %s %s\\n' "$kind" "$what" "$file" "$(wc -c < "$work/parts/$file" | tr -d ' ')" "$(sha256sum < "$work/parts/$file" | cut -d' ' -f1)"
    done < "$list"
  } > "$work/manifest.body" || exit 1
  { cat "$work/manifest.body"; printf 'manifest-sha256 %s\\n' "$(sha256sum < "$work/manifest.body" | cut -d' ' -f1)"; } > "$work/manifest"
  name="$app-$stamp.tar"
  (cd "$work" && tar -cf "$dir/.$name.tmp" parts manifest) || fail "writing the archive failed (is the disk full?)"
  mv -f "$dir/.$name.tmp" "$dir/$name" || exit 1
  # Retention: the newest $keep archives stay.
  set -- $(cd "$dir" && ls | grep -E "^$app-[0-9]{8}T[0-9]{6}Z\\.tar\$" | sort)
  n=$#
  while [ "$n" -gt "$keep" ]; do rm -f "$dir/$1"; shift; n=$((n - 1)); done
  printf 'archive %s %s %s\\n' "$name" "$(wc -c < "$dir/$name" | tr -d ' ')" "$(sha256sum < "$dir/$name" | cut -d' ' -f1)"
}

refuse() { fail "refused, nothing changed: $1" 4; }

# A failure after the first copy: every volume kept aside back from its copy; the volumes this
# restore made removed (they held nothing before it and only part of the archive now: on a fresh
# host a release would otherwise start the app on half the data); the record as it was.
put_back() {
  phase=''
  for pair in $saved; do
    vol=\${pair%%=*}; copy=\${pair#*=}
    if copy_volume "$copy" "$vol" >/dev/null 2>&1; then say "put back $vol as it was"; else say "could NOT put back $vol: its data before the restore is in volume $copy"; fi
  done
  for vol in $made; do
    docker volume inspect "$vol" >/dev/null 2>&1 || continue
    if docker volume rm "$vol" >/dev/null 2>&1; then say "removed $vol (made by this restore, only part of the archive in it)"; else say "could NOT remove $vol, made by this restore with only part of the archive in it: docker volume rm $vol before a release uses it"; fi
  done
  case "$record_was" in
    none) rm -f "$record";;
    kept) cp "$work/record.before" "$record" || say "could NOT put back $record: its lines before the restore are in $work/record.before";;
  esac
}

# Volume $1 (key $2) copied to $1-before-restore-STAMP, kept: what the restore replaces.
keep_aside() {
  copy="$1-before-restore-$stamp"
  docker volume create --label "hoist.app=$app" --label "hoist.before-restore=$2" "$copy" >/dev/null && copy_volume "$1" "$copy" || fail "copying $1 aside failed"
  saved="$saved $1=$copy"
  say "kept $1 as $copy"
}

restore() {
  what_run=restore
  file=$1
  case "$file" in "$dir"/incoming-*) upload=$file;; esac
  take_lock "$2"
  [ -f "$file" ] || refuse "$file is not on the host"
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  work="$dir/.restore-$stamp"
  mkdir -p "$work" || exit 1
  tar -C "$work" -xf "$file" 2>/dev/null || refuse "the archive is not a whole tar file (cut short or damaged)"
  [ -f "$work/manifest" ] || refuse "the archive has no manifest (cut short?)"
  sed '$d' "$work/manifest" > "$work/manifest.body"
  [ "$(tail -n 1 "$work/manifest")" = "manifest-sha256 $(sha256sum < "$work/manifest.body" | cut -d' ' -f1)" ] || refuse "the manifest does not match its checksum (damaged)"
  [ "$(sed -n 1p "$work/manifest.body")" = 'hoist-backup 1' ] || refuse "not a hoist backup (version 1)"
  [ "$(sed -n 2p "$work/manifest.body")" = "app $app" ] || refuse "the archive is of $(sed -n 2p "$work/manifest.body" | cut -c5-64), not $app"
  tail -n +4 "$work/manifest.body" > "$work/parts.list"
  states=$(state_containers) || fail "could not read the stateful services of $app"
  while read -r kind what file size sum rest; do
    valid_name "$what" && valid_name "$file" || refuse "the manifest holds an unexpected line"
    [ -f "$work/parts/$file" ] || refuse "part $file is missing"
    [ "$(wc -c < "$work/parts/$file" | tr -d ' ')" = "$size" ] || refuse "part $file has the wrong size (cut short?)"
    [ "$(sha256sum < "$work/parts/$file" | cut -d' ' -f1)" = "$sum" ] || refuse "part $file does not match its sha256 (damaged)"
    if [ "$kind" = dump ]; then
      id=$(printf '%s\\n' "$states" | while read -r i r s m; do [ "$s" = "$what" ] && [ "$r" = true ] && echo "$i"; done | head -n 1)
      [ -n "$id" ] || refuse "the stateful service $what is restored by its restore command, which runs in it, and it is not running here. Fix: hoist run release first, then hoist restore again"
      [ -n "$(label_of "$id" "$restore_label")" ] || refuse "the stateful service $what has no x-hoist.backup.restore command here"
    elif [ "$kind" != volume ]; then refuse "the manifest holds an unexpected line"; fi
  done < "$work/parts.list"
  say "archive checked: every part matches its sha256"
  # Stop the app: its slots first, then its stateful services (started in the other order).
  slots=$(docker ps -q --filter "label=com.docker.compose.project=$app-blue"; docker ps -q --filter "label=com.docker.compose.project=$app-green")
  held=$(docker ps -q --filter "label=com.docker.compose.project=$state")
  if [ -n "$slots$held" ]; then
    say "stopping $app"
    stopped="$held $slots"
    # Compose's own bound for the slots (10 s); a database gets a minute to flush.
    { [ -z "$slots" ] || docker stop -t 10 $slots >/dev/null; } && { [ -z "$held" ] || docker stop -t 60 $held >/dev/null; } || fail "could not stop $app's containers; nothing changed"
  fi
  if [ -f "$record" ]; then cp "$record" "$work/record.before" || fail "could not keep a copy of $record; nothing changed"; record_was=kept; else record_was=none; fi
  phase=swapping
  # Keep what is replaced: every recorded volume copied first.
  if [ -f "$record" ]; then
    while read -r key name; do
      valid_name "$key" && valid_name "$name" || continue
      docker volume inspect "$name" >/dev/null 2>&1 || continue
      keep_aside "$name" "$key"
    done < "$record"
  fi
  while read -r kind what file size sum rest; do
    [ "$kind" = volume ] || continue
    name=$( [ -f "$record" ] && while read -r k n; do [ "$k" = "$what" ] && echo "$n"; done < "$record" | head -n 1)
    if [ -z "$name" ]; then
      name="hoist.$app.$what"
      if docker volume inspect "$name" >/dev/null 2>&1; then
        # There but not recorded (hoist remove keeps the volumes and deletes ~/apps/APP with the record): kept like a recorded one.
        keep_aside "$name" "$what"
      else
        made="$made $name"
        docker volume create --label "hoist.app=$app" --label "hoist.volume=$what" "$name" >/dev/null || fail "making volume $name failed"
      fi
      mkdir -p "$root" && printf '%s %s\\n' "$what" "$name" >> "$record" || fail "recording volume $name failed"
    fi
    say "restoring volume $what ($name)"
    docker run --rm -i -v "$name:/v" --entrypoint sh "$image" -c 'cd /v && rm -rf -- ./* ./.[!.]* ./..?* && tar -xf -' < "$work/parts/$file" || fail "restoring volume $what failed"
  done < "$work/parts.list"
  if [ -n "$held" ]; then docker start $held >/dev/null || fail "could not start the stateful services again"; fi
  stopped="$slots"
  while read -r kind what file size sum rest; do
    [ "$kind" = dump ] || continue
    id=$(docker ps -q --filter "label=com.docker.compose.project=$state" --filter "label=com.docker.compose.service=$what" | head -n 1)
    [ -n "$id" ] || fail "the stateful service $what did not start again"
    say "restoring $what (its x-hoist.backup.restore command)"
    docker exec -i "$id" sh -c "$(label_of "$id" "$restore_label")" < "$work/parts/$file" >/dev/null || fail "the restore command of $what failed"
  done < "$work/parts.list"
  phase=''
  if [ -n "$slots" ]; then docker start $slots >/dev/null || fail "could not start $app again (docker start $slots)"; fi
  stopped=''
  say "restored $app from the archive of $(sed -n 3p "$work/manifest.body" | cut -c9-)"
}

case "\${1:-}" in
  create) shift; create "\${1:-}";;
  restore) [ $# -ge 3 ] || fail "usage: hoist-backup restore FILE LOCK_RECORD" 2; restore "$2" "$3";;
  *) fail "usage: hoist-backup create | hoist-backup restore FILE LOCK_RECORD" 2;;
esac
`;
}
