# tests/queue-retry.sh - retries on a clock we control (faketime): the
# exponential back-off schedule (retry_min doubling up to retry_max),
# --once honouring it and --once --all ignoring it, expiry after
# queue_lifetime with a 4.4.7 bounce, delay warnings (delay_warning_time).
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
command -v faketime >/dev/null || { skip "retry schedule" "faketime is not installed"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
qr_setup
qr_conf retry_min=5m retry_max=20m queue_lifetime=1h delay_warning_time=10m

at() { local off=$1; shift; faketime -f "+${off}s" "$B/queue-run" -C "$T/conf" "$@" 2>>"$T/log"; }
tries() { grep -c 'to=<later-defer@far.test> .*status=deferred' "$T/log"; }
next_try() { qr_run --list --machine | awk -F'\t' '$1 == "R" { print $6 }'; }

printf 'Subject: slow\n\nx\n' | qr_inject s@x.test later-defer@far.test
t0=$(date +%s)
at 0 --once
is "first pass: one deferral" 1 "$(tries)"
n=$(next_try); d=$((n - t0))
[ "$d" -ge 299 ] && [ "$d" -le 302 ] && ok "next try after retry_min (5 min)" || fail "next try after retry_min" "next - t0 = $d"
at 0 --once
is "--once does not retry before the back-off" 1 "$(tries)"
at 301 --once
is "second try after 5 min" 2 "$(tries)"
n=$(next_try); d=$((n - t0))
[ "$d" -ge 899 ] && [ "$d" -le 904 ] && ok "back-off doubles to 10 min" || fail "back-off doubles" "next - t0 = $d"
at 850 --once
is "not due at 850 s" 2 "$(tries)"
at 905 --once
is "third try after 905 s" 3 "$(tries)"
n=$(next_try); d=$((n - t0))
[ "$d" -ge 2104 ] && [ "$d" -le 2108 ] && ok "back-off capped at retry_max (20 min)" || fail "back-off capped at retry_max" "next - t0 = $d"
grep -q 'status=warning-queued to=s@x.test' "$T/log" && ok "delay warning sent after delay_warning_time" || fail "delay warning" "$(tail -4 "$T/log")"
w=$(ls -t "$T/remote/"*.msg | head -1)
grep -q '^Action: delayed' "$w" && grep -q '^Will-Retry-Until: ' "$w" && ok "delay warning is a DSN with Action: delayed" || fail "delay warning DSN" "$(cat "$w")"
at 905 --once --all
is "--once --all ignores the back-off" 4 "$(tries)"
is "only one delay warning" 1 "$(grep -c 'status=warning-queued' "$T/log")"
at 3601 --once
grep -q 'to=<later-defer@far.test> .*status=bounced reply="4.4.7 delivery time expired; last error: 451 4.2.0 try later' "$T/log" \
  && ok "expiry after queue_lifetime bounces with 4.4.7 and the last error" || fail "expiry" "$(tail -5 "$T/log")"
is "expired message left the queue" 0 "$(qr_queue_count)"
b=$(ls -t "$T/remote/"*.msg | head -1)
grep -q '^Status: 4.4.7' "$b" && grep -q '^Action: failed' "$b" && ok "expiry bounce: Action failed, Status 4.4.7" || fail "expiry bounce" "$(cat "$b")"

# NOTIFY honoured for delay warnings: FAILURE alone gets none, DELAY one
rm -f "$T/remote/"*
qr_inject_env "$(printf 'V1\nFs@x.test\nTnf-defer@far.test\nNFAILURE')" <<<'Subject: nf'
qr_inject_env "$(printf 'V1\nFs@x.test\nTnd-defer@far.test\nNDELAY')" <<<'Subject: nd'
at 0 --once
at 601 --once --all
w=$(grep -l '^Action: delayed' "$T/remote/"*.msg 2>/dev/null)
is "NOTIFY=DELAY gets a delay warning, NOTIFY=FAILURE none" "1 nd-defer@far.test" \
  "$(echo "$w" | grep -c .) $(cat $w 2>/dev/null | sed -n 's/^Final-Recipient: rfc822; //p' | tr '\n' ' ' | sed 's/ $//')"
