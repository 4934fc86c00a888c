#!/bin/bash
# hops.sh - the hop limit (hop_count_limit, default 50, lib/hops.c) on the
# paths into the spool that do not go through SMTP: the spool writer
# itself (spool-inject, which every forwarding, notice and filter uses)
# and sendmail, which adds its own Received: field.  What is queued is
# the message byte-exact; what is refused leaves nothing in tmp/ or mess/.
. "$(dirname "$0")/../../tests/lib.bash"
mkspool "$T/spool"
mkdir -p "$T/maps"
mkconf "$T/conf" spool_reserve=0
export POSTERN_CONF=$T/conf
printf 'V1\nFsender@example.org\nTrcpt@example.org\n\n' >"$T/env"

# msg N FILE: a message with N Received: fields (one folded) and a
# Received: line in its body, which does not count
msg() {
  { local i; for i in $(seq "$1"); do printf 'Received: from h%s\n\tby x; Sun, 6 Dec 2026 00:00:00 +0000\n' "$i"; done
    printf 'Subject: hops\n\nReceived: in the body\n'; } >"$2"
}
queued() { find "$T/spool/new" -type f | wc -l; }

msg 51 "$T/m51"
"$B/spool-inject" <"$T/m51" 1<"$T/env" 2>"$T/err"; rc=$?
if [ "$rc" = 65 ] && tail -n 1 "$T/err" | grep -q '^554 5\.4\.0 ' && [ "$(queued)" = 0 ] &&
   [ -z "$(find "$T/spool/mess" "$T/spool/tmp" -type f)" ]; then ok "spool-inject: 51 Received: fields refused (65, 554 5.4.0), nothing left"
else fail "spool-inject: 51 Received: fields refused (65, 554 5.4.0), nothing left" "exit $rc" "$(cat "$T/err")"; fi

msg 50 "$T/m50"
"$B/spool-inject" <"$T/m50" 1<"$T/env" 2>"$T/err"; rc=$?
if [ "$rc" = 0 ] && [ "$(queued)" = 1 ]; then ok "spool-inject: 50 Received: fields queued (the default limit)"
else fail "spool-inject: 50 Received: fields queued (the default limit)" "exit $rc" "$(cat "$T/err")"; fi
f=$(find "$T/spool/new" -type f)
spool_body "$f" >"$T/got" 2>&1
same_file "spool-inject: 50 Received: fields queued byte-exact (one file in new/, lib/spool.h)" "$T/m50" "$T/got"
is "spool-inject: its head line as spool.h says" "" "$(spool_head_check "$f" 2>&1)"

mkconf "$T/conf" spool_reserve=0 hop_count_limit=0
"$B/spool-inject" <"$T/m51" 1<"$T/env" 2>"$T/err"; rc=$?
if [ "$rc" = 0 ] && [ "$(queued)" = 2 ]; then ok "spool-inject: hop_count_limit = 0 is no limit"
else fail "spool-inject: hop_count_limit = 0 is no limit" "exit $rc" "$(cat "$T/err")"; fi

# sendmail: its own Received: makes the 50th
mkconf "$T/conf" spool_reserve=0
msg 50 "$T/m50"
"$B/sendmail" -i rcpt@example.org <"$T/m50" >"$T/out" 2>"$T/err"; rc=$?
if [ "$rc" = 65 ] && grep -q '554 5\.4\.0 .*too many hops' "$T/err" && [ "$(queued)" = 2 ]; then
  ok "sendmail: 50 Received: fields and its own refused (65, 554 5.4.0)"
else fail "sendmail: 50 Received: fields and its own refused (65, 554 5.4.0)" "exit $rc" "$(cat "$T/err")"; fi
msg 49 "$T/m49"
"$B/sendmail" -i rcpt@example.org <"$T/m49" >"$T/out" 2>"$T/err"; rc=$?
if [ "$rc" = 0 ] && [ "$(queued)" = 3 ]; then ok "sendmail: 49 Received: fields and its own queued"
else fail "sendmail: 49 Received: fields and its own queued" "exit $rc" "$(cat "$T/err")"; fi
