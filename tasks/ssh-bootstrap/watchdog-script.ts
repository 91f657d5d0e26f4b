// The watchdog each host runs every minute (a systemd timer, or a line in /etc/cron.d), as the
// deploy user, in POSIX sh with curl and awk: what bootstrap always installs (python is not
// there on every VPS). It looks (each app's health through its live slot, its containers'
// restarts and OOM kills, free disk, certificate days left), then one awk program (DECIDE) turns
// the state kept on the host and what it saw into the new state and the alerts: a post on a
// change of state only, never again while the state holds. Its files are in ~/.hoist/watchdog
// (watchdog-files.ts); the webhook URL is read from a file (mode 600), never put on a command line.

/** Days left below which a certificate is "expiring". */
export const CERT_DAYS = 14;
/**
 * Seconds without a new restart before "restarting" ends: three of the timer's one-minute runs.
 * Time, not a count of runs: runs close together (a run by hand, one the timer delays) would
 * otherwise see a loop between two of Docker's restarts (its back-off grows to a minute) as over.
 */
export const QUIET_SECONDS = 180;

/**
 * state + observations -> new state and alerts. Inputs: the state file (`state KEY STATE SINCE
 * COUNT LAST`; LAST: for an app, the epoch second of the last restart seen) and the observations (`health APP up|down|skip CODE SLOT PORT PATH`, `restarts
 * APP COUNT OOM`, `disk FREE_KB MIN_KB`, `cert APP DOMAIN DAYS`). Output: `state ...` lines and
 * `alert\tAPP\tCHECK\tFROM\tTO\tSINCE\tTITLE\tBODY` lines, BODY shaped for `format` (lib/notify/message.ts
 * shapes the same fields: a unit test holds them together). POSIX awk (Debian's mawk).
 */
