#!/bin/bash
# relayverify.sh - no backscatter for relay-domains recipients (issue 14
# point 1): a DMZ gateway (smtp-receive under tcpserver, one process per
# connection, as an unprivileged user when run as root) whose relay
# domain corp.example is routed to a next hop on loopback (remote-send's
# server.py: local parts fail* get 550 5.1.1 at RCPT, temp* 450).  With
# smtpd_relay_verify the gateway asks the hop at RCPT: an unknown user is
# refused with 550 at the gateway and nothing is queued (no bounce can
# ever be made), a known one is accepted, a second RCPT is answered from
# the cache without a connection to the hop, entries expire, a hop that
# is down or slow gives 450, never 550.  The relay-recipients map alone
# (user@domain, user+detail, an @domain catch-all) accepts and refuses
# without any probe.  swaks is the client.
. "$(dirname "$0")/../../tests/lib.bash"
command -v tcpserver >/dev/null || { skip "relay verify" "ucspi-tcp is not installed"; exit 0; }
command -v swaks >/dev/null || { skip "relay verify" "swaks is not installed"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
listening() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }

mkspool "$T/spool"
mkdir "$T/maps" "$T/verify"
H=$(free_port)        # the next hop
DOWN=$(free_port)     # nothing listens here
SLOW=$(free_port)     # a hop that never answers RCPT
PLAIN=$(free_port)    # a hop without STARTTLS, which tls-policy says must encrypt
cat >"$T/maps/relay-domains" <<EOF
corp.example
lab.example
down.example
slow.example
tls.example
EOF
cat >"$T/maps/routes" <<EOF
corp.example smtp:[127.0.0.1]:$H
lab.example smtp:[127.0.0.1]:$H
down.example smtp:[127.0.0.1]:$DOWN
slow.example smtp:[127.0.0.1]:$SLOW
tls.example smtp:[127.0.0.1]:$PLAIN
EOF
echo "[127.0.0.1]:$PLAIN encrypt" >"$T/maps/tls-policy"
: >"$T/maps/relay-recipients"
for m in relay-domains routes relay-recipients tls-policy; do "$B/postern-maps" compile "$T/maps/$m" >/dev/null; done
run_as=()
if is_root; then
  chown -R nobody "$T/spool" "$T/verify"
  run_as=(-u "$(id -u nobody)" -g "$(id -g nobody)")
fi
# conf [key=value...] - the gateway's configuration (read per connection):
# these keys, then the test's defaults for the keys not given
conf() {
  local kv d defaults=(smtpd_client_name_lookup=no smtpd_relay_verify=yes
                      "smtpd_relay_verify_cache=$T/verify" smtpd_relay_verify_timeout=4)
  local all=("$@")
  for d in "${defaults[@]}"; do
    for kv in "$@"; do [ "${kv%%=*}" = "${d%%=*}" ] && continue 2; done
    all+=("$d")
  done
  mkconf "$T/postern.conf" "${all[@]}"
}
conf

hop_out=$T/hop.out
python3 "$TOP/remote-send/tests/server.py" --name hub.corp.example --log "$T/hop.log" 127.0.0.1 "$H" >"$hop_out" 2>&1 &
hop=$!
at_exit "kill $hop 2>/dev/null; wait $hop 2>/dev/null"
python3 "$TOP/remote-send/tests/server.py" --stall rcpt 127.0.0.1 "$SLOW" >"$T/slow.out" 2>&1 &
slow=$!
at_exit "kill $slow 2>/dev/null; wait $slow 2>/dev/null"
python3 "$TOP/remote-send/tests/server.py" --log "$T/plain.log" 127.0.0.1 "$PLAIN" >"$T/plain.out" 2>&1 &
plain=$!
at_exit "kill $plain 2>/dev/null; wait $plain 2>/dev/null"
G=$(free_port)
tcpserver "${run_as[@]}" -c 20 -H -R -l gw.example.test 127.0.0.1 "$G" \
  "$B/smtp-receive" -C "$T/postern.conf" -m mx 2>>"$T/log" &
