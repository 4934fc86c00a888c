#!/bin/bash
# rewrite.sh - hiding the inside on the way out (remote-send.8
# REWRITING): masquerade_domains, generic.cdb and smtp_received_headers
# applied to the envelope sender and the From:, Sender: and Reply-To:
# fields of SMTP deliveries, checked byte for byte in what a loopback
# server receives: display names, comments, other fields and the body
# untouched; LMTP and exempt routes untouched; hostile fields sent as
# they are; an unreadable generic map defers.
. "$(dirname "$0")/rs.bash"

P=$(free_port); server s "$P"
L=$(free_port); server l "$L" --lmtp

cat >"$T/maps/generic" <<'M'
# user@domain: the whole address; @domain: the domain, or every address
bob@lab.corp.example.com robert@example.com
@hq.example.com @example.org
@old.example.com new.example.net
@shared.example.com office@example.com
M
"$B/postern-maps" compile "$T/maps/generic" >/dev/null || fail "generic map compiles"

R1='Received: from ws7.corp.example.com (ws7.corp.example.com [10.1.2.7])
	by hub.corp.example.com (postern) with ESMTP id 1;
	Sun, 6 Dec 2026 23:00:00 +0000'
R2='Received: from ext.example.net (ext.example.net [203.0.113.9])
	by mx.example.net with ESMTP; Sun, 6 Dec 2026 22:00:00 +0000'
R3='Received: by ws7.corp.example.com (postern) with local id 2; Sun, 6 Dec 2026 21:00:00 +0000'
R4='Received: from v6.corp.example.com ([IPv6:fd00::7]) by x.test; Sun, 6 Dec 2026 20:00:00 +0000'
# head FROM SENDER REPLY-TO - the rest of the header and the body
body() {
  printf '%s\n' "From: $1" "Sender: $2" "Reply-To: $3"
  printf '%s\n' 'To: Someone <x@dest.test>' 'Subject: From: joe@ws7.corp.example.com stays' \
    'X-Folded: a' '	b@lab.corp.example.com' 'Message-ID: <1@ws7.corp.example.com>' '' \
    'From: joe@ws7.corp.example.com in the body' '.dot line' 'Reply-To: x@hq.example.com'
}
IN_FROM='"Joe Q. Public" <joe@ws7.corp.example.com> (the boss)'
IN_SENDER='=?UTF-8?B?Sm9l?= <joe @ corp.example.com>'
IN_REPLY='Team: ann@hq.example.com, "Bob" <bob@lab.corp.example.com>;,
	carol@other.test, tom@keep.example.com, (c) dan@x.keep.example.com'
OUT_FROM='"Joe Q. Public" <joe@example.com> (the boss)'
OUT_SENDER='=?UTF-8?B?Sm9l?= <joe@example.com>'
OUT_REPLY='Team: ann@example.org, "Bob" <robert@example.com>;,
	carol@other.test, tom@keep.example.com, (c) dan@x.keep.example.com'
{ printf '%s\n' "$R1" "$R2" "$R3" "$R4"; body "$IN_FROM" "$IN_SENDER" "$IN_REPLY"; } >"$T/in"

# wire FILE - FILE as DATA carries it: CRLF, dot-stuffed
wire() { sed -e 's/$/\r/' -e 's/^\./../' "$1"; }
# got N - the data of the server's Nth message; mail N - its MAIL line
got() { awk 'p; /^$/ && !p { p = 1 }' "$T/s/$1"; }
mail() { head -n 1 "$T/s/$1"; }
n=0
# deliver NAME WANT SENDER [conf...] - send $T/in, compare with WANT (LF)
deliver() {
  local name=$1 want=$2 sender=$3; shift 3
  conf "masquerade_domains=!keep.example.com, example.com" "$@"
  send "$T/in" "smtp:[127.0.0.1]:$P" "$sender" x@dest.test
  n=$((n + 1))
  if [ "$(result x@dest.test)" != ok ] && [ "$(result x@dest.test)" != passed ]; then
    fail "$name: delivered" "$(cat "$T/out")" "$(tail -n 5 "$T/err")"; return
  fi
  if cmp -s <(got $n) <(wire "$want"); then ok "$name"
  else fail "$name" "$(diff <(wire "$want") <(got $n) | head -n 20)"; fi
}

{ printf '%s\n' "$R1" "$R2" "$R3" "$R4"; body "$OUT_FROM" "$OUT_SENDER" "$OUT_REPLY"; } >"$T/want"
deliver "keep: From, Sender, Reply-To rewritten, display names, comments, groups and the rest byte for byte" \
  "$T/want" joe@ws7.corp.example.com
is "envelope sender masqueraded" "MAIL FROM:<joe@example.com>" "$(mail $n | cut -d' ' -f1-2)"
check "the log names the rewriting" grep -q 'rewrite=sender.*to=joe@example.com' "$T/err"

{ printf '%s\n' "$R2"; body "$OUT_FROM" "$OUT_SENDER" "$OUT_REPLY"; } >"$T/want"
deliver "strip-internal: hops from inside networks and local ones removed, the outside one kept" \
  "$T/want" bob@lab.corp.example.com smtp_received_headers=strip-internal
is "envelope sender by generic user@domain" "MAIL FROM:<robert@example.com>" "$(mail $n | cut -d' ' -f1-2)"

