# tests/queue-daemon.sh - queue-run --daemon: new mail picked up at once
# (inotify on new/, no polling), retries on its own timer, the flock rule
# (a second daemon refuses, --once pokes the daemon and exits, nothing is
# delivered twice), the trigger's flush, and SIGTERM letting a running
# delivery finish.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
qr_conf retry_min=1s retry_max=2s
qr_map virtual <<M
box@example.test $T/mail/box/
slow@example.test slow@example.test, "|slow"
M
printf '#!/bin/sh\ncat >/dev/null; sleep 2; echo done >%s/slow.done\n' "$T/mail" >"$T/progs/slow"
chmod 755 "$T/progs/slow"

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() { local i n=$1; shift; for i in $(seq $((n * 20))); do "$@" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
has_mail() { [ "$(qr_maildir_count "$T/mail/box")" -ge "$1" ]; }

"$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
wait_for 5 grep -q 'status=started mode=daemon' "$T/log" && ok "daemon starts" || fail "daemon starts" "$(cat "$T/log")"

start=$(date +%s%N)
printf 'Subject: 1\n\nx\n' | qr_inject s@x.test box@example.test
if wait_for 5 has_mail 1; then
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$ms" -lt 1000 ] && ok "new mail delivered at once (${ms} ms)" || fail "new mail delivered at once" "took ${ms} ms"
else fail "new mail delivered by the daemon" "$(cat "$T/log")"; fi

"$B/queue-run" -C "$T/conf" --daemon 2>"$T/second"
rc=$?
is "a second daemon refuses (flock)" 75 "$rc"
grep -q 'another queue-run holds the lock' "$T/second" && ok "a second daemon says why" || fail "a second daemon says why" "$(cat "$T/second")"

printf 'Subject: 2\n\nx\n' | qr_inject s@x.test box@example.test
timeout 10 "$B/queue-run" -C "$T/conf" --once 2>>"$T/log"
is "--once with a daemon running pokes it and exits 0" 0 "$?"
wait_for 5 has_mail 2 && ok "message delivered while --once ran" || fail "message delivered while --once ran"
sleep 0.3
is "nothing delivered twice (daemon vs --once)" 2 "$(qr_maildir_count "$T/mail/box")"
is "exactly one started scheduler line per daemon (the --once never ran a pass)" 1 "$(grep -c 'status=started' "$T/log")"

printf 'Subject: 3\n\nx\n' | qr_inject s@x.test retry-defer@far.test
wait_for 8 sh -c "[ \$(grep -c 'to=<retry-defer@far.test> .*status=deferred' '$T/log') -ge 3 ]" \
  && ok "daemon retries on its own timer (retry_min=1s)" || fail "daemon retries on its timer" "$(grep retry-defer "$T/log")"
qr_conf retry_min=1h retry_max=1h
n=$(grep -c 'to=<retry-defer@far.test> .*status=deferred' "$T/log")
timeout 10 "$B/queue-run" -C "$T/conf" --once --all 2>>"$T/log"
wait_for 5 sh -c "[ \$(grep -c 'to=<retry-defer@far.test> .*status=deferred' '$T/log') -gt $n ]" \
  && ok "--once --all makes the daemon flush at once (trigger F)" || fail "flush through the trigger" "$(tail -3 "$T/log")"

printf 'Subject: 4\n\nx\n' | qr_inject s@x.test slow@example.test
wait_for 5 grep -q 'to=<slow@example.test> orig_to' "$T/log"
sleep 0.3
kill -TERM $pid
wait $pid
is "SIGTERM: the daemon exits 0" 0 "$?"
[ -f "$T/mail/slow.done" ] && ok "SIGTERM: the running delivery finished first" || fail "SIGTERM: running delivery finished" "$(tail -5 "$T/log")"
grep -q 'status=stopped' "$T/log" && ok "SIGTERM: logged" || fail "SIGTERM: logged"

# SIGTERM when a delivery outlives queue_shutdown_timeout: the daemon
# exits anyway, keeps what finished (the Maildir copy is not made twice)
# and leaves the slow recipient pending for the next run
for id in $(ls "$T/spool/queue"); do qr_run --delete "$id"; done
qr_conf retry_min=2s retry_max=4s queue_shutdown_timeout=1s
printf '#!/bin/sh\ncat >/dev/null; sleep 2.2; echo x >>%s/slower.done\n' "$T/mail" >"$T/progs/slower"
chmod 755 "$T/progs/slower"
qr_map virtual <<M
box@example.test $T/mail/box/
slower@example.test "|slower"
M
"$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
pid=$!
wait_for 5 grep -q 'status=started mode=daemon' "$T/log"
n=$(qr_maildir_count "$T/mail/box")
printf 'Subject: 5\n\nx\n' | qr_inject s@x.test box@example.test slower@example.test
wait_for 5 grep -q 'to=<box@example.test> .*status=sent.*' "$T/log"
wait_for 5 has_mail $((n + 1))
s0=$(date +%s%N)
kill -TERM $pid
wait $pid
ms=$(( ($(date +%s%N) - s0) / 1000000 ))
[ "$ms" -ge 800 ] && [ "$ms" -lt 2000 ] && ok "SIGTERM: waits queue_shutdown_timeout, not for the slow delivery (${ms} ms)" || fail "SIGTERM timeout" "${ms} ms"
grep -q 'status=abandoned running=1' "$T/log" && ok "SIGTERM: the unfinished delivery is logged" || fail "SIGTERM abandoned log" "$(tail -4 "$T/log")"
id=$(ls "$T/spool/queue" | head -1)
grep -q "^R1	p	" "$T/spool/state/$id" 2>/dev/null && grep -q "^R0	d	" "$T/spool/state/$id" \
  && ok "SIGTERM: state saved: the delivered recipient done, the slow one pending" || fail "SIGTERM state" "$(cat "$T/spool/state/$id" 2>&1)"
sleep 1.5     # the abandoned program finishes on its own
qr_conf queue_shutdown_timeout=1m
timeout 20 "$B/queue-run" -C "$T/conf" --once --all 2>>"$T/log"
is "after the restart: the slow recipient delivered again, the Maildir one not" "$((n + 1)) 2" "$(qr_maildir_count "$T/mail/box") $(wc -l <"$T/mail/slower.done")"
is "after the restart: queue empty" 0 "$(qr_queue_count)"

# the flock rule between two --once runs: the second finds the lock held by
# a --once busy with a slow delivery; it leaves its --all request on disk
# and exits at once, and the first carries it out before it exits
qr_conf retry_min=1h retry_max=1h
printf 'Subject: 6\n\nx\n' | qr_inject s@x.test later-defer@far.test
qr_run --once
before=$(grep -c 'to=<later-defer@far.test> .*status=deferred' "$T/log")
printf 'Subject: 7\n\nx\n' | qr_inject s@x.test slow2@example.test
qr_map virtual <<M
slow2@example.test "|slow"
M
"$B/queue-run" -C "$T/conf" --once 2>>"$T/log" &
first=$!
wait_for 5 grep -q 'to=<slow2@example.test> orig_to=<slow2@example.test> route=program' "$T/log"
s0=$(date +%s%N)
timeout 10 "$B/queue-run" -C "$T/conf" --once --all 2>>"$T/log"
rc=$?
ms=$(( ($(date +%s%N) - s0) / 1000000 ))
[ "$rc" = 0 ] && [ "$ms" -lt 1000 ] && ok "--once --all while another --once runs: exits 0 at once (${ms} ms)" || fail "second --once" "rc=$rc ${ms} ms"
wait $first
is "the first --once exits 0" 0 "$?"
grep -q 'status=another-pass' "$T/log" && ok "the first --once makes another pass for the request" || fail "another pass" "$(tail -5 "$T/log")"
is "the flush request was carried out (the deferred message tried again)" $((before + 1)) "$(grep -c 'to=<later-defer@far.test> .*status=deferred' "$T/log")"

# sd_notify under a NOTIFY_SOCKET of our own: READY=1 after the spool is
# read, STATUS=, WATCHDOG=1 at least every WatchdogSec/2, STOPPING=1; and
# while mail flows, WATCHDOG=1 at most every WatchdogSec/4 and STATUS= at
# most once a second (each sd_notify is a dozen system calls), the last
# STATUS= the state at the end
python3 - "$T/notify" <<'EOF2' >"$T/notify.out" 2>&1 &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777)
s.settimeout(0.2)
end = time.time() + 30
print("listening", flush=True)
while time.time() < end:
    try: d = s.recv(4096)
    except socket.timeout: continue
    for line in d.decode().split("\n"):
        if line: print("%.3f %s" % (time.time(), line), flush=True)
        if line == "STOPPING=1": end = time.time() + 0.3
