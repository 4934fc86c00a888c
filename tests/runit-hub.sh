#!/bin/bash
# runit-hub.sh - a whole hub under runit, by the shipped service
# directories (units/runit/): runsvdir (not PID 1) on a private service
# directory of this test, in the production setup (tests/nosystemd-lib.bash:
# its own users, the 1770 spool, a set-gid spool-inject):
#   postern-smtpd  smtp-listen on a loopback port, bound as root, then the
#                  smtpd user; its log through svlogd
#   postern-queue  queue-run --daemon; its log through svlogd
# Mail sent with swaks and with Python's smtplib arrives in a Maildir; the
# log lines land in svlogd's current files; `sv term` and `sv down` stop
# each cleanly; 100 idle connections from 127.0.0.2 do not keep 127.0.0.1
# from being served.  Everything it starts is stopped at the end by PID.
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

# the shipped service directories, unchanged
cp -a "$TOP/units/runit/postern-queue" "$SV/"
have_listen=
if [ -x "$B/smtp-listen" ]; then
  cp -a "$TOP/units/runit/postern-smtpd" "$SV/"
  have_listen=1
else
  skip "runit hub: postern-smtpd" "no smtp-listen in $B"
fi
P=$(free_port)

# runsvdir as an init system would start it, with the layout of this test
# in its environment (the run scripts' documented variables)
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin POSTERN_CONF="$POSTERN_CONF" POSTERN_LIBEXEC="$T/libexec" \
  POSTERN_LOG_DIR="$T/logs" POSTERN_SMTPD_USER="$NS_SMTPD" POSTERN_LISTEN="127.0.0.1:$P" \
  ASAN_OPTIONS="$ASAN_OPTIONS" runsvdir -P "$SV" >"$T/runsvdir.out" 2>&1 &
rsd=$!
stop_all() {
  local s
  for s in "$SV"/*/; do sv -w 15 down "$s" >/dev/null 2>&1; sv exit "$s" "$s/log" >/dev/null 2>&1; done
  kill -HUP "$rsd" 2>/dev/null; wait "$rsd" 2>/dev/null
  wait_for 10 nothing_left
}
nothing_left() { ! pgrep -f "$T/" >/dev/null; }
at_exit stop_all

svstat() { sv status "$SV/$1" 2>/dev/null; }
up() { svstat "$1" | grep -q "^run: $SV/$1: (pid [0-9]*) [0-9]*s; run: log:"; }
svpid() { svstat "$1" | sed -n 's/^run: [^ ]*: (pid \([0-9]*\)).*/\1/p'; }
logged() { grep -q -- "$2" "$T/logs/$1/current" 2>/dev/null; }
maildir_count() { ls "$MAILDIR/new" 2>/dev/null | wc -l; }
mail_at_least() { [ "$(maildir_count)" -ge "$1" ]; }
stopped_more_than() { [ "$(grep -c 'queue-run: status=stopped' "$T/logs/queue/current")" -gt "$1" ]; }

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
  :
fi

# --- stopping
# sv term: queue-run stops cleanly and runsv starts it again
sv term "$SV/postern-queue" >/dev/null
if wait_for 20 logged queue 'queue-run: status=stopped' && wait_for 20 up postern-queue &&
   [ "$(svpid postern-queue)" != "$qpid" ]; then
  ok "runit: sv term stops queue-run cleanly (status=stopped) and runsv restarts it"
else
  fail "runit: sv term stops queue-run cleanly (status=stopped) and runsv restarts it" "$(svstat postern-queue)" \
    "$(tail -5 "$T/logs/queue/current")"
fi
qpid=$(svpid postern-queue)
n=$(grep -c 'queue-run: status=stopped' "$T/logs/queue/current")
out=$(sv -w 30 down "$SV/postern-queue" 2>&1)
case "$out" in ok:\ down:*) ok "runit: sv down stops postern-queue" ;; *) fail "runit: sv down stops postern-queue" "$out" ;; esac
kill -0 "$qpid" 2>/dev/null && fail "runit: queue-run is gone after sv down" "pid $qpid still runs" ||
  ok "runit: queue-run is gone after sv down"
wait_for 10 stopped_more_than "$n" &&
  ok "runit: sv down: queue-run logged status=stopped" ||
  fail "runit: sv down: queue-run logged status=stopped" "$(tail -5 "$T/logs/queue/current")"
if grep -E -q 'Sanitizer|runtime error:' "$T"/logs/*/current; then
  fail "runit: no sanitizer reports in the logs" "$(grep -h -A20 -E 'Sanitizer|runtime error:' "$T"/logs/*/current | head -40)"
fi
stop_all
nothing_left && ok "runit: nothing of the test is left running" ||
  fail "runit: nothing of the test is left running" "$(pgrep -af "$T/")"