gw=$!
at_exit "kill $gw 2>/dev/null; wait $gw 2>/dev/null"
for i in $(seq 100); do listening "$G" && listening "$H" && listening "$SLOW" && listening "$PLAIN" && break; sleep 0.05; done
listening "$G" && listening "$H" || { fail "gateway and hop listen" "$(cat "$T/log" "$hop_out")"; exit 0; }

# rcpt ADDRESS - the gateway's reply to RCPT TO:<ADDRESS> (code and text)
rcpt() {
  swaks -s 127.0.0.1 -p "$G" -f sender@outside.test -t "$1" --quit-after RCPT 2>&1 |
    awk '/-> RCPT TO/ { getline; sub(/^ *<[-*~]* */, ""); print; exit }'
}
probes() { grep -c '^EHLO' "$T/hop.log" 2>/dev/null || echo 0; }
# expect NAME ADDRESS PREFIX - the reply to RCPT starts with PREFIX
expect() {
  local got; got=$(rcpt "$2")
  case "$got" in "$3"*) ok "$1" ;; *) fail "$1" "expected: $3..." "actual:   $got" "$(tail -5 "$T/log")" ;; esac
}

# --- probes
expect "a user the hop knows is accepted" bob@corp.example "250 "
is "  ... after one probe of the hop" 1 "$(probes)"
grep -q 'MAIL FROM:<>' "$T/hop.log" && ! grep -q '^DATA' "$T/hop.log" && ok "the probe is MAIL FROM:<> and RCPT, no DATA" ||
  fail "the probe is MAIL FROM:<> and RCPT, no DATA" "$(cat "$T/hop.log")"
grep -q '^RSET' "$T/hop.log" && ok "the probe ends with RSET" || fail "the probe ends with RSET" "$(cat "$T/hop.log")"
expect "an unknown user is refused at the gateway's RCPT with 550 5.1.1 and the hop's text" failbob@corp.example \
  "550 5.1.1 Recipient address rejected: undeliverable address: 550 5.1.1 <failbob@corp.example>: user unknown"
is "  ... after a second probe" 2 "$(probes)"
expect "the known user again: from the cache" bob@corp.example "250 "
expect "the unknown user again: from the cache" failbob@corp.example "550 5.1.1 "
is "the cache answered both without contacting the hop" 2 "$(probes)"
grep -q 'verify=bob@corp.example status=deliverable cached=yes' "$T/log" && ok "the log says the answer came from the cache" ||
  fail "the log says the answer came from the cache" "$(tail -5 "$T/log")"
expect "a temporary refusal by the hop gives 450 4.1.1" tempbob@corp.example "450 4.1.1 "
expect "  ... and is not cached" tempbob@corp.example "450 4.1.1 "
is "  ... (asked twice)" 4 "$(probes)"
files=$(ls "$T/verify" | wc -l)
is "the cache holds one file per answered address" 2 "$files"
bad=$(find "$T/verify" -type f ! -perm 600)
is "cache files are private (0600)" "" "$bad"
if is_root; then
  is "cache files belong to the session user" "nobody" "$(stat -c %U "$T/verify"/* | sort -u)"
fi

# a message to a known and an unknown user: only the known one is queued
out=$(swaks -s 127.0.0.1 -p "$G" -f sender@outside.test -t bob@corp.example,failbob@corp.example --body hi 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "a message with one known and one unknown recipient is queued" ;;
  *) fail "a message with one known and one unknown recipient is queued" "$out" ;; esac
env=$(for f in "$T/spool/new/"*; do spool_envelope "$f"; done 2>/dev/null)
case "$env" in *Tbob@corp.example*) case "$env" in *failbob*) fail "only the known recipient is in the envelope" "$env" ;;
  *) ok "only the known recipient is in the envelope" ;; esac ;; *) fail "only the known recipient is in the envelope" "$env" ;; esac
