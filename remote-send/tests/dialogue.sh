#!/bin/bash
# dialogue.sh - remote-send against server.py: per-recipient results,
# the bytes on the wire (dot-stuffing, CRLF), DSN, SIZE and SMTPUTF8
# parameters, LMTP replies per recipient, timeouts, a connection dropped
# in the middle of DATA, loops, and AUTH with the relay-auth map.
. "$(dirname "$0")/rs.bash"

P=$(free_port); server s1 "$P" || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test ok1@y.test temp1@y.test fail1@y.test ok2@y.test
is "mixed: exit 0" 0 "$RC"
expect "mixed: accepted recipient sent" ok1@y.test ok "250 2.0.0 Ok: queued*"
expect "mixed: 450 at RCPT deferred with the server's reply" temp1@y.test defer "450 4.2.1 <temp1@y.test>: mailbox busy*after RCPT TO*"
expect "mixed: 550 at RCPT failed with the server's reply" fail1@y.test fail "550 5.1.1 <fail1@y.test>: user unknown*"
expect "mixed: second accepted recipient sent" ok2@y.test ok "250 *"
is "mixed: four result lines" 4 "$(wc -l <"$T/out")"
printf 'MAIL FROM:<a@b.test> SIZE=%s\nRCPT TO:<ok1@y.test>\nRCPT TO:<temp1@y.test>\nRCPT TO:<fail1@y.test>\nRCPT TO:<ok2@y.test>\n\n' \
  "$(sed 's/$/\r/' "$T/msg" | wc -c)" >"$T/want"
printf 'From: a@b.test\r\nSubject: test\r\n\r\nline one\r\n..leading dot\r\n...two dots\r\n..\r\nlast\r\n' >>"$T/want"
same_file "wire: envelope, CRLF and dot-stuffing exactly" "$T/want" "$T/s1/1"
grep -q 'MAIL FROM.*\\r\\n$' "$T/s1.log" && grep -c '' "$T/s1.log" >/dev/null && ok "wire: commands end in CRLF" || fail "CRLF" "$(cat "$T/s1.log")"
# pipelining: MAIL..DATA arrive before any reply is needed; server.py
# cannot tell, so check the order of the lines instead
is "pipelined: MAIL, 4 RCPT, DATA in order" "MAIL RCPT RCPT RCPT RCPT DATA" \
  "$(grep -o '^[A-Z]*' "$T/s1.log" | grep -v -e EHLO -e QUIT | head -6 | tr '\n' ' ' | sed 's/ $//')"

# a message without a final newline, CRLF already in it, a lone dot line
printf 'Subject: x\r\n\r\n.\r\nno newline at the end' >"$T/msg2"
send "$T/msg2" "smtp:[127.0.0.1]:$P" "" ok@y.test
expect "odd message: sent" ok@y.test ok
printf 'Subject: x\r\n\r\n..\r\nno newline at the end\r\n' >"$T/want2"
tail -c +$(( $(grep -b -m1 '^$' "$T/s1/2" | cut -d: -f1) + 2 )) "$T/s1/2" >"$T/got2"
same_file "odd message: CRLF kept, dot stuffed, last line ended" "$T/want2" "$T/got2"
head -1 "$T/s1/2" | grep -q '^MAIL FROM:<> ' && ok "null sender is <>" || fail "null sender" "$(head -1 "$T/s1/2")"

# DSN and message parameters pass through when the server offers DSN
send "$T/msg" -E "env+2Bid" -R HDRS "smtp:[127.0.0.1]:$P" a@b.test "$(printf 'ok@y.test\tNSUCCESS,FAILURE\tOrfc822;ok@y.test')"
expect "DSN: sent" ok@y.test ok
is "DSN offered: the result is passed (the server has the DSN request)" passed "$(result ok@y.test)"
grep -q '^MAIL FROM:<a@b.test> SIZE=[0-9]* RET=HDRS ENVID=env+2Bid$' "$T/s1/3" && ok "DSN: RET and ENVID on MAIL" || fail "DSN MAIL" "$(cat "$T/s1/3")"
grep -q '^RCPT TO:<ok@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;ok@y.test$' "$T/s1/3" && ok "DSN: NOTIFY and ORCPT on RCPT" || fail "DSN RCPT" "$(cat "$T/s1/3")"

