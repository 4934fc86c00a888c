# tests/netns-haproxy.sh - load balancing hubs: HAProxy (Debian's) in TCP
# mode in front of two postern hubs, each a Debian 12 root with `make
# install` + `make install-hub`, booted as PID 1 in its own network
# namespace, with smtpd_proxy_trusted naming the balancer:
#
#   client 192.0.2.30 ─┐                      ┌─▶ hub-a 192.0.2.25 (PROXY v2)
#   spam   192.0.2.31 ─┴─▶ haproxy 192.0.2.100:25 ─┤
#                                             └─▶ hub-b 192.0.2.26 (PROXY v1)
#
# Shows: mail through the balancer reaches both hubs and is delivered; each
# hub sees the client's own address and name (Received:, log) in both PROXY
# versions,
# and applies its access map to it (the spammer's address is refused
# although the balancer's is not); the balancer's address without a PROXY
# header is disconnected; from anyone else a PROXY line is just an unknown
# command.  Root only; about 15 s.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.bash"
. "$TOP/tests/systemd-lib.bash"
. "$TOP/tests/netns-lib.bash"
NAMES="haproxy spreads mail over two hubs|hubs see the client address through PROXY|untrusted PROXY lines are refused"
IFS='|' read -r -a names <<<"$NAMES"
if ! command -v haproxy >/dev/null; then
  for n in "${names[@]}"; do skip "$n" "needs haproxy (Debian package haproxy): tools/deps test"; done; exit 0
fi
nn_prereq "${names[@]}"

LAN=192.0.2 LB=192.0.2.100
if nn_switch lan && nn_host client lan:$LAN.30 && nn_host spam lan:$LAN.31 && nn_host lb lan:$LB \
   && nn_host hub-a lan:$LAN.25 && nn_host hub-b lan:$LAN.26; then
  ok "network: a client, a spammer, the balancer and two hubs on one segment"
else fail "network: a client, a spammer, the balancer and two hubs"; exit 1; fi
# DNS with forward and reverse records: the hubs look up each client's name,
# and the senders' domain (example.org) has an MX, as the sender check asks
if nn_dns lan:$LAN.53 -- --local=/test/ --local=/example/ --local=/example.org/ \
     --mx-host=example.org,mx.example.org,10 --host-record=mx.example.org,192.0.2.99 --host-record=client.example.test,$LAN.30 \
     --host-record=spam.example,$LAN.31 --host-record=lb.example.test,$LB \
     --host-record=hub-a.example.test,$LAN.25 --host-record=hub-b.example.test,$LAN.26; then
  ok "DNS: dnsmasq on the segment"
else fail "DNS: dnsmasq on the segment" "$(cat "$T/dns.err" "$T/dns.log" 2>/dev/null)"; exit 1; fi

setup() {
  local h
  for h in hub-a hub-b; do
    nn_root "$h" hub $LAN.53 hostname=$h.example.test domain=example.test smtpd_proxy_trusted=$LB \
    && nn_map "$T/$h" local-domains example.test \
    && nn_map "$T/$h" access "$LAN.31 REJECT" \
    && nn_users "$T/$h" alice || return 1
  done
}
if setup; then ok "two hub roots: make install, install-hub, smtpd_proxy_trusted = $LB"
else fail "two hub roots" "$(tail -n 20 "$T/install.log" "$T/unpack.log" 2>/dev/null)"; exit 1; fi
if nn_boot hub-a && nn_boot hub-b; then ok "both hubs booted"
else fail "both hubs booted" "$(tail -n 30 "$T/boot.log")"; exit 1; fi

cat >"$T/haproxy.cfg" <<EOF
global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend smtp
    bind $LB:25
    default_backend hubs
backend hubs
    balance roundrobin
    server hub-a $LAN.25:25 send-proxy-v2
    server hub-b $LAN.26:25 send-proxy
EOF
ip netns exec "$(nn_ns lb)" haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
hap=$!
at_exit "kill $hap 2>/dev/null"
listening() { ip netns exec "$(nn_ns lb)" ss -Hltn "sport = :25" | grep -q "$LB:25"; }
if wait_until 10 listening; then ok "haproxy listens on $LB:25"
else fail "haproxy listens on $LB:25" "$(cat "$T/haproxy.log")"; exit 1; fi

# --- four messages through the balancer -------------------------------------------
sent=0
for i in 1 2 3 4; do
  out=$(nn_swaks client --server $LB --from bob@example.org --to alice@example.test --h-Subject "via lb $i" --body "message $i")
  case "$out" in *"<-  250 2.0.0 Ok: queued as"*) sent=$((sent + 1)) ;; *) echo "$out" >>"$T/swaks.log" ;; esac
