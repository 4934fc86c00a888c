# tests/queue-route.sh - routing in DESIGN.md's order, end to end through
# spool-inject -> queue-run --once -> local-deliver / the remote deliverer:
# virtual mailboxes (byte-exact), aliases with chains, :include:, |program,
# /file, self-reference and loops, virtual rewrites, routes (smtp:, error:),
# relayhost, MX default, unknown users; one log line per routing decision.
. "$POSTERN_TOP/tests/lib.sh"
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
qr_conf

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