export const DECIDE = String.raw`
function esc(s) { gsub(/\\/, "/", s); gsub(/"/, "'", s); gsub(/\t/, " ", s); return s }
function size(kb) { if (kb >= 1048576) return sprintf("%.1f GiB", kb / 1048576); return sprintf("%.0f MiB", kb / 1024) }
function body(app, check, from, to, since, title, look,   text, f) {
  text = esc(title) "\\n" esc(look)
  if (format == "slack") return "{\"text\":\"" text "\"}"
  if (format == "discord") return "{\"content\":\"" text "\"}"
  f = "{\"hoist\":\"alert\",\"host\":\"" esc(host) "\",\"app\":\"" esc(app) "\",\"check\":\"" check "\",\"state\":\"" to "\",\"previous\":\"" from "\",\"since\":\"" since "\",\"look\":\"" esc(look) "\""
  return f ",\"text\":\"" text "\"}"
}
function alert(app, check, from, to, since, title,   look) {
  if (app == "-") look = "look: hoist status --hosts " host
  else look = "look: hoist logs --hosts " host " --since 15m (app " app "); hoist status --hosts " host
  if (from == "") from = "-"
  printf "alert\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", app, check, from, to, since, esc(title), body(app, check, from, to, since, title, look)
}
function keep(key, st, since, n, q) { printf "state %s %s %s %d %.0f\n", key, st, since, n, q }
# The state file by name: when it is empty, FNR == NR would hold for the observations too.
FILENAME == ARGV[1] { if ($1 == "state") { S[$2] = $3; SINCE[$2] = $4; N[$2] = $5; Q[$2] = $6 }; next }
$1 == "health" { H[$2] = $3; CODE[$2] = $4; SLOT[$2] = $5; PORT[$2] = $6; PATHOF[$2] = $7; APPS[$2] = 1 }
$1 == "restarts" { R[$2] = $3; OOM[$2] = $4 }
$1 == "disk" { DISK = 1; FREE = $2; MIN = $3 }
$1 == "cert" { CK = "cert:" $2 ":" $3; CERT[CK] = $4; CAPP[CK] = $2; CDOM[CK] = $3 }
END {
  for (a in APPS) {
    k = "app:" a; prev = S[k]; pn = N[k] + 0; q = Q[k] + 0
    n = (a in R) ? R[a] + 0 : pn
    restarted = (prev != "" && (a in R) && n > pn)
    # A clock stepped back (NTP at boot) must not hold "restarting" until it catches up.
    if (q > epoch) q = epoch
    if (restarted) q = epoch
    if (restarted) now_st = "restarting"
    else if (prev == "restarting" && epoch - q < ${QUIET_SECONDS}) now_st = "restarting"
    else if (H[a] == "skip") now_st = prev
    else now_st = H[a]
    if (now_st == "") continue
    since = (now_st == prev) ? SINCE[k] : now
    keep(k, now_st, since, n, q)
    if (now_st == prev || (prev == "" && now_st == "up")) continue
    was = (prev == "") ? "first check" : "was " prev " since " SINCE[k]
    if (now_st == "down") t = host ": " a " is DOWN since " now " (" was "): its live slot (" SLOT[a] ", 127.0.0.1:" PORT[a] PATHOF[a] ") " (CODE[a] == 0 ? "did not answer" : "answered HTTP " CODE[a])
    else if (now_st == "up") t = host ": " a " is up again since " now " (" was ")"
    else t = host ": " a " is RESTARTING in a loop since " now ": its containers restarted " (n - pn) " time(s) since the last check, " n " in all" (OOM[a] > 0 ? ", killed for lack of memory (OOM; its memory limit is too low for it)" : "")
    alert(a, "app", prev, now_st, since, t)
  }
  for (k in S) if (k ~ /^cert:/ && !(k in CERT)) { split(k, p, ":"); if (p[2] in APPS) keep(k, S[k], SINCE[k], N[k], 0) }
  for (k in CERT) {
    prev = S[k]; d = CERT[k] + 0
    now_st = (d < ${CERT_DAYS}) ? "expiring" : "ok"
    since = (now_st == prev) ? SINCE[k] : now
    keep(k, now_st, since, d, 0)
    if (now_st == prev || (prev == "" && now_st == "ok")) continue
    if (now_st == "expiring") t = host ": the certificate of " CDOM[k] " (app " CAPP[k] ") " (d < 0 ? "has EXPIRED" : "expires in " d " day(s)") ", found " now " (renewal should have happened 30 days before)"
    else t = host ": the certificate of " CDOM[k] " (app " CAPP[k] ") is renewed since " now ": " d " days left"
    alert(CAPP[k], "certificate", prev, now_st, since, t)
  }
  if (DISK && MIN + 0 > 0) {
    prev = S["disk"]
    now_st = (FREE + 0 < MIN + 0) ? "low" : "ok"
    since = (now_st == prev) ? SINCE["disk"] : now
    keep("disk", now_st, since, FREE, 0)
    if (!(now_st == prev || (prev == "" && now_st == "ok"))) {
      if (now_st == "low") t = host ": free disk is LOW since " now ": " size(FREE) " free, below ALERT_DISK_FREE (" size(MIN) ")"
      else t = host ": free disk is back above ALERT_DISK_FREE (" size(MIN) ") since " now ": " size(FREE) " free"
      alert("-", "disk", prev, now_st, since, t)
    }
  } else if (!DISK && ("disk" in S)) keep("disk", S["disk"], SINCE["disk"], N["disk"], 0)
}
`;

/**
 * answers -> what to ask next, or the observations DECIDE reads. The watchdog asks everything of
 * one kind with one curl (its config file, one block per question, each answer followed by a
 * `=KIND ...` line of curl's own: Docker's JSON never starts with `=`); this reads them back.
 * Inputs: the apps (`APP SLOT PORT PATH PATH_SET`, one line each), then the answers (a file, and
 * for phase=obs the second curl's on stdin). phase=ask
 * prints `docker down`, `retry APP PORT PATH` (a health check to repeat) and `inspect APP ID`
 * (a live container whose restarts to read); phase=obs prints the `health` and `restarts` lines
 * (no `restarts` for an app whose list or an inspection was not answered).
 */