# without DSN, SIZE, 8BITMIME offered: no parameters
P2=$(free_port); server s2 "$P2" --caps PIPELINING || exit 0
send "$T/msg" -E envid -R FULL "smtp:[127.0.0.1]:$P2" a@b.test "$(printf 'ok@y.test\tNNEVER')"
grep -q '^MAIL FROM:<a@b.test>$' "$T/s2/1" && grep -q '^RCPT TO:<ok@y.test>$' "$T/s2/1" &&
  ok "no DSN offered: no DSN parameters" || fail "no DSN parameters" "$(cat "$T/s2/1")"
is "no DSN offered: the result is ok (we owe the success notice)" ok "$(result ok@y.test)"

# 8-bit: BODY=8BITMIME when offered; SMTPUTF8 for a UTF-8 address
send "$T/msg8" "smtp:[127.0.0.1]:$P" a@b.test ok@y.test 2>/dev/null || true
printf 'Subject: caf\xc3\xa9\n\n\xc3\xa9\n' >"$T/msg8"
send "$T/msg8" "smtp:[127.0.0.1]:$P" a@b.test ok@y.test
grep -q 'BODY=8BITMIME' "$T/s1/$(ls "$T/s1" | sort -n | tail -1)" && ok "8-bit: BODY=8BITMIME" || fail "BODY=8BITMIME" "$(ls "$T/s1")"
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test "$(printf 'ok\xc3\xa9@y.test')"
expect "UTF-8 address: sent" "$(printf 'ok\xc3\xa9@y.test')" ok
grep -q 'SMTPUTF8' "$T/s1/$(ls "$T/s1" | sort -n | tail -1)" && ok "UTF-8 address: SMTPUTF8 on MAIL" || fail "SMTPUTF8 param" ""
send "$T/msg" "smtp:[127.0.0.1]:$P2" a@b.test "$(printf 'ok\xc3\xa9@y.test')"
expect "UTF-8 address, no SMTPUTF8 offered: fails" "$(printf 'ok\xc3\xa9@y.test')" fail "5.6.7 *SMTPUTF8*"

# SIZE: the server's limit is respected
P3=$(free_port); server s3 "$P3" --caps "PIPELINING,SIZE 50" || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P3" a@b.test ok@y.test
expect "SIZE: too big for the server fails without sending" ok@y.test fail "5.3.4 message too big*limit is 50 bytes"
[ -z "$(ls "$T/s3")" ] && ok "SIZE: nothing sent" || fail "SIZE: nothing sent"

# LMTP: one reply per recipient after the data
P4=$(free_port); server s4 "$P4" --lmtp || exit 0
send "$T/msg" "lmtp:[127.0.0.1]:$P4" a@b.test ok@y.test late-temp@y.test late-fail@y.test fail@y.test ok2@y.test
expect "LMTP: delivered" ok@y.test ok "250 2.0.0 <ok@y.test> delivered*"
expect "LMTP: 451 after data deferred" late-temp@y.test defer "451 4.2.0 <late-temp@y.test>*end of data*"
expect "LMTP: 552 after data failed" late-fail@y.test fail "552 5.2.2 <late-fail@y.test>: mailbox full*"
expect "LMTP: refused at RCPT" fail@y.test fail "550 5.1.1*RCPT TO*"
expect "LMTP: last one delivered" ok2@y.test ok "250 2.0.0 <ok2@y.test> delivered*"
grep -q '^LHLO client.test' "$T/s4.log" && ok "LMTP: LHLO" || fail "LHLO" "$(cat "$T/s4.log")"

