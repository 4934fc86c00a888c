#!/bin/bash
# bench/remote-send.sh - relay rate from the queue to Postfix's smtp-sink on
# loopback: postern (queue-run --once -> remote-spawn -> remote-send) twice,
# with one process and one connection per message
# (smtp_connection_reuse_time = 0) and with connection reuse (a remote-send
# keeps its connection and takes the next message for the same
# destination, RSET between them), next to Postfix (qmgr -> smtp, which
# caches connections), in the same run, with the same concurrency.  Each
# queue is filled first with N messages of 4 KiB to one relayhost; the
# clock runs from the start of delivery until the queue is empty.
# A benchmark, not a test: it prints figures.  Needs root (Postfix); the
# Postfix instance lives in a temporary directory and is stopped at the end.
#   bench/remote-send.sh [MESSAGES] [CONCURRENCY]     (default 2000, 10)
. "$(dirname "$0")/lib.bash"
N=${1:-2000}
C=${2:-10}
now() { date +%s.%N; }

PS=$(free_port)
smtp-sink -u nobody "127.0.0.1:$PS" 256 >/dev/null 2>&1 &
pids+=($!)
body=$(python3 -c "print(('x' * 63 + '\n') * 63, end='')")

# --- postern: a spool owned by nobody, N messages injected, one queue run;
# postern_run REUSE_SECONDS sets rate, sent and queued
postern_run() {
  rm -rf "$T/spool" "$T/maps"
  "$top/tools/mkspool" "$T/spool" >/dev/null
  mkdir "$T/maps"
  printf 'hostname = bench.test\nspool = %s\nmap_dir = %s\nlibexec_dir = %s\nlog = syslog\nrelayhost = [127.0.0.1]:%s\nrelayhost_tls_policy = none\nconcurrency_limit = %s\ndestination_concurrency_limit = %s\nqueue_user = nobody\nsend_user = nobody\nsmtp_connection_reuse_time = %s\n' \
    "$T/spool" "$T/maps" "$B" "$PS" "$C" "$C" "$1" >"$T/postern.conf"
  chmod 644 "$T/postern.conf"
  for i in $(seq "$N"); do
    printf 'From: a@bench.test\nSubject: %s\n\n%s\n' "$i" "$body" |
      POSTERN_CONF=$T/postern.conf "$B/spool-inject" 1< <(printf 'V1\nFa@bench.test\nTx@remote.test\n\n') 2>/dev/null
  done
  chown -R nobody "$T/spool"
  queued=$(ls "$T/spool/new" | wc -l)
  local t0 t1 left
  t0=$(now)
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$B/queue-run" -C "$T/postern.conf" --once 2>/dev/null
  t1=$(now)
  left=$(ls "$T/spool/new" "$T/spool/queue" | grep -c '^[0-9]')
  sent=$((queued - left))
  rate=$(python3 -c "print('%.0f' % ($sent / ($t1 - $t0)))")
}
postern_run 0; r0=$rate; s0=$sent; q0=$queued
postern_run 2; r1=$rate; s1=$sent; q1=$queued

# --- Postfix: its own instance; fill incoming/ through smtpd with no qmgr,
# then add qmgr and smtp and time until the queue is empty
PP=$(free_port)
pf_main
cat >>"$T/pf/etc/main.cf" <<EOC
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$PS
smtp_tls_security_level = none
default_destination_concurrency_limit = $C
default_process_limit = 100
maillog_file = $T/pf/maillog
maillog_file_prefixes = $T
EOC
{ echo "127.0.0.1:$PP inet n - n - - smtpd"; pf_services; } >"$T/pf/etc/master.cf"
postfix -c "$T/pf/etc" check >/dev/null 2>&1
postfix -c "$T/pf/etc" start >"$T/pf/start.log" 2>&1 || { echo "bench: postfix did not start" >&2; cat "$T/pf/start.log" >&2; exit 1; }
for i in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PP)).close()" 2>/dev/null && break; sleep 0.1; done
smtp-source -s 10 -l 4096 -m "$N" -f a@bench.test -t x@remote.test "127.0.0.1:$PP" >/dev/null 2>&1
queued() { find "$T/pf/queue/incoming" "$T/pf/queue/active" "$T/pf/queue/deferred" -type f 2>/dev/null | wc -l; }
for i in $(seq 100); do [ "$(queued)" -ge "$N" ] && break; sleep 0.1; done
p0=$(queued)
cat >>"$T/pf/etc/master.cf" <<EOC
qmgr      unix  n       -       n       300     1       qmgr
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
EOC
t0=$(now)
postfix -c "$T/pf/etc" reload >/dev/null 2>&1
while [ "$(queued)" -gt 0 ]; do sleep 0.05; t1=$(now); python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 300 else 1)" || break; done
t1=$(now)
p1=$(queued)
r2=$(python3 -c "print('%.0f' % (($p0 - $p1) / ($t1 - $t0)))")

echo "NOT AS DEPLOYED (parts only): queue-run --once from a prefilled queue on the host, no service manager"
echo "relay to smtp-sink on loopback: $N messages of 4 KiB, concurrency $C, one relayhost"
echo "postern, one connection per message: $r0 msgs/s ($s0 of $q0 delivered)"
echo "postern, connections reused (RSET):  $r1 msgs/s ($s1 of $q1 delivered)"
echo "postfix qmgr+smtp (connection cache): $r2 msgs/s ($((p0 - p1)) of $p0 delivered)"
python3 -c "print('gain of connection reuse: %.2f' % ($r1 / $r0))"
python3 -c "print('ratio postern/postfix: %.2f (without reuse %.2f)' % ($r1 / $r2, $r0 / $r2))"
