#!/bin/bash
# tls.sh - STARTTLS policies and the smarthost case against smtp-receive
# (socket-activated on loopback) with a test CA made here: opportunistic
# TLS, verify succeeding with the CA and failing on a wrong name or an
# unknown CA, encrypt against a server without STARTTLS (smtp-sink),
# implicit TLS, a server that offers only TLS 1.0/1.1 (refused: TLS 1.2 is
# the minimum), and relayhost = [127.0.0.1]:port with AUTH over verified
# TLS: the null-client path.
. "$(dirname "$0")/rs.bash"
command -v systemd-socket-activate >/dev/null || { skip "tls tests" "systemd-socket-activate not installed"; exit 0; }

# a CA and a server certificate for mx.example.test and 127.0.0.1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=postern test CA" -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=mx.example.test \
  -keyout "$T/key.pem" -out "$T/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:mx.example.test,IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
  -extfile "$T/ext" -out "$T/cert.pem" 2>/dev/null
[ -s "$T/cert.pem" ] || { fail "test certificates"; exit 0; }

# smtp-receive: its own spool and config
mkspool "$T/spool"
mkdir -p "$T/srvmaps"
printf 'alice %s\n' "$(openssl passwd -6 -salt saltsalt 's3cret pass')" >"$T/srvmaps/passwd"
"$B/postern-maps" compile "$T/srvmaps/passwd" >/dev/null
{ echo "hostname = mx.example.test"; echo "spool = $T/spool"; echo "map_dir = $T/srvmaps"
  echo "libexec_dir = $B"; echo "log = stderr"; echo "tls_cert_file = $T/cert.pem"; echo "tls_key_file = $T/key.pem"; } >"$T/srv.conf"
chmod 644 "$T/srv.conf"
listen() {
  local port=$1; shift
  bg "$T/srv-$port.log" systemd-socket-activate --inetd -a -E ASAN_OPTIONS -l "127.0.0.1:$port" \
    "$B/smtp-receive" -C "$T/srv.conf" "$@"
  wait_port 127.0.0.1 "$port" || { fail "smtp-receive on $port"; return 1; }
}
P25=$(free_port); listen "$P25" || exit 0
P587=$(free_port); listen "$P587" -m submission || exit 0
P465=$(free_port); listen "$P465" -m smtps || exit 0
count() { ls "$T/spool/new" | wc -l; }

n0=$(count)
send "$T/msg" "smtp:[127.0.0.1]:$P25" a@b.test root@mx.example.test
expect "may: delivered" root@mx.example.test ok "250 2.0.0 Ok: queued as*"
is "may: queued by smtp-receive" $((n0 + 1)) "$(count)"
grep -q 'tls="TLSv1.[23] with cipher .*verified=no' "$T/err" && ok "may: TLS used and logged, peer not verified" ||
  fail "may: TLS logged" "$(cat "$T/err")"

conf smtp_tls_ca_file="$T/ca.pem"
printf '[127.0.0.1]:%s verify match=mx.example.test\n' "$P25" >"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
send "$T/msg" "smtp:[127.0.0.1]:$P25" a@b.test root@mx.example.test
expect "verify with the test CA: delivered" root@mx.example.test ok "250 *"
grep -q 'verified=yes' "$T/err" && ok "verify: logged verified=yes" || fail "verified=yes" "$(cat "$T/err")"

printf '[127.0.0.1]:%s verify match=other.example.test\n' "$P25" >"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
n0=$(count)
send "$T/msg" "smtp:[127.0.0.1]:$P25" a@b.test root@mx.example.test
expect "verify, wrong name: deferred" root@mx.example.test defer "4.7.5 TLS with 127.0.0.1:$P25 failed: *"
is "verify, wrong name: nothing sent" "$n0" "$(count)"

conf
printf '[127.0.0.1]:%s verify match=mx.example.test\n' "$P25" >"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
send "$T/msg" "smtp:[127.0.0.1]:$P25" a@b.test root@mx.example.test
expect "verify, CA not trusted: deferred" root@mx.example.test defer "4.7.5 *local issuer*"

# encrypt: a server without STARTTLS is not used
if command -v smtp-sink >/dev/null; then
  PS=$(free_port); sink "$PS" || exit 0
  printf '[127.0.0.1]:%s encrypt\n' "$PS" >"$T/maps/tls-policy"
  "$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
  send "$T/msg" "smtp:[127.0.0.1]:$PS" a@b.test x@y.test
  expect "encrypt, STARTTLS not offered: deferred" x@y.test defer "4.7.4 TLS is required*does not offer STARTTLS"
  conf smtp_tls_policy=encrypt; rm -f "$T/maps/tls-policy.cdb"
  send "$T/msg" "smtp:[127.0.0.1]:$PS" a@b.test x@y.test
  expect "smtp_tls_policy=encrypt applies to routes" x@y.test defer "4.7.4 *"
  conf
