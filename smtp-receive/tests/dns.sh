#!/bin/bash
# dns.sh - DNSBL and sender-domain checks against dnsserver.py on a
# loopback address (libowfat's resolver asks $DNSCACHEIP on port 53,
# which only root may bind).  Then: every process asks with its own
# random query ids and source ports (resolve.c seeds libowfat's dns_random
# from getrandom), as the server's log of questions shows.
. "$(dirname "$0")/../../tests/lib.bash"
is_root || { skip "dns dialogues" "needs root to bind port 53 on 127.83.x.y"; exit 0; }
# an address of its own, so that runs from several trees at once do not
# answer each other's questions
ip=127.83.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
python3 "$TOP/smtp-receive/tests/dnsserver.py" "$ip" 53 >"$T/dns.out" 2>&1 &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
for i in $(seq 50); do grep -q ready "$T/dns.out" && break; sleep 0.1; done
grep -q ready "$T/dns.out" || { fail "dns server" "$(cat "$T/dns.out")"; exit 0; }
export DNSCACHEIP=$ip
python3 "$TOP/smtp-receive/tests/dialogue.py" "$B" "$TOP" "$TOP/smtp-receive/tests/dns.txt"

# random ids and ports: two sessions, each asking the DNSBL first
conf=$T/postern.conf
mkdir -p "$T/maps"
mkspool "$T/spool"
mkconf "$conf" smtpd_dnsbl_zones=bl.test
for i in 1 2; do
  n=$(wc -l <"$T/dns.out")
  python3 -c '
import os, socket, subprocess, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
c = socket.create_connection(ls.getsockname()); s, _ = ls.accept()
p = subprocess.Popen([sys.argv[1], "-C", sys.argv[2]], stdin=s, stdout=s, stderr=subprocess.DEVNULL, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
s.close(); c.settimeout(20); c.recv(4096); c.sendall(b"QUIT\r\n")
while c.recv(4096): pass
p.wait(20)' "$B/smtp-receive" "$conf"
  sed -n "$((n + 1)),\$p" "$T/dns.out" | grep '^query' | head -n 1 >>"$T/dns.first"
done
first=$(cat "$T/dns.first")
if [ "$(wc -l <"$T/dns.first")" = 2 ] && [ "$(cut -d' ' -f4 "$T/dns.first" | sort -u | wc -l)" = 1 ]; then
  ok "two processes asked the same first question"
else fail "two processes asked the same first question" "$first"; fi
if [ "$(cut -d' ' -f2 "$T/dns.first" | sort -u | wc -l)" = 2 ] && [ "$(cut -d' ' -f3 "$T/dns.first" | sort -u | wc -l)" = 2 ]; then
  ok "two processes: different query ids and source ports"
else fail "two processes: different query ids and source ports" "$first"; fi
pairs=$(grep '^query' "$T/dns.out" | cut -d' ' -f2,3)
if [ "$(echo "$pairs" | sort | uniq -d | wc -l)" = 0 ]; then ok "no id and port pair asked twice in $(echo "$pairs" | wc -l) questions"
else fail "no id and port pair asked twice" "$(echo "$pairs" | sort | uniq -cd | head)"; fi
