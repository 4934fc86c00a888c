#!/bin/bash
# relayverify-postfix.sh - relay recipient probes against a real internal
# hub: a Postfix smtpd instance of its own in $T (root only, as CI runs)
# that knows corp.example's users through check_recipient_access, offers
# STARTTLS with a certificate from a test CA, and takes no mail here.  The
# gateway (smtp-receive under tcpserver as nobody, routes corp.example to
# the hub) refuses an unknown user at RCPT with the hub's 550 text and
# accepts a known one; the probe is verified TLS when tls-policy says
# verify, and a wrong certificate name gives 450, never 550; Postfix never
# queues a message (no DATA), and the gateway queues no bounce.
. "$(dirname "$0")/../../tests/lib.bash"
is_root || { skip "relay verify with Postfix" "a Postfix instance needs root"; exit 0; }
command -v postfix >/dev/null || { skip "relay verify with Postfix" "postfix not installed"; exit 0; }
command -v tcpserver >/dev/null || { skip "relay verify with Postfix" "ucspi-tcp is not installed"; exit 0; }
command -v swaks >/dev/null || { skip "relay verify with Postfix" "swaks is not installed"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
listening() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }

# a CA and the hub's certificate for hub.corp.example
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=postern test CA" -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=hub.corp.example \
  -keyout "$T/key.pem" -out "$T/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:hub.corp.example\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
  -extfile "$T/ext" -out "$T/cert.pem" 2>/dev/null
[ -s "$T/cert.pem" ] || { fail "test certificates"; exit 0; }

P=$(free_port)
pf=$T/pf
mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
chown postfix "$pf/data"
cat >"$pf/etc/rcpt" <<EOF
alice@corp.example OK
bob@corp.example OK
corp.example 550 5.1.1 User unknown in local recipient table
EOF
cat >"$pf/etc/main.cf" <<EOC
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
myhostname = hub.corp.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = check_recipient_access texthash:$pf/etc/rcpt, permit_mynetworks, reject
default_transport = discard:
smtpd_tls_security_level = may
smtpd_tls_cert_file = $T/cert.pem
smtpd_tls_key_file = $T/key.pem
maillog_file = $pf/maillog
maillog_file_prefixes = $pf
EOC
cat >"$pf/etc/master.cf" <<EOC
127.0.0.1:$P inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
discard   unix  -       -       n       -       -       discard
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       n       -       1       anvil
postlog   unix-dgram n  -       n       -       1       postlogd
EOC
at_exit "postfix -c '$pf/etc' stop >/dev/null 2>&1"
script -qc "postfix -c $pf/etc check" /dev/null >"$pf/start.log" 2>&1
script -qec "postfix -c $pf/etc start" /dev/null >>"$pf/start.log" 2>&1
for i in $(seq 100); do listening "$P" && break; sleep 0.05; done
listening "$P" || { fail "Postfix instance on port $P" "$(cat "$pf/start.log")"; exit 0; }
ok "Postfix hub on port $P"
queued() { grep -c 'postfix/cleanup.*message-id=' "$pf/maillog" 2>/dev/null; }
sessions() { grep 'postfix/smtpd.*\]: connect from' "$pf/maillog" 2>/dev/null | wc -l; }

# the gateway
mkspool "$T/spool"
mkdir "$T/maps" "$T/verify"
echo corp.example >"$T/maps/relay-domains"
echo "corp.example smtp:[127.0.0.1]:$P" >"$T/maps/routes"
printf '[127.0.0.1]:%s verify match=hub.corp.example\n' "$P" >"$T/maps/tls-policy"
for m in relay-domains routes tls-policy; do "$B/postern-maps" compile "$T/maps/$m" >/dev/null; done
chown -R nobody "$T/spool" "$T/verify"
mkconf "$T/postern.conf" smtpd_client_name_lookup=no smtpd_relay_verify=yes "smtpd_relay_verify_cache=$T/verify" \
  smtpd_relay_verify_timeout=20 "smtp_tls_ca_file=$T/ca.pem"
G=$(free_port)
tcpserver -u "$(id -u nobody)" -g "$(id -g nobody)" -c 20 -H -R -l gw.example.test 127.0.0.1 "$G" \
  "$B/smtp-receive" -C "$T/postern.conf" -m mx 2>>"$T/log" &
gw=$!
at_exit "kill $gw 2>/dev/null; wait $gw 2>/dev/null"
for i in $(seq 100); do listening "$G" && break; sleep 0.05; done
listening "$G" || { fail "gateway listens" "$(cat "$T/log")"; exit 0; }

rcpt() {
  swaks -s 127.0.0.1 -p "$G" -f sender@outside.test -t "$1" --quit-after RCPT 2>&1 |
    awk '/-> RCPT TO/ { getline; sub(/^ *<[-*~]* */, ""); print; exit }'
}
expect() {
  local got; got=$(rcpt "$2")
  case "$got" in "$3"*) ok "$1" ;; *) fail "$1" "expected: $3..." "actual:   $got" "$(tail -5 "$T/log")" ;; esac
}

expect "Postfix hub: a known user is accepted at the gateway" alice@corp.example "250 "
grep -q 'verified=yes' "$T/log" && ok "Postfix hub: the probe used verified TLS, as tls-policy says" ||
  fail "Postfix hub: the probe used verified TLS, as tls-policy says" "$(cat "$T/log")"
expect "Postfix hub: an unknown user is refused at the gateway's RCPT with the hub's 550" nobody@corp.example \
  "550 5.1.1 Recipient address rejected: undeliverable address: 550 5.1.1 <nobody@corp.example>: Recipient address rejected: User unknown"
got=$(rcpt nobody@corp.example)
case "$got" in *127.0.0.1*|*"$P"*) fail "Postfix hub: the refusal does not name the inside" "$got" ;;
  *) ok "Postfix hub: the refusal does not name the inside" ;; esac
n=$(sessions)
expect "Postfix hub: the known user again, from the cache" alice@corp.example "250 "
is "Postfix hub: no new session at the hub for cached answers" "$n" "$(sessions)"
out=$(swaks -s 127.0.0.1 -p "$G" -f sender@outside.test -t alice@corp.example,nobody@corp.example --body hi 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "Postfix hub: the message is queued for the known user only" ;;
  *) fail "Postfix hub: the message is queued for the known user only" "$out" ;; esac
envs=$(for f in "$T/spool/new/"*; do spool_envelope "$f"; done 2>/dev/null)
case "$envs" in *nobody*) fail "Postfix hub: no envelope names the unknown user" "$envs" ;;
  *) ok "Postfix hub: no envelope names the unknown user" ;; esac
is "Postfix hub: one message queued at the gateway (no bounce)" 1 "$(ls "$T/spool/new" | wc -l)"
is "Postfix hub: the probes never queued a message at the hub" 0 "$(queued)"

printf '[127.0.0.1]:%s verify match=wrong.example.test\n' "$P" >"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
expect "Postfix hub: a certificate that does not match tls-policy gives 450, never 550" ghost@corp.example "450 4.1.1 "
grep -q 'NOQUEUE.*to=<nobody@corp.example>' "$pf/maillog" && ok "Postfix hub: its log shows the probe's refused RCPT" ||
  fail "Postfix hub: its log shows the probe's refused RCPT" "$(tail -5 "$pf/maillog")"
grep -q 'NOQUEUE.*to=<ghost@corp.example>' "$pf/maillog" &&
  fail "Postfix hub: nothing was asked after the failed handshake" "$(grep ghost "$pf/maillog")" ||
  ok "Postfix hub: nothing was asked after the failed handshake"