else skip "encrypt against smtp-sink" "smtp-sink not installed"; fi
rm -f "$T/maps/tls-policy.cdb"

# implicit TLS (smtp-receive's smtps mode wants AUTH)
printf '[127.0.0.1]:%s alice:s3cret pass\n' "$P465" >"$T/maps/relay-auth"
chmod 600 "$T/maps/relay-auth"
"$B/postern-maps" compile "$T/maps/relay-auth" >/dev/null
send "$T/msg" "smtps:[127.0.0.1]:$P465" a@b.test someone@far.test
expect "smtps with a password, CA unknown: verify by default, deferred" someone@far.test defer "4.7.5 *local issuer*"
conf smtp_tls_ca_file="$T/ca.pem"
send "$T/msg" "smtps:[127.0.0.1]:$P465" a@b.test someone@far.test
expect "smtps: delivered" someone@far.test ok "250 *"
grep -q "relay=127.0.0.1:$P465 tls=" "$T/err" && ok "smtps: TLS logged" || fail "smtps TLS" "$(cat "$T/err")"

# a server that speaks only TLS 1.0/1.1: no session below TLS 1.2
POLD=$(free_port)
mkdir -p "$T/old"
bg "$T/old.log" python3 "$RS_TESTS/server.py" --out "$T/old" --tls "$T/cert.pem,$T/key.pem" --tls-old 127.0.0.1 "$POLD"
wait_port 127.0.0.1 "$POLD" || fail "the TLS 1.1 server"
conf smtp_tls_ca_file="$T/ca.pem"
send "$T/msg" "smtps:[127.0.0.1]:$POLD" a@b.test someone@far.test
expect "a TLS 1.1-only server: deferred, nothing sent" someone@far.test defer "*"
grep -q "relay=127.0.0.1:$POLD tls=failed" "$T/err" && ok "a TLS 1.1-only server: the handshake failure is logged" ||
  fail "a TLS 1.1-only server: the handshake failure is logged" "$(cat "$T/err")"
is "a TLS 1.1-only server got no message" 0 "$(ls "$T/old" | wc -l)"

# the smarthost: relayhost with AUTH over verified TLS
printf '[127.0.0.1]:%s alice:s3cret pass\n' "$P587" >"$T/maps/relay-auth"
"$B/postern-maps" compile "$T/maps/relay-auth" >/dev/null
conf relayhost="[127.0.0.1]:$P587" smtp_tls_ca_file="$T/ca.pem"
n0=$(count)
send "$T/msg" "smtp:[127.0.0.1]:$P587" me@client.test someone@far.test
expect "smarthost: AUTH over verified TLS relays" someone@far.test ok "250 2.0.0 Ok: queued as*"
grep -q '^Aalice$' "$T/spool/new/$(ls "$T/spool/new" | sort | tail -1)" && ok "smarthost: the server saw user alice" ||
  fail "smarthost: AUTH user" "$(cat "$T/spool/new/$(ls "$T/spool/new" | sort | tail -1)")"
grep -q 'verified=yes' "$T/err" && grep -q 'auth=PLAIN user=alice status=ok' "$T/err" && ! grep -q 's3cret' "$T/err" &&
  ok "smarthost: verified, AUTH logged without the password" || fail "smarthost log" "$(cat "$T/err")"

conf relayhost="[127.0.0.1]:$P587"
send "$T/msg" "smtp:[127.0.0.1]:$P587" me@client.test someone@far.test
expect "smarthost, verify by default, unknown CA: deferred" someone@far.test defer "4.7.5 *"
conf relayhost="[127.0.0.1]:$P587" relayhost_tls_policy=encrypt
send "$T/msg" "smtp:[127.0.0.1]:$P587" me@client.test someone@far.test
expect "smarthost, relayhost_tls_policy=encrypt (explicit opt-out): relays" someone@far.test ok "250 *"

# relayhost with its own scheme: smtps
printf '[127.0.0.1]:%s alice:s3cret pass\n' "$P465" >"$T/maps/relay-auth"
"$B/postern-maps" compile "$T/maps/relay-auth" >/dev/null
conf relayhost="smtps:[127.0.0.1]:$P465" smtp_tls_ca_file="$T/ca.pem"
send "$T/msg" "smtp:smtps:[127.0.0.1]:$P465" me@client.test someone@far.test
expect "relayhost = smtps:[host]:465 with AUTH: relays" someone@far.test ok "250 *"
conf