# a connection dropped in the middle of the data: deferred, nothing sent
P5=$(free_port); server s5 "$P5" --drop-data 20 || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P5" a@b.test ok@y.test
expect "dropped mid-DATA: deferred" ok@y.test defer "4.4.2 connection lost*"

# DATA answered with 250 instead of 354: no message went out, so nothing
# is sent; the connection is given up (no QUIT).  4xx/5xx to DATA are the
# recipients' results.
P16=$(free_port); server s16 "$P16" --data-reply "250 2.0.0 nothing to see" || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P16" a@b.test ok@y.test ok2@y.test
expect "DATA answered 250: deferred, not sent" ok@y.test defer "4.5.0 unexpected reply to DATA from 127.0.0.1:$P16: 250 2.0.0 nothing to see*"
expect "DATA answered 250: every recipient deferred" ok2@y.test defer "4.5.0 unexpected reply to DATA*"
! grep -q -e '^From: ' -e '^QUIT' "$T/s16.log" && ok "DATA answered 250: no message data, no QUIT" || fail "DATA 250: wire" "$(cat "$T/s16.log")"
P17=$(free_port); server s17 "$P17" --data-reply "451 4.3.0 try later" || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P17" a@b.test ok@y.test
expect "DATA answered 451: deferred with the reply" ok@y.test defer "451 4.3.0 try later*after DATA*"
P18=$(free_port); server s18 "$P18" --data-reply "554 5.6.0 no thanks" --caps "SIZE 10000000" || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P18" a@b.test ok@y.test
expect "DATA answered 554 (no pipelining): failed with the reply" ok@y.test fail "554 5.6.0 no thanks*after DATA*"

# a unix socket whose listen queue is full: connect(2) says EAGAIN, which
# is a failed attempt (deferred at once), not one in progress
bg "$T/full.out" python3 "$RS_TESTS/server.py" --lmtp --hold 30 "unix:$T/full.sock"
for i in $(seq 50); do grep -q ready "$T/full.out" 2>/dev/null && break; sleep 0.1; done
start=$SECONDS
send "$T/msg" "lmtp:unix:$T/full.sock" a@b.test ok@y.test
expect "unix socket with a full queue: deferred, connect failed" ok@y.test defer "4.4.1 connection to $T/full.sock failed: Resource temporarily unavailable"
[ $((SECONDS - start)) -le 2 ] && ok "unix socket with a full queue: at once" || fail "full unix socket took $((SECONDS - start)) s"

# timeouts: a server that never answers RCPT
P6=$(free_port); server s6 "$P6" --stall rcpt || exit 0
conf smtp_command_timeout=1
start=$SECONDS
send "$T/msg" "smtp:[127.0.0.1]:$P6" a@b.test ok@y.test
expect "stalled RCPT: deferred after the command timeout" ok@y.test defer "4.4.2 timeout talking to*RCPT TO*"
[ $((SECONDS - start)) -le 4 ] && ok "stalled RCPT: within the timeout" || fail "timeout took $((SECONDS - start)) s"
P7=$(free_port); server s7 "$P7" --stall greeting || exit 0
conf smtp_greeting_timeout=1
send "$T/msg" "smtp:[127.0.0.1]:$P7" a@b.test ok@y.test
expect "silent server: greeting timeout" ok@y.test defer "4.4.2 timeout*greeting*"
P8=$(free_port); server s8 "$P8" --stall dot || exit 0
conf smtp_data_done_timeout=1
send "$T/msg" "smtp:[127.0.0.1]:$P8" a@b.test ok@y.test
expect "no reply after the dot: deferred, not sent" ok@y.test defer "4.4.2 timeout*end of data*"
conf

# a server that greets with our own name is ourselves
P9=$(free_port); server s9 "$P9" --name client.test || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P9" a@b.test ok@y.test
expect "loop: our name in the greeting fails" ok@y.test fail "5.4.6 mail loops back to myself*"

