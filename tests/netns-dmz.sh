# tests/netns-dmz.sh - the SANS DMZ paper's topology, the way a sendmail
# 8.12 site moves it to postern: four Debian 12 roots with `make install`
# and their roles, booted as PID 1 in their own network namespaces, and
# split DNS (an outside and an inside dnsmasq):
#
#   Internet 198.51.100.0/24          DMZ gateway                LAN 192.0.2.0/24
#   sender.example.org .10 ──SMTP──▶ mx.example.test ──SMTP──▶ hub.corp.test .25 ─▶ ~alice/Maildir
#   mx.example.net .32 ◀──── out ─── .25 / 192.0.2.1  ◀──────── (relayhost)      ▲
#   (carol's Maildir)                                           client.corp.test .30 (null client)
#   DNS outside .53                                              DNS inside 192.0.2.53
#
# The gateway's maps are sendmail's, as the paper writes them: an access
# map with Connect: and From: keys and ERROR:"..." values, a mailertable
# (routes) with an esmtp:[hub] entry.  It resolves the Internet from the
# outside server and corp.test (and the LAN's reverse zone) from the
# inside one (dns_domain_servers): the outside server has never heard of
# hub.corp.test.  It asks the hub about each recipient at RCPT
# (smtpd_relay_verify): an unknown user is refused there with 550, so no
# bounce is ever made.  Mail leaving for the Internet carries no internal
# host name, address or uid.  Root only; about 40 s.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.bash"
. "$TOP/tests/systemd-lib.bash"
. "$TOP/tests/netns-lib.bash"
nn_prereq "DMZ: Internet -> gateway -> hub with split DNS" "DMZ: unknown users refused at the gateway's RCPT" \
  "DMZ: outbound mail hides the inside"

INET=198.51.100 LAN=192.0.2
# --- the network and its two DNS views ------------------------------------------
if nn_switch inet lan && nn_host sender inet:$INET.10 && nn_host gw inet:$INET.25 lan:$LAN.1 \
   && nn_host mxnet inet:$INET.32 && nn_host hub lan:$LAN.25 && nn_host client lan:$LAN.30; then
  ok "network: Internet and LAN segments, five hosts, the gateway on both"
else fail "network: Internet and LAN segments, five hosts"; exit 1; fi
# outside: the Internet's names; corp.test does not exist there
if nn_dns inet:$INET.53 -- --local=/test/ --local=/example.net/ --local=/example.org/ \
     --mx-host=example.test,mx.example.test,10 --host-record=mx.example.test,$INET.25 \
     --mx-host=example.net,mx.example.net,10 --host-record=mx.example.net,$INET.32 \
     --host-record=sender.example.org,$INET.10 --mx-host=example.org,sender.example.org,10; then
  ok "DNS outside: dnsmasq on the Internet segment"
else fail "DNS outside" "$(cat "$T/dns.err" "$T/dns.log" 2>/dev/null)"; exit 1; fi
# inside: corp.test and the LAN's reverse zone
ip -n "$NN_SW" addr add "$LAN.53/24" dev br-lan || { fail "DNS inside: address"; exit 1; }
ip netns exec "$NN_SW" dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file= \
  --user=nobody --group=nogroup --no-hosts --no-resolv --no-poll --bind-interfaces --listen-address=$LAN.53 \
  --log-queries --log-facility="$T/dns-inside.log" --local=/corp.test/ --local=/2.0.192.in-addr.arpa/ \
  --host-record=gw.corp.test,$LAN.1 --host-record=hub.corp.test,$LAN.25 --host-record=client.corp.test,$LAN.30 \
  >>"$T/dns.err" 2>&1 &
dns_inside=$!
at_exit "kill $dns_inside 2>/dev/null"
if wait_until 5 grep -q 'started, version' "$T/dns-inside.log"; then ok "DNS inside: a second dnsmasq on the LAN"
else fail "DNS inside" "$(cat "$T/dns.err")"; exit 1; fi

