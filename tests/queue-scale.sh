# tests/queue-scale.sh - the scheduler's table scales: a queue of 20000
# messages (none due: envelopes and state files only) is read and its pass
# made in linear time, not quadratic (a hash of ids, no search per message
# added; 4 s before, 0.2 s now).
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
n=20000
( cd "$T/spool" && awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) {
    id = sprintf("1700000000.%06d.1", i)
    printf "V1\nFs@x.test\nTa%d@far.test\n\n", i > ("queue/" id); close("queue/" id)
    printf "S1\nN9999999999\nA1700000000\nR0\tp\t1\t9999999999\ts\t\tsmtp:far.test\ta%d@far.test\t\nE\n", i > ("state/" id); close("state/" id)
  } }' )
s0=$(date +%s%N)
timeout -k 5 60 "$B/queue-run" -C "$T/conf" --once 2>>"$T/log"
rc=$?; ms=$(( ($(date +%s%N) - s0) / 1000000 ))
[ "$rc" = 0 ] && [ "$ms" -lt 2000 ] && ok "--once over $n queued messages, none due, in ${ms} ms" || fail "--once over $n queued messages" "exit $rc after ${ms} ms"
is "nothing was tried (none due)" 0 "$(ls "$T/remote" | wc -l)"
is "every message is still queued" "$n" "$(qr_queue_count)"