export const SEE = String.raw`
function up(a, code) { return SET[a] ? (code ~ /^[23][0-9][0-9]$/) : (code ~ /^[1-4][0-9][0-9]$/) }
FILENAME == ARGV[1] { SLOT[$1] = $2; PORT[$1] = $3; HP[$1] = $4; SET[$1] = $5; APPS[++n] = $1; next }
/^=ping / { PING = (body == "OK" && $2 == "200"); body = ""; next }
/^=health / { CODE[$2] = $3; ASKED[$2] = 1; body = ""; next }
/^=list / {
  if ($3 == "200") { IDS[$2] = ""; s = body; while (match(s, /"Id":"[0-9a-f]+"/)) { IDS[$2] = IDS[$2] " " substr(s, RSTART + 6, RLENGTH - 7); s = substr(s, RSTART + RLENGTH) } }
  else BAD[$2] = 1
  body = ""; next
}
/^=inspect / {
  if ($3 == "200") { if (match(body, /"RestartCount":[0-9]+/)) R[$2] += substr(body, RSTART + 15, RLENGTH - 15); if (index(body, "\"OOMKilled\":true")) OOM[$2]++ }
  else BAD[$2] = 1
  body = ""; next
}
{ body = body $0 }
END {
  if (phase == "ask" && !PING) print "docker down"
  for (i = 1; i <= n; i++) {
    a = APPS[i]
    if (phase == "ask") {
      if ((a in ASKED) && !up(a, CODE[a])) print "retry", a, PORT[a], HP[a]
      if (PING) { k = split(IDS[a], ids, " "); for (j = 1; j <= k; j++) print "inspect", a, ids[j] }
      continue
    }
    if (a in ASKED) print "health", a, (up(a, CODE[a]) ? "up" : "down"), CODE[a] + 0, SLOT[a], PORT[a], HP[a]
    else print "health", a, "skip", 0, SLOT[a], PORT[a], HP[a]
    # A sum over part of the containers (one list or inspection not answered) is no count: the
    # next full one would look like new restarts. DECIDE keeps the last count instead.
    if (PING && !(a in BAD)) print "restarts", a, R[a] + 0, OOM[a] + 0
  }
}
`;

/**
 * The watchdog itself (~/.hoist/watchdog/run). Everything it writes stays in its folder. A
 * process is dear on a small VPS (each costs more than most of what the watchdog does), so the
 * shell's builtins read every file, one curl asks all health checks and Docker's container lists,
 * one more reads the live containers' restarts, and two awk programs (SEE, DECIDE) do the rest:
 * 9 programs and 9 forks a run (strace), where the earlier script made 20 and 26.
 */
