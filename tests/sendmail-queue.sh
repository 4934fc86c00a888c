# tests/sendmail-queue.sh - the queue side of sendmail(8): mailq and -bp
# while a message is deferred (human, --machine, --json), the refusal for
# ordinary users, sendmail -q delivering with no daemon and poking a
# running daemon through the trigger, -qR/-qS/-qI, newaliases and -bi
# rebuilding the aliases, -bv reporting the routing, -bd and -q15m.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/spool-inject/sendmail/tests/sendmail.bash"
sm_setup
# a remote deliverer that defers everything while $T/remote-defer exists
cat >"$T/remote2" <<SH
#!/bin/sh
n=\$(date +%s%N); dest=\$1; shift; shift
printf '%s\\n' "\$dest" >"$T/remote/\$n.args"; cat >/dev/null
for r in "\$@"; do
  if [ -f "$T/remote-defer" ]; then printf '%s\\tdefer\\t451 4.4.1 connection refused by %s\\n' "\$r" "\$dest"
  else printf '%s\\tok\\t250 2.0.0 accepted\\n' "\$r"; fi
done
SH
chmod 755 "$T/remote2"
qr_conf retry_min=1h retry_max=1h remote_deliverer="$T/remote2"
MAILQ=$T/bin/mailq
NEWALIASES=$T/bin/newaliases
wait_for() { local i n=$1; shift; for i in $(seq $((n * 20))); do "$@" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# --- a deferred message
touch "$T/remote-defer"
printf 'Subject: deferred\n\nx\n' | sm -f sender@example.test far@remote.test alice
id=$(ls "$T/spool/new")
out=$("$MAILQ" 2>&1)
case "$out" in "$id  "*" bytes  "*"<sender@example.test>  (new)"*"<far@remote.test> pending, tries 0"*"-- 1 message") ok "mailq: a new message, not yet tried" ;;
  *) fail "mailq: new message" "$out" ;; esac
sm_deliver
is "the local recipient was delivered" 1 "$(sm_count alice)"
out=$("$MAILQ" 2>&1)
case "$out" in "$id  "*"<sender@example.test>"*"<far@remote.test> pending, tries 1, next 20"*"451 4.4.1 connection refused by smtp:remote.test"*"-- 1 message") ok "mailq: the deferred recipient with tries, next try and the reason" ;;
  *) fail "mailq: deferred" "$out" ;; esac
case "$out" in *alice*) fail "mailq: the delivered recipient is not listed" "$out" ;; *) ok "mailq: the delivered recipient is not listed" ;; esac
is "sendmail -bp is mailq" "$out" "$(sm -bp)"
out=$(sm -bp --machine)
case "$out" in "M	$id	"*"	sender@example.test"*"R	$id	far@remote.test	pending	1	"*"	smtp:remote.test	451 4.4.1 connection refused by smtp:remote.test") ok "mailq --machine: M and R lines" ;;
  *) fail "mailq --machine" "$out" ;; esac
out=$("$MAILQ" --json)
echo "$out" >"$T/json"
python3 - "$T/json" "$id" <<'PY' && ok "mailq --json: one valid JSON object per message, with the deferred recipient" || fail "mailq --json" "$out"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
m = json.loads(lines[0])
assert m["queue_id"] == sys.argv[2] and m["sender"] == "sender@example.test" and m["message_size"] > 0, m
r = m["recipients"]
assert len(r) == 1 and r[0]["address"] == "far@remote.test" and r[0]["status"] == "pending" and r[0]["tries"] == 1, r
assert r[0]["next_try"] > m["arrival_time"] and r[0]["destination"] == "smtp:remote.test" and r[0]["reason"], r
PY
out=$("$MAILQ" --bogus 2>&1); is "mailq: an unknown option is 64" 64 "$?"

# --- ordinary users are refused
if is_root; then
  for cmd in "$MAILQ" "$SM -bp" "$SM -qRremote"; do
    out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups $cmd 2>&1)
    rc=$?
    case "$rc:$out" in "77:"*"permission denied: only root and the owner of the queue"*) ok "refused for nobody (77, clear message): ${cmd#$T/bin/}" ;;
      *) fail "refused for nobody: ${cmd#$T/bin/}" "exit $rc" "$out" ;; esac
  done
  # sendmail -q by an ordinary user asks the injector to wake the daemon
  # (spool-inject -q; its set-gid side is tested in spool-inject/tests/privilege.sh)
  out=$(strace -f -s 512 -e trace=execve -o "$T/q.strace" setpriv --reuid=nobody --regid=nogroup --clear-groups "$SM" -q 2>&1)
  grep -q "execve(\"$B/spool-inject\", \[\"$B/spool-inject\", \"-q\"\]" "$T/q.strace" && ok "sendmail -q as nobody: runs spool-inject -q" \
    || fail "sendmail -q as nobody: runs spool-inject -q" "$out" "$(cat "$T/q.strace")"
  out=$(printf 'Subject: x\n\nx\n' | setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/ "$SM" -bv alice 2>&1)
  is "-bv is open to everyone" 0 "$?"
  out=$(qr_as_user "$MAILQ" 2>&1)
  is "the queue owner may list the queue" 0 "$?"