{ printf '%s\n' "$R1"; body "$OUT_FROM" "$OUT_SENDER" "$OUT_REPLY"; } >"$T/want"
deliver "ours-only: only the topmost Received: kept" "$T/want" a@old.example.com smtp_received_headers=ours-only
is "envelope sender by generic @domain -> domain" "MAIL FROM:<a@new.example.net>" "$(mail $n | cut -d' ' -f1-2)"

{ printf '%s\n' "$R1" "$R2"; body "$OUT_FROM" "$OUT_SENDER" "$OUT_REPLY"; } >"$T/want"
deliver "strip-internal with smtp_internal_networks: only listed networks (and local hops) count" \
  "$T/want" a@shared.example.com smtp_received_headers=strip-internal "smtp_internal_networks=fd00::/8"
is "envelope sender by generic @domain -> address" "MAIL FROM:<office@example.com>" "$(mail $n | cut -d' ' -f1-2)"

cp "$T/in" "$T/want"
deliver "exempt route: nothing rewritten" "$T/want" joe@ws7.corp.example.com \
  "smtp_rewrite_exempt=hub.test [127.0.0.1]:$P" smtp_received_headers=ours-only
is "exempt route: envelope unchanged" "MAIL FROM:<joe@ws7.corp.example.com>" "$(mail $n | cut -d' ' -f1-2)"

deliver "the null sender stays null" "$T/want" "" "smtp_rewrite_exempt=[127.0.0.1]:$P"
is "null sender" "MAIL FROM:<>" "$(mail $n | cut -d' ' -f1-2)"

printf 'Subject: nothing to do\nTo: x@dest.test\n\nbody joe@ws7.corp.example.com\n' >"$T/in2"
cp "$T/in" "$T/keep"; cp "$T/in2" "$T/in"; cp "$T/in2" "$T/want"
deliver "a message without those fields is untouched" "$T/want" joe@ws7.corp.example.com
cp "$T/keep" "$T/in"

# LMTP: never rewritten
conf "masquerade_domains=example.com" smtp_received_headers=ours-only
send "$T/in" "lmtp:127.0.0.1:$L" joe@ws7.corp.example.com x@dest.test
expect "LMTP: delivered" x@dest.test ok
f=$(ls "$T/l" | head -n 1)
if cmp -s <(awk 'p; /^$/ && !p { p = 1 }' "$T/l/$f") <(wire "$T/in"); then ok "LMTP: message untouched"
else fail "LMTP: message untouched" "$(diff <(wire "$T/in") <(awk 'p; /^$/ && !p { p = 1 }' "$T/l/$f") | head)"; fi
check "LMTP: envelope untouched" grep -q 'MAIL FROM:<joe@ws7.corp.example.com>' "$T/l/$f"

# hostile fields: sent as they are, the rest still rewritten
long=$(python3 -c 'print(", ".join("u%d@ws.corp.example.com" % i for i in range(4000)))')
{ printf 'From: <<joe@ws7.corp.example.com\nSender: joe@ws7.corp.example.com (unclosed\n'
  printf 'Reply-To: %s\n' "$long"; printf 'Subject: x\n\nbody\n'; } >"$T/in"
{ printf 'From: <<joe@ws7.corp.example.com\nSender: joe@ws7.corp.example.com (unclosed\n'
  printf 'Reply-To: %s\n' "$long"; printf 'Subject: x\n\nbody\n'; } >"$T/want"
deliver "malformed and over-long address fields go out unchanged" "$T/want" joe@ws7.corp.example.com
check "malformed field logged" grep -q 'rewrite=From.*status=unchanged' "$T/err"
check "too long field logged" grep -q 'rewrite=Reply-To.*status=unchanged' "$T/err"
{ printf 'From: '; head -c 70000 /dev/zero | tr '\0' a; printf '@ws7.corp.example.com\n\nbody\n'; } >"$T/in"
cp "$T/in" "$T/want"
deliver "a 70000-byte From: goes out unchanged" "$T/want" joe@ws7.corp.example.com
printf 'From: a@ws.corp.example.com\nSubject: no body, no end of line' >"$T/in"
printf 'From: a@example.com\nSubject: no body, no end of line\n' >"$T/want"
deliver "a header without an empty line or a last LF" "$T/want" joe@ws7.corp.example.com

# the generic map: a bad entry and an unreadable map defer
printf 'From: a@x.test\n\nbody\n' >"$T/in"
printf 'joe@ws7.corp.example.com not-an-address\n' >"$T/maps/generic"
"$B/postern-maps" compile "$T/maps/generic" >/dev/null
conf
send "$T/in" "smtp:[127.0.0.1]:$P" joe@ws7.corp.example.com x@dest.test
expect "a generic entry that is no address defers" x@dest.test defer "4.3.5 bad generic entry*"
echo garbage >"$T/maps/generic.cdb"
send "$T/in" "smtp:[127.0.0.1]:$P" joe@ws7.corp.example.com x@dest.test
expect "an unreadable generic.cdb defers" x@dest.test defer "4.3.5 unable to read generic.cdb*"
rm -f "$T/maps/generic.cdb"

conf smtp_received_headers=some
send "$T/in" "smtp:[127.0.0.1]:$P" a@b.test x@dest.test
is "an unknown smtp_received_headers word: exit 78" 78 "$RC"
conf "smtp_internal_networks=10.0.0.0/33"
send "$T/in" "smtp:[127.0.0.1]:$P" a@b.test x@dest.test
is "a bad smtp_internal_networks entry: exit 78" 78 "$RC"
