# local-deliver/tests/offset.sh - the message is fd 0 from the offset it
# has when local-deliver starts (queue-run hands over a one-file message
# at its body): a file with junk before that offset, a Delivered-To: line
# for the recipient among it, delivered to a Maildir, an mbox and a
# |program; the junk never reaches them and is not taken for a loop; a
# loop in the message itself still is.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
D=$T/d; mkdir -p "$D"; chmod 777 "$D"

# at FILE OFFSET CMD...: CMD with FILE on fd 0 at OFFSET, as the test user
at() {
  local f=$1 off=$2; shift 2
  qr_as_user python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY); os.lseek(fd, int(sys.argv[2]), 0); os.dup2(fd, 0)
os.execv(sys.argv[3], sys.argv[3:])' "$f" "$off" "$@"
}

printf 'From: a@x.test\nSubject: offset\n\nFrom the top\n.dot\nlast line\n' >"$T/msg"
# junk: a head-like line, our recipient's Delivered-To (a loop if read),
# a mailbox-looking header; then a hole up to the offset
for off in 4096 100 5000; do
  f=$T/spooled.$off
  printf 'postern-message 1 %010d 0000000040\nDelivered-To: r@example.test\nJUNK BEFORE THE BODY\n' "$off" >"$f"
  truncate -s "$off" "$f"
  cat "$T/msg" >>"$f"
  chmod 644 "$f"
done
{ printf 'Return-Path: <s@x.test>\nDelivered-To: r@example.test\n'; cat "$T/msg"; } >"$T/want"

for off in 4096 100; do
  out=$(at "$T/spooled.$off" "$off" "$B/local-deliver" s@x.test r@example.test "$D/Maildir$off/"); rc=$?
  is "Maildir from offset $off: delivered, the junk's Delivered-To not taken for a loop" "0 r@example.test	ok" "$rc $(printf '%s' "$out" | cut -f1-2)"
  f=$(ls "$D/Maildir$off/new/"* 2>/dev/null | head -1)
  [ -n "$f" ] && same_file "Maildir from offset $off: the headers, then the message from the offset on" "$T/want" "$f" || fail "Maildir from offset $off: no file" "$out"
done

out=$(at "$T/spooled.5000" 5000 "$B/local-deliver" s@x.test r@example.test "$D/mbox"); rc=$?
is "mbox from offset 5000: delivered" 0 "$rc"
{ printf 'Return-Path: <s@x.test>\nDelivered-To: r@example.test\n'; sed 's/^\(>*From \)/>\1/' "$T/msg"; printf '\n'; } >"$T/want.mbox"
tail -n +2 "$D/mbox" >"$T/got.mbox" 2>/dev/null
same_file "mbox from offset 5000: the entry holds the message from the offset on, nothing before" "$T/want.mbox" "$T/got.mbox"

printf '#!/bin/sh\ncat >%s/stdin.out\n' "$D" >"$T/progs/rec"
chmod 755 "$T/progs/rec"
out=$(at "$T/spooled.4096" 4096 "$B/local-deliver" s@x.test r@example.test '|rec'); rc=$?
is "|program from offset 4096: delivered" 0 "$rc"
same_file "|program from offset 4096: its stdin is the headers and the message from the offset on" "$T/want" "$D/stdin.out"

# a loop in the message itself (after the offset) is still seen
{ printf 'JUNK\n'; printf 'Delivered-To: r@example.test\n'; cat "$T/msg"; } >"$T/looped"
chmod 644 "$T/looped"
out=$(at "$T/looped" 5 "$B/local-deliver" s@x.test r@example.test "$D/Maildir-loop/"); rc=$?
is "a Delivered-To: after the offset is a loop" "r@example.test	fail 5.4.6" "$(printf '%s' "$out" | cut -f1-2) $(printf '%s' "$out" | cut -f3 | cut -d' ' -f1)"
