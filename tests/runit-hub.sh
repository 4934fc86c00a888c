#!/bin/bash
# runit-hub.sh - a whole hub under runit, by the shipped service
# directories (units/runit/, unchanged; the layout of this test in each
# one's ./conf, the documented place): runsvdir (not PID 1) on a private
# service directory, in the production setup (tests/nosystemd-lib.bash: its
# own users, the 1770 spool, a set-gid spool-inject):
#   postern-smtpd  smtp-listen on a loopback port, bound as root, then the
#                  smtpd user with the inject group; its log through svlogd
#   postern-queue  queue-run --daemon; its log through svlogd
# Mail sent with swaks and with Python's smtplib arrives in a Maildir; the
# log lines land in svlogd's current files; the session cannot list the
# spool; 100 idle connections from 127.0.0.2 do not keep 127.0.0.1 from
# being served; sv hup rereads the configuration; sv term and sv down stop
# each service cleanly.  Everything it starts is stopped at the end.
# the set-gid spool-inject reads only /etc/postern/postern.conf: ours is
# bound there in a mount namespace of this test's own
if [ "$(id -u)" = 0 ] && [ -z "${POSTERN_T_MNTNS:-}" ] && command -v unshare >/dev/null; then
  exec unshare -m --propagation private env POSTERN_T_MNTNS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.bash"
. "$TOP/tests/nosystemd-lib.bash"
is_root || { skip "runit hub" "needs root (users, runsv as root, a privileged bind)"; exit 0; }
for p in runsvdir runsv sv svlogd chpst; do
  command -v $p >/dev/null || { skip "runit hub" "runit is not installed ($p)"; exit 0; }