is "exactly one message was queued (no bounce can come of the refused one)" 1 "$(ls "$T/spool/new" | wc -l)"

# --- expiry
conf smtpd_relay_verify_positive_expire=1 smtpd_relay_verify_negative_expire=1
sleep 2
expect "an expired positive entry: the hop is asked again" bob@corp.example "250 "
expect "an expired negative entry: the hop is asked again" failbob@corp.example "550 5.1.1 "
is "  ... (two more probes)" 6 "$(probes)"
conf smtpd_relay_verify_positive_expire=0 smtpd_relay_verify_negative_expire=0
rm -f "$T/verify"/*
expect "expiry 0: nothing cached" carol@corp.example "250 "
is "  ... no cache file" 0 "$(ls "$T/verify" | wc -l)"
is "  ... (one more probe)" 7 "$(probes)"
conf

# --- a hop that is down or slow: 450, never 550
expect "the hop down gives 450 4.1.1" bob@down.example "450 4.1.1 "
start=$(date +%s)
expect "a hop that never answers RCPT gives 450 4.1.1" bob@slow.example "450 4.1.1 "
took=$(( $(date +%s) - start ))
[ "$took" -le 8 ] && ok "  ... within the probe's deadline (${took}s)" || fail "  ... within the probe's deadline" "took ${took}s"
# the route's TLS policy holds for probes as for mail
expect "a probe obeys tls-policy: encrypt, and the hop has no STARTTLS: 450" failbob@tls.example "450 4.1.1 "
grep -q 'RCPT' "$T/plain.log" && fail "  ... and no RCPT was sent in the clear" "$(cat "$T/plain.log")" ||
  ok "  ... and no RCPT was sent in the clear"
grep -q 'TLS is required' "$T/log" && ok "  ... the log says why" || fail "  ... the log says why" "$(tail -3 "$T/log")"
conf smtpd_relay_verify_cache=
expect "no cache directory: every RCPT is probed" bob@corp.example "250 "
expect "  ... again" bob@corp.example "250 "
is "  ... (two more probes)" 9 "$(probes)"

# --- the relay-recipients map alone
cat >"$T/maps/relay-recipients" <<EOF
alice@corp.example
@lab.example OK
EOF
"$B/postern-maps" compile "$T/maps/relay-recipients" >/dev/null
conf smtpd_relay_verify=no
n=$(probes)
expect "map: a listed address is accepted" alice@corp.example "250 "
expect "map: user+detail of a listed user is accepted" Alice+lists@Corp.Example "250 "
expect "map: an unlisted address is refused" bob@corp.example \
  "550 5.1.1 Recipient address rejected: User unknown in relay recipient table"
expect "map: an @domain catch-all accepts any user" anyone@lab.example "250 "
expect "map: even one the hop would refuse" failx@lab.example "250 "
is "map: no probe was made" "$n" "$(probes)"
# the map and probes together: the catch-all domain is probed, the rest decided by the map
conf
expect "map + probes: a listed address is accepted without a probe" alice@corp.example "250 "
expect "map + probes: an unlisted address is refused without a probe" carol@corp.example "550 5.1.1 Recipient address rejected: User unknown"
is "map + probes: neither asked the hop" "$n" "$(probes)"
expect "map + probes: an @domain domain is probed: unknown user" failx@lab.example "550 5.1.1 Recipient address rejected: undeliverable"
expect "map + probes: an @domain domain is probed: known user" dave@lab.example "250 "
is "map + probes: two probes" $((n + 2)) "$(probes)"

# --- postern-maps refuses keys the check can never match
printf 'alice\n' >"$T/rr"
if "$B/postern-maps" compile -t recipients "$T/rr" >"$T/c.out" 2>&1 ||
   ! grep -q 'can never match' "$T/c.out"; then fail "relay-recipients: a key without @ is refused" "$(cat "$T/c.out")"
else ok "relay-recipients: a key without @ is refused"; fi
is "nothing was ever queued for a refused recipient" 1 "$(ls "$T/spool/new" | wc -l)"