# a server whose greeting is someone else's but whose EHLO reply names us
P9b=$(free_port); server s9b "$P9b" --name client.test --greeting "220 relay.test ESMTP" || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P9b" a@b.test ok@y.test
expect "loop: our name in the EHLO reply fails" ok@y.test fail "5.4.6 mail loops back to myself*"
[ -z "$(ls "$T/s9b")" ] && ok "loop: nothing sent to ourselves" || fail "loop: sent" "$(ls "$T/s9b")"

# STARTTLS (policy may): refused before any handshake -> plain text is
# fine; a handshake that breaks after the 220 -> deferred, no plain text
P13=$(free_port); server s13 "$P13" --starttls "454 4.7.0 TLS not available" || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P13" a@b.test ok@y.test
expect "may: STARTTLS refused (454): sent in plain text" ok@y.test ok "250 *"
P14=$(free_port); server s14 "$P14" --starttls "220 2.0.0 go ahead" || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P14" a@b.test ok@y.test
expect "may: handshake failed after 220: deferred" ok@y.test defer "4.7.0 TLS with 127.0.0.1:$P14 failed*"
is "may: no second attempt in plain text" "1 0" "$(grep -c '^EHLO' "$T/s14.log") $(grep -c '^MAIL' "$T/s14.log")"

# SMTPUTF8 requested (-U): needed only for UTF-8 in addresses or headers
printf 'Subject: plain\n\nbody caf\xc3\xa9\n' >"$T/msgu1"
send "$T/msgu1" -U "smtp:[127.0.0.1]:$P2" a@b.test ok@y.test
expect "-U, ASCII headers and addresses, no SMTPUTF8 offered: sent" ok@y.test ok "250 *"
printf 'Subject: caf\xc3\xa9\n\nbody\n' >"$T/msgu2"
send "$T/msgu2" -U "smtp:[127.0.0.1]:$P2" a@b.test ok@y.test
expect "-U, UTF-8 header, no SMTPUTF8 offered: fails" ok@y.test fail "5.6.7 the message needs SMTPUTF8*"
send "$T/msgu2" -U "smtp:[127.0.0.1]:$P" a@b.test ok@y.test
grep -q ' SMTPUTF8' "$T/s1/$(ls "$T/s1" | sort -n | tail -1)" && ok "-U, SMTPUTF8 offered: requested on MAIL" || fail "-U SMTPUTF8 param" ""

# EHLO refused: HELO, and no extensions used
P10=$(free_port); server s10 "$P10" --no-ehlo || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P10" a@b.test ok@y.test
expect "EHLO refused: HELO" ok@y.test ok
grep -q '^MAIL FROM:<a@b.test>$' "$T/s10/1" && ok "after HELO: no parameters" || fail "HELO params" "$(cat "$T/s10/1")"

# AUTH: credentials from relay-auth, only over TLS unless plaintext-auth
P11=$(free_port); server s11 "$P11" --auth 'bob:pass word:x' || exit 0
printf '[127.0.0.1]:%s bob:pass word:x\n' "$P11" >"$T/maps/relay-auth"
chmod 600 "$T/maps/relay-auth"
"$B/postern-maps" compile "$T/maps/relay-auth" >/dev/null
send "$T/msg" "smtp:[127.0.0.1]:$P11" a@b.test ok@y.test
expect "AUTH: a route with a password is verify by default" ok@y.test defer "4.7.4 TLS is required*does not offer STARTTLS"
[ -z "$(ls "$T/s11")" ] && ok "AUTH: nothing sent to the unverified server" || fail "AUTH: sent" "$(ls "$T/s11")"
printf '[127.0.0.1]:%s may\n' "$P11" >"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
send "$T/msg" "smtp:[127.0.0.1]:$P11" a@b.test ok@y.test
expect "AUTH: never over plain text (policy may)" ok@y.test defer "4.7.0 not sending credentials*without TLS"
! grep -q '^AUTH' "$T/s11.log" 2>/dev/null && ok "AUTH: no AUTH command sent in plain text" || fail "AUTH sent" "$(cat "$T/s11.log")"
printf '[127.0.0.1]:%s none plaintext-auth\n' "$P11" >"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
send "$T/msg" "smtp:[127.0.0.1]:$P11" a@b.test ok@y.test
expect "AUTH PLAIN with plaintext-auth: sent" ok@y.test ok
grep -q 'AUTH-RESULT ok user=bob' "$T/s11.log" && ok "AUTH: server saw the right credentials" || fail "AUTH creds" "$(cat "$T/s11.log")"
grep -q 'auth=PLAIN user=bob status=ok' "$T/err" && ! grep -q 'pass word' "$T/err" &&
  ok "AUTH: logged without the password" || fail "AUTH log" "$(cat "$T/err")"