# --- the hosts ---------------------------------------------------------------
# gw: resolves the Internet outside and corp.test inside; relays
#     example.test to the hub (mailertable), and out for the hub only
#     (access Connect:); asks the hub about recipients; hides the inside
# hub: example.test is local; everything else goes out through the gateway;
#      the gateway's mail is trusted (the inside cannot resolve the Internet)
# client: a null client; its submitters' uids stay inside
# mxnet: an Internet MX for example.net, to see what leaves
setup() {
  nn_root sender nullclient $INET.53 hostname=sender.example.org retry_min=5s \
  && nn_users "$T/sender" erin \
  && nn_root gw hub $INET.53 hostname=mx.example.test retry_min=2s smtp_connect_timeout=10 \
       "dns_domain_servers=corp.test=$LAN.53 2.0.192.in-addr.arpa=$LAN.53" \
       smtpd_relay_verify=yes smtpd_relay_verify_timeout=20 \
       masquerade_domains=example.test smtp_received_headers=strip-internal \
       "smtp_internal_networks=192.0.2.0/24 127.0.0.0/8" "smtp_rewrite_exempt=smtp:[hub.corp.test]" \
  && nn_map "$T/gw" generic "@client.corp.test @example.test" "@hub.corp.test @example.test" \
  && nn_map "$T/gw" relay-domains example.test \
  && nn_map "$T/gw" routes "# mailertable" "example.test esmtp:[hub.corp.test]" \
  && nn_map "$T/gw" access "# sendmail access, as the paper writes it" \
       "Connect:$LAN.25 RELAY" "Connect:localhost RELAY" \
       "From:spammer.example.org ERROR:\"550 Some text message\"" "Connect:$INET.66 REJECT" \
  && nn_root hub hub $LAN.53 hostname=hub.corp.test domain=example.test "relayhost=[gw.corp.test]" \
       relayhost_tls_policy=none retry_min=2s received_hide_submitter=yes \
  && nn_map "$T/hub" local-domains example.test \
  && nn_map "$T/hub" access "Connect:$LAN.30 RELAY" "Connect:$LAN.1 OK" \
  && nn_map "$T/hub" aliases "postmaster: root" "root: alice" \
  && nn_users "$T/hub" alice \
  && nn_root client nullclient $LAN.53 hostname=client.corp.test domain=example.test "relayhost=[hub.corp.test]" \
       relayhost_tls_policy=none retry_min=2s received_hide_submitter=yes \
  && nn_users "$T/client" dave \
  && nn_root mxnet hub $INET.53 hostname=mx.example.net \
  && nn_map "$T/mxnet" local-domains example.net \
  && nn_users "$T/mxnet" carol
}
if setup; then ok "five roots with make install and their roles"
else fail "five roots with make install and their roles" "$(tail -n 20 "$T/install.log" "$T/unpack.log" 2>/dev/null)"; exit 1; fi
booted=""
for h in sender gw hub client mxnet; do nn_boot "$h" && booted="$booted $h"; done
if [ "$booted" = " sender gw hub client mxnet" ]; then ok "five hosts booted, each with systemd as PID 1"
else fail "five hosts booted" "booted:$booted" "$(tail -n 30 "$T/boot.log")"; exit 1; fi

journal() { sd_journal "$T/$1"; }
queue_empty() { [ -z "$(find "$T/$1/var/spool/postern/new" "$T/$1/var/spool/postern/queue" -mindepth 1 2>/dev/null)" ]; }
rcpt_reply() {   # rcpt_reply HOST SERVER FROM TO: the reply to RCPT TO
  nn_swaks "$1" --server "$2" --from "$3" --to "$4" --quit-after RCPT \
    | awk '/^ -> RCPT TO/ { getline; sub(/^<[-*]* +/, ""); print; exit }'
}

# --- Internet -> gateway -> hub, through split DNS -------------------------------
start=$SECONDS
nn_submit "$T/sender" erin alice@example.test "from the internet"
if wait_until 40 nn_has_mail "$T/hub" alice "from the internet"; then
  ok "DMZ: Internet -> gateway -> hub with split DNS: in ~alice/Maildir after $((SECONDS - start)) s"
else fail "DMZ: Internet -> gateway -> hub with split DNS" "gw: $(journal gw | tail -n 10)" "hub: $(journal hub | tail -n 5)"; fi
if grep -q "query\[A\] hub.corp.test from $LAN.1" "$T/dns-inside.log"; then ok "split DNS: the gateway asked the inside server for hub.corp.test"
else fail "split DNS: the gateway asked the inside server for hub.corp.test" "$(grep query "$T/dns-inside.log" | tail -n 5)"; fi
if grep -q "hub.corp.test" "$T/dns.log"; then fail "split DNS: the outside server never heard of hub.corp.test" "$(grep corp.test "$T/dns.log")"
else ok "split DNS: the outside server never heard of hub.corp.test"; fi
if journal gw | grep -q 'to=<alice@example.test>.*relay=hub.corp.test\[192.0.2.25\]:25.*status=sent'; then
  ok "the gateway sent it to the hub by its mailertable entry (esmtp:[hub.corp.test])"
else fail "the gateway sent it by its mailertable entry" "$(journal gw | grep alice | tail -n 5)"; fi

# --- relay recipients verified against the hub: no backscatter ---------------------
r=$(rcpt_reply sender $INET.25 erin@sender.example.org nobody-here@example.test)
case "$r" in "550 5.1.1 "*) ok "DMZ: unknown users refused at the gateway's RCPT (550 5.1.1)" ;;
  *) fail "DMZ: unknown users refused at the gateway's RCPT" "RCPT reply: ${r:-none}" "$(journal gw | tail -n 5)" ;; esac
