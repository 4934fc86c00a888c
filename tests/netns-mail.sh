# tests/netns-mail.sh - the deployments of DESIGN.md on a test network of
# five hosts, each a Debian 12 root with `make install` + its role, booted
# as PID 1 in its own network namespace with real port 25 (systemd's
# socket), and a DNS server (dnsmasq) on the network:
#
#   Internet 198.51.100.0/24          DMZ gateway             LAN 192.0.2.0/24
#   sender.example.org .10 ──SMTP──▶ mx.example.test ──SMTP──▶ hub.corp.test .25 ─▶ ~alice/Maildir
#   (postern, MX delivery)           .25 / 192.0.2.1           ▲  (local delivery)
#                                    relays only for           │ relayhost
#   mx1.example.net .31 (down)       example.test, and out     │
#   mx2.example.net .32 ◀──MX 20──── for the hub only    client.corp.test .30
#   (carol's Maildir)                                   (null client, no listener)
#
# Shows: Internet mail for example.test goes sender -> gateway (MX) ->
# hub (routes) -> a Maildir; the gateway refuses to relay for anyone else
# (the Internet, LAN hosts other than the hub); the hub is unreachable from
# the Internet; the null client has no listener at all and relays through
# the hub; mail to example.net, whose first MX is down, arrives through the
# second (client -> hub -> gateway -> mx2); every queue is empty at the end.
# Root only; about 30 s.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.bash"
. "$TOP/tests/systemd-lib.bash"
. "$TOP/tests/netns-lib.bash"
nn_prereq "Internet -> DMZ gateway -> hub -> Maildir" "the gateway refuses to relay" \
  "the null client relays through the hub" "two MX hosts, the first down"

INET=198.51.100 LAN=192.0.2
# --- the network -------------------------------------------------------------
if nn_switch inet lan && nn_host sender inet:$INET.10 && nn_host gw inet:$INET.25 lan:$LAN.1 \
   && nn_host mx2 inet:$INET.32 && nn_host hub lan:$LAN.25 && nn_host client lan:$LAN.30; then
  ok "network: Internet and LAN segments, five hosts, the gateway on both"
else fail "network: Internet and LAN segments, five hosts"; exit 1; fi
if nn_dns inet:$INET.53 lan:$LAN.53 -- --local=/test/ --local=/example.net/ --local=/example.org/ \
     --mx-host=example.test,mx.example.test,10 --host-record=mx.example.test,$INET.25 \
     --mx-host=example.net,mx1.example.net,10 --mx-host=example.net,mx2.example.net,20 \
     --host-record=mx1.example.net,$INET.31 --host-record=mx2.example.net,$INET.32 \
     --host-record=sender.example.org,$INET.10 --host-record=gw.corp.test,$LAN.1 \
     --host-record=hub.corp.test,$LAN.25 --host-record=client.corp.test,$LAN.30; then
  ok "DNS: dnsmasq answers on both segments"
else fail "DNS: dnsmasq answers on both segments" "$(cat "$T/dns.err" "$T/dns.log" 2>/dev/null)"; exit 1; fi

# --- the hosts ---------------------------------------------------------------
# sender: an Internet host whose postern delivers by MX (no relayhost)
# gw: the DMZ gateway (MX of example.test): relays example.test to the hub
#     and, from the hub only, everything else out
# hub: the internal hub: example.test is local (local-domains); the null client may relay
#      through it; outgoing mail leaves through the gateway
# client: a null client: everything to the hub, nothing listens, nothing
#         delivered here (local_delivery auto); bare names are qualified
#         with example.test, whose root the hub aliases to alice
# mx2: the second MX of example.net (the first, mx1, is down); example.net
#      is local by its local-domains map
setup() {
  nn_root sender nullclient $INET.53 hostname=sender.example.org retry_min=5s \
  && nn_users "$T/sender" erin \
  && nn_root gw hub $LAN.53 hostname=mx.example.test retry_min=2s smtp_connect_timeout=10 \
  && nn_map "$T/gw" relay-domains example.test \
  && nn_map "$T/gw" routes "example.test smtp:[hub.corp.test]" \
  && nn_map "$T/gw" access "$LAN.25 RELAY" \
  && nn_root hub hub $LAN.53 hostname=hub.corp.test domain=example.test "relayhost=[gw.corp.test]" \
       relayhost_tls_policy=none retry_min=2s \
  && nn_map "$T/hub" local-domains example.test \
  && nn_map "$T/hub" access "$LAN.30 RELAY" \
  && nn_users "$T/hub" alice \
  && nn_map "$T/hub" aliases "postmaster: root" "root: alice" \
  && nn_root client nullclient $LAN.53 hostname=client.corp.test domain=example.test "relayhost=[hub.corp.test]" \
       relayhost_tls_policy=none retry_min=2s \
  && nn_users "$T/client" dave \
  && nn_root mx2 hub $INET.53 hostname=mx2.example.net \
  && nn_map "$T/mx2" local-domains example.net \
  && nn_users "$T/mx2" carol
}
if setup; then ok "five roots with make install and their roles (hub, nullclient)"
else fail "five roots with make install and their roles" "$(tail -n 20 "$T/install.log" "$T/unpack.log" 2>/dev/null)"; exit 1; fi
booted=""
for h in sender gw hub client mx2; do nn_boot "$h" && booted="$booted $h"; done
if [ "$booted" = " sender gw hub client mx2" ]; then ok "five hosts booted, each with systemd as PID 1 in its namespace"
else fail "five hosts booted" "booted:$booted" "$(tail -n 30 "$T/boot.log")"; exit 1; fi