printf '[127.0.0.1]:%s bob:wrong\n' "$P11" >"$T/maps/relay-auth"
"$B/postern-maps" compile "$T/maps/relay-auth" >/dev/null
send "$T/msg" "smtp:[127.0.0.1]:$P11" a@b.test ok@y.test
expect "AUTH refused (535): deferred, never sent" ok@y.test defer "535 5.7.8*AUTH*"
P12=$(free_port); server s12 "$P12" --auth 'bob:pass word:x' --mechs LOGIN || exit 0
printf '[127.0.0.1]:%s bob:pass word:x\n' "$P12" >"$T/maps/relay-auth"
printf '[127.0.0.1]:%s none plaintext-auth\n' "$P12" >>"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/relay-auth" >/dev/null && "$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
send "$T/msg" "smtp:[127.0.0.1]:$P12" a@b.test ok@y.test
expect "AUTH LOGIN when PLAIN is not offered: sent" ok@y.test ok
grep -q 'AUTH-RESULT ok user=bob' "$T/s12.log" && grep -q '^AUTH LOGIN' "$T/s12.log" && ok "AUTH LOGIN: right credentials" || fail "AUTH LOGIN" "$(cat "$T/s12.log")"
P15=$(free_port); server s15 "$P15" --auth 'bob:pass word:x' --auth-code "250 2.0.0 fine, I guess" || exit 0
printf '[127.0.0.1]:%s bob:pass word:x\n' "$P15" >>"$T/maps/relay-auth"
printf '[127.0.0.1]:%s none plaintext-auth\n' "$P15" >>"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/relay-auth" >/dev/null && "$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
send "$T/msg" "smtp:[127.0.0.1]:$P15" a@b.test ok@y.test
expect "AUTH answered 250, not 235: not authenticated, deferred" ok@y.test defer "250 2.0.0 fine, I guess*after AUTH*"
[ -z "$(ls "$T/s15")" ] && ok "AUTH without 235: nothing sent" || fail "AUTH 250: sent" ""
chmod 640 "$T/maps/relay-auth.cdb"
send "$T/msg" "smtp:[127.0.0.1]:$P11" a@b.test ok@y.test
expect "relay-auth readable by group: refused, deferred" ok@y.test defer "4.3.5 refusing relay-auth.cdb*"
rm -f "$T/maps/relay-auth.cdb" "$T/maps/tls-policy.cdb"

# bad arguments and routes
POSTERN_CONF=$T/rs.conf "$B/remote-send" "smtp:x" a@b.test </dev/null >/dev/null 2>&1
is "usage: exit 64" 64 "$?"
send "$T/msg" "smtp:[127.0.0.1]:99999" a@b.test ok@y.test
expect "bad port: deferred as a configuration error" ok@y.test defer "4.3.5 bad route*bad port"
send "$T/msg" "x400:foo" a@b.test ok@y.test
expect "unknown scheme: deferred" ok@y.test defer "4.3.5 bad route*"
