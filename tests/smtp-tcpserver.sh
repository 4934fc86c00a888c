#!/bin/bash
# smtp-tcpserver.sh - port 25 without systemd, the way units/tcpserver runs
# it: ucspi-tcp's tcpserver binds the port and runs one smtp-receive per
# connection as an unprivileged user (-u/-g, as envuidgid + -U do), with
# -H -R -c -b -l; a message is queued with the client's address and the
# submitting uid recorded, relaying is refused, and a second connection
# gets its own process.
. "$(dirname "$0")/lib.bash"
command -v tcpserver >/dev/null || { skip "tcpserver" "ucspi-tcp is not installed"; exit 0; }
command -v swaks >/dev/null || { skip "tcpserver" "swaks is not installed"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
mkspool "$T/spool"
mkdir "$T/maps"
mkconf "$T/postern.conf"
run_as=()
if is_root; then
  chown -R nobody "$T/spool"
  run_as=(-u "$(id -u nobody)" -g "$(id -g nobody)")
fi
want_uid=$(is_root && id -u nobody || id -u)
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tcpserver "${run_as[@]}" -c 100 -b 100 -H -R -l mx.example.test 127.0.0.1 "$P" \
  "$B/smtp-receive" -C "$T/postern.conf" -m mx 2>>"$T/log" &
pid=$!
at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
listening() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }
for i in $(seq 100); do listening "$P" && break; sleep 0.05; done
listening "$P" || { fail "tcpserver listens on $P" "$(cat "$T/log")"; exit 0; }

out=$(swaks -s 127.0.0.1 -p "$P" -f a@b.test -t root@mx.example.test --body 'through tcpserver' 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "tcpserver: a message is queued" ;; *) fail "tcpserver: a message is queued" "$out" ;; esac
id=$(ls "$T/spool/new" | head -1)
grep -q '^I\[127.0.0.1\]' "$T/spool/new/$id" 2>/dev/null && ok "tcpserver: the client address is in the envelope" ||
  fail "tcpserver: the client address is in the envelope" "$(cat "$T/spool/new/$id" 2>/dev/null)"
grep -q "^P$want_uid\$" "$T/spool/new/$id" 2>/dev/null && ok "tcpserver: smtp-receive ran as uid $want_uid" ||
  fail "tcpserver: smtp-receive ran as uid $want_uid" "$(cat "$T/spool/new/$id" 2>/dev/null)"
out=$(swaks -s 127.0.0.1 -p "$P" -f a@b.test -t victim@elsewhere.test 2>&1)
case "$out" in *"554 5.7.1 Relay access denied"*) ok "tcpserver: relaying refused" ;; *) fail "tcpserver: relaying refused" "$out" ;; esac
is "tcpserver: exactly one message queued" 1 "$(ls "$T/spool/new" | wc -l)"
