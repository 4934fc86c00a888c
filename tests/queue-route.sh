# tests/queue-route.sh - routing in DESIGN.md's order, end to end through
# spool-inject -> queue-run --once -> local-deliver / the remote deliverer:
# virtual mailboxes (byte-exact), aliases with chains, :include:, |program,
# /file, self-reference and loops, virtual rewrites, routes (smtp:, error:),
# relayhost, MX default, unknown users; one log line per routing decision.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup

msg=$T/msg
printf 'From: Sender <s@x.test>\nTo: box@example.test\nSubject: byte exact\n\nline 1\nFrom the start\n.\n8-bit: gr\303\274\303\237e\n' >"$msg"

# --- virtual map: a mailbox path (Maildir) for a non-system user
qr_map virtual <<M
box@example.test $T/mail/box/
@virt.test $T/mail/catchall/
rewrite@example.test box@example.test
M
qr_inject s@x.test box@example.test <"$msg"
qr_run --once
is "virtual: one message in the Maildir" 1 "$(qr_maildir_count "$T/mail/box")"
f=$(ls "$T/mail/box/new/"* 2>/dev/null | head -1)
{ printf 'Return-Path: <s@x.test>\nDelivered-To: box@example.test\n'; cat "$msg"; } >"$T/expect"
same_file "virtual: Maildir file is Return-Path + Delivered-To + the message, byte for byte" "$T/expect" "$f"
is "virtual: the queue is empty afterwards" 0 "$(qr_queue_count)"
is "virtual: no body or state left" "" "$(ls "$T/spool/mess" "$T/spool/state" | grep '^[0-9]')"
grep -q 'to=<box@example.test> orig_to=<box@example.test> route=mailbox' "$T/log" && ok "virtual: routing decision logged" || fail "virtual: routing decision logged" "$(cat "$T/log")"
grep -q 'to=<box@example.test> relay=local:.* status=sent' "$T/log" && ok "virtual: delivery logged" || fail "virtual: delivery logged" "$(cat "$T/log")"

printf 'Subject: c\n\nx\n' | qr_inject s@x.test anyone@VIRT.test rewrite@example.test
qr_run --once
is "virtual: @domain catch-all, domain case ignored" 1 "$(qr_maildir_count "$T/mail/catchall")"
is "virtual: address rewrite delivers to the target" 2 "$(qr_maildir_count "$T/mail/box")"

# --- aliases: chains, include, program, file, self-reference, loops, depth
mkdir -p "$T/incl"
printf 'box@example.test\n# a comment\n\n"|rec inc"\n' >"$T/incl/list"
chmod 644 "$T/incl/list"
printf '#!/bin/sh\ncat > "%s/prog.$1.$$"; env > "%s/prog.$1.env"\n' "$T/mail" "$T/mail" >"$T/progs/rec"
chmod 755 "$T/progs/rec"
qr_map aliases <<M
team: a1, "|rec team", $T/mail/team.mbox
a1: a2
a2: box@example.test
self: self, box@example.test
loopa: loopb
loopb: loopa
list: :include:$T/incl/list
d1: d2
d2: d3
d3: d4
d4: d5
d5: d6
d6: d7
d7: d8
d8: d9
d9: d10
d10: d11
d11: d12
d12: box@example.test
M
printf 'Subject: team\n\nbody\n' | qr_inject s@x.test team@example.test
qr_run --once
is "aliases: chain of two ends in the Maildir" 3 "$(qr_maildir_count "$T/mail/box")"
is "aliases: |program ran once" 1 "$(ls "$T/mail" | grep -c '^prog.team.[0-9]')"
grep -q '^RECIPIENT=team@example.test$' "$T/mail/prog.team.env" && ok "aliases: program sees RECIPIENT" || fail "aliases: program sees RECIPIENT" "$(cat "$T/mail/prog.team.env")"
grep -q '^SENDER=s@x.test$' "$T/mail/prog.team.env" && ok "aliases: program sees SENDER" || fail "aliases: program sees SENDER"
grep -q '^From s@x.test ' "$T/mail/team.mbox" && ok "aliases: /file gets an mbox entry" || fail "aliases: /file gets an mbox entry" "$(cat "$T/mail/team.mbox" 2>&1)"

printf 'Subject: inc\n\nbody\n' | qr_inject s@x.test list@example.test
qr_run --once
is "aliases: :include: file delivers to its addresses" 4 "$(qr_maildir_count "$T/mail/box")"
is "aliases: :include: file runs its program" 1 "$(ls "$T/mail" | grep -c '^prog.inc.[0-9]')"

