#!/bin/bash
# source.sh - the source of outgoing connections: smtp_bind_address and
# smtp_bind_address6 (the server sees that address), smtp_address_family
# (ipv4 or ipv6 only: the other family's addresses are not tried), and the
# mistakes: an address this host does not have, a setting that is not an
# address (a configuration error: exit 78, the delivery waits).
. "$(dirname "$0")/rs.bash"

# peer_server FAMILY HOST PORT - accepts one connection at a time, writes
# each client's address to $T/peers, answers with a 421 (bounded: 30 s)
peer_server() {
  bg "$T/peer.out" python3 -c '
import socket, sys, time
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[2], int(sys.argv[3]))); s.listen(8); s.settimeout(30)
print("ready", flush=True)
end = time.time() + 30
while time.time() < end:
    try: c, a = s.accept()
    except socket.timeout: break
    open(sys.argv[4], "a").write(a[0] + "\n")
    c.sendall(b"421 4.3.2 test server closing\r\n"); c.close()
' "$@" "$T/peers"
  local i; for i in $(seq 50); do grep -q ready "$T/peer.out" 2>/dev/null && return 0; sleep 0.1; done
  fail "peer server" "$(cat "$T/peer.out")"; return 1
}

P=$(free_port); peer_server 4 127.0.0.1 "$P" || exit 0
conf "smtp_bind_address=127.0.0.2"
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
is "bind address: the server saw 127.0.0.2" "127.0.0.2" "$(tail -n 1 "$T/peers" 2>/dev/null)"
expect "bind address: the 421 defers the recipient" x@y.test defer "421 4.3.2*"

conf
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
is "no bind address: the kernel's choice (127.0.0.1)" "127.0.0.1" "$(tail -n 1 "$T/peers" 2>/dev/null)"

conf "smtp_address_family=ipv6"
: >"$T/peers"
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "ipv6 only: an IPv4 destination is not tried" x@y.test defer "4.4.4 no address of the family*"
is "ipv6 only: no connection was made" "" "$(cat "$T/peers")"
grep -q 'status=connect-failed' "$T/err" && fail "ipv6 only: no connect-failed line for a skipped address" "$(cat "$T/err")" \
  || ok "ipv6 only: no connect-failed line for a skipped address"

conf "smtp_bind_address=192.0.2.1"
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "a source address this host lacks: deferred, says why" x@y.test defer "4.4.1 *smtp_bind_address*not on this host*"

conf "smtp_bind_address=localhost"
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
is "a bind address that is not an address: exit 78 (temporary)" 78 "$RC"
grep -q 'smtp_bind_address is not an IPv4 address' "$T/err" && ok "the error names the setting" || fail "the error names the setting" "$(cat "$T/err")"
conf "smtp_address_family=ipv5"
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
is "an unknown family: exit 78" 78 "$RC"

# IPv6, where the machine has ::1
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
  P6=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
  kill "$BG_PID" 2>/dev/null
  peer_server 6 ::1 "$P6" || exit 0
  conf "smtp_bind_address6=::1" "smtp_address_family=ipv6"
  : >"$T/peers"
  send "$T/msg" "smtp:[::1]:$P6" a@b.test x@y.test
  is "bind address6: the server saw ::1" "::1" "$(tail -n 1 "$T/peers" 2>/dev/null)"
  conf "smtp_address_family=ipv4"
  send "$T/msg" "smtp:[::1]:$P6" a@b.test x@y.test
  expect "ipv4 only: an IPv6 destination is not tried" x@y.test defer "4.4.4*"
else
  skip "IPv6 source address" "no ::1 on this machine"
fi