# journal HOST: postern's log lines on HOST
journal() { sd_journal "$T/$1"; }
queue_empty() { [ -z "$(find "$T/$1/var/spool/postern/new" "$T/$1/var/spool/postern/queue" -mindepth 1 2>/dev/null)" ]; }
received() { nn_mail "$T/$1" "$2" "$3" | grep -A1 '^Received: ' | tr -s ' \t\n' ' '; }

# --- roles as installed ---------------------------------------------------------
is "gateway, hub and mx2 listen on port 25 (systemd's socket)" "0.0.0.0:25 0.0.0.0:25 0.0.0.0:25" \
  "$(for h in gw hub mx2; do sd_run "$T/$h" ss -Hltn | awk '{print $4}' | grep ':25$' | sed 's/^\*/0.0.0.0/;s/^\[::\]/0.0.0.0/'; done | tr '\n' ' ' | sed 's/ $//')"
is "the null client listens on nothing, TCP or UDP" "" "$(sd_run "$T/client" ss -Hltun)"
out=$(nn_swaks hub --server $LAN.30 --quit-after CONNECT)
case "$out" in *"onnection refused"*) ok "a connection to the null client's port 25 is refused" ;;
  *) fail "a connection to the null client's port 25 is refused" "$out" ;; esac

# --- Internet -> gateway -> hub -> Maildir ----------------------------------------
start=$SECONDS
if nn_submit "$T/sender" erin alice@example.test "from the internet"; then ok "erin on the Internet host submits mail for alice@example.test"
else fail "erin on the Internet host submits mail for alice@example.test" "$(cat "$T/submit.log")"; fi
if wait_until 30 nn_has_mail "$T/hub" alice "from the internet"; then
  ok "Internet -> DMZ gateway -> hub -> Maildir: in ~alice/Maildir/new on the hub after $((SECONDS - start)) s"
else fail "Internet -> DMZ gateway -> hub -> Maildir" "sender: $(journal sender | tail -n 5)" \
  "gw: $(journal gw | tail -n 8)" "hub: $(journal hub | tail -n 8)"; fi
if grep -q "query\[MX\] example.test from $INET.10" "$T/dns.log"; then ok "the sender found the gateway through the MX record of example.test"
else fail "the sender found the gateway through the MX record of example.test" "$(grep query "$T/dns.log" | tail -n 10)"; fi
r=$(received hub alice "from the internet")
case "$r" in *"[$LAN.1]) by hub.corp.test"*"[$INET.10]) by mx.example.test"*) ok "Received: lines show sender -> mx.example.test -> hub.corp.test" ;;
  *) fail "Received: lines show sender -> mx.example.test -> hub.corp.test" "$(nn_mail "$T/hub" alice "from the internet" | sed -n '1,/^$/p')" ;; esac
if journal gw | grep -q 'to=<alice@example.test>.*relay=hub.corp.test\[192.0.2.25\]:25.*status=sent'; then
  ok "the gateway sent it to the hub by its routes entry"
else fail "the gateway sent it to the hub by its routes entry" "$(journal gw | grep alice | tail -n 5)"; fi