EOF2
lpid=$!
wait_for 5 grep -q listening "$T/notify.out"
NOTIFY_SOCKET=$T/notify WATCHDOG_USEC=400000 "$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
pid=$!
sleep 1.2
n=$(qr_maildir_count "$T/mail/box")
for i in 1 2 3 4 5 6; do printf 'Subject: 8\n\nx\n' | qr_inject s@x.test box@example.test; done
wait_for 20 has_mail $((n + 6))
sleep 1.3
kill -TERM $pid; wait $pid
wait $lpid
grep -q ' READY=1$' "$T/notify.out" && ok "sd_notify: READY=1" || fail "sd_notify READY" "$(cat "$T/notify.out")"
grep -q ' STATUS=.*queued' "$T/notify.out" && ok "sd_notify: STATUS= with the queue" || fail "sd_notify STATUS" "$(cat "$T/notify.out")"
n=$(grep -c ' WATCHDOG=1$' "$T/notify.out")
[ "$n" -ge 5 ] && ok "sd_notify: WATCHDOG=1 at least every WatchdogSec/2 while idle ($n)" || fail "sd_notify WATCHDOG" "$(cat "$T/notify.out")"
gaps=$(grep ' WATCHDOG=1$' "$T/notify.out" | awk 'NR > 1 && $1 - p > 0.3 { print $1 - p } { p = $1 }')
is "sd_notify: no watchdog gap longer than 300 ms" "" "$gaps"
grep -q ' STOPPING=1$' "$T/notify.out" && ok "sd_notify: STOPPING=1 on SIGTERM" || fail "sd_notify STOPPING" "$(cat "$T/notify.out")"
close=$(grep ' WATCHDOG=1$' "$T/notify.out" | awk 'NR > 1 && $1 - p < 0.09 { print $1 - p } { p = $1 }')
is "sd_notify: no two WATCHDOG=1 closer than WatchdogSec/4 while mail flows" "" "$close"
close=$(grep ' STATUS=' "$T/notify.out" | awk 'NR > 1 && $1 - p < 0.95 { print $1 - p } { p = $1 }')
is "sd_notify: no two STATUS= within a second" "" "$close"
case "$(grep ' STATUS=' "$T/notify.out" | tail -n 1)" in
  *"STATUS=0 deliveries running"*) ok "sd_notify: the last STATUS= says no delivery runs" ;;
  *) fail "sd_notify: the last STATUS=" "$(cat "$T/notify.out")" ;;
esac