done
getent passwd _runit-log >/dev/null || { skip "runit hub" "no _runit-log user (Debian's runit package makes it)"; exit 0; }
command -v swaks >/dev/null || { skip "runit hub" "swaks is not installed"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
ns_setup || { fail "production setup (users, spool, set-gid spool-inject)"; exit 0; }
SV=$T/service
mkdir "$SV" "$T/logs"
chmod 755 "$T/logs"
MAILDIR=$T/home/$NS_MAIL/Maildir
P=$(free_port) P465=$(free_port)

# the shipped service directories, unchanged, each with its ./conf
cp -a "$TOP/units/runit/postern-queue" "$SV/"
have_listen=
if [ -x "$B/smtp-listen" ]; then
  cp -a "$TOP/units/runit/postern-smtpd" "$SV/"
  cp -a "$TOP/units/runit/postern-smtpd" "$SV/postern-smtps"   # port 465 as the run script says
  have_listen=1
  # 127.0.0.1 is not exempt from the per-source limits here (the default
  # exempts it); short shutdown bound
  printf 'smtpd_limit_exempt =\nsmtpd_shutdown_timeout = 5\n' >>"$T/postern.conf"
else
  skip "runit hub: postern-smtpd" "no smtp-listen in $B"
fi
common="libexec=$T/libexec logdir=$T/logs
export POSTERN_CONF=$POSTERN_CONF ASAN_OPTIONS=$ASAN_OPTIONS"
printf '%s\n' "$common" >"$SV/postern-queue/conf"
[ -n "$have_listen" ] &&
  printf 'listen=127.0.0.1:%s user=%s groups=%s\n%s\n' "$P" "$NS_SMTPD" "$NS_INJECT" "$common" >"$SV/postern-smtpd/conf" &&
  printf 'mode=smtps listen=127.0.0.1:%s user=%s groups=%s\n%s\n' "$P465" "$NS_SMTPD" "$NS_INJECT" "$common" >"$SV/postern-smtps/conf"

# runsvdir as an init system would start it
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin runsvdir -P "$SV" >"$T/runsvdir.out" 2>&1 &
rsd=$!
nothing_left() { ! pgrep -f "$T/" >/dev/null; }
stop_all() {
  local s
  for s in "$SV"/*/; do sv -w 15 down "$s" >/dev/null 2>&1; sv exit "$s" "$s/log" >/dev/null 2>&1; done
  kill -HUP "$rsd" 2>/dev/null; wait "$rsd" 2>/dev/null
  wait_for 10 nothing_left
}
at_exit stop_all

svstat() { sv status "$SV/$1" 2>/dev/null; }
up() { svstat "$1" | grep -q "^run: $SV/$1: (pid [0-9]*) [0-9]*s; run: log:"; }
svpid() { svstat "$1" | sed -n 's/^run: [^ ]*: (pid \([0-9]*\)).*/\1/p'; }
logged() { grep -q -- "$2" "$T/logs/$1/current" 2>/dev/null; }
count() { grep -c -- "$2" "$T/logs/$1/current" 2>/dev/null; }
more_than() { [ "$(count "$1" "$2")" -gt "$3" ]; }
maildir_count() { ls "$MAILDIR/new" 2>/dev/null | wc -l; }
mail_at_least() { [ "$(maildir_count)" -ge "$1" ]; }
no_sanitizer() {
  ! grep -E -q 'Sanitizer|runtime error:' "$T"/logs/*/current ||
    fail "runit: no sanitizer reports in the logs" "$(grep -h -A20 -E 'Sanitizer|runtime error:' "$T"/logs/*/current | head -40)"
}

# --- the queue daemon
if wait_for 20 up postern-queue && wait_for 20 logged queue 'queue-run: status=started mode=daemon'; then
  ok "runit: postern-queue runs, its log in svlogd's current"
else
  fail "runit: postern-queue runs, its log in svlogd's current" "$(svstat postern-queue)" \
    "$(cat "$T/logs/queue/current" 2>&1 | tail -5)" "$(cat "$T/runsvdir.out")"
  exit 0
fi
qpid=$(svpid postern-queue)
is "runit: queue-run runs as the queue user" "$(id -u "$NS_QUEUE")" "$(status_of "$qpid" Uid | cut -f1 -d' ')"
is "runit: svlogd's directory belongs to _runit-log" "_runit-log" "$(stat -c %U "$T/logs/queue")"
grep -q '^[0-9-]*_[0-9:.]* ' "$T/logs/queue/current" && ok "runit: svlogd timestamps each line (-tt)" ||
  fail "runit: svlogd timestamps each line (-tt)" "$(head -3 "$T/logs/queue/current")"

# a local program queues mail through the set-gid spool-inject; the daemon
# delivers it at once
printf 'V1\nFlocal@mx.example.test\nT%s@mx.example.test\n\n' "$NS_MAIL" >"$T/env"
printf 'Subject: local\n\nqueued by a local program\n' |
  runuser -u "$NS_MAIL" -- env -i ASAN_OPTIONS=detect_leaks=0 POSTERN_CONF="$POSTERN_CONF" \
  "$T/libexec/spool-inject" 1<"$T/env" 2>"$T/inject.err"
wait_for 20 mail_at_least 1 && ok "runit: local mail delivered to the Maildir by the daemon" ||
  fail "runit: local mail delivered to the Maildir by the daemon" "$(cat "$T/inject.err")" "$(tail -5 "$T/logs/queue/current")"
wait_for 10 logged queue "to=<$NS_MAIL@mx.example.test> relay=local:$NS_MAIL .* status=sent" &&
  ok "runit: the delivery's log line is in svlogd's current" ||
  fail "runit: the delivery's log line is in svlogd's current" "$(tail -5 "$T/logs/queue/current")"

# --- port 25: smtp-listen
if [ -n "$have_listen" ]; then
  if wait_for 20 up postern-smtpd && wait_for 20 logged smtpd 'smtp-listen: status=listening' && wait_for 5 listening "$P"; then
    ok "runit: postern-smtpd listens, its log in svlogd's current"
  else
    fail "runit: postern-smtpd listens, its log in svlogd's current" "$(svstat postern-smtpd)" \
      "$(tail -5 "$T/logs/smtpd/current" 2>&1)" "$(cat "$T/runsvdir.out")"
    exit 0
  fi
  lpid=$(svpid postern-smtpd)
  suid=$(id -u "$NS_SMTPD") sgid=$(id -g "$NS_SMTPD") igid=$(getent group "$NS_INJECT" | cut -d: -f3)
  is "runit: smtp-listen dropped root: the smtpd user, the inject group, only CAP_SETGID" \
    "$suid $sgid $igid 0000000000000040" \
    "$(status_of "$lpid" Uid | cut -f1 -d' ') $(status_of "$lpid" Gid | cut -f1 -d' ') $(status_of "$lpid" Groups) $(status_of "$lpid" CapEff)"
  is "runit: the session holds neither the inject group nor any other" "$suid $sgid " "$(session_creds "$P" "$lpid")"
  as_session() { setpriv --reuid="$suid" --regid="$sgid" --clear-groups "$@" 2>&1; }
  if ! as_session ls "$T/spool/new" >/dev/null && ! as_session ls "$T/spool/mess" >/dev/null; then
    ok "runit: the session's credentials cannot list new/ or mess/"
  else
    fail "runit: the session's credentials cannot list new/ or mess/" "$(as_session ls -la "$T/spool/new" "$T/spool/mess")"
  fi

  n=$(maildir_count)
  out=$(swaks -s 127.0.0.1 -p "$P" -f a@b.test -t "$NS_MAIL@mx.example.test" --body 'swaks under runit' 2>&1)
  case "$out" in *"250 2.0.0 Ok: queued as"*) ok "runit: swaks's message queued" ;; *) fail "runit: swaks's message queued" "$out" ;; esac
  python3 - "$P" "$NS_MAIL@mx.example.test" >"$T/smtplib.out" 2>&1 <<'EOF'
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20) as s:
    s.sendmail("b@c.test", [sys.argv[2]], "Subject: smtplib\r\n\r\nsmtplib under runit\r\n")
