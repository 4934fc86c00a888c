#!/bin/bash
# smtp-msmtp.sh - msmtp, the client most null-client setups and MUAs use,
# submits to smtp-receive in submission mode (port 587 style: STARTTLS, then
# AUTH) and in smtps mode (implicit TLS), with the server's certificate
# verified; the message lands byte for byte; a wrong password and a
# session without TLS are refused and nothing is queued.
. "$(dirname "$0")/lib.bash"
command -v systemd-socket-activate >/dev/null || { skip "msmtp" "systemd-socket-activate not installed"; exit 0; }
command -v msmtp >/dev/null || { skip "msmtp" "msmtp not installed"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
mkspool "$T/spool"
mkdir "$T/maps"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=mx.example.test -addext subjectAltName=DNS:mx.example.test,IP:127.0.0.1 \
  -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
printf 'alice %s\n' "$(openssl passwd -6 'msmtp secret')" >"$T/maps/passwd"
"$B/postern-maps" compile "$T/maps/passwd" >/dev/null
mkconf "$T/postern.conf" tls_cert_file="$T/cert.pem" tls_key_file="$T/key.pem"
listening() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }
listen() {   # listen PORT ARGS...: smtp-receive on PORT, one process per connection
  local port=$1; shift
  systemd-socket-activate --inetd -a -E ASAN_OPTIONS -l "127.0.0.1:$port" "$B/smtp-receive" -C "$T/postern.conf" "$@" \
    2>>"$T/log" &
  local pid=$!
  at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  local i; for i in $(seq 100); do listening "$port" && return 0; sleep 0.05; done
  return 1
}
P587=$(free_port); listen "$P587" -m submission || { fail "listener on $P587"; exit 0; }
P465=$(free_port); listen "$P465" -m smtps || { fail "listener on $P465"; exit 0; }

# msmtprc PORT TLS-STARTTLS PASSWORD: an msmtp configuration (mode 0600)
msmtprc() {
  cat >"$T/msmtprc" <<RC
account default
host 127.0.0.1
port $1
domain client.example.test
from alice@example.test
tls on
tls_starttls $2
tls_trust_file $T/cert.pem
tls_host_override mx.example.test
auth plain
user alice
password $3
RC
  chmod 600 "$T/msmtprc"
}
count() { ls "$T/spool/new" | wc -l; }
printf 'From: alice@example.test\nTo: bob@elsewhere.test\nSubject: via msmtp\n\n.leading dot\nline two\n' >"$T/msg"

msmtprc "$P587" on 'msmtp secret'
n0=$(count)
out=$(msmtp -C "$T/msmtprc" bob@elsewhere.test <"$T/msg" 2>&1)
is "msmtp: STARTTLS + AUTH PLAIN on submission, relayed for alice" "$((n0 + 1))" "$(count)"
is "msmtp: no complaint" "" "$out"
id=$(ls -t "$T/spool/new" | head -1)
# the body after our Received: header is the message as msmtp sent it
awk 'f; /^Subject: via msmtp$/ { f = 1 }' "$(body_of "$id")" >"$T/got"
printf '\n.leading dot\nline two\n' >"$T/want"
same_file "msmtp: body byte for byte (dot-stuffing undone, CRLF to LF)" "$T/want" "$T/got"
grep -q '^Aalice$' "$T/spool/new/$id" && ok "msmtp: the envelope names the authenticated user" ||
  fail "msmtp: the envelope names the authenticated user" "$(cat "$T/spool/new/$id")"
grep -q 'with ESMTPSA' "$(body_of "$id")" && ok "msmtp: Received: says ESMTPSA" || fail "msmtp: Received: says ESMTPSA" "$(head -5 "$(body_of "$id")")"

msmtprc "$P465" off 'msmtp secret'
out=$(msmtp -C "$T/msmtprc" bob@elsewhere.test <"$T/msg" 2>&1)
is "msmtp: implicit TLS (smtps) + AUTH queued" "$((n0 + 2))" "$(count)"

msmtprc "$P587" on 'wrong password'
out=$(msmtp -C "$T/msmtprc" bob@elsewhere.test <"$T/msg" 2>&1); rc=$?
[ "$rc" != 0 ] && case "$out" in *535*) true ;; *) false ;; esac && ok "msmtp: a wrong password is refused (535)" ||
  fail "msmtp: a wrong password is refused" "exit $rc" "$out"
is "msmtp: nothing queued for the wrong password" "$((n0 + 2))" "$(count)"
grep -q 'wrong password' "$T/log" && fail "the password never reaches the log" "$(grep 'wrong password' "$T/log")" ||
  ok "the password never reaches the log"

# no TLS: submission does not offer AUTH, so msmtp refuses to send
sed -i 's/^tls on$/tls off/' "$T/msmtprc"
sed -i 's/^password .*/password msmtp secret/' "$T/msmtprc"
out=$(msmtp -C "$T/msmtprc" bob@elsewhere.test <"$T/msg" 2>&1); rc=$?
[ "$rc" != 0 ] && ok "msmtp without TLS: no AUTH offered, nothing sent" || fail "msmtp without TLS refused" "$out"
is "msmtp without TLS: nothing queued" "$((n0 + 2))" "$(count)"
