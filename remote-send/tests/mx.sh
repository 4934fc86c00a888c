#!/bin/bash
# mx.sh - MX delivery with a DNS server on loopback (dns.py), inside a
# network namespace of its own (root; CI runs as root): preference order,
# random order among equal preferences, the next MX on a refused
# connection or a 4xx greeting, fallback to A, null MX, NXDOMAIN, a
# temporary DNS failure, loops, and IPv6 -> IPv4 fallback when the IPv6
# route is a black hole.
if [ -z "${RS_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  RS_NETNS=1 exec unshare -n bash "$0" "$@"
fi
. "$(dirname "$0")/rs.bash"
[ -n "${RS_NETNS:-}" ] || { skip "MX and DNS tests" "need root for a network namespace and port 53"; exit 0; }
ip link set lo up || { fail "loopback up in the namespace"; exit 0; }

cat >"$T/zone" <<ZONE
pref.test MX 20 mx2.pref.test
pref.test MX 10 mx1.pref.test
mx1.pref.test A 127.0.0.2
mx2.pref.test A 127.0.0.3
down.test MX 10 mxdown.down.test
down.test MX 20 mx2.pref.test
mxdown.down.test A 127.0.0.9
greet.test MX 10 mx4.greet.test
greet.test MX 20 mx2.pref.test
mx4.greet.test A 127.0.0.4
equal.test MX 10 mx1.pref.test
equal.test MX 10 mx2.pref.test
aonly.test A 127.0.0.2
nullmx.test MX 0 .
badmx.test MX 10 nowhere.test
temp.test TEMP
loop.test MX 10 client.test
loop.test MX 20 mx2.pref.test
v6.test MX 10 dual.v6.test
dual.v6.test AAAA 2001:db8:99::2
dual.v6.test A 127.0.0.2
six.test AAAA ::1
ZONE
bg "$T/dns.out" python3 "$RS_TESTS/dns.py" 127.0.0.53 53 "$T/zone"
for i in $(seq 50); do grep -q ready "$T/dns.out" && break; sleep 0.1; done
grep -q ready "$T/dns.out" || { fail "dns server" "$(cat "$T/dns.out")"; exit 0; }
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
send "$T/msg" "smtp:greet.test:$P" a@b.test x@greet.test
expect "MX: 4xx greeting, next MX" x@greet.test ok "250 *mx2.pref.test*"
grep -q 'status=next reason="421 4.3.2 busy' "$T/err" && ok "MX: the skipped host is logged" || fail "next logged" "$(cat "$T/err")"

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
send "$T/msg" "smtp:temp.test" a@b.test x@temp.test
expect "temporary DNS failure: deferred" x@temp.test defer "4.4.3 temporary DNS failure*temp.test"
send "$T/msg" "smtp:badmx.test" a@b.test x@badmx.test
expect "MX host without address: fails" x@badmx.test fail "5.4.4 no address for any MX host of badmx.test"
send "$T/msg" "smtp:[nx.test]:$P" a@b.test x@nx.test
expect "route to a host that does not exist: deferred" x@nx.test defer "4.3.5 host or domain not found*"

send "$T/msg" "smtp:loop.test:$P" a@b.test x@loop.test
expect "loop: the best MX is us" x@loop.test fail "5.4.6 mail loops back to myself*loop.test"
send "$T/msg" "smtp:pref.test" a@b.test x@pref.test
expect "loop: MX address is ours on port 25" x@pref.test fail "5.4.6 mail loops back to myself*pref.test"

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