print("sent")
EOF
  grep -q '^sent$' "$T/smtplib.out" && ok "runit: smtplib's message queued" || fail "runit: smtplib's message queued" "$(cat "$T/smtplib.out")"
  wait_for 20 mail_at_least $((n + 2)) && ok "runit: both arrive in the Maildir" ||
    fail "runit: both arrive in the Maildir" "$(maildir_count) in new/" "$(tail -5 "$T/logs/queue/current")"
  grep -l 'swaks under runit' "$MAILDIR"/new/* >/dev/null 2>&1 && grep -l 'smtplib under runit' "$MAILDIR"/new/* >/dev/null 2>&1 &&
    ok "runit: the Maildir holds both bodies" || fail "runit: the Maildir holds both bodies"
  wait_for 10 logged smtpd 'smtp-receive: id=[^ ]* status=queued ' && ok "runit: the session's log line is in svlogd's current" ||
    fail "runit: the session's log line is in svlogd's current" "$(tail -5 "$T/logs/smtpd/current")"

  # 100 idle connections from 127.0.0.2, held while 127.0.0.1 sends mail
  cat >"$T/idle.py" <<'EOF'
import os, socket, sys, time
port, out, release = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conns, first = [], {}
for i in range(100):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.settimeout(10)
    try: s.connect(("127.0.0.1", port)); conns.append(s)
    except OSError as e: first["connect failed"] = first.get("connect failed", 0) + 1
for s in conns:
    try: l = s.makefile("rb").readline().decode().strip()
    except OSError: l = "(none)"
    l = l[:3] + (" per source" if "from your address" in l else "")
    first[l or "(closed)"] = first.get(l or "(closed)", 0) + 1
with open(out, "w") as f:
    f.write(" ".join("%s:%d" % kv for kv in sorted(first.items())) + "\n")
end = time.time() + 60
while time.time() < end and not os.path.exists(release): time.sleep(0.1)
for s in conns: s.close()
EOF
  python3 "$T/idle.py" "$P" "$T/idle.out" "$T/idle.release" &
  idle=$!
  at_exit "touch '$T/idle.release'; kill $idle 2>/dev/null; wait $idle 2>/dev/null"
  wait_for 30 [ -s "$T/idle.out" ]
  is "runit: of 100 idle connections from 127.0.0.2, 20 get a session, 80 a 421 (smtpd_max_source_sessions)" \
    "220:20 421 per source:80" "$(cat "$T/idle.out" 2>&1)"
  n=$(maildir_count)
  out=$(timeout 30 swaks -s 127.0.0.1 -p "$P" -f a@b.test -t "$NS_MAIL@mx.example.test" --body 'while another address holds 100' 2>&1)
  case "$out" in *"250 2.0.0 Ok: queued as"*) ok "runit: 127.0.0.1 is served while 127.0.0.2 holds 100 idle connections" ;;
    *) fail "runit: 127.0.0.1 is served while 127.0.0.2 holds 100 idle connections" "$out" ;; esac
  wait_for 20 mail_at_least $((n + 1)) && ok "runit: ... and its message is delivered" || fail "runit: ... and its message is delivered"
  logged smtpd 'status=reject client=127.0.0.2 .*limit=smtpd_max_source_sessions' &&
    ok "runit: the refusals are logged with the limit's name" ||
    fail "runit: the refusals are logged with the limit's name" "$(grep 127.0.0.2 "$T/logs/smtpd/current" | tail -3)"
  touch "$T/idle.release"; wait "$idle"

  # the copy for port 465: implicit TLS, AUTH, its own log
  if wait_for 20 up postern-smtps && wait_for 10 listening "$P465"; then
    out=$(swaks -s 127.0.0.1 -p "$P465" --tlsc -a PLAIN -au alice -ap 's3cret pass' -f alice@mx.example.test \
      -t "$NS_MAIL@mx.example.test" --body 'smtps under runit' 2>&1)
    case "$out" in *"235 "*"250 2.0.0 Ok: queued as"*) ok "runit: postern-smtps (a copy with mode=smtps): TLS, AUTH, queued" ;;
      *) fail "runit: postern-smtps (a copy with mode=smtps): TLS, AUTH, queued" "$out" ;; esac
    wait_for 10 logged smtps 'smtp-receive: id=[^ ]* status=queued .*auth=alice' &&
      ok "runit: postern-smtps logs into its own svlogd directory" ||
      fail "runit: postern-smtps logs into its own svlogd directory" "$(tail -3 "$T/logs/smtps/current" 2>&1)"
  else
    fail "runit: postern-smtps (a copy with mode=smtps) listens" "$(svstat postern-smtps)" "$(tail -3 "$T/logs/smtps/current" 2>&1)"
  fi

  # sv hup: the configuration is read again, the listener stays
  sv hup "$SV/postern-smtpd" >/dev/null
  wait_for 10 logged smtpd 'smtp-listen: status=reloaded' && [ "$(svpid postern-smtpd)" = "$lpid" ] &&
    ok "runit: sv hup rereads postern.conf, same listener" ||
    fail "runit: sv hup rereads postern.conf, same listener" "$(tail -3 "$T/logs/smtpd/current")"

  # sv term with an idle session open: it gets 421, the listener stops
  # cleanly and runsv starts it again
  exec 7<> /dev/tcp/127.0.0.1/"$P"
  read -r -t 10 greet <&7
  stops=$(count smtpd 'smtp-listen: status=stopped')
  sv term "$SV/postern-smtpd" >/dev/null
  read -r -t 10 last <&7
  exec 7<&-
  case "$greet/$last" in 220*/421*) ok "runit: sv term: an idle session is told 421" ;;
    *) fail "runit: sv term: an idle session is told 421" "greeting: $greet" "then: $last" ;; esac
  if wait_for 20 more_than smtpd 'smtp-listen: status=stopped' "$stops" && wait_for 20 up postern-smtpd &&
     [ "$(svpid postern-smtpd)" != "$lpid" ] && wait_for 10 listening "$P"; then
    ok "runit: sv term stops smtp-listen cleanly (status=stopped) and runsv restarts it"
  else
    fail "runit: sv term stops smtp-listen cleanly (status=stopped) and runsv restarts it" "$(svstat postern-smtpd)" \
      "$(tail -5 "$T/logs/smtpd/current")" "$(cat "$T/runsvdir.out")" "$(ps -eo pid,ppid,user,stat,etimes,args --forest | grep -v grep | grep -E "runsv|svlogd|$T/|spool-inject|smtp-")"
  fi
  lpid=$(svpid postern-smtpd)
  stops=$(count smtpd 'smtp-listen: status=stopped')
  out=$(sv -w 30 down "$SV/postern-smtpd" 2>&1)
  case "$out" in ok:\ down:*) ok "runit: sv down stops postern-smtpd" ;; *) fail "runit: sv down stops postern-smtpd" "$out" ;; esac
  ! kill -0 "$lpid" 2>/dev/null && ! listening "$P" && wait_for 10 more_than smtpd 'smtp-listen: status=stopped' "$stops" &&
    ok "runit: after sv down smtp-listen is gone, logged status=stopped, the port is closed" ||
    fail "runit: after sv down smtp-listen is gone, logged status=stopped, the port is closed" "$(tail -3 "$T/logs/smtpd/current")"
