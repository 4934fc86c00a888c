#!/bin/bash
# postfix.sh - remote-send against a real Postfix smtpd (its own instance
# in $T, root only, as CI runs): STARTTLS with a certificate from a test CA,
# opportunistic TLS, verify succeeding with the CA and failing on a wrong
# name (nothing sent), per-recipient 4xx/5xx chosen by Postfix's
# check_recipient_access, and reply texts with enhanced status codes.
. "$(dirname "$0")/rs.bash"
is_root || { skip "Postfix tests" "a Postfix instance needs root"; exit 0; }
command -v postfix >/dev/null || { skip "Postfix tests" "postfix not installed"; exit 0; }

# a CA and a server certificate for mx.example.test and 127.0.0.1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=postern test CA" -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=mx.example.test \
  -keyout "$T/key.pem" -out "$T/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:mx.example.test,IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
  -extfile "$T/ext" -out "$T/cert.pem" 2>/dev/null
[ -s "$T/cert.pem" ] || { fail "test certificates"; exit 0; }

P=$(free_port)
pf=$T/pf
mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
chown postfix "$pf/data"
printf 'temp@far.test 450 4.2.1 <temp@far.test>: mailbox busy, try later\nfail@far.test 550 5.1.1 <fail@far.test>: no such user\n' >"$pf/etc/rcpt"
cat >"$pf/etc/main.cf" <<EOC
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
myhostname = mx.example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = check_recipient_access texthash:$pf/etc/rcpt, permit_mynetworks, reject
default_transport = discard:
smtpd_tls_security_level = may
smtpd_tls_cert_file = $T/cert.pem
smtpd_tls_key_file = $T/key.pem
smtpd_tls_received_header = yes
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
script -qec "postfix -c $pf/etc start" /dev/null >>"$pf/start.log" 2>&1 && wait_port 127.0.0.1 "$P" ||
  { fail "Postfix instance on port $P" "$(cat "$pf/start.log")"; exit 0; }
# queued - messages Postfix accepted (its cleanup logged a message-id)
queued() { grep -c 'postfix/cleanup.*message-id=' "$pf/maillog" 2>/dev/null; }

send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test ok@far.test temp@far.test fail@far.test ok2@far.test
expect "Postfix: recipient sent" ok@far.test ok "250 2.0.0 Ok: queued as *127.0.0.1:$P after end of data*"
expect "Postfix: check_recipient_access 450: deferred with Postfix's reply" temp@far.test defer "450 4.2.1 <temp@far.test>: *mailbox busy, try later*after RCPT TO*"
expect "Postfix: check_recipient_access 550: failed with Postfix's reply" fail@far.test fail "550 5.1.1 <fail@far.test>: *no such user*after RCPT TO*"
expect "Postfix: second good recipient sent" ok2@far.test ok "250 2.0.0 *"
grep -q 'tls="TLSv1.3 with cipher .*verified=no' "$T/err" && ok "Postfix: STARTTLS (opportunistic), logged unverified" ||
  fail "Postfix: STARTTLS logged" "$(cat "$T/err")"
for i in $(seq 30); do [ "$(queued)" -ge 1 ] && break; sleep 0.1; done
is "Postfix: one message queued by Postfix" 1 "$(queued)"

conf smtp_tls_ca_file="$T/ca.pem"
printf '[127.0.0.1]:%s verify match=mx.example.test\n' "$P" >"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test ok@far.test
expect "Postfix: verify with the test CA: sent" ok@far.test ok "250 2.0.0 *"
grep -q 'verified=yes' "$T/err" && ok "Postfix: verified=yes logged" || fail "verified=yes" "$(cat "$T/err")"

printf '[127.0.0.1]:%s verify match=wrong.example.test\n' "$P" >"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
for i in $(seq 30); do [ "$(queued)" -ge 2 ] && break; sleep 0.1; done
n0=$(queued)
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test ok@far.test
expect "Postfix: verify, wrong name: deferred" ok@far.test defer "4.7.5 TLS with 127.0.0.1:$P failed: *"
grep -q 'tls=failed' "$T/err" && ok "Postfix: wrong name logged" || fail "wrong name logged" "$(cat "$T/err")"
for i in $(seq 30); do grep -q 'starttls=0/1' "$pf/maillog" && break; sleep 0.1; done
last=$(grep 'disconnect from' "$pf/maillog" | tail -1)
case $last in *"starttls=0/1"*mail=*|*"starttls=0/1"*auth=*) fail "Postfix: wrong name: session ended" "$last" ;;
  *"starttls=0/1"*) ok "Postfix: wrong name: Postfix saw the handshake fail and no command after it" ;;
  *) fail "Postfix: wrong name: session ended" "$last" ;; esac
is "Postfix: wrong name: nothing reached Postfix" "$n0" "$(queued)"

printf '[127.0.0.1]:%s none\n' "$P" >"$T/maps/tls-policy"
"$B/postern-maps" compile "$T/maps/tls-policy" >/dev/null
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test ok@far.test
expect "Postfix: policy none: sent in plain text" ok@far.test ok "250 2.0.0 *"
! grep -q 'tls=' "$T/err" && ok "Postfix: policy none: no STARTTLS" || fail "policy none" "$(cat "$T/err")"
rm -f "$T/maps/tls-policy.cdb"
conf
