# tests/queue-security.sh - queue-run against hostile spool contents and
# hostile envelopes (issue 13): root's writes in state/ never follow a
# planted link (item 8); a FIFO planted as a message body does not block
# the scheduler (item 12); an :include: file that is a symlink is refused
# (item 13); duplicate envelope recipients of a huge alias cost one
# expansion and a bounded log (item 7).
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
msg='From: s@x.test\nSubject: sec\n\nbody\n'

# --- item 8: state/hold.tmp planted as a hard link or symlink to a root file
if is_root; then
  printf 'secret\n' >"$T/victim"; chmod 600 "$T/victim"
  ln "$T/victim" "$T/spool/state/hold.tmp"
  qr_run --hold far.test
  is "hold: a hard link planted at state/hold.tmp is not written through" "secret root" "$(cat "$T/victim") $(stat -c %U "$T/victim")"
  is "hold: the hold list is written anyway" "far.test" "$(cat "$T/spool/state/hold" 2>/dev/null)"
  printf 'secret2\n' >"$T/victim2"; chmod 600 "$T/victim2"
  ln -s "$T/victim2" "$T/spool/state/hold.tmp"
  qr_run --release far.test
  is "hold: a symlink planted at state/hold.tmp is not followed" "secret2 root" "$(cat "$T/victim2") $(stat -c %U "$T/victim2")"
  is "hold: the release is written anyway (the stale link removed)" "" "$(cat "$T/spool/state/hold" 2>/dev/null)"
  [ -L "$T/spool/state/hold.tmp" ] && fail "hold: no link left behind" || ok "hold: no link left behind"
else
  skip "hold: planted links in state/" "needs root"
fi

# --- item 12: a FIFO as mess/<id> (a message of the older layout: its
# envelope alone in new/, the body a FIFO) and as a whole one-file message
printf "$msg" | qr_inject s@x.test fifo@far.test
fid=$(ls "$T/spool/new" | sort | head -1)
spool_envelope "$T/spool/new/$fid" >"$T/fifo.env" && cat "$T/fifo.env" >"$T/spool/new/$fid"
mkfifo -m 600 "$T/spool/mess/$fid"
is_root && chown "$U" "$T/spool/mess/$fid"
sleep 0.01
printf "$msg" | qr_inject s@x.test fifo2@far.test
fid2=$(ls "$T/spool/new" | sort | tail -1)
rm -f "$T/spool/new/$fid2"; mkfifo -m 600 "$T/spool/new/$fid2"
is_root && chown "$U" "$T/spool/new/$fid2"
sleep 0.01
printf "$msg" | qr_inject s@x.test other@far.test
timeout -k 5 30 "$B/queue-run" -C "$T/conf" --once 2>>"$T/log"
rc=$?
[ "$rc" != 124 ] && [ "$rc" != 137 ] && ok "FIFO body: the scheduler does not block (exit $rc)" || fail "FIFO body: the scheduler does not block" "timed out"
grep -l 'other@far.test' "$T/remote/"*.args >/dev/null 2>&1 && ok "FIFO body: the other message is delivered" || fail "FIFO body: the other message is delivered" "$(tail -5 "$T/log")"
grep -q "$fid status=corrupt reason=\"message body is not a regular file\"" "$T/log" && ok "FIFO body: the message is moved to corrupt/ with a log line" || fail "FIFO body: corrupt/ and log line" "$(grep "$fid" "$T/log" | tail -3)"
[ -p "$T/spool/corrupt/$fid.message" ] && ok "FIFO body: the FIFO is kept in corrupt/" || fail "FIFO body: kept in corrupt/" "$(ls -l "$T/spool/corrupt")"
grep -q "$fid2 status=corrupt" "$T/log" && ok "FIFO as a one-file message: moved to corrupt/ with a log line" ||
  fail "FIFO as a one-file message: corrupt/ and log line" "$(grep "$fid2" "$T/log" | tail -3)" "$(ls -l "$T/spool/corrupt")"
