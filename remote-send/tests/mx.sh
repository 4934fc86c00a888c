#!/bin/bash
# mx.sh - MX delivery with a real DNS server on loopback (dnsmasq, Debian
# dnsmasq-base) inside a network namespace of its own (root; CI runs as
# root): preference order, random order among equal preferences, the next
# MX on a refused connection or a 4xx greeting, fallback to A and AAAA,
# null MX, NXDOMAIN, a server failure and a silent server (deferrals),
# loops, and IPv6 -> IPv4 fallback when the IPv6 route is a black hole.
if [ -z "${RS_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  RS_NETNS=1 exec unshare -n bash "$0" "$@"
fi
. "$(dirname "$0")/rs.bash"
[ -n "${RS_NETNS:-}" ] || { skip "MX and DNS tests" "need root for a network namespace and port 53"; exit 0; }
command -v dnsmasq >/dev/null || { skip "MX and DNS tests" "dnsmasq (package dnsmasq-base) not installed"; exit 0; }
ip link set lo up || { fail "loopback up in the namespace"; exit 0; }

# dnsmasq answers for *.test from its own records and NXDOMAIN for other
# names there; refused.example (outside .test, no upstream) gets REFUSED,
# which a stub resolver treats as a server failure, like SERVFAIL; slow.test
# goes to an upstream that never answers
zone=(
  --mx-host=pref.test,mx2.pref.test,20 --mx-host=pref.test,mx1.pref.test,10
  --host-record=mx1.pref.test,127.0.0.2 --host-record=mx2.pref.test,127.0.0.3
  --mx-host=down.test,mxdown.down.test,10 --mx-host=down.test,mx2.pref.test,20
  --host-record=mxdown.down.test,127.0.0.9
  --mx-host=greet.test,mx4.greet.test,10 --mx-host=greet.test,mx2.pref.test,20
  --host-record=mx4.greet.test,127.0.0.4
  --mx-host=hold.test,mxhold.hold.test,10 --mx-host=hold.test,mx2.pref.test,20
  --host-record=mxhold.hold.test,127.0.0.5
  --mx-host=hold2.test,mxhold2.hold2.test,10 --mx-host=hold2.test,mx2.pref.test,20
  --host-record=mxhold2.hold2.test,127.0.0.6
  --mx-host=equal.test,mx1.pref.test,10 --mx-host=equal.test,mx2.pref.test,10
  --host-record=aonly.test,127.0.0.2
  --mx-host=nullmx.test,.,0
  --mx-host=badmx.test,nowhere.test,10
  --mx-host=tempmx.test,mx.refused.example,10
  --mx-host=loop.test,client.test,10 --mx-host=loop.test,mx2.pref.test,20
  --mx-host=v6.test,dual.v6.test,10 --host-record=dual.v6.test,127.0.0.2,2001:db8:99::2
  --host-record=six.test,::1
  --server=/slow.test/127.0.0.99
)
bg "$T/dns.out" dnsmasq -k --conf-file=/dev/null --user=root --pid-file= --no-hosts --no-resolv \
  --listen-address=127.0.0.53 --bind-interfaces --local=/test/ --log-facility=- "${zone[@]}"
dns_ready() {
  python3 - <<'PY' 2>/dev/null
import socket, struct
q = struct.pack('>HHHHHH', 7, 0x100, 1, 0, 0, 0) + b'\4pref\4test\0' + struct.pack('>HH', 15, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
s.sendto(q, ('127.0.0.53', 53)); s.recv(512)
PY
}
for i in $(seq 50); do dns_ready && break; sleep 0.1; done
dns_ready || { fail "dnsmasq on 127.0.0.53" "$(cat "$T/dns.out")"; exit 0; }
export DNSCACHEIP=127.0.0.53

P=2525
serve() {   # serve NAME ADDRESS ARGS...
  local name=$1 addr=$2; shift 2
  mkdir -p "$T/$name"
  bg "$T/$name.out" python3 "$RS_TESTS/server.py" --out "$T/$name" "$@" "$addr" "$P"
  local i; for i in $(seq 50); do grep -q ready "$T/$name.out" && return 0; sleep 0.1; done
  fail "server $name" "$(cat "$T/$name.out")"
}
serve mx1 127.0.0.2; serve mx2 127.0.0.3; serve mx4 127.0.0.4 --greeting "421 4.3.2 busy"; serve six ::1
got() { ls "$T/$1" | wc -l; }

send "$T/msg" "smtp:pref.test:$P" a@b.test x@pref.test
expect "MX: delivered" x@pref.test ok "250 *mx1.pref.test?127.0.0.2?:$P*"
is "MX: the preferred host got it" "1 0" "$(got mx1) $(got mx2)"

send "$T/msg" "smtp:down.test:$P" a@b.test x@down.test
expect "MX: refused connection, next MX" x@down.test ok "250 *mx2.pref.test*"
grep -q "relay=mxdown.down.test\[127.0.0.9\]:$P status=connect-failed reason=\"*Connection refused" "$T/err" &&
  ok "MX: the refused host is logged (connect-failed)" || fail "MX: the refused host is logged" "$(cat "$T/err")"
send "$T/msg" "smtp:greet.test:$P" a@b.test x@greet.test
expect "MX: 4xx greeting, next MX" x@greet.test ok "250 *mx2.pref.test*"
grep -q 'status=next reason="421 4.3.2 busy' "$T/err" && ok "MX: the skipped host is logged" || fail "next logged" "$(cat "$T/err")"

# a slow primary: its listen queue is full for 0.8 s, so the first SYN
# goes unanswered and the kernel's retry (after 1 s) connects.  The backup
# MX must not be raced against it (the 250 ms stagger is for one host's
# addresses only): the primary gets the mail.
b=$(got mx2)
serve hold 127.0.0.5 --hold 0.8
send "$T/msg" "smtp:hold.test:$P" a@b.test x@hold.test
expect "slow primary MX: it still gets the mail" x@hold.test ok "250 *mxhold.hold.test?127.0.0.5?*"
is "slow primary MX: the backup was not tried" "1 $b" "$(got hold) $(got mx2)"
! grep -q 'mx2.pref.test' "$T/err" && ok "slow primary MX: no attempt at the backup logged" || fail "backup attempted" "$(cat "$T/err")"
# a primary that does not answer within smtp_connect_timeout: then the backup
serve hold2 127.0.0.6 --hold 4
conf smtp_connect_timeout=1
start=$SECONDS
send "$T/msg" "smtp:hold2.test:$P" a@b.test x@hold2.test
expect "silent primary MX: the backup after its connect timeout" x@hold2.test ok "250 *mx2.pref.test*"
grep -q "relay=mxhold2.hold2.test\[127.0.0.6\]:$P status=connect-failed reason=\"connection timed out" "$T/err" &&
  [ $((SECONDS - start)) -le 4 ] && ok "silent primary MX: timed out and logged first" || fail "silent primary" "$((SECONDS - start)) s" "$(cat "$T/err")"
conf

a=$(got mx1) b=$(got mx2)
for i in $(seq 16); do send "$T/msg" "smtp:equal.test:$P" a@b.test x@equal.test; done
[ $(( $(got mx1) - a )) -gt 0 ] && [ $(( $(got mx2) - b )) -gt 0 ] && ok "MX: equal preferences in random order" ||
  fail "equal preferences" "mx1 +$(( $(got mx1) - a )) mx2 +$(( $(got mx2) - b ))"

send "$T/msg" "smtp:aonly.test:$P" a@b.test x@aonly.test
expect "no MX: the domain's A record" x@aonly.test ok "250 *aonly.test?127.0.0.2?*"
send "$T/msg" "smtp:nullmx.test" a@b.test x@nullmx.test
expect "null MX: fails" x@nullmx.test fail "5.1.10 domain does not accept mail (null MX): nullmx.test"
send "$T/msg" "smtp:nx.test" a@b.test x@nx.test
expect "NXDOMAIN: fails" x@nx.test fail "5.1.2 domain not found (NXDOMAIN): nx.test"
conf dns_timeout=1
start=$SECONDS
send "$T/msg" "smtp:refused.example" a@b.test x@refused.example
expect "DNS server failure (REFUSED): deferred" x@refused.example defer "4.4.3 temporary DNS failure*refused.example"
send "$T/msg" "smtp:tempmx.test" a@b.test x@tempmx.test
expect "DNS server failure for the MX host: deferred" x@tempmx.test defer "4.4.3 temporary DNS failure for the MX hosts of tempmx.test"
send "$T/msg" "smtp:slow.test" a@b.test x@slow.test
expect "DNS server silent: deferred" x@slow.test defer "4.4.3 temporary DNS failure*slow.test"
[ $((SECONDS - start)) -le 6 ] && ok "DNS failures: bounded by dns_timeout ($((SECONDS - start)) s)" || fail "DNS failures took $((SECONDS - start)) s"
conf
send "$T/msg" "smtp:badmx.test" a@b.test x@badmx.test
expect "MX host without address: fails" x@badmx.test fail "5.4.4 no address for any MX host of badmx.test"
send "$T/msg" "smtp:[nx.test]:$P" a@b.test x@nx.test
expect "route to a host that does not exist: deferred" x@nx.test defer "4.3.5 host or domain not found*"

send "$T/msg" "smtp:loop.test:$P" a@b.test x@loop.test
expect "loop: the best MX is us" x@loop.test fail "5.4.6 mail loops back to myself*loop.test"
send "$T/msg" "smtp:pref.test" a@b.test x@pref.test
expect "loop: MX address is ours on port 25" x@pref.test fail "5.4.6 mail loops back to myself*pref.test"
# every route is checked: one of our addresses on one of our listeners'
# ports (25, 465, 587) is smtp-receive itself; the route is the
# administrator's to fix, so the mail waits
send "$T/msg" "smtp:[127.0.0.1]" a@b.test x@lit.test
expect "loop: an address literal route to our own port 25" x@lit.test defer "4.4.6 mail for ?127.0.0.1?:25 loops back to myself*"
send "$T/msg" "smtp:[aonly.test]:587" a@b.test x@aonly.test
expect "loop: smtp:[host] route to our own submission port" x@aonly.test defer "4.4.6 mail for ?aonly.test?:587 loops back to myself*"
send "$T/msg" "lmtp:[127.0.0.2]:465" a@b.test x@lmtp.test
expect "loop: an lmtp: route to our own port 465" x@lmtp.test defer "4.4.6 mail for ?127.0.0.2?:465 loops back to myself*"
send "$T/msg" "smtp:[::1]:25" a@b.test x@six.test
expect "loop: an IPv6 literal route to our own port 25" x@six.test defer "4.4.6 *loops back to myself*"

send "$T/msg" "smtp:six.test:$P" a@b.test x@six.test
expect "IPv6: AAAA only, delivered over ::1" x@six.test ok "250 *six.test?::1?:$P*"

# the IPv6 address of dual.v6.test is routed into a veth pair whose far
# end drops everything (a made-up neighbour MAC): a connect there hangs
# until the connect timeout; IPv4 must win after 250 ms
if ip link add rsv0 type veth peer name rsv1 && ip link set rsv0 up && ip link set rsv1 up &&
   ip -6 addr add 2001:db8:99::1/64 dev rsv0 nodad &&
   ip -6 neigh add 2001:db8:99::2 lladdr 02:00:00:00:00:99 dev rsv0 nud permanent; then
  what="blackholed"
else
  ip -6 route add blackhole 2001:db8:99::/64 2>/dev/null; what="unroutable"
fi
conf smtp_connect_timeout=20
start=$(date +%s%N)
send "$T/msg" "smtp:v6.test:$P" a@b.test x@v6.test
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect "IPv6 $what, IPv4 works: delivered" x@v6.test ok "250 *dual.v6.test?127.0.0.2?*"
[ "$ms" -lt 3000 ] && ok "IPv6 $what: IPv4 tried promptly (${ms} ms)" || fail "IPv6 fallback took ${ms} ms"
conf

# split DNS (dns_servers, dns_domain_servers): no $DNSCACHEIP; a second
# server on 127.0.0.54 is the inside's view, where pref.test's mail goes
# straight to mx2 and inside.test exists at all
bg "$T/dns2.out" dnsmasq -k --conf-file=/dev/null --user=root --pid-file= --no-hosts --no-resolv \
  --listen-address=127.0.0.54 --bind-interfaces --local=/test/ --log-facility=- \
  --mx-host=pref.test,mx2.pref.test,10 --host-record=mx2.pref.test,127.0.0.3 \
  --mx-host=inside.test,mx2.pref.test,10
for i in $(seq 50); do python3 -c "
import socket, struct
q = struct.pack('>HHHHHH', 7, 0x100, 1, 0, 0, 0) + b'\6inside\4test\0' + struct.pack('>HH', 15, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
s.sendto(q, ('127.0.0.54', 53)); s.recv(512)" 2>/dev/null && break; sleep 0.1; done
unset DNSCACHEIP
before1=$(got mx1); before2=$(got mx2)
conf dns_servers=127.0.0.53 dns_timeout=5
send "$T/msg" "smtp:pref.test:$P" a@b.test x@pref.test
expect "dns_servers: every question goes there" x@pref.test ok "250 *mx1.pref.test?127.0.0.2?:$P*"
conf dns_servers=127.0.0.53 "dns_domain_servers=pref.test=127.0.0.54 inside.test=127.0.0.54" dns_timeout=5
send "$T/msg" "smtp:pref.test:$P" a@b.test x@pref.test
expect "dns_domain_servers: the inside's view of pref.test" x@pref.test ok "250 *mx2.pref.test?127.0.0.3?:$P*"
send "$T/msg" "smtp:inside.test:$P" a@b.test x@inside.test
expect "dns_domain_servers: a name only the inside knows" x@inside.test ok "250 *mx2.pref.test*"
send "$T/msg" "smtp:aonly.test:$P" a@b.test x@aonly.test
expect "dns_domain_servers: other names still ask dns_servers" x@aonly.test ok "250 *aonly.test?127.0.0.2?*"
is "split DNS: mx1 got 2 more, mx2 got 2 more" "$((before1 + 2)) $((before2 + 2))" "$(($(got mx1))) $(($(got mx2)))"
conf dns_servers=not-an-address
send "$T/msg" "smtp:pref.test:$P" a@b.test x@pref.test
is "dns_servers: not an address is a configuration error (78)" 78 "$RC"
conf "dns_domain_servers=pref.test"
send "$T/msg" "smtp:pref.test:$P" a@b.test x@pref.test
is "dns_domain_servers: no = is a configuration error (78)" 78 "$RC"
conf