done
is "four messages accepted through haproxy" 4 "$sent"
count() { nn_maildir "$T/$1" alice | wc -l; }
all_four() { [ $(( $(count hub-a) + $(count hub-b) )) -ge 4 ]; }
wait_until 15 all_four
is "haproxy spreads mail over two hubs: delivered 2 + 2 (round robin)" "2 2" "$(count hub-a) $(count hub-b)"

# --- the client's address, not the balancer's ----------------------------------------
for h in hub-a hub-b; do
  v=v2; [ "$h" = hub-b ] && v=v1
  f=$(ls "$T/$h/home/alice/Maildir/new/"* 2>/dev/null | head -n 1)
  rcv=$(sed -n '/^Received: /{N;p;q}' "$f" 2>/dev/null | tr -s ' \t\n' ' ')
  case "$rcv" in *"(client.example.test [$LAN.30]) by $h.example.test"*) ok "hubs see the client address through PROXY ($v): $h's Received: names $LAN.30" ;;
    *) fail "hubs see the client address through PROXY ($v): $h's Received:" "$rcv" ;; esac
  if sd_journal "$T/$h" | grep -q "smtp-receive: .*status=queued .*client=$LAN.30 "; then ok "$h logs client=$LAN.30"
  else fail "$h logs client=$LAN.30" "$(sd_journal "$T/$h" | tail -n 5)"; fi
  # (a connection of the balancer's own, a health check or one whose
  # client left early, rightly shows the balancer)
  if sd_journal "$T/$h" | grep "status=queued" | grep -q "client=$LB"; then
    fail "$h queued no message as coming from the balancer" "$(sd_journal "$T/$h" | grep "client=$LB" | head -n 3)"
  else ok "$h queued no message as coming from the balancer"; fi
done

# --- policy applies to the real address --------------------------------------------
refused=0
for i in 1 2; do   # one connection to each hub
  r=$(nn_swaks spam --server $LB --from x@spam.example --to alice@example.test --quit-after RCPT \
      | awk '/^ -> RCPT TO/ { getline; sub(/^<[-*]* +/, ""); print; exit }')
  case "$r" in 5[0-9][0-9]" 5.7.1 "*) refused=$((refused + 1)) ;; *) echo "spam $i: $r" >>"$T/spam.log" ;; esac
done
if [ "$refused" = 2 ]; then ok "both hubs refuse the spammer's address (access REJECT) behind the balancer"
else fail "both hubs refuse the spammer's address behind the balancer" "$(cat "$T/spam.log")"; fi

# --- untrusted PROXY lines, and the balancer without one ------------------------------
# talk NS ADDR LINE...: connect to ADDR:25, send each LINE after the previous
# reply (the first after the greeting, or at once after --talk-first),
# print "> LINE" and every reply line, "(closed)" at the end of the stream
# after: the first reply line after "> CMD..."
after() { awk -v c="> $1" 'index($0, c) == 1 { getline; print; exit }'; }
cat >"$T/talk.py" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], 25), timeout=10)
f = s.makefile("rb")
lines = sys.argv[2:]
if lines and lines[0] == "--talk-first":   # send before any greeting
    lines.pop(0)
    print("> " + lines[0])
    s.sendall((lines.pop(0) + "\r\n").encode())
def reply():
    while True:
        l = f.readline().decode(errors="replace")
        if not l:
            print("(closed)"); sys.exit(0)
        print(l.rstrip())
        if l[3:4] != "-":
            return
reply()
for l in lines:
    print("> " + l)
    s.sendall((l + "\r\n").encode()); reply()
EOF
talk() { local ns=$1; shift; timeout 15 ip netns exec "$(nn_ns "$ns")" python3 "$T/talk.py" "$@" 2>&1; }
out=$(talk client $LAN.25 "PROXY TCP4 203.0.113.9 $LAN.25 4242 25" "QUIT")
case "$(echo "$out" | after PROXY)" in 5[0-9][0-9]" "*) ok "untrusted PROXY lines are refused: an unknown command (5xx)" ;;
  *) fail "untrusted PROXY lines are refused: an unknown command" "$out" ;; esac
out=$(talk client $LAN.25 "EHLO client.example" "MAIL FROM:<bob@example.org>" "RCPT TO:<alice@example.test>" "QUIT")
case "$(echo "$out" | after RCPT)" in "250 "*) ok "a direct client is served as itself" ;;
  *) fail "a direct client is served as itself" "$out" ;; esac
# The balancer gets no greeting before its header; a line that is not one
# ends the connection.
out=$(talk lb $LAN.25 --talk-first "EHLO lb.example")
case "$out" in *"(closed)") ok "the balancer's address without a PROXY header is disconnected" ;;
  *) fail "the balancer's address without a PROXY header is disconnected" "$out" ;; esac
case "$out" in *"250"*) fail "and never served" "$out" ;; *) ok "and never served" ;; esac
