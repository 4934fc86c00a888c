# tests/queue-crash.sh - never lose mail: kill -9 of queue-run and of its
# deliverers at random points in a bounded loop, then a restart: every
# message is delivered at least once.  Also: damaged messages go to
# corrupt/ with a log line, a bad state file is set aside and the message
# routed again, orphans in tmp/ and mess/ older than 36 h are removed.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
qr_conf retry_min=1s retry_max=1s concurrency_limit=8
qr_map virtual <<M
box@example.test $T/mail/box/
M
rounds=${CRASH_ROUNDS:-12}
per=5
total=0

# kids PID: the processes whose parent is PID
kids() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '; }

for r in $(seq "$rounds"); do
  "$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
  pid=$!
  for i in $(seq $per); do
    total=$((total + 1))
    printf 'Subject: crash-%d\n\nbody %d\n' "$total" "$total" | qr_inject s@x.test box@example.test "c$total-ok@far.test"
  done
  sleep 0.0$((RANDOM % 10))
  if [ $((r % 2)) = 0 ]; then   # every other round: kill deliverers first
    for h in $(kids "$pid"); do for k in $(kids "$h"); do kill -9 "$k" 2>/dev/null; done; done
    sleep 0.0$((RANDOM % 5))
  fi
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  sleep 0.05      # the helpers see the socket close and exit after their children
done

# restart until the queue is empty (bounded)
for i in $(seq 20); do
  [ "$(qr_queue_count)" = 0 ] && break
  qr_run --once --all
done
is "after the crashes the queue drains" 0 "$(qr_queue_count)"
missing=""
for i in $(seq "$total"); do
  grep -lq "^Subject: crash-$i\$" "$T/mail/box/new/"* 2>/dev/null || missing="$missing $i"
done
is "every message delivered to the Maildir at least once ($total messages, $rounds kill -9 rounds)" "" "$missing"
remote_missing=""
for i in $(seq "$total"); do
  grep -qx "c$i-ok@far.test" "$T/remote/"*.args 2>/dev/null || remote_missing="$remote_missing $i"
done
is "every remote recipient handed to the deliverer at least once" "" "$remote_missing"
dups=$(( $(qr_maildir_count "$T/mail/box") - total ))
ok "duplicates after crashes: $dups (allowed: a crash may repeat, never drop)"
is "no Maildir tmp/ leftovers that would be visible as mail" "" "$(ls "$T/mail/box/new" | grep -v ',S=')"

# --- corrupt/ quarantine
id=1700000000.000001.1
printf 'V1\nFs@x.test\nTbroken\n\n' >"$T/spool/queue/$id"     # invalid recipient
printf 'Subject: x\n\n' >"$T/spool/mess/$id"
id2=1700000000.000002.2
printf 'V1\nFs@x.test\nTbox@example.test\n\n' >"$T/spool/queue/$id2"   # no body
id3=1700000000.000003.3
printf 'V1\nFs@x.test\nTbox@example.test\n\n' >"$T/spool/queue/$id3"
printf 'Subject: state-%s\n\nx\n' "$id3" >"$T/spool/mess/$id3"
printf 'S1\nN0\nA1\nRgarbage\nE\n' >"$T/spool/state/$id3"
is_root && chown -R "$U:$U" "$T/spool/queue" "$T/spool/mess" "$T/spool/state"
n=$(qr_maildir_count "$T/mail/box")
qr_run --once
[ -f "$T/spool/corrupt/$id.envelope" ] && [ -f "$T/spool/corrupt/$id.message" ] && ok "bad envelope: moved to corrupt/ with its body" || fail "bad envelope to corrupt/" "$(ls "$T/spool/corrupt")"
grep -q "id=$id status=corrupt" "$T/log" && ok "bad envelope: logged" || fail "bad envelope: logged"
[ -f "$T/spool/corrupt/$id2.envelope" ] && grep -q "id=$id2 status=corrupt reason=\"message body missing\"" "$T/log" && ok "missing body: envelope moved to corrupt/, logged" || fail "missing body" "$(grep "$id2" "$T/log")"
ls "$T/spool/corrupt/" | grep -q "^$id3.state." && ok "bad state file: kept in corrupt/" || fail "bad state file kept" "$(ls "$T/spool/corrupt")"
is "bad state file: the message is routed again and delivered" $((n + 1)) "$(qr_maildir_count "$T/mail/box")"

# --- orphans (invariant 4)
touch "$T/spool/tmp/old" "$T/spool/tmp/young" "$T/spool/mess/1600000000.000001.9" "$T/spool/mess/1600000000.000002.9"
touch -d '37 hours ago' "$T/spool/tmp/old" "$T/spool/mess/1600000000.000001.9"
qr_run --once
[ ! -e "$T/spool/tmp/old" ] && [ -e "$T/spool/tmp/young" ] && ok "tmp/: files older than 36 h removed, younger kept" || fail "tmp/ cleanup" "$(ls "$T/spool/tmp")"
[ ! -e "$T/spool/mess/1600000000.000001.9" ] && [ -e "$T/spool/mess/1600000000.000002.9" ] && ok "mess/: bodies without envelope older than 36 h removed, younger kept" || fail "mess/ cleanup" "$(ls "$T/spool/mess")"

# --- a state file that cannot be written whole (a file size limit makes
# the write fail half way) is reported, and the one on disk stays whole
rcpts=(); for i in $(seq 60); do rcpts+=("fsize-$i-defer-and-some-more-words@far.test"); done
printf 'Subject: fsize\n\nx\n' | qr_inject s@x.test "${rcpts[@]}"
qr_run --once
st=$(grep -l 'fsize-60-defer' "$T/spool/state/"[0-9]* 2>/dev/null | head -1)
if [ -n "$st" ] && [ "$(stat -c %s "$st")" -gt 4096 ]; then
  cp "$st" "$T/state.before"
  ( ulimit -f 4; exec "$B/queue-run" -C "$T/conf" --once --all ) 2> >(cat >"$T/fsize.log")
  rc=$?; sleep 0.2
  is "file size limit: queue-run finishes its pass (exit 0)" 0 "$rc"
  same_file "file size limit: the state file on disk is the old one, whole" "$T/state.before" "$st"
  is "file size limit: no .tmp left in state/" "" "$(ls "$T/spool/state" | grep '\.tmp$')"
  grep -q 'status=error reason="unable to write the state file"' "$T/fsize.log" && ok "file size limit: the failed write is logged" \
    || fail "file size limit: the failed write is logged" "$(tail -5 "$T/fsize.log")"
  qr_run --once --all
  grep -q '	p	2	.*fsize-60-defer' "$st" && ok "file size limit: the next pass writes it (the unrecorded try is repeated: tries 2)" \
    || fail "file size limit: next pass" "$(grep fsize-60 "$st")"
  qr_run --delete "$(basename "$st")"
else
  fail "file size limit: a state file larger than 4 KiB" "$(ls -l "$T/spool/state")"
fi
