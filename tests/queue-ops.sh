# tests/queue-ops.sh - what a sendmail administrator runs on a queue:
# traffic counters (queue-run --stats, mailstats) per route and result that
# survive restarts and cost no write per message; per-destination status
# (--hoststat, sendmail -bh) and its purge (--purgestat, -bH) retrying the
# waiting mail now; the permission rule of mailq; SIGHUP to the daemon
# rereading postern.conf and the maps, a broken file keeping the old one.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/spool-inject/sendmail/tests/sendmail.bash"
sm_setup
for n in hoststat purgestat mailstats; do ln -s "$B/sendmail" "$T/bin/$n"; done
qr_conf retry_min=1h retry_max=1h
wait_for() { local i n=$1; shift; for i in $(seq $((n * 20))); do "$@" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# field ROUTE COLUMN: a column of the stats row of a remote route (4 = delivered count)
field() { qr_run --stats --machine | awk -F'\t' -v r="$1" -v c="$2" '$1 == "R" && $3 == r { print $c }'; }

# --- counters per route and result
printf 'Subject: one\n\nhello\n' | qr_inject s@x.test ok1@far.test later-defer@slow.test bad-fail@gone.test alice@example.test
qr_run --once
out=$(qr_run --stats --machine)
is "--stats: delivered to smtp:far.test" 1 "$(field smtp:far.test 6)"
is "--stats: deferred at smtp:slow.test" 1 "$(field smtp:slow.test 8)"
is "--stats: bounced at smtp:gone.test" 1 "$(field smtp:gone.test 10)"
bytes=$(field smtp:far.test 7)
[ "${bytes:-0}" -gt 10 ] && ok "--stats: the delivered bytes are the message's ($bytes)" || fail "--stats bytes" "$out"
case "$out" in *"R	mailbox	-	"*) ok "--stats: a local kind is a route of its own" ;; *) fail "--stats local" "$out" ;; esac
rec=$(printf '%s\n' "$out" | awk -F'\t' '$1 == "R" && $2 == "-" { print $4 }')
[ "${rec:-0}" -ge 1 ] && ok "--stats: received messages counted ($rec)" || fail "--stats received" "$out"
[ -f "$T/spool/state/stats" ] && ok "--stats: kept in state/stats" || fail "state/stats" "$(ls "$T/spool/state")"

printf 'Subject: two\n\nhello\n' | qr_inject s@x.test ok2@far.test
qr_run --once
is "--stats: the counts survive a restart and go on" 2 "$(field smtp:far.test 6)"
out=$(qr_run --stats)
case "$out" in "Statistics since 20"*"remote smtp:far.test: delivered 2 ("*" bytes), deferred 0 (0 bytes), bounced 0 (0 bytes)"*"total: delivered "*) ok "--stats: in words" ;;
  *) fail "--stats words" "$out" ;; esac
is "mailstats is queue-run --stats" "$out" "$("$T/bin/mailstats" 2>&1)"

# no write per message: 30 messages in one pass, state/stats written once
for i in $(seq 30); do printf 'Subject: n\n\nx\n' | qr_inject s@x.test "n$i@far.test"; done
# (not under the sanitizers: LeakSanitizer cannot run under ptrace, and the
# spawn helpers get a clean environment without ASAN_OPTIONS)
if ! command -v strace >/dev/null; then skip "stats cost" "strace is not installed"; qr_run --once
elif case $B in *asan*) true ;; *) false ;; esac; then skip "stats cost" "not measured under the sanitizers"; qr_run --once
else
  strace -f -qq -e trace=rename,renameat,renameat2 -o "$T/strace" "$B/queue-run" -C "$T/conf" --once 2>>"$T/log"
  n=$(grep -c 'state/stats"' "$T/strace")
  [ "$n" -le 2 ] && ok "--stats: 30 messages, state/stats renamed $n times (no write per message)" || fail "stats writes per message" "$n renames"