ls -l "$T/spool/corrupt" | grep -q "^p.* $fid2" && ok "FIFO as a one-file message: the FIFO is kept in corrupt/" ||
  fail "FIFO as a one-file message: kept in corrupt/" "$(ls -l "$T/spool/corrupt")"
is "FIFO body: nothing left in the queue" 0 "$(qr_queue_count)"

# --- item 13: an :include: file that is a symlink to someone else's file
if is_root; then
  mkdir -p "$T/incl"; chmod 755 "$T/incl"
  printf '"|rec sym"\n' >"$T/incl/target"; chmod 644 "$T/incl/target"; chown nobody "$T/incl/target"
  ln -s "$T/incl/target" "$T/incl/link"
  printf '#!/bin/sh\ncat >/dev/null\n' >"$T/progs/rec"; chmod 755 "$T/progs/rec"
  qr_map aliases <<M
symlist: :include:$T/incl/link
M
  : >"$T/log"
  printf "$msg" | qr_inject s@x.test symlist@example.test
  qr_run --once
  grep -q 'route=program.*user=nobody' "$T/log" && fail "include symlink: nothing runs as the target's owner" "$(grep route= "$T/log")" || ok "include symlink: nothing runs as the target's owner"
  grep -q 'orig_to=<symlist@example.test> route=retry reason="4.3.0 <symlist@example.test>: include file is a symbolic link"' "$T/log" \
    && ok "include symlink: refused, the recipient waits, the reason logged" || fail "include symlink: refused and logged" "$(grep route= "$T/log")"
  qr_run --delete "$(ls "$T/spool/queue" | head -1)" 2>/dev/null
else
  skip "include symlink" "needs root (a file of another owner)"
fi

# --- item 7: 100 duplicate RCPTs of an alias over the expansion limit
{
  b="big:"
  for l in $(seq 1 101); do b="$b l$l,"; done
  echo "${b%,}"
  for l in $(seq 1 101); do
    printf 'l%d:' "$l"
    for i in $(seq 1 100); do printf ' m%d.%d@far.test,' "$l" "$i"; done | sed 's/,$//'
    echo
  done
  echo "small: a1@far.test, a2@far.test"
} | qr_map aliases
: >"$T/log"; rm -f "$T/remote/"*
env="V1\nFs@x.test\n"
for i in $(seq 1 100); do env="${env}Tbig@example.test\n"; done
for i in 1 2 3; do env="${env}Tsmall@example.test\n"; done
printf "$msg" | "$B/spool-inject" 1< <(printf "$env\n") 2>>"$T/inject.log"
id=$(ls "$T/spool/new" | head -1)
s0=$(date +%s%N)
timeout -k 5 120 "$B/queue-run" -C "$T/conf" --once 2>>"$T/log"
ms=$(( ($(date +%s%N) - s0) / 1000000 ))
lines=$(grep -c "^.*$id" "$T/log")
[ "$lines" -le 120 ] && ok "duplicate RCPTs of a huge alias: $lines log lines (one per RCPT and delivery)" || fail "duplicate RCPTs of a huge alias: a bounded log" "$lines lines" "$(grep "$id" "$T/log" | cut -c1-200 | sort | uniq -c | sort -rn | head -5)"
[ "$ms" -lt 15000 ] && ok "duplicate RCPTs of a huge alias: one expansion (${ms} ms)" || fail "duplicate RCPTs of a huge alias: bounded time" "${ms} ms"
is "huge alias: logged once as too large" 1 "$(grep -c "$id to=<big@example.test> orig_to=<big@example.test> route=error reason=\"5.4.6 <big@example.test>: alias expansion too large\"" "$T/log")"
is "duplicate RCPTs: each repeat logged once as a duplicate" 101 "$(grep "$id" "$T/log" | grep -c 'route=duplicate reason="envelope recipient given again"')"
is "duplicate RCPTs of a small alias: each member delivered once" "1 1" "$(cat "$T/remote/"*.args | grep -c '^a1@far.test') $(cat "$T/remote/"*.args | grep -c '^a2@far.test')"
is "the sender gets one bounce naming big@ once" 1 "$(cat "$T/remote/"*.msg | grep -c '^Final-Recipient: rfc822; big@example.test')"