else skip "refusal for other users" "needs root to run as another user"; fi

# --- sendmail -q without a daemon: delivers now, back-off ignored
rm -f "$T/remote-defer"
n=$(ls "$T/remote" | grep -c args)
sm -q
is "sendmail -q: exit 0" 0 "$?"
is "sendmail -q: the deferred recipient was tried again at once and delivered" "$((n + 1))" "$(ls "$T/remote" | grep -c args)"
is "sendmail -q: the queue is empty" 0 "$(sm_queued)"
is "mailq: empty queue" "Mail queue is empty" "$("$MAILQ")"
is "mailq --json: empty queue prints nothing" "" "$("$MAILQ" --json)"

# --- sendmail -q with a daemon running: the daemon is poked (trigger) and flushes
touch "$T/remote-defer"
lines0=$(wc -l <"$T/log")
"$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
qpid=$!
at_exit "kill $qpid 2>/dev/null; wait $qpid 2>/dev/null"
wait_for 5 grep -q 'status=started mode=daemon' "$T/log" || fail "daemon starts" "$(tail -3 "$T/log")"
printf 'Subject: via daemon\n\nx\n' | sm second@remote.test
wait_for 5 grep -q 'to=<second@remote.test> .*status=deferred' "$T/log" && ok "daemon: the new message is tried and deferred" || fail "daemon deferral" "$(tail -5 "$T/log")"
rm -f "$T/remote-defer"
sleep 0.3
grep -q 'to=<second@remote.test> .*status=sent' "$T/log" && fail "no retry before -q (retry_min=1h)" "$(tail -5 "$T/log")" || ok "no retry before -q (retry_min=1h)"
start=$(date +%s%N)
timeout 10 "$SM" -q 2>>"$T/log"
is "sendmail -q with the daemon running: exit 0" 0 "$?"
wait_for 5 grep -q 'to=<second@remote.test> .*status=sent' "$T/log" && ok "sendmail -q: the daemon flushed at once (trigger)" || fail "flush through the trigger" "$(tail -5 "$T/log")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 3000 ] && ok "sendmail -q returns without running a pass itself (${ms} ms)" || fail "sendmail -q took ${ms} ms"
is "only one scheduler ran a pass (DESIGN.md invariant 5)" 1 "$(tail -n +$((lines0 + 1)) "$T/log" | grep -c 'status=started')"

# --- -qR, -qS, -qI: only the matching messages
touch "$T/remote-defer"
printf 'Subject: r1\n\nx\n' | sm -f one@example.test a@alpha.test
printf 'Subject: r2\n\nx\n' | sm -f two@example.test b@beta.test
wait_for 5 sh -c "[ \$(grep -c 'status=deferred' '$T/log') -ge 3 ]" || fail "two more deferrals" "$(tail -5 "$T/log")"
rm -f "$T/remote-defer"
sm -v -qRALPHA.test
is "-qR: exit 0" 0 "$?"
wait_for 5 grep -q 'to=<a@alpha.test> .*status=sent' "$T/log" && ok "-qR: the message for that recipient flushed" || fail "-qR flush" "$(tail -5 "$T/log")"
sleep 0.3
grep -q 'to=<b@beta.test> .*status=sent' "$T/log" && fail "-qR: the other message stays" "$(tail -5 "$T/log")" || ok "-qR: the other message stays"
grep -q '^sendmail: flushed ' "$T/sm.err" && ok "-qR -v: names what it flushed" || fail "-qR -v" "$(cat "$T/sm.err")"
sm -v -qSnobody-matches
is "-qS without a match: exit 0" 0 "$?"
grep -q 'no queued message matches' "$T/sm.err" && ok "-qS without a match: says so with -v" || fail "-qS no match" "$(cat "$T/sm.err")"
sm -qStwo@
wait_for 5 grep -q 'to=<b@beta.test> .*status=sent' "$T/log" && ok "-qS: the message from that sender flushed" || fail "-qS" "$(tail -5 "$T/log")"
touch "$T/remote-defer"
printf 'Subject: r3\n\nx\n' | sm c@where.test
wait_for 5 grep -q 'to=<c@where.test> .*status=deferred' "$T/log" || fail "deferral r3" "$(tail -3 "$T/log")"
rm -f "$T/remote-defer"
qid=$(ls "$T/spool/queue" | grep '^[0-9]' | head -1)
sm -qI"${qid#*.}"
wait_for 5 grep -q 'to=<c@where.test> .*status=sent' "$T/log" && ok "-qI: the message with that id flushed" || fail "-qI" "$(tail -5 "$T/log")"
kill $qpid; wait $qpid 2>/dev/null