export const WATCHDOG_SCRIPT = shellDollars(String.raw`#!/bin/sh
# hoist's watchdog (installed by hoist bootstrap; replaced on every bootstrap). Runs every minute
# as the deploy user; posts to NOTIFY_URL on a change of state only. Files: ~/.hoist/watchdog.
set -u
umask 077
PATH=/usr/local/bin:/usr/bin:/bin
w="$HOME/.hoist/watchdog"
cd "$w" || exit 1
# The time as text for messages and as seconds for arithmetic: one date, split by the shell.
set -- $(date -u '+%Y-%m-%dT%H:%M:%SZ %s'); now=$1; epoch=$2
log() { printf '%s %s\n' "$now" "$*" >> log; if [ "$(wc -l < log)" -gt 500 ]; then tail -n 250 log > log.tmp && mv log.tmp log; fi; }
# One run at a time: a file made with noclobber. One left by a run that died (a reboot) is taken
# over once it is older than 10 minutes.
# (Empty: making it needs no free block, so a full disk cannot leave a lock that blocks later runs.
# printf, not ':': a failed redirection of a special builtin ends a POSIX shell.)
set -C; took=no; { printf '' > running; } 2>/dev/null && took=yes; set +C
if [ $took = no ] && [ -z "$(find running -maxdepth 0 -mmin +10 2>/dev/null)" ]; then log "skipped: the previous run is still going"; exit 0; fi
trap 'rm -f running' EXIT
host=; format=; min_kb=
[ -f config ] && while IFS='=' read -r k v; do
  case "$k" in host) host=\${host:-$v};; format) format=\${format:-$v};; disk_min_kb) min_kb=\${min_kb:-$v};; esac
done < config
[ -n "$host" ] || { log "no config (run hoist bootstrap)"; exit 1; }
sock=/var/run/docker.sock
# What is known of the certificates: read once an hour (minute 17) and when first seen.
certs=' '
[ -f state ] && while read -r t k _; do case "$k" in cert:*) certs="$certs$k ";; esac; done < state
m=\${now#*T}; m=\${m#*:}; m=\${m%%:*}
# A release holds ~/.hoist/lock while it moves traffic: health is not judged then (the slot moves).
# A lock older than an hour is one a run left when it died (hoist calls it stale then too): it
# must not silence health checks for good.
busy=no
if [ -L "$HOME/.hoist/lock" ]; then
  if [ -n "$(find "$HOME/.hoist/lock" -maxdepth 0 -mmin -60 2>/dev/null)" ]; then busy=yes
  else log "the deploy lock is older than 60 min (a run that died?): health judged anyway; hoist unlock removes it"; fi
fi
printf 'url = "http://docker/_ping"\nunix-socket = "%s"\nmax-time = 10\nwrite-out = "\\n=ping %%{http_code}\\n"\n' "$sock" > ask.cfg
: > apps.tmp
certobs=
# Domains whose certificate could not be read last time (DNS not there yet, no https): asked
# again at minute 17 only, like the ones known, not with a 5 s try and a log line every minute.
misses=; [ -f cert-misses ] && read -r misses < cert-misses
nowmiss=
for d in "$HOME"/apps/*/; do
  [ -d "$d" ] || continue
  a=\${d%/}; a=\${a##*/}
  case "$a" in ''|*[!a-z0-9_-]*) continue;; esac
  slot=; [ -f "$d/active-slot" ] && read -r slot < "$d/active-slot"
  case "$slot" in blue|green) ;; *) continue;; esac
  port=-; [ -f "$d/ports" ] && while read -r s p _; do [ "$s" = "$slot" ] && { port=$p; break; }; done < "$d/ports"
  case "$port" in ''|*[!0-9]*) port=-;; esac
  hp=; doms=
  [ -f "$d/watch" ] && while IFS='=' read -r k v; do case "$k" in health) hp=\${hp:-$v};; domain) doms="$doms $v";; esac; done < "$d/watch"
  # Never in a HEALTH_PATH hoist accepts, and never into curl's config.
  case "$hp" in /*) ;; *) hp=;; esac
  case "$hp" in *'"'*|*\\*|*' '*) hp=;; esac
  set_=0; [ -n "$hp" ] && set_=1; hp=\${hp:-/}
  printf '%s %s %s %s %s\n' "$a" "$slot" "$port" "$hp" "$set_" >> apps.tmp
  if [ $busy = no ] && [ "$port" != - ]; then
    printf 'next\nurl = "http://127.0.0.1:%s%s"\noutput = "/dev/null"\nmax-time = 5\nwrite-out = "=health %s %%{http_code}\\n"\n' "$port" "$hp" "$a" >> ask.cfg
  fi
  # This app's live slot's containers (the filter: {"label":["com.docker.compose.project=APP-SLOT"]}).
  printf 'next\nurl = "http://docker/containers/json?all=1&filters=%%7B%%22label%%22%%3A%%5B%%22com.docker.compose.project%%3D%s-%s%%22%%5D%%7D"\nunix-socket = "%s"\nmax-time = 10\nwrite-out = "\\n=list %s %%{http_code}\\n"\n' "$a" "$slot" "$sock" "$a" >> ask.cfg
  for dom in $doms; do
    case "$dom" in *[!A-Za-z0-9.-]*) continue;; esac
    case "$certs" in *" cert:$a:$dom "*) [ "$m" = 17 ] || continue;; esac
    case " $misses " in *" $a:$dom "*) [ "$m" = 17 ] || { nowmiss="\${nowmiss:+$nowmiss }$a:$dom"; continue; };; esac
    # The certificate Caddy serves: a TLS handshake here.
    end=$(curl -skv --max-time 5 --resolve "$dom:443:127.0.0.1" "https://$dom/" -o /dev/null 2>&1 | sed -n 's/^\*  *expire date: //p' | head -n 1)
    if [ -n "$end" ] && t=$(date -u -d "$end" +%s 2>/dev/null); then left=$((t - epoch)); [ $left -ge 0 ] || left=$((left - 86399)); certobs="\${certobs}cert $a $dom $((left / 86400))
"
    else log "no certificate read for $dom (is https on?); asked again at minute 17"; nowmiss="\${nowmiss:+$nowmiss }$a:$dom"; fi
  done
done
[ "$nowmiss" = "$misses" ] || printf '%s\n' "$nowmiss" > cert-misses
curl -s -K ask.cfg > answers.tmp 2>/dev/null
awk -v phase=ask -f see.awk apps.tmp answers.tmp > seen.tmp
: > ask.cfg; retry=no; docker_ok=yes; sep=
while read -r what a x y; do
  case "$what" in
    docker) docker_ok=no; log "docker did not answer on $sock: restart counts not read this time";;
    retry) retry=yes
      printf '%surl = "http://127.0.0.1:%s%s"\noutput = "/dev/null"\nmax-time = 5\nwrite-out = "=health %s %%{http_code}\\n"\n' "$sep" "$x" "$y" "$a" >> ask.cfg; sep='next
';;
    inspect)
      printf '%surl = "http://docker/containers/%s/json"\nunix-socket = "%s"\nmax-time = 10\nwrite-out = "\\n=inspect %s %%{http_code}\\n"\n' "$sep" "$x" "$sock" "$a" >> ask.cfg; sep='next
';;
  esac
done < seen.tmp
# A health check that failed is tried once more, 2 s later, before an app is called down. These
# answers are read through a pipe, never kept: a container's inspection carries its environment,
# the app's secrets.
if [ -s ask.cfg ]; then
  [ $retry = no ] || sleep 2
  curl -s -K ask.cfg 2>/dev/null | awk -v phase=obs -f see.awk apps.tmp answers.tmp - > obs.tmp
else
  awk -v phase=obs -f see.awk apps.tmp answers.tmp > obs.tmp
fi
# df -P: a header line, then filesystem, size, used, available (KiB).
df -Pk "$HOME" > df.tmp 2>/dev/null
free=; { read -r _; read -r _ _ _ free _; } < df.tmp
case "$free" in ''|*[!0-9]*) log "df gave no free space for $HOME";; *) echo "disk $free \${min_kb:-0}" >> obs.tmp;; esac
printf '%s' "$certobs" >> obs.tmp
[ -f state ] || : > state
if ! awk -v now="$now" -v epoch="$epoch" -v host="$host" -v format="\${format:-json}" -f decide.awk state obs.tmp > out.tmp; then log "deciding failed (awk)"; exit 1; fi
# A full disk fails these writes: an emptied state would post every state again as new. Then the
# state is written in place (its own blocks, freed by the truncation, hold it).
saved=yes
while IFS= read -r line; do case "$line" in 'state '*) printf '%s\n' "$line" || saved=no;; esac; done < out.tmp > state.new 2>/dev/null || saved=no
if [ $saved = yes ]; then mv state.new state
else
  rm -f state.new
  while IFS= read -r line; do case "$line" in 'state '*) printf '%s\n' "$line";; esac; done < out.tmp > state 2>/dev/null
fi
url=; [ -s notify-url ] && read -r url < notify-url
sent=no; failed=no
while IFS='	' read -r kind app check from to since title body; do
  [ "$kind" = alert ] || continue
  sent=yes; outcome=kept
  if [ -n "$url" ] && [ $failed = no ]; then
    printf '%s' "$body" > body.tmp
    outcome=undelivered
    for try in 1 2 3; do
      code=$(printf 'url = "%s"\n' "$url" | curl -sg -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' --data-binary @body.tmp -K - 2>/dev/null)
      case "$code" in 2??) outcome=delivered; break;; 429|5??|000|'') ;; *) break;; esac
      [ $try = 3 ] || sleep $((try * 2))
    done
    # A receiver that is down is logged once per run, and this run's later alerts wait for no more tries.
    case "$code" in 000|'') why='no answer (refused, unreachable or timed out)';; *) why="HTTP $code";; esac
    [ $outcome = delivered ] || { failed=yes; log "alert for $app ($check $from -> $to) not delivered after $try attempt(s): $why"; }
  elif [ $failed = yes ]; then outcome=undelivered
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$since" "$app" "$check" "$from" "$to" "$outcome" "$title" >> alerts
done < out.tmp
if [ $sent = yes ] && [ "$(wc -l < alerts)" -gt 400 ]; then tail -n 200 alerts > alerts.tmp && mv alerts.tmp alerts; fi
echo "$now" > last-run
exit 0
`);

/** The script above writes the shell's \${...} so the template does not take it: made plain here. */
function shellDollars(text: string): string {
  return text.replace(/\\\$\{/g, '${');
}
