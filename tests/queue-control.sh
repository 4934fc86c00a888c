# tests/queue-control.sh - queue inspection and control (mailq, sendmail
# -q): the human and machine listings, flush, flush one id, delete, bounce
# one id, hold and release a destination, purge and bounce a destination,
# with no scheduler running and through a running daemon; only root and
# the queue owner may use them.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
qr_conf retry_min=1h retry_max=1h

out=$(qr_run --list)
is "empty queue listing" "Mail queue is empty" "$out"
printf 'Subject: a\n\nxyz\n' | qr_inject s@x.test one-defer@far.test two-defer@near.test
id=$(ls "$T/spool/new")
out=$(qr_run --list)
case "$out" in "$id  "*" bytes  "*"<s@x.test>  (new)"*"<one-defer@far.test> pending, tries 0"*"-- 1 message") ok "listing shows a new message with its recipients" ;;
  *) fail "listing of a new message" "$out" ;; esac
qr_run --once
out=$(qr_run --list --machine)
case "$out" in "M	$id	16	"*"	s@x.test"*"R	$id	one-defer@far.test	pending	1	"*"	smtp:far.test	451 4.2.0 try later (smtp:far.test)"*) ok "machine listing: M and R lines with tries, next, destination, last error" ;;
  *) fail "machine listing" "$out" ;; esac
out=$(qr_run --list)
case "$out" in *"<one-defer@far.test> pending, tries 1, next 20"*"451 4.2.0 try later"*) ok "human listing: tries, next try, last error" ;; *) fail "human listing" "$out" ;; esac

if is_root; then
  out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$B/queue-run" -C "$T/conf" --list 2>&1)
  rc=$?
  is "another user may not list the queue (exit 77)" 77 "$rc"
  case "$out" in *"permission denied"*) ok "another user gets a clear refusal" ;; *) fail "refusal message" "$out" ;; esac
else
  skip "refusal for other users" "needs root to run as another user"
fi

# flush one id (no scheduler running): tried again despite back-off
qr_run --flush "$id"
is "flush ID: tried again at once" 2 "$(grep -c 'to=<one-defer@far.test> .*status=deferred' "$T/log")"
# hold a destination: its mail is not tried, even with --all
qr_run --hold far.test
qr_run --once --all
is "hold: far.test not tried" 2 "$(grep -c 'to=<one-defer@far.test> .*status=deferred' "$T/log")"
is "hold: other destinations still tried" 3 "$(grep -c 'to=<two-defer@near.test> .*status=deferred' "$T/log")"
qr_run --release far.test
qr_run --once --all
is "release: tried again" 3 "$(grep -c 'to=<one-defer@far.test> .*status=deferred' "$T/log")"
# purge one destination: no bounce for it
qr_run --purge near.test
grep -q 'to=two-defer@near.test status=purged' "$T/log" && ok "purge DEST: the recipient is dropped and logged" || fail "purge" "$(tail -3 "$T/log")"
is "purge DEST: the message stays for its other recipient" 1 "$(qr_queue_count)"
# bounce one destination
rm -f "$T/remote/"*
qr_run --bounce-destination smtp:far.test
grep -q 'to=<one-defer@far.test> .*status=bounced reply="5.0.0 mail for this destination was returned by the postmaster"' "$T/log" \
  && ok "bounce-destination: the recipient bounces" || fail "bounce-destination" "$(tail -4 "$T/log")"
is "bounce-destination: message done" 0 "$(qr_queue_count)"
qr_run --once
grep -lq '^Action: failed' "$T/remote/"*.msg 2>/dev/null && ok "bounce-destination: the sender gets a DSN" || fail "bounce-destination DSN" "$(ls "$T/remote")"

# a command naming a message that is not queued says so
out=$("$B/queue-run" -C "$T/conf" --delete 1700000000.000000.1 2>&1); rc=$?
is "delete of an unknown id: exit 66 with the reason" "66 queue-run: no such message in the queue: 1700000000.000000.1" "$rc $out"
out=$(qr_run --bounce ../etc/passwd 2>&1); rc=$?
is "a queue id that is not one: exit 64" 64 "$rc"

# a held destination keeps the daemon idle (no busy loop over its mail)
printf 'Subject: h\n\nx\n' | qr_inject s@x.test h-defer@held.test
qr_run --hold held.test
"$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
pid=$!
sleep 1.5
ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
kill "$pid"; wait "$pid"
[ "$ticks" -le 20 ] && ok "hold: the daemon sleeps while only held mail waits ($ticks ticks of CPU in 1.5 s)" || fail "hold: busy daemon" "$ticks ticks"
is "hold: the held mail was not tried" 0 "$(grep -c 'to=<h-defer@held.test> .*status=deferred' "$T/log")"
qr_run --release held.test
qr_run --delete "$(grep -o 'id=[0-9.]* to=<h-defer' "$T/log" | head -1 | cut -d' ' -f1 | cut -d= -f2)"

# delete and bounce one id, through a running daemon
"$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
sleep 0.3
printf 'Subject: d\n\nx\n' | qr_inject s@x.test del-defer@far.test
printf 'Subject: b\n\nx\n' | qr_inject s@x.test bnc-defer@far.test
sleep 0.5
del=$(grep -o 'id=[0-9.]* to=<del-defer' "$T/log" | head -1 | cut -d' ' -f1 | cut -d= -f2)
bnc=$(grep -o 'id=[0-9.]* to=<bnc-defer' "$T/log" | head -1 | cut -d' ' -f1 | cut -d= -f2)
qr_run --delete "$del"
qr_run --bounce "$bnc"
sleep 0.5
grep -q "id=$del status=deleted" "$T/log" && [ ! -e "$T/spool/queue/$del" ] && ok "delete ID through the daemon" || fail "delete ID" "$(grep "$del" "$T/log")"
grep -q "id=$bnc to=<bnc-defer@far.test> .*status=bounced" "$T/log" && ok "bounce ID through the daemon" || fail "bounce ID" "$(grep "$bnc" "$T/log")"
kill "$pid"; wait "$pid"
is "queue empty at the end" 0 "$(qr_queue_count)"