fi

# --- the queue daemon stops
sv term "$SV/postern-queue" >/dev/null
if wait_for 20 logged queue 'queue-run: status=stopped' && wait_for 20 up postern-queue &&
   [ "$(svpid postern-queue)" != "$qpid" ]; then
  ok "runit: sv term stops queue-run cleanly (status=stopped) and runsv restarts it"
else
  fail "runit: sv term stops queue-run cleanly (status=stopped) and runsv restarts it" "$(svstat postern-queue)" \
    "$(tail -5 "$T/logs/queue/current")"
fi
qpid=$(svpid postern-queue)
n=$(count queue 'queue-run: status=stopped')
out=$(sv -w 30 down "$SV/postern-queue" 2>&1)
case "$out" in ok:\ down:*) ok "runit: sv down stops postern-queue" ;; *) fail "runit: sv down stops postern-queue" "$out" ;; esac
kill -0 "$qpid" 2>/dev/null && fail "runit: queue-run is gone after sv down" "pid $qpid still runs" ||
  ok "runit: queue-run is gone after sv down"
wait_for 10 more_than queue 'queue-run: status=stopped' "$n" && ok "runit: sv down: queue-run logged status=stopped" ||
  fail "runit: sv down: queue-run logged status=stopped" "$(tail -5 "$T/logs/queue/current")"
no_sanitizer
stop_all
nothing_left && ok "runit: nothing of the test is left running" ||
  fail "runit: nothing of the test is left running" "$(pgrep -af "$T/")"
