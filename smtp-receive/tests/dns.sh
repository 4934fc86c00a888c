#!/bin/bash
# dns.sh - DNSBL and sender-domain checks against dnsserver.py on a
# loopback address (libowfat's resolver asks $DNSCACHEIP on port 53,
# which only root may bind).
. "$(dirname "$0")/../../tests/lib.bash"
is_root || { skip "dns dialogues" "needs root to bind port 53 on 127.83.53.1"; exit 0; }
ip=127.83.53.1
python3 "$TOP/smtp-receive/tests/dnsserver.py" "$ip" 53 >"$T/dns.out" 2>&1 &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
for i in $(seq 50); do grep -q ready "$T/dns.out" && break; sleep 0.1; done
grep -q ready "$T/dns.out" || { fail "dns server" "$(cat "$T/dns.out")"; exit 0; }
export DNSCACHEIP=$ip
python3 "$TOP/smtp-receive/tests/dialogue.py" "$B" "$TOP" "$TOP/smtp-receive/tests/dns.txt"