printf 'Subject: deep\n\nbody\n' | qr_inject s@x.test d1@example.test
qr_run --once
grep -q 'to=<d1[0-9]*@example.test>.*5.4.6 .*too deep' "$T/log" && ok "aliases: expansion deeper than 10 fails with 5.4.6" || fail "aliases: expansion deeper than 10 fails with 5.4.6" "$(grep d1 "$T/log" | tail -3)"

printf 'Subject: loop\n\nbody\n' | qr_inject s@x.test loopa@example.test
qr_run --once
grep -q 'to=<loopa@example.test>.*route=error reason="5.1.1 <loopa@example.test>: user unknown"' "$T/log" \
  && ok "aliases: a loop ends at the address seen twice (no alias, unknown user)" || fail "aliases: a loop ends at the address seen twice" "$(grep loop "$T/log")"

# --- :include: loops, limits, /dev/null
printf 'box@example.test, :include:%s/incl/self\n' "$T" >"$T/incl/self"
chmod 644 "$T/incl/self"
awk 'BEGIN { for (i = 0; i < 6000; i++) printf "a%d@f.t\n", i }' >"$T/incl/big1"
awk 'BEGIN { for (i = 6000; i < 12000; i++) printf "a%d@f.t\n", i }' >"$T/incl/big2"
chmod 644 "$T/incl/big1" "$T/incl/big2"
{
  echo "selfinc: :include:$T/incl/self"
  echo "big: :include:$T/incl/big1, :include:$T/incl/big2"
  for i in 1 2 3 4 5 6 7; do printf 'x%d: ' $i; for j in 1 2 3 4 5 6 7 8 9; do printf 'x%d, ' $((i + 1)); done; printf 'x%d\n' $((i + 1)); done
  echo "x8: box@example.test"
  echo "devnull: /dev/null"
  echo "unsafe: :include:$T/incl/unsafe"
} | qr_map aliases
printf 'box@example.test\n' >"$T/incl/unsafe"; chmod 664 "$T/incl/unsafe"
n=$(qr_maildir_count "$T/mail/box")
rm -f "$T/remote/"*
printf 'Subject: inc loop\n\nbody\n' | qr_inject s@x.test selfinc@example.test big@example.test x1@example.test devnull@example.test unsafe@example.test
timeout 60 "$B/queue-run" -C "$T/conf" --once 2>>"$T/log"
is "include: a file that includes itself is read once, no crash" "0 $((n + 1))" "$? $(qr_maildir_count "$T/mail/box")"
grep -q 'to=<big@example.test> orig_to=<big@example.test> route=error reason="5.4.6 <big@example.test>: alias expansion too large"' "$T/log" \
  && ok "aliases: more than 10000 deliveries from one recipient fail it with 5.4.6" || fail "expansion too large" "$(grep 'big@' "$T/log" | tail -3)"
is "aliases: none of an oversized expansion is delivered" "" "$(cat "$T/remote/"*.args 2>/dev/null | grep -m1 '@f.t')"
grep -q 'to=<x1@example.test> orig_to=<x1@example.test> route=error reason="5.4.6 <x1@example.test>: alias expansion too large"' "$T/log" \
  && ok "aliases: an exponential expansion is cut off (5.4.6)" || fail "exponential expansion" "$(grep 'x1@' "$T/log" | tail -3)"
is "aliases: duplicate lines are bounded per recipient" 20 "$(grep -c 'orig_to=<x1@example.test> route=duplicate' "$T/log")"
grep -q 'to=<devnull@example.test> relay=local:.* status=sent reply="2.0.0 discarded (/dev/null)"' "$T/log" \
  && ok "aliases: /dev/null discards" || fail "/dev/null" "$(grep devnull "$T/log" | tail -3)"
grep -q 'to=<unsafe@example.test> .*route=retry reason="4.3.0 <unsafe@example.test>: unsafe include file' "$T/log" \
  && ok "include: a group-writable include file is refused (deferred, says why)" || fail "unsafe include" "$(grep unsafe "$T/log" | tail -3)"
qr_run --delete "$(ls "$T/spool/queue" | head -1)"