case "$r" in *corp.test*|*"$LAN."*) fail "the refusal names no internal host" "$r" ;; *) ok "the refusal names no internal host" ;; esac
r=$(rcpt_reply sender $INET.25 erin@sender.example.org alice@example.test)
case "$r" in "250 "*) ok "a known user is accepted (the hub said yes)" ;; *) fail "a known user is accepted" "RCPT reply: ${r:-none}" ;; esac
hub_told() { [ "$(journal hub | grep -c 'nobody-here@example.test')" -ge 1 ]; }
wait_until 5 hub_told; sleep 1
n=$(journal hub | grep -c 'nobody-here@example.test')
r=$(rcpt_reply sender $INET.25 erin@sender.example.org nobody-here@example.test)
case "$r" in "550 5.1.1 "*) ok "asked again: refused from the gateway's cache" ;; *) fail "asked again: refused" "$r" ;; esac
sleep 1
m=$(journal hub | grep -c 'nobody-here@example.test')
if [ "$m" = "$n" ]; then ok "the hub was asked once only"
else fail "the hub was asked once only" "hub lines: $n then $m" "$(journal hub | grep nobody-here)" "$(journal gw | grep 'verify=')" \
  "$(ls -la "$T/gw/var/lib/postern/verify" 2>&1 | head -5)"; fi
# the Internet host sends to the unknown user for real: its own postern gets
# the 550 and bounces to erin on the Internet host; nothing is queued or
# bounced at the gateway or the hub
nn_submit "$T/sender" erin nobody-here@example.test "to a user who is not there"
sender_bounced() { journal sender | grep -q 'to=<nobody-here@example.test>.*status=bounced'; }
if wait_until 30 sender_bounced; then
  ok "the Internet sender's own MTA got the 550 (its bounce stays on its side)"
else fail "the Internet sender's own MTA got the 550" "$(journal sender | tail -n 5)"; fi
if journal gw | grep -q 'status=bounced\|notice='; then fail "no bounce made at the gateway" "$(journal gw | grep -i 'bounced\|notice' | tail -n 3)"
else ok "no bounce made at the gateway"; fi
if journal hub | grep -q 'nobody-here.*status=bounced'; then fail "no bounce made at the hub"; else ok "no bounce made at the hub"; fi

# --- the paper's access lines -------------------------------------------------------
r=$(rcpt_reply sender $INET.25 boss@spammer.example.org alice@example.test)
case "$r" in "550 "*"Some text message"*) ok "access From:domain ERROR:\"550 text\" refuses that sender" ;;
  *) fail "access From: ERROR refuses that sender" "RCPT reply: ${r:-none}" ;; esac
r=$(rcpt_reply sender $INET.25 erin@sender.example.org victim@example.net)
case "$r" in "554 5.7.1 "*) ok "the gateway relays for nobody on the Internet" ;; *) fail "no relaying for the Internet" "${r:-none}" ;; esac
r=$(rcpt_reply client $LAN.1 dave@example.test victim@example.net)
case "$r" in "554 5.7.1 "*) ok "nor for a LAN host other than the hub (Connect: key)" ;; *) fail "no relaying for the null client directly" "${r:-none}" ;; esac

# --- outbound: null client -> hub -> gateway -> the Internet ------------------------
start=$SECONDS
nn_submit "$T/client" dave carol@example.net "leaving the company"
if wait_until 40 nn_has_mail "$T/mxnet" carol "leaving the company"; then
  ok "outbound: null client -> hub -> gateway -> mx.example.net after $((SECONDS - start)) s"
else fail "outbound: null client -> hub -> gateway -> mx.example.net" "client: $(journal client | tail -n 5)" \
  "hub: $(journal hub | tail -n 5)" "gw: $(journal gw | tail -n 8)"; fi
# and one written with the inside's own names, as an old script on the
# client would: From: and the envelope name client.corp.test
sd_run "$T/client" runuser -u dave -- sh -c "printf 'From: Dave <dave@client.corp.test>\nReply-To: dave@client.corp.test\nSubject: inside names\n\nbody\n' | /usr/sbin/sendmail -f dave@client.corp.test carol@example.net" >>"$T/submit.log" 2>&1
if wait_until 40 nn_has_mail "$T/mxnet" carol "inside names"; then ok "outbound: the second message arrived"
else fail "outbound: the second message arrived" "gw: $(journal gw | tail -n 8)"; fi
for s in "leaving the company" "inside names"; do
  msg=$(nn_mail "$T/mxnet" carol "$s")
  head=$(printf '%s\n' "$msg" | sed -n '1,/^$/p' | grep -v '^Received: from .*mx.example.test\|by mx.example.net')
  case "$head" in *corp.test*|*"192.0.2."*|*userid*) fail "DMZ: outbound mail hides the inside ($s): no internal name, address or uid" "$head" ;;
    *) ok "DMZ: outbound mail hides the inside ($s): no internal name, address or uid" ;; esac
done
msg=$(nn_mail "$T/mxnet" carol "inside names")
case "$msg" in *"Return-Path: <dave@example.test>"*) ok "the envelope sender left as dave@example.test (generic)" ;;
  *) fail "the envelope sender left as dave@example.test" "$(printf '%s\n' "$msg" | head -3)" ;; esac
case "$msg" in *"From: Dave <dave@example.test>"*) ok "From: rewritten, the display name kept" ;;
  *) fail "From: rewritten" "$(printf '%s\n' "$msg" | sed -n '1,/^$/p')" ;; esac

# --- nothing left behind --------------------------------------------------------------
left=""
for h in sender gw hub client mxnet; do wait_until 10 queue_empty "$h" || left="$left $h"; done
is "every queue is empty at the end" "" "$left"
