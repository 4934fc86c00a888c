# tests/remote-queue.sh - remote delivery end to end: spool-inject ->
# queue-run --once -> remote-spawn -> remote-send -> a server on loopback.
# A routes entry to server.py (per-recipient results kept by the queue, a
# bounce for the failed one, the message byte for byte, DSN and SMTPUTF8
# tags passed on), a server that drops the connection in the middle of
# DATA (deferred, nothing marked sent), and the null client against a real
# smarthost (aiosmtpd): relayhost = [127.0.0.1]:port, STARTTLS with
# relayhost_tls_policy = encrypt, AUTH from relay-auth; then several
# messages over one connection (RSET between them) and, with
# smtp_connection_reuse_time = 0, one connection per message.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
RS_TESTS=$TOP/remote-send/tests
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
wait_ready() { local i; for i in $(seq 50); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# maps and config must be readable by send_user ($U as root)
chmod 755 "$T"

# server.py NAME ARGS...: started on a free port ($PORT), stopped at exit
server() {
  local name=$1; shift
  PORT=$(free_port)
  mkdir -p "$T/$name"; is_root && chown "$U" "$T/$name"
  python3 "$RS_TESTS/server.py" --out "$T/$name" --log "$T/$name.log" "$@" 127.0.0.1 "$PORT" >"$T/$name.out" 2>&1 &
  at_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
  wait_ready "$T/$name.out" || { fail "server.py $name" "$(cat "$T/$name.out")"; exit 0; }
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=smarthost.test \
  -addext subjectAltName=DNS:smarthost.test,IP:127.0.0.1 -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
chmod 644 "$T/key.pem"
server srv; P=$PORT
server tls --tls "$T/cert.pem,$T/key.pem"; PT=$PORT
server drop --drop-data 30; PD=$PORT
server rset --rset '421 4.4.2 idle too long, closing'; PR=$PORT
server mrset --mail-after-rset '421 4.3.2 shutting down'; PM=$PORT

qr_conf remote_deliverer="$B/remote-send"
qr_map routes <<M
far.test smtp:[127.0.0.1]:$P
drop.test smtp:[127.0.0.1]:$PD
rset.test smtp:[127.0.0.1]:$PR
mrset.test smtp:[127.0.0.1]:$PM
tls.test smtps:[127.0.0.1]:$PT
M
printf 'From: s@far.test\nSubject: queued\n\n.dot\nbody\n' >"$T/msg"
qr_inject s@far.test ok@far.test temp@far.test fail@far.test <"$T/msg"
qr_run --once
f=$(ls "$T/srv" | sort -n | head -1)
printf 'MAIL FROM:<s@far.test> SIZE=%s\nRCPT TO:<ok@far.test>\nRCPT TO:<temp@far.test>\nRCPT TO:<fail@far.test>\n\nFrom: s@far.test\r\nSubject: queued\r\n\r\n..dot\r\nbody\r\n' \
  "$(sed 's/$/\r/' "$T/msg" | wc -c)" >"$T/want"
[ -n "$f" ] && same_file "queue: the message reached the server byte for byte" "$T/want" "$T/srv/$f" || fail "queue: nothing reached the server" "$(tail "$T/log")"
grep -q 'to=<ok@far.test> relay=smtp:\[127.0.0.1\]:'"$P"'.*status=sent' "$T/log" && ok "queue: accepted recipient logged sent" || fail "queue: sent logged" "$(cat "$T/log")"
grep -q 'to=<temp@far.test>.*status=deferred.*450 4.2.1' "$T/log" && ok "queue: 450 recipient deferred with the reply" || fail "queue: deferred" "$(cat "$T/log")"
grep -q 'to=<fail@far.test>.*status=bounced.*550 5.1.1' "$T/log" && ok "queue: 550 recipient bounced with the reply" || fail "queue: bounced" "$(cat "$T/log")"
is "queue: the message stays queued for the deferred recipient" 1 "$(qr_queue_count)"
b=$(grep -l '^MAIL FROM:<>' "$T/srv/"* 2>/dev/null | head -1)
# (to an outside sender, a recipient of a routes entry is reported by its
# Status alone: the reply text names the internal next hop)
[ -n "$b" ] && grep -q 'fail@far.test' "$b" && grep -q 'Status: 5.1.1' "$b" && ! grep -q '127.0.0.1' "$b" && ok "queue: the bounce went back to the sender through the same route, naming no internal host" ||
  fail "queue: bounce" "$(ls "$T/srv")" "$(tail -20 "$T/log")"

# the envelope's DSN, BODY and SMTPUTF8 tags reach the server
n0=$(ls "$T/srv" | wc -l)
printf 'Subject: caf\xc3\xa9\n\nhello\n' |
  qr_inject_env "$(printf 'V1\nFs@far.test\nEenv+2Bid\nRHDRS\nB8BITMIME\nU\nTdsn@far.test\nNSUCCESS,DELAY\nOrfc822;dsn@far.test\nTplain@far.test')"
qr_run --once
f=$(grep -l '^RCPT TO:<dsn@far.test>' "$T/srv/"* | head -1)
[ -n "$f" ] && grep -q '^MAIL FROM:<s@far.test> SIZE=[0-9]* BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=env+2Bid$' "$f" &&
  ok "queue: BODY, SMTPUTF8, RET and ENVID passed on" || fail "queue: message parameters" "$(ls "$T/srv")" "$(tail -5 "$T/log")"
grep -q '^RCPT TO:<dsn@far.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;dsn@far.test$' "$f" && grep -q '^RCPT TO:<plain@far.test>$' "$f" &&
  ok "queue: NOTIFY and ORCPT passed on per recipient" || fail "queue: recipient parameters" "$(cat "$f")"
grep -q 'to=<dsn@far.test> relay=smtp:\[127.0.0.1\]:'"$P"'.*status=sent' "$T/log" && ok "queue: recipient with DSN tags logged sent" ||
  fail "queue: DSN recipient sent" "$(tail -5 "$T/log")"

# a route with TLS from the first byte
printf 'Subject: smtps\n\nover TLS\n' | qr_inject s@far.test x@tls.test
qr_run --once
grep -q "to=<x@tls.test> relay=smtps:\[127.0.0.1\]:$PT.*status=sent" "$T/log" && ok "queue: smtps:[host]:port route, sent" ||
  fail "smtps route" "$(grep -i 'tls.test\|tls=' "$T/log" | tail -5)"
grep -q "relay=127.0.0.1:$PT tls=\"TLSv1.3" "$T/log" && ok "queue: smtps route: TLS logged" || fail "smtps TLS log" "$(grep tls= "$T/log")"

# a server that drops the connection in the middle of DATA
q0=$(qr_queue_count)
printf 'Subject: dropped\n\n%s\n' "$(head -c 3000 /dev/zero | tr '\0' x)" | qr_inject s@far.test rcpt@drop.test
qr_run --once
grep -q 'to=<rcpt@drop.test>.*status=deferred.*4.4.2 connection lost' "$T/log" && ok "dropped mid-DATA: deferred" || fail "dropped mid-DATA" "$(tail -5 "$T/log")"
! grep -q 'to=<rcpt@drop.test>.*status=sent' "$T/log" && ok "dropped mid-DATA: nothing marked sent" || fail "dropped: marked sent" "$(grep drop.test "$T/log")"
is "dropped mid-DATA: the message stays queued" $((q0 + 1)) "$(qr_queue_count)"

# a kept connection the server no longer wants (421 to RSET): the next
# message goes over a new one, nothing is lost
qr_conf remote_deliverer="$B/remote-send" destination_concurrency_limit=1 smtp_connection_reuse_time=5
for i in 1 2 3; do printf 'Subject: %s

x
' "$i" | qr_inject s@far.test "r$i@rset.test"; done
qr_run --once
is "reuse, server refuses RSET: all three delivered" 3 "$(ls "$T/rset" | wc -l)"
is "reuse, server refuses RSET: three connections" 3 "$(grep -c '^EHLO' "$T/rset.log")"
grep -q 'status=reconnect reason="421 4.4.2 idle too long' "$T/log" && ok "reuse, server refuses RSET: logged, reconnected" ||
  fail "reconnect logged" "$(grep -i rset "$T/log" | tail -3)"
for i in 1 2 3; do grep -q "to=<r$i@rset.test>.*status=sent" "$T/log" || fail "rset: r$i sent" "$(tail "$T/log")"; done
# RSET taken, then 421 to MAIL: the kept connection was stale, so a new one, not a deferral
for i in 1 2 3; do printf 'Subject: %s\n\nx\n' "$i" | qr_inject s@far.test "m$i@mrset.test"; done
qr_run --once
is "reuse, 421 to MAIL after RSET: all three delivered" 3 "$(ls "$T/mrset" | wc -l)"
is "reuse, 421 to MAIL after RSET: three connections" 3 "$(grep -c '^EHLO' "$T/mrset.log")"
grep -q 'status=reconnect reason="421 4.3.2 shutting down.*after MAIL FROM' "$T/log" && ok "reuse, 421 to MAIL after RSET: logged, reconnected" ||
  fail "421 to MAIL: reconnect logged" "$(grep mrset "$T/log" | tail -5)"
! grep -q 'mrset.test>.*status=deferred' "$T/log" && ok "reuse, 421 to MAIL after RSET: nothing deferred" || fail "421 to MAIL: deferred" "$(grep mrset "$T/log")"

# --- the null client: a real smarthost (aiosmtpd) with STARTTLS and AUTH
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || { skip "null client against aiosmtpd" "python3-aiosmtpd not installed"; exit 0; }
PS=$(free_port); mkdir -p "$T/hub"
$PY "$RS_TESTS/smarthost.py" --cert "$T/cert.pem" --key "$T/key.pem" --auth 'alice:s3cret pass' --out "$T/hub" "$PS" >"$T/hub.out" 2>&1 &
at_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
wait_ready "$T/hub.out" || { fail "aiosmtpd smarthost" "$(cat "$T/hub.out")"; exit 0; }
hub_count() { ls "$T/hub" | grep -c '^[0-9]'; }
hub_last() { echo "$T/hub/$(ls "$T/hub" | grep '^[0-9]' | sort -n | tail -1)"; }

rm -f "$T/maps/routes.cdb"
printf '[127.0.0.1]:%s alice:s3cret pass\n' "$PS" >"$T/maps/relay-auth"
chmod 600 "$T/maps/relay-auth"
"$B/postern-maps" compile "$T/maps/relay-auth" >/dev/null
is_root && chown "$U" "$T/maps/relay-auth.cdb"
qr_conf remote_deliverer="$B/remote-send" relayhost="[127.0.0.1]:$PS" relayhost_tls_policy=encrypt
q0=$(qr_queue_count)
printf 'Subject: null client\n\nvia the smarthost\n' | qr_inject me@example.test someone@elsewhere.test
qr_run --once
is "null client: the smarthost took the message" 1 "$(hub_count)"
f=$(hub_last)
grep -q '^auth alice$' "$f" && grep -q '^tls TLSv1.[23]$' "$f" && grep -q '^mail me@example.test' "$f" && grep -q '^rcpt someone@elsewhere.test$' "$f" &&
  ok "null client: over TLS, authenticated as alice, right envelope" || fail "null client: envelope" "$(head -7 "$f")"
grep -q '^via the smarthost' "$f" && ok "null client: the message arrived" || fail "null client: body" "$(cat "$f")"
grep -q "to=<someone@elsewhere.test> relay=smtp:\[127.0.0.1\]:$PS.*status=sent.*queued as smarthost-1" "$T/log" &&
  ok "null client: logged sent via the relayhost with the smarthost's reply" || fail "null client: sent" "$(tail -20 "$T/log")"
grep -q 'auth=PLAIN user=alice status=ok' "$T/log" && grep -q 'tls="TLSv1.[23] with cipher' "$T/log" && ! grep -q 's3cret' "$T/log" &&
  ok "null client: TLS and AUTH logged, no password" || fail "null client: log" "$(cat "$T/log")"
is "null client: nothing new left in the queue" "$q0" "$(qr_queue_count)"

# several messages to the same destination: one connection, RSET between
qr_conf remote_deliverer="$B/remote-send" relayhost="[127.0.0.1]:$PS" relayhost_tls_policy=encrypt \
  destination_concurrency_limit=1 smtp_connection_reuse_time=5
for i in 1 2 3 4; do printf 'Subject: reuse %s\n\nmessage %s\n' "$i" "$i" | qr_inject me@example.test "r$i@elsewhere.test"; done
: >"$T/hub/log"
qr_run --once
is "reuse: the smarthost took all four" 5 "$(hub_count)"
peers=$(grep '^message' "$T/hub/log" | awk '{print $3}' | sort -u | wc -l)
is "reuse: four messages over one connection" 1 "$peers"
is "reuse: RSET between them" 3 "$(grep -c '^rset' "$T/hub/log")"
is "reuse: one TLS handshake and one AUTH" "1 1" "$(grep -c '^ehlo.*tls=True' "$T/hub/log") $(grep -c '^auth PLAIN ok' "$T/hub/log")"
for i in 1 2 3 4; do grep -q "to=<r$i@elsewhere.test>.*status=sent" "$T/log" || fail "reuse: r$i sent" "$(tail "$T/log")"; done
ok "reuse: each message logged sent"
grep -l '^Subject: reuse' "$T/hub/"[0-9]* | xargs grep -h '^message' | tr -d '\r' | sort | tr '\n' ' ' | grep -q 'message 1 message 2 message 3 message 4' &&
  ok "reuse: every message with its own body" || fail "reuse: bodies" "$(grep -h '^message' "$T/hub/"[0-9]*)"

qr_conf remote_deliverer="$B/remote-send" relayhost="[127.0.0.1]:$PS" relayhost_tls_policy=encrypt \
  destination_concurrency_limit=1 smtp_connection_reuse_time=0
for i in 5 6; do printf 'Subject: reuse %s\n\nmessage %s\n' "$i" "$i" | qr_inject me@example.test "r$i@elsewhere.test"; done
: >"$T/hub/log"
qr_run --once
is "no reuse: two connections for two messages" 2 "$(grep '^message' "$T/hub/log" | awk '{print $3}' | sort -u | wc -l)"

# a wrong password: deferred with the smarthost's reply, kept in the queue
printf '[127.0.0.1]:%s alice:wrong\n' "$PS" >"$T/maps/relay-auth"
"$B/postern-maps" compile "$T/maps/relay-auth" >/dev/null
is_root && chown "$U" "$T/maps/relay-auth.cdb"
q0=$(qr_queue_count)
printf 'Subject: bad password\n\nx\n' | qr_inject me@example.test nobody@elsewhere.test
qr_run --once
grep -q 'to=<nobody@elsewhere.test>.*status=deferred.*535' "$T/log" && ok "null client, wrong password: deferred with the 535" ||
  fail "wrong password" "$(tail -5 "$T/log")"
is "null client, wrong password: kept in the queue" $((q0 + 1)) "$(qr_queue_count)"