# --- routes, relayhost, MX
qr_map routes <<M
far.test smtp:[relay.far.test]:2525
.sub.test lmtp:unix:/run/lmtp.sock
bad.test error:5.7.1 we do not send to bad.test
slow.test error:4.3.2 not now
M
rm -f "$T/remote/"*
printf 'Subject: r\n\nbody\n' | qr_inject s@x.test a@far.test b@far.test c@x.sub.test d@mx.test e@bad.test f@slow.test
qr_run --once
args=$(cat "$T/remote/"*.args | tr '\n' ' ')
case "$args" in *"smtp:[relay.far.test]:2525 s@x.test a@far.test b@far.test "*) ok "routes: one run per destination with all its recipients" ;;
  *) fail "routes: one run per destination with all its recipients" "$args" ;; esac
case "$args" in *"lmtp:unix:/run/lmtp.sock s@x.test c@x.sub.test "*) ok "routes: .subdomain entry" ;; *) fail "routes: .subdomain entry" "$args" ;; esac
case "$args" in *"smtp:mx.test s@x.test d@mx.test "*) ok "routes: no entry means MX (smtp:domain)" ;; *) fail "routes: no entry means MX" "$args" ;; esac
grep -q 'to=<e@bad.test>.*route=error reason="5.7.1 we do not send to bad.test"' "$T/log" && ok "routes: error:5xx fails the recipient" || fail "routes: error:5xx" "$(grep bad.test "$T/log")"
grep -q 'to=<f@slow.test>.*status=deferred' "$T/log" && ok "routes: error:4xx defers it" || fail "routes: error:4xx defers" "$(grep slow.test "$T/log")"
is "routes: the deferred recipient keeps the message queued" 1 "$(qr_queue_count)"

qr_conf "relayhost=[smart.example.net]:587"
rm -f "$T/remote/"*
printf 'Subject: r\n\nbody\n' | qr_inject s@x.test z@elsewhere.test
qr_run --once
grep -qx 'smtp:\[smart.example.net\]:587' "$T/remote/"*.args 2>/dev/null && ok "relayhost: remote mail goes to the smarthost" || fail "relayhost" "$(cat "$T/remote/"*.args 2>&1)"
# sendmail's mailertable forms, read from a cdb made by tinycdb (so the
# spelling is queue-run's to read, not only postern-maps'): esmtp:/relay:
# are smtp:, local: delivers here, error:D.S.N:NNN, and "." is the default,
# before the relayhost
qr_map routes <<M
esm.test esmtp:[mx.esm.test]
rel.test relay:relay.rel.test:2525
loc.test local:
bob.test local:nosuchuser2
old.test error:5.1.1:550 gone away
. smtp:[default.example]:25
M
rm -f "$T/remote/"*
printf 'Subject: m\n\nbody\n' | qr_inject s@x.test a@esm.test b@rel.test nosuchuser1@loc.test x@bob.test c@old.test d@anything.test
qr_run --once
args=$(cat "$T/remote/"*.args | tr '\n' ' ')
case "$args" in *"smtp:[mx.esm.test] s@x.test a@esm.test "*) ok "routes: esmtp: is smtp:" ;; *) fail "routes: esmtp:" "$args" ;; esac
case "$args" in *"smtp:relay.rel.test:2525 s@x.test b@rel.test "*) ok "routes: relay: is smtp:" ;; *) fail "routes: relay:" "$args" ;; esac
case "$args" in *"smtp:[default.example]:25 s@x.test d@anything.test "*) ok "routes: the . entry is the default, before relayhost" ;; *) fail "routes: . default" "$args" ;; esac
grep -q 'to=<nosuchuser1@loc.test>.*5.1.1.*user unknown' "$T/log" && ok "routes: local: delivers here (an unknown user fails)" || fail "routes: local:" "$(grep loc.test "$T/log")"
grep -q 'orig_to=<x@bob.test>.*5.1.1.*user unknown' "$T/log" && grep -q 'nosuchuser2' "$T/log" && ok "routes: local:user delivers to that user" || fail "routes: local:user" "$(grep bob.test "$T/log")"
grep -q 'to=<c@old.test>.*route=error reason="5.1.1 gone away"' "$T/log" && ok "routes: error:D.S.N:NNN text" || fail "routes: error:D.S.N:NNN" "$(grep old.test "$T/log")"
rm -f "$T/maps/routes.cdb"
# a null client (postern.conf(5)'s example): domain qualifies root, and
# root@domain goes to the smarthost unless domain is in local-domains
mv "$T/maps/local-domains.cdb" "$T/maps/local-domains.off"
rm -f "$T/remote/"*
printf 'Subject: cron\n\nbody\n' | qr_inject s@x.test root@example.test   # as sendmail qualifies root
qr_run --once
is "null client: root@domain (sendmail qualifies root so) is relayed to the smarthost" "smtp:[smart.example.net]:587 s@x.test root@example.test" \
  "$(cat "$T/remote/"*.args 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
