// The watchdog each host runs every minute (a systemd timer, or a line in /etc/cron.d), as the
// deploy user, in POSIX sh with curl and awk: what bootstrap always installs (python is not
// there on every VPS). It looks (each app's health through its live slot, its containers'
// restarts and OOM kills, free disk, certificate days left), then one awk program (DECIDE) turns
// the state kept on the host and what it saw into the new state and the alerts: a post on a
// change of state only, never again while the state holds. Its files are in ~/.hoist/watchdog
// (watchdog-files.ts); the webhook URL is read from a file (mode 600), never put on a command line.

/** Days left below which a certificate is "expiring". */
export const CERT_DAYS = 14;
/** Checks without a new restart before "restarting" ends. */
export const QUIET_RUNS = 3;

/**
 * state + observations -> new state and alerts. Inputs: the state file (`state KEY STATE SINCE
 * COUNT QUIET`) and the observations (`health APP up|down|skip CODE SLOT PORT PATH`, `restarts
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
function keep(key, st, since, n, q) { printf "state %s %s %s %d %d\n", key, st, since, n, q }
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
    if (restarted) q = 0; else q++
    if (restarted) now_st = "restarting"
    else if (prev == "restarting" && q < ${QUIET_RUNS}) now_st = "restarting"
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

/** The watchdog itself (~/.hoist/watchdog/run). Everything it writes stays in its folder. */
export const WATCHDOG_SCRIPT = shellDollars(String.raw`#!/bin/sh
# hoist's watchdog (installed by hoist bootstrap; replaced on every bootstrap). Runs every minute
# as the deploy user; posts to NOTIFY_URL on a change of state only. Files: ~/.hoist/watchdog.
set -u
umask 077
PATH=/usr/local/bin:/usr/bin:/bin
w="$HOME/.hoist/watchdog"
cd "$w" || exit 1
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log() { printf '%s %s\n' "$now" "$*" >> log; if [ "$(wc -l < log)" -gt 500 ]; then tail -n 250 log > log.tmp && mv log.tmp log; fi; }
# One run at a time; a run that died (a reboot) leaves its lock: older than 10 minutes, it is gone.
if ! mkdir run.lock 2>/dev/null; then
  if [ -n "$(find run.lock -maxdepth 0 -mmin +10 2>/dev/null)" ]; then rmdir run.lock 2>/dev/null; mkdir run.lock 2>/dev/null || exit 0
  else log "skipped: the previous run is still going"; exit 0; fi
fi
trap 'rm -f obs.tmp out.tmp body.tmp; rmdir run.lock 2>/dev/null' EXIT
conf() { sed -n "s/^$1=//p" config 2>/dev/null | head -n 1; }
host=$(conf host); format=$(conf format); min_kb=$(conf disk_min_kb)
[ -n "$host" ] || { log "no config (run hoist bootstrap)"; exit 1; }
sock=/var/run/docker.sock
dockerapi() { curl -s --max-time 10 --unix-socket "$sock" "http://docker$1" 2>/dev/null; }
docker_ok=no; [ "$(dockerapi /_ping)" = OK ] && docker_ok=yes
[ $docker_ok = yes ] || log "docker did not answer on $sock: restart counts not read this time"
: > obs.tmp
free=$(df -Pk "$HOME" 2>/dev/null | awk 'NR==2 {print $4}')
case "$free" in ''|*[!0-9]*) log "df gave no free space for $HOME";; *) echo "disk $free \${min_kb:-0}" >> obs.tmp;; esac
# A release holds ~/.hoist/lock while it moves traffic: health is not judged then (the slot moves).
busy=no; [ -L "$HOME/.hoist/lock" ] && busy=yes
for d in "$HOME"/apps/*/; do
  [ -d "$d" ] || continue
  a=\${d%/}; a=\${a##*/}
  case "$a" in ''|*[!a-z0-9_-]*) continue;; esac
  slot=$(head -c 16 "$d/active-slot" 2>/dev/null | tr -d '\n ')
  case "$slot" in blue|green) ;; *) continue;; esac
  port=$(awk -v s="$slot" '$1==s {print $2}' "$d/ports" 2>/dev/null | head -n 1)
  hp=$(sed -n 's/^health=//p' "$d/watch" 2>/dev/null | head -n 1)
  code=0; st=skip
  case "$port" in ''|*[!0-9]*) port=-;; *)
    if [ $busy = no ]; then
      for try in 1 2; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port\${hp:-/}" 2>/dev/null); code=\${code:-0}
        if [ -n "$hp" ]; then case "$code" in 2??|3??) st=up;; *) st=down;; esac
        else case "$code" in [1-4]??) st=up;; *) st=down;; esac; fi
        [ $st = up ] && break; [ $try = 1 ] && sleep 2
      done
    fi;;
  esac
  echo "health $a $st $code $slot $port \${hp:-/}" >> obs.tmp
  if [ $docker_ok = yes ]; then
    n=0; oom=0
    for id in $(dockerapi "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22com.docker.compose.project%3D$a-$slot%22%5D%7D" | grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4); do
      j=$(dockerapi "/containers/$id/json")
      c=$(printf '%s' "$j" | grep -o '"RestartCount":[0-9]*' | head -n 1 | cut -d: -f2); n=$((n + \${c:-0}))
      case "$j" in *'"OOMKilled":true'*) oom=$((oom + 1));; esac
    done
    echo "restarts $a $n $oom" >> obs.tmp
  fi
  for dom in $(sed -n 's/^domain=//p' "$d/watch" 2>/dev/null); do
    case "$dom" in *[!A-Za-z0-9.-]*) continue;; esac
    # The certificate Caddy serves, read once an hour (and on the first run): a TLS handshake here.
    if [ "$(date -u +%M)" = 17 ] || ! grep -q "^state cert:$a:$dom " state 2>/dev/null; then
      end=$(curl -skv --max-time 5 --resolve "$dom:443:127.0.0.1" "https://$dom/" -o /dev/null 2>&1 | sed -n 's/^\*  *expire date: //p' | head -n 1)
      if [ -n "$end" ] && t=$(date -u -d "$end" +%s 2>/dev/null); then echo "cert $a $dom $(( (t - $(date -u +%s)) / 86400 ))" >> obs.tmp
      else log "no certificate read for $dom (is https on?)"; fi
    fi
  done
done
[ -f state ] || : > state
if ! awk -v now="$now" -v host="$host" -v format="\${format:-json}" -f decide.awk state obs.tmp > out.tmp; then log "deciding failed (awk)"; exit 1; fi
grep '^state ' out.tmp > state.new; mv state.new state
sent=0; failed=no
grep '^alert	' out.tmp | while IFS='	' read -r _ app check from to since title body; do
  outcome=kept
  if [ -s notify-url ] && [ $failed = no ]; then
    printf '%s' "$body" > body.tmp
    outcome=undelivered
    for try in 1 2 3; do
      code=$(printf 'url = "%s"\n' "$(cat notify-url)" | curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' --data-binary @body.tmp -K - 2>/dev/null)
      case "$code" in 2??) outcome=delivered; break;; 429|5??|000|'') ;; *) break;; esac
      [ $try = 3 ] || sleep $((try * 2))
    done
    # A receiver that is down is logged once per run, and this run's later alerts wait for no more tries.
    case "$code" in 000|'') why='no answer (refused, unreachable or timed out)';; *) why="HTTP $code";; esac
    [ $outcome = delivered ] || { failed=yes; log "alert for $app ($check $from -> $to) not delivered after $try attempt(s): $why"; }
  elif [ $failed = yes ]; then outcome=undelivered
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$since" "$app" "$check" "$from" "$to" "$outcome" "$title" >> alerts
done
if [ -f alerts ] && [ "$(wc -l < alerts)" -gt 400 ]; then tail -n 200 alerts > alerts.tmp && mv alerts.tmp alerts; fi
echo "$now" > last-run
exit 0
`);

/** The script above writes the shell's \${...} so the template does not take it: made plain here. */
function shellDollars(text: string): string {
  return text.replace(/\\\$\{/g, '${');
}