# --- -q15m, -bd, -bh
# -q15m and -Ac -q30m (old crontabs and boot scripts): one run now, said so
touch "$T/remote-defer"
printf 'Subject: iv\n\nx\n' | sm d@interval.test
"$B/queue-run" --once 2>>"$T/log"
grep -q 'to=<d@interval.test> .*status=deferred' "$T/log" || fail "deferral before -q15m" "$(tail -3 "$T/log")"
rm -f "$T/remote-defer"
out=$(sm -q15m; echo "rc=$?"; cat "$T/sm.err")
case "$out" in "rc=0"*"running the queue once now"*"postern-flush.timer"*) ok "-q15m: runs the queue once, says timers repeat it, exit 0" ;; *) fail "-q15m" "$out" ;; esac
case "$out" in *'to=<d@interval.test> '*'status=sent'*) ok "-q15m: the deferred message went" ;; *) fail "-q15m delivered" "$out" ;; esac
out=$(sm -Ac -q30m; echo "rc=$?"; cat "$T/sm.err")
case "$out" in "rc=0"*"running the queue once now"*"status=pass-done"*) ok "-Ac -q30m: the same" ;; *) fail "-Ac -q30m" "$out" ;; esac
out=$(sm -bd -q30m; echo "rc=$?"; cat "$T/sm.err")
case "$out" in "rc=69"*"socket units"*) ok "-bd: explains the socket units, exit 69" ;; *) fail "-bd" "$out" ;; esac
sm -bh; is "-bh: ignored, exit 0" 0 "$?"

# --- newaliases and -bi rebuild the aliases; -bv shows the result
out=$(sm -bv team@example.test)
is "-bv: before newaliases the alias is unknown (67)" 67 "$?"
case "$out" in "<team@example.test>: undeliverable: 5.1.1 "*) ok "-bv: an unknown user is undeliverable" ;; *) fail "-bv unknown" "$out" ;; esac
printf 'root: rootbox@example.test\npostmaster: rootbox@example.test\nteam: carol, dave@example.test, "|/bin/true"\n' >"$T/maps/aliases"
ln -sf /bin/true "$T/progs/true"    # program_dir allows it (-bv checks the allow-list: tests/sendmail-verify.sh)
out=$("$NEWALIASES" 2>&1)
is "newaliases: exit 0" 0 "$?"
case "$out" in *"aliases.cdb: 3 aliases"*) ok "newaliases: postern-maps compiled the aliases" ;; *) fail "newaliases output" "$out" ;; esac
out=$(sm -bv team@example.test root x@far.test)
is "-bv: all deliverable: 0" 0 "$?"
case "$out" in *"<team@example.test> -> <carol@example.test>: deliverable: mailbox $T/mail/carol/ as user"*) ok "-bv: the alias expands to a mailbox" ;; *) fail "-bv alias" "$out" ;; esac
case "$out" in *"<team@example.test>: deliverable: program |/bin/true as user"*) ok "-bv: a program item" ;; *) fail "-bv program" "$out" ;; esac
case "$out" in *"<root@example.test> -> <rootbox@example.test>: deliverable: mailbox"*) ok "-bv: a bare root, qualified and aliased" ;; *) fail "-bv root" "$out" ;; esac
case "$out" in *"<x@far.test>: deliverable: remote smtp:far.test"*) ok "-bv: remote" ;; *) fail "-bv remote" "$out" ;; esac
printf 'Subject: team\n\nx\n' | sm team
sm_deliver
is "after newaliases, mail to the alias is delivered" 1 "$(sm_count dave)"
printf 'extra: erin@example.test\n' >"$T/maps/other-aliases"
sm -bi -oA"hash:$T/maps/other-aliases"
is "-bi -oA FILE: exit 0" 0 "$?"
[ -f "$T/maps/other-aliases.cdb" ] && ok "-bi -oA: that file compiled (hash: prefix ignored)" || fail "-bi -oA" "$(cat "$T/sm.err")"
printf 'broken line without colon\n' >"$T/maps/aliases"
"$NEWALIASES" >/dev/null 2>&1
is "newaliases: a broken aliases file is an error (postern-maps' code)" 65 "$?"
case "$(sm -bv team@example.test)" in *deliverable*) ok "newaliases: a failed rebuild keeps the old database" ;; *) fail "old database kept" ;; esac
qr_map routes <<M
bad.test error:5.7.1 no mail to bad.test
slow.test error:4.3.2 not now
M
out=$(sm -bv a@bad.test)
is "-bv: a routes error is undeliverable (67)" 67 "$?"
out=$(sm -bv a@slow.test)
is "-bv: a temporary routing error is 75" 75 "$?"
case "$out" in "<a@slow.test>: deferred: 4.3.2 not now") ok "-bv: says deferred with the reason" ;; *) fail "-bv deferred" "$out" ;; esac