# local_delivery: on a null client (auto: a relayhost, no local-domains)
# nothing is local; root@localhost and daemon@<hostname> are qualified with
# domain and relayed; local_delivery = yes keeps the host's names local
# (the test hostname is mx.example.test)
qr_conf "relayhost=[smart.example.net]:587"
rm -f "$T/remote/"*
printf 'Subject: cron\n\nbody\n' | qr_inject s@x.test root@localhost daemon@MX.example.test
qr_run --once
is "null client (auto): root@localhost and daemon@hostname go to the smarthost, qualified" \
  "daemon@example.test root@example.test s@x.test smtp:[smart.example.net]:587" \
  "$(cat "$T/remote/"*.args 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')"
qr_conf "relayhost=[smart.example.net]:587" "local_delivery=yes"
rm -f "$T/remote/"*
rm -f "$T/remote/"*
printf 'Subject: cron\n\nbody\n' | qr_inject s@x.test nosuchuser3@localhost
qr_run --once
grep -q 'to=<nosuchuser3@localhost>.*5.1.1.*user unknown' "$T/log" && ok "local_delivery=yes: localhost is local (an unknown user fails here)" \
  || fail "local_delivery=yes" "$(grep nosuchuser3 "$T/log")"
is "local_delivery=yes: the recipient was not relayed (only its bounce to s@x.test)" "" "$(grep -h nosuchuser3 "$T/remote/"*.args 2>/dev/null)"
qr_conf "relayhost=[smart.example.net]:587" "local_delivery=maybe"
printf 'Subject: cron\n\nbody\n' | qr_inject s@x.test root@localhost
qr_run --once
grep -q 'to=<root@localhost>.*status=deferred' "$T/log" && ok "local_delivery: a bad word defers, never guesses" || fail "local_delivery bad word" "$(grep 'root@localhost' "$T/log" | tail -2)"
qr_run --delete "$(ls "$T/spool/queue" | tail -1)" >/dev/null 2>&1
mv "$T/maps/local-domains.off" "$T/maps/local-domains.cdb"
qr_conf "relayhost=[smart.example.net]:587"
rm -f "$T/remote/"*
printf 'Subject: cron\n\nbody\n' | qr_inject s@x.test nosuchuser4@localhost
qr_run --once
grep -q 'to=<nosuchuser4@localhost>.*5.1.1' "$T/log" && ok "auto with local-domains keys (a hub with a relayhost): localhost stays local" \
  || fail "auto on a hub" "$(grep nosuchuser4 "$T/log")"
qr_conf

# --- a map others may write is refused, never read (sendmail's safe-file
# rule): the recipient that needs it waits, and the log names the map
chmod 664 "$T/maps/virtual.cdb"
printf 'Subject: unsafe\n\nbody\n' | qr_inject s@x.test box@example.test
qr_run --once
grep -q "map=$T/maps/virtual.cdb status=unsafe" "$T/log" && ok "unsafe map: logged, naming the file" || fail "unsafe map logged" "$(grep virtual.cdb "$T/log" | tail -2)"
grep -q 'to=<box@example.test>.*status=deferred' "$T/log" && ok "unsafe map: the recipient waits" || fail "unsafe map: deferred" "$(grep 'box@' "$T/log" | tail -2)"
chmod 644 "$T/maps/virtual.cdb"
qr_run --once --all
is "unsafe map: delivered once the map is safe again" 0 "$(qr_queue_count)"

# --- local users (system users: only as root, with a test user and home)
if is_root; then
  qr_map aliases <<M