fi
is "--stats: all 30 counted" 32 "$(field smtp:far.test 6)"

# a damaged state/stats: --stats says so, a run logs it and goes on
cp "$T/spool/state/stats" "$T/stats.good"
printf 'R\tremote\tx\tnot-a-number\n' >>"$T/spool/state/stats"
out=$("$B/queue-run" -C "$T/conf" --stats 2>&1)
is "--stats: a damaged state/stats is a temporary error (75)" 75 "$?"
case "$out" in *"unable to read state/stats"*) ok "--stats: says which file" ;; *) fail "--stats damaged" "$out" ;; esac
qr_run --once
grep -q 'status=error reason="unable to read state/stats"' "$T/log" && ok "a run with a damaged state/stats logs it" || fail "damaged stats logged" "$(tail -3 "$T/log")"
cp "$T/stats.good" "$T/spool/state/stats"

# --- per-destination status
out=$(qr_run --hoststat --machine)
line=$(printf '%s\n' "$out" | grep "^H	smtp:slow.test	")
case "$line" in "H	smtp:slow.test	deferred	"*"	1	451 4.2.0 try later (smtp:slow.test)") ok "--hoststat: last result, one message waiting, the error" ;;
  *) fail "--hoststat slow" "$out" ;; esac
when=$(printf '%s' "$line" | cut -f4); next=$(printf '%s' "$line" | cut -f5)
[ "$when" -gt 0 ] && [ "$next" -gt "$when" ] && ok "--hoststat: when, and the next try after it" || fail "--hoststat times" "$line"
case "$out" in *"H	smtp:far.test	ok	"*"	0	250 2.0.0 accepted by smtp:far.test"*) ok "--hoststat: a destination that took the mail" ;; *) fail "--hoststat far" "$out" ;; esac
out=$(qr_run --hoststat)
case "$out" in *"smtp:slow.test: 1 message waiting, next try 20"*"last try: deferred at 20"*"451 4.2.0 try later"*) ok "--hoststat: in words" ;; *) fail "--hoststat words" "$out" ;; esac
is "sendmail -bh is queue-run --hoststat" "$out" "$(sm -bh)"
is "hoststat is sendmail -bh" "$out" "$("$T/bin/hoststat" 2>&1)"

# --- purgestat: the destination's mail is tried now, its entry forgotten
is "before: one try at slow.test" 1 "$(grep -c 'to=<later-defer@slow.test> .*status=deferred' "$T/log")"
qr_run --once
is "back-off kept by a plain run" 1 "$(grep -c 'to=<later-defer@slow.test> .*status=deferred' "$T/log")"
qr_run --purgestat smtp:slow.test
is "--purgestat DEST: its mail is tried at once" 2 "$(grep -c 'to=<later-defer@slow.test> .*status=deferred' "$T/log")"
grep -q 'status=purgestat dest=smtp:slow.test items=1' "$T/log" && ok "--purgestat: logged with the recipients made due" || fail "purgestat log" "$(tail -5 "$T/log")"
qr_run --purgestat gone.test
case "$(qr_run --hoststat --machine)" in *"smtp:gone.test"*) fail "--purgestat DOMAIN forgets its MX destination" "$(qr_run --hoststat --machine)" ;;
  *) ok "--purgestat DOMAIN forgets its MX destination" ;; esac
sm -bH
is "sendmail -bH: exit 0" 0 "$?"
grep -q 'to=<later-defer@slow.test> .*tries=3 status=deferred' "$T/sm.err" && ok "sendmail -bH: every destination's mail tried" || fail "-bH retries" "$(cat "$T/sm.err")"
out=$(qr_run --hoststat --machine)
case "$out" in *"smtp:far.test"*) fail "-bH forgets the status of every destination" "$out" ;; *) ok "-bH forgets the status of every destination" ;; esac