# --- the gateway relays for nobody else --------------------------------------------
# rcpt_reply HOST SERVER FROM TO: the server's reply to RCPT TO, from HOST
rcpt_reply() {
  nn_swaks "$1" --server "$2" --from "$3" --to "$4" --quit-after RCPT \
    | awk '/^ -> RCPT TO/ { getline; sub(/^<[-*]* +/, ""); print; exit }'
}
refused() {   # refused NAME HOST SERVER FROM TO: 554 5.7.1 at RCPT
  local r; r=$(rcpt_reply "$2" "$3" "$4" "$5")
  case "$r" in "554 5.7.1 "*) ok "$1" ;; *) fail "$1" "RCPT TO:<$5> from $2: ${r:-no reply}" ;; esac
}
refused "the gateway refuses Internet mail for other domains (554 5.7.1)" sender $INET.25 someone@sender.example.org victim@example.net
refused "the gateway refuses it with a sender from example.test too" sender $INET.25 alice@example.test victim@example.net
refused "the gateway does not relay for subdomains of example.test" sender $INET.25 someone@sender.example.org bob@sub.example.test
refused "the gateway refuses relaying from a LAN host that is not the hub" client $LAN.1 dave@client.corp.test victim@example.net
r=$(rcpt_reply sender $INET.25 someone@sender.example.org bob@example.test)
case "$r" in "250 "*) ok "the gateway accepts mail for example.test from the Internet" ;;
  *) fail "the gateway accepts mail for example.test from the Internet" "RCPT reply: ${r:-none}" ;; esac
if timeout 5 ip netns exec "$(nn_ns sender)" bash -c "exec 3<>/dev/tcp/$LAN.25/25" 2>/dev/null; then
  fail "the hub cannot be reached from the Internet"
else ok "the hub cannot be reached from the Internet (no route: only the gateway's SMTP joins the segments)"; fi

# --- null client -> hub -----------------------------------------------------------
start=$SECONDS
nn_submit "$T/client" dave alice@example.test "from the null client"
if wait_until 20 nn_has_mail "$T/hub" alice "from the null client"; then
  ok "the null client relays through the hub: delivered to alice after $((SECONDS - start)) s"
else fail "the null client relays through the hub" "client: $(journal client | tail -n 8)" "hub: $(journal hub | tail -n 5)"; fi
# cron's mail to root on the null client goes to the hub as root@example.test
# (a null client delivers nothing itself), where root's alias is alice
nn_submit "$T/client" dave root "cron output"
if wait_until 20 nn_has_mail "$T/hub" alice "cron output"; then ok "mail to root on the null client goes to the hub, whose alias sends it to alice"
else fail "mail to root on the null client goes to the hub, whose alias sends it to alice" "client: $(journal client | tail -n 8)"; fi
no_daemon() { ! sd_run "$T/client" pgrep -x queue-run >/dev/null && [ "$(sd_run "$T/client" systemctl is-active postern-flush.service)" = inactive ]; }
if wait_until 10 no_daemon; then ok "no queue-run left running on the null client"
else fail "no queue-run left running on the null client" "$(sd_run "$T/client" ps -ef)"; fi

# --- two MX hosts, the first down: client -> hub -> gateway -> mx2 ---------------------
start=$SECONDS
nn_submit "$T/client" dave carol@example.net "over the second MX"
if wait_until 40 nn_has_mail "$T/mx2" carol "over the second MX"; then
  ok "two MX hosts, the first down: arrived through mx2.example.net after $((SECONDS - start)) s"
else fail "two MX hosts, the first down: arrived through mx2" "hub: $(journal hub | tail -n 5)" "gw: $(journal gw | tail -n 10)" \
  "mx2: $(journal mx2 | tail -n 5)"; fi
# mx1 is a host that is off: its address does not answer ARP.  The
# gateway's neighbour table shows it tried to reach it.
n=$(ip -n "$(nn_ns gw)" neigh show $INET.31)
case "$n" in *FAILED*|*INCOMPLETE*) ok "the gateway tried mx1.example.net first (ARP: $(echo $n | awk '{print $NF}'))" ;;
  *) fail "the gateway tried mx1.example.net first" "neighbour entry: $n" "$(grep mx1 "$T/dns.log")" ;; esac
if journal gw | grep -q 'to=<carol@example.net>.*relay=mx2.example.net\[198.51.100.32\]:25.*status=sent'; then
  ok "and then delivered to mx2.example.net"
else fail "and then delivered to mx2.example.net" "$(journal gw | grep carol | tail -n 5)"; fi
r=$(received mx2 carol "over the second MX")
case "$r" in *"by mx2.example.net"*"by mx.example.test"*"by hub.corp.test"*) ok "Received: lines show hub -> gateway -> mx2" ;;
  *) fail "Received: lines show hub -> gateway -> mx2" "$(nn_mail "$T/mx2" carol "over the second MX" | sed -n '1,/^$/p')" ;; esac

# --- nothing left behind --------------------------------------------------------------
left=""
for h in sender gw hub client mx2; do wait_until 5 queue_empty "$h" || left="$left $h"; done
is "every queue is empty at the end" "" "$left"