self: $U, box@example.test
postmaster: $U
M
  printf 'Subject: me\n\nbody\n' | qr_inject s@x.test "$U@example.test" "$U+tag@example.test" self@example.test postmaster
  qr_run --once
  is "local user: Maildir in the home for user and user+ext; aliases to the same user delivered once" 2 "$(qr_maildir_count "$T/home/Maildir")"
  is "local user: files owned by the user" "$U" "$(stat -c %U "$(ls -d "$T/home/Maildir/new/"* | head -1)")"
  is "local user: file mode 0600" 600 "$(stat -c %a "$(ls -d "$T/home/Maildir/new/"* | head -1)")"
  grep -q "to=<$U@example.test> orig_to=<postmaster> route=duplicate" "$T/log" && ok "local user: bare postmaster qualified and aliased" || fail "local user: bare postmaster" "$(grep postmaster "$T/log")"
  printf 'Subject: nobody\n\nbody\n' | qr_inject s@x.test no-such-user-xyz@example.test root@example.test
  qr_run --once
  grep -q 'to=<no-such-user-xyz@example.test>.*5.1.1.*user unknown' "$T/log" && ok "local user: unknown user fails with 5.1.1" || fail "unknown user" "$(tail -5 "$T/log")"
  grep -q 'to=<root@example.test>.*alias root to a person' "$T/log" && ok "local user: root has no mailbox (deferred, says why)" || fail "root mailbox" "$(tail -5 "$T/log")"
else
  skip "local user deliveries" "needs root to create a user whose home is under the test directory"
fi

# --- bounded concurrency: concurrency_limit globally, and
# destination_concurrency_limit per destination; one deliverer run per
# message and destination
cat >"$T/conc-remote" <<SH
#!/bin/sh
echo "\$(date +%s%N) 1 \$1" >>$T/conc.log
cat >/dev/null; sleep 0.3
echo "\$(date +%s%N) -1 \$1" >>$T/conc.log
shift 2
for r in "\$@"; do printf '%s\tok\t250 2.0.0 ok\n' "\$r"; done
SH
chmod 755 "$T/conc-remote"; chmod 777 "$T"
# max_overlap [DEST]: the most runs (to DEST) at the same time
max_overlap() { sort -n "$T/conc.log" | awk -v d="${1:-}" 'd == "" || $3 == d { n += $2; if (n > m) m = n } END { print m + 0 }'; }
qr_conf remote_deliverer="$T/conc-remote" concurrency_limit=2
rm -f "$T/conc.log"
printf 'Subject: c\n\nx\n' | qr_inject s@x.test a@c1.test b@c2.test c@c3.test d@c4.test e@c5.test f@c6.test
qr_run --once
is "concurrency_limit=2: at most two deliveries at once (six destinations)" 2 "$(max_overlap)"
qr_conf remote_deliverer="$T/conc-remote" concurrency_limit=5 destination_concurrency_limit=1
rm -f "$T/conc.log"
for i in 1 2 3; do printf 'Subject: c%d\n\nx\n' $i | qr_inject s@x.test "x$i@same.test" "y$i@same.test"; done
qr_run --once
is "destination_concurrency_limit=1: one run at a time to smtp:same.test" 1 "$(max_overlap smtp:same.test)"
is "one run per message and destination (3 messages, 2 recipients each)" 3 "$(grep -c ' 1 smtp:same.test' "$T/conc.log")"
qr_conf

# --- :include: counts toward the expansion limit: a list that includes a
# list that includes a long list, each 1000 times, is cut off at once
mkdir -p "$T/n"; chmod 755 "$T/n"
awk 'BEGIN { for (i = 0; i < 1500; i++) printf "n%d@f.t\n", i }' >"$T/n/c"
awk -v p="$T/n/c" 'BEGIN { for (i = 0; i < 1000; i++) printf ":include:%s\n", p }' >"$T/n/b"
awk -v p="$T/n/b" 'BEGIN { for (i = 0; i < 1000; i++) printf ":include:%s\n", p }' >"$T/n/a"
chmod 644 "$T/n/"*
echo "nest: :include:$T/n/a" | qr_map aliases
rm -f "$T/remote/"*
printf 'Subject: nest\n\nbody\n' | qr_inject s@x.test nest@example.test
s0=$SECONDS
timeout -k 5 60 "$B/queue-run" -C "$T/conf" --once 2>>"$T/log"
rc=$?; secs=$((SECONDS - s0))
[ "$rc" = 0 ] && [ "$secs" -le 30 ] && ok "include: nested lists (10^9 addresses) are cut off quickly (${secs}s)" || fail "include: nested lists cut off quickly" "exit $rc after ${secs}s"
grep -q 'to=<nest@example.test> orig_to=<nest@example.test> route=error reason="5.4.6 <nest@example.test>: alias expansion too large"' "$T/log" \
  && ok "include: the nested expansion fails the recipient with 5.4.6" || fail "nested include 5.4.6" "$(grep 'nest@' "$T/log" | tail -3)"