# --- root and the queue owner only
if is_root; then
  for v in -bh -bH; do
    out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/ "$SM" $v 2>&1)
    is "sendmail $v by an ordinary user: 77" 77 "$?"
  done
  out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/ "$T/bin/mailstats" 2>&1)
  is "mailstats by an ordinary user: 77" 77 "$?"
  case "$out" in *"permission denied"*) ok "mailstats: the refusal says why" ;; *) fail "mailstats refusal" "$out" ;; esac
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$B/queue-run" -C "$T/conf" --stats >/dev/null 2>&1
  is "queue-run --stats by an ordinary user: 77" 77 "$?"
else skip "ordinary users refused" "needs root"; fi

# --- SIGHUP: postern.conf and the maps again, without a restart
rm -f "$T/remote/"*
"$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
wait_for 5 grep -q 'status=started mode=daemon' "$T/log" || fail "daemon starts" "$(tail "$T/log")"
printf 'Subject: h1\n\nx\n' | qr_inject s@x.test h1@far.test
wait_for 5 grep -q 'to=<h1@far.test> relay=smtp:far.test .*status=sent' "$T/log" && ok "HUP: before, mail to far.test goes to its MX" || fail "before HUP" "$(grep h1@ "$T/log")"
qr_conf retry_min=1h retry_max=1h relayhost=[relay.test]
qr_map routes <<M
mapped.test smtp:[hop.test]
M
kill -HUP $pid
wait_for 5 grep -q 'status=reloaded' "$T/log" && ok "HUP: the daemon says it reloaded" || fail "reload logged" "$(tail "$T/log")"
printf 'Subject: h2\n\nx\n' | qr_inject s@x.test h2@far.test h3@mapped.test
wait_for 5 grep -q 'to=<h2@far.test> relay=smtp:\[relay.test\].* status=sent' "$T/log" && ok "HUP: the new relayhost is used without a restart" || fail "HUP relayhost" "$(grep 'h2@' "$T/log")"
wait_for 5 grep -q 'to=<h3@mapped.test> relay=smtp:\[hop.test\].* status=sent' "$T/log" && ok "HUP: the new routes map is used" || fail "HUP routes" "$(grep 'h3@' "$T/log")"
cp "$T/conf" "$T/conf.good"
printf 'no_such_key = 1\n' >>"$T/conf"
kill -HUP $pid
wait_for 5 grep -q 'status=reload-refused' "$T/log" && ok "HUP: a broken postern.conf is refused with a log line" || fail "broken reload" "$(tail "$T/log")"
grep 'status=reload-refused' "$T/log" | grep -q 'no_such_key' && ok "HUP: the refusal names the problem" || fail "refusal text" "$(grep reload-refused "$T/log")"
kill -0 $pid 2>/dev/null && ok "HUP: the daemon keeps running on a broken file" || fail "daemon alive"
printf 'Subject: h4\n\nx\n' | POSTERN_CONF=$T/conf.good qr_inject s@x.test h4@far.test
wait_for 5 grep -q 'to=<h4@far.test> relay=smtp:\[relay.test\].* status=sent' "$T/log" && ok "HUP: the old settings stay in force" || fail "old settings kept" "$(grep 'h4@' "$T/log")"
sed "s|^spool *=.*|spool = $T/elsewhere|" "$T/conf.good" >"$T/conf"
kill -HUP $pid
wait_for 5 sh -c "grep 'status=reload-refused' '$T/log' | grep -q 'key=spool'" && ok "HUP: a new spool needs a restart and is refused" || fail "spool change" "$(grep reload "$T/log")"
kill $pid; wait $pid 2>/dev/null
cp "$T/conf.good" "$T/conf"
grep -q 'status=stopped' "$T/log" && ok "daemon stops on TERM" || fail "daemon stop" "$(tail -3 "$T/log")"
is "--stats: the daemon saved its counts at exit" 1 "$(qr_run --stats --machine | awk -F'\t' '$3 == "smtp:[hop.test]" { print $6 }')"
