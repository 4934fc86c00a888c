# tests/remote-queue.sh - remote delivery end to end: spool-inject ->
# queue-run --once -> remote-spawn -> remote-send -> a server on loopback.
# A routes entry to server.py (per-recipient results kept by the queue, a
# bounce for the failed one, the message byte for byte), and the null
# client: relayhost = [127.0.0.1]:port, smtp-receive in submission mode,
# STARTTLS with relayhost_tls_policy = encrypt and AUTH from relay-auth.
. "$POSTERN_TOP/tests/lib.sh"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
RS_TESTS=$TOP/remote-send/tests
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { local i; for i in $(seq 50); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# maps and config must be readable by send_user ($U as root)
chmod 755 "$T"

P=$(free_port)
mkdir -p "$T/srv"; is_root && chown "$U" "$T/srv"
python3 "$RS_TESTS/server.py" --out "$T/srv" "127.0.0.1" "$P" >"$T/srv.out" 2>&1 &
spid=$!; at_exit "kill $spid 2>/dev/null; wait $spid 2>/dev/null"
wait_ready "$T/srv.out" || { fail "server.py" "$(cat "$T/srv.out")"; exit 0; }

qr_conf remote_deliverer="$B/remote-send"
qr_map routes <<M
far.test smtp:[127.0.0.1]:$P
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
[ -n "$b" ] && grep -q 'fail@far.test' "$b" && grep -q '550 5.1.1' "$b" && ok "queue: the bounce went back to the sender through the same route" ||
  fail "queue: bounce" "$(ls "$T/srv")" "$(tail -20 "$T/log")"

# --- the null client: relayhost with STARTTLS and AUTH, through smtp-receive
command -v systemd-socket-activate >/dev/null || { skip "null client through smtp-receive" "systemd-socket-activate not installed"; exit 0; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=smarthost.test \
  -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
mkdir -p "$T/hub/maps"; "$TOP/tools/mkspool" "$T/hub/spool" >/dev/null
printf 'alice %s\n' "$(openssl passwd -6 -salt saltsalt 's3cret pass')" >"$T/hub/maps/passwd"
"$B/postern-maps" compile "$T/hub/maps/passwd" >/dev/null
{ echo "hostname = smarthost.test"; echo "spool = $T/hub/spool"; echo "map_dir = $T/hub/maps"; echo "libexec_dir = $B"
  echo "log = stderr"; echo "tls_cert_file = $T/cert.pem"; echo "tls_key_file = $T/key.pem"; } >"$T/hub/conf"
chmod 644 "$T/hub/conf"
P587=$(free_port)
systemd-socket-activate --inetd -a -E ASAN_OPTIONS -l "127.0.0.1:$P587" "$B/smtp-receive" -C "$T/hub/conf" -m submission 2>>"$T/hub/log" &
hpid=$!; at_exit "kill $hpid 2>/dev/null; wait $hpid 2>/dev/null"
for i in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$P587)).close()" 2>/dev/null && break; sleep 0.1; done

qr_conf remote_deliverer="$B/remote-send" relayhost="[127.0.0.1]:$P587" relayhost_tls_policy=encrypt
rm -f "$T/maps/routes.cdb"
printf '[127.0.0.1]:%s alice:s3cret pass\n' "$P587" >"$T/maps/relay-auth"
chmod 600 "$T/maps/relay-auth"
"$B/postern-maps" compile "$T/maps/relay-auth" >/dev/null
is_root && chown "$U" "$T/maps/relay-auth.cdb"
n0=$(ls "$T/hub/spool/new" | wc -l)
printf 'Subject: null client\n\nvia the smarthost\n' | qr_inject me@example.test someone@elsewhere.test
qr_run --once
is "null client: the smarthost queued the message" $((n0 + 1)) "$(ls "$T/hub/spool/new" | wc -l)"
grep -q "to=<someone@elsewhere.test> relay=smtp:\[127.0.0.1\]:$P587.*status=sent" "$T/log" && ok "null client: logged sent via the relayhost" ||
  fail "null client: sent" "$(tail -20 "$T/log")"
grep -q 'auth=PLAIN user=alice status=ok' "$T/log" && grep -q 'tls="TLSv1' "$T/log" && ! grep -q 's3cret' "$T/log" &&
  ok "null client: TLS and AUTH logged, no password" || fail "null client: log" "$(cat "$T/log")"
is "null client: only the earlier deferred message is left" 1 "$(qr_queue_count)"