is "include: none of the nested expansion is delivered" "" "$(cat "$T/remote/"*.args 2>/dev/null | grep -m1 '@f.t')"

# --- map values a state file line cannot hold (over 1024 bytes) are bad
# entries: the recipient waits (4.3.5), nothing goes to corrupt/
long=$(awk 'BEGIN { printf "/"; for (i = 0; i < 1400; i++) printf "ab/"; }')
qr_map virtual <<M
longbox@example.test $long
M
qr_map routes <<M
long.test smtp:[$(awk 'BEGIN { for (i = 0; i < 4000; i++) printf "h" }')]
M
ls "$T/spool/queue" >"$T/queued.before"
printf 'Subject: long\n\nbody\n' | qr_inject s@x.test longbox@example.test x-defer@long.test
qr_run --once; qr_run --once --all
id=$(ls "$T/spool/queue" | grep -vxFf "$T/queued.before")
grep -q 'to=<longbox@example.test> orig_to=<longbox@example.test> route=retry reason="4.3.5 <longbox@example.test>: bad virtual map entry"' "$T/log" \
  && ok "virtual: a mailbox path over 1024 bytes is a bad entry (deferred)" || fail "virtual: long value" "$(grep 'longbox@' "$T/log" | tail -3)"
grep -q 'to=<x-defer@long.test> orig_to=<x-defer@long.test> route=retry reason="4.3.5 <x-defer@long.test>: bad routes entry"' "$T/log" \
  && ok "routes: a value over 1024 bytes is a bad entry (deferred)" || fail "routes: long value" "$(grep 'long.test' "$T/log" | tail -3)"
is "long map values: no state file went to corrupt/" "" "$(ls "$T/spool/corrupt" | grep '\.state\.')"
[ -n "$id" ] && [ -f "$T/spool/state/$id" ] && ok "long map values: the message stays queued with its state" || fail "long map values: still queued" "id=$id"
[ -n "$id" ] && qr_run --delete "$id"
rm -f "$T/maps/routes.cdb"
echo "box@example.test $T/mail/box/" | qr_map virtual

# --- an alias member that becomes an invalid address longer than any
# address (a bare name qualified with a long domain): the recipient fails
# with 5.1.3 naming it, under the recipient's own address, so the state
# file stays readable (no crash, no corrupt/, no second bounce)
dom=$(awk 'BEGIN { for (j = 0; j < 4; j++) { for (i = 0; i < 60; i++) printf "d"; printf "." } printf "test" }')
local64=$(awk 'BEGIN { for (i = 0; i < 64; i++) printf "l" }')
qr_conf "domain=$dom"
printf 'longbad: %s, box@example.test, x-defer@far.test\n' "$local64" | qr_map aliases
n=$(qr_maildir_count "$T/mail/box")
ls "$T/spool/queue" >"$T/queued.before"
printf 'Subject: longbad\n\nbody\n' | qr_inject s@x.test longbad@example.test
qr_run --once
rc=$?
id=$(ls "$T/spool/queue" | grep -vxFf "$T/queued.before")
qr_run --once --all
is "invalid long alias member: queue-run finishes, the rest is delivered once" "0 $((n + 1))" "$rc $(qr_maildir_count "$T/mail/box")"
grep -q "to=<longbad@example.test> orig_to=<longbad@example.test> route=error reason=\"5.1.3 <$local64@$dom>: invalid address\"" "$T/log" \
  && ok "invalid long alias member: 5.1.3 for the recipient, naming the bad address" || fail "invalid long alias member" "$(grep 'longbad@' "$T/log" | tail -3)"
is "invalid long alias member: the state file is read back (nothing to corrupt/)" "" "$(ls "$T/spool/corrupt" | grep '\.state\.')"
is "invalid long alias member: one bounce" 1 "$(grep -c "id=$id status=bounce-queued" "$T/log")"
[ -n "$id" ] && qr_run --delete "$id"
qr_conf
out=$("$B/queue-run" -C "$T/conf" --route "$(awk 'BEGIN { for (i = 0; i < 700; i++) printf "c" }')@example.test" 2>/dev/null); rc=$?
is "--route: an invalid 700-byte address is an error item (no crash)" "0 error|5.1.3 invalid address" "$rc $(printf '%s' "$out" | cut -f2,6 | tr '\t' '|')"
