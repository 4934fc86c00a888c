# tests/queue-daemon.sh - queue-run --daemon: new mail picked up at once
# (inotify on new/, no polling), retries on its own timer, the flock rule
# (a second daemon refuses, --once pokes the daemon and exits, nothing is
# delivered twice), the trigger's flush, and SIGTERM letting a running
# delivery finish.
. "$POSTERN_TOP/tests/lib.sh"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
qr_conf retry_min=2s retry_max=4s
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
  && ok "daemon retries on its own timer (retry_min=2s)" || fail "daemon retries on its timer" "$(grep retry-defer "$T/log")"
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
