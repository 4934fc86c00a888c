#!/bin/bash
# bench/smtp-receive.sh - acceptance rate and idle memory of smtp-receive
# (+ spool-inject, under systemd-socket-activate --inetd) next to Postfix's
# smtpd (+ cleanup), both on loopback in the same run, driven by Postfix's
# smtp-source: 10 sessions, 4 KiB messages, one message per connection.
# A benchmark, not a test: it prints figures.  Needs root (Postfix) and the
# postfix package; the Postfix instance lives in a temporary directory, its
# queue manager is not started (both sides only accept and queue durably),
# and it is stopped at the end.
#   bench/smtp-receive.sh [MESSAGES]     (default 3000)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=${POSTERN_BUILD:-$top/build}
N=${1:-3000}
[ "$(id -u)" = 0 ] || { echo "bench: run as root (Postfix needs it)" >&2; exit 1; }
command -v smtp-source >/dev/null && command -v postfix >/dev/null ||
  { echo "bench: install postfix (smtp-source)" >&2; exit 1; }
T=$(mktemp -d /tmp/postern-bench.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
  local p; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  postfix -c "$T/pf/etc" stop >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# postern
"$top/tools/mkspool" "$T/spool" >/dev/null
mkdir "$T/maps"
printf 'hostname = bench.test\nspool = %s\nmap_dir = %s\nlibexec_dir = %s\nlog = syslog\n' \
  "$T/spool" "$T/maps" "$B" >"$T/postern.conf"
chmod 644 "$T/postern.conf"
P1=$(free_port)
systemd-socket-activate --inetd -a -l "127.0.0.1:$P1" "$B/smtp-receive" -C "$T/postern.conf" 2>/dev/null &
pids+=($!)

# Postfix: its own config and queue, smtpd on a loopback port, no qmgr
P2=$(free_port)
mkdir -p "$T/pf/etc" "$T/pf/queue" "$T/pf/data"
chown postfix "$T/pf/data"
cat >"$T/pf/etc/main.cf" <<EOC
compatibility_level = 3.6
queue_directory = $T/pf/queue
data_directory = $T/pf/data
myhostname = pf.bench.test
mydestination = bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = $T/pf/maillog
maillog_file_prefixes = $T

smtpd_banner = \$myhostname ESMTP
default_process_limit = 100
EOC
cat >"$T/pf/etc/master.cf" <<EOC
127.0.0.1:$P2 inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOC
postfix -c "$T/pf/etc" check >/dev/null 2>&1
postfix -c "$T/pf/etc" start >/dev/null 2>&1 || { echo "bench: postfix did not start (see $T/pf/maillog)" >&2; cat "$T/pf/maillog" >&2; exit 1; }
for i in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$P1)).close(); socket.create_connection(('127.0.0.1',$P2)).close()" 2>/dev/null && break
  sleep 0.1
done

# rate PORT - messages per second through smtp-source, and CPU seconds used
rate() {
  local start end
  smtp-source -s 10 -l 4096 -m 200 -f a@b.test -t root@bench.test "127.0.0.1:$1" >/dev/null 2>&1  # warm-up
  read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u0 s0 _ < <(cat /proc/stat | head -1)
  start=$(date +%s.%N)
  smtp-source -s 10 -l 4096 -m "$N" -f a@b.test -t root@bench.test "127.0.0.1:$1" >/dev/null 2>&1
  end=$(date +%s.%N)
  python3 -c "print('%.0f' % ($N / ($end - $start)))"
}
# idle_rss PORT PATTERN - RSS (KiB) of the server process of an idle connection
idle_rss() {
  python3 - "$1" "$2" <<'EOP'
import os, socket, sys, time, subprocess
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.recv(512)
s.sendall(b'EHLO idle.test\r\n'); time.sleep(0.3); s.recv(4096)
pids = subprocess.run(['pgrep', '-n', '-x', sys.argv[2]], capture_output=True, text=True).stdout.split()
rss = 0
for p in pids:
    for l in open('/proc/%s/status' % p):
        if l.startswith('VmRSS:'): rss = int(l.split()[1])
print(rss)
s.close()
EOP
}
r1=$(rate "$P1"); q1=$(ls "$T/spool/new" | wc -l)
r2=$(rate "$P2")
m1=$(idle_rss "$P1" smtp-receive)
m2=$(idle_rss "$P2" smtpd)
echo "smtp-source: 10 sessions, 4 KiB messages, $N messages, one per connection"
echo "postern smtp-receive+spool-inject: $r1 msgs/s ($q1 messages queued)"
echo "postfix smtpd+cleanup:             $r2 msgs/s"
python3 -c "print('ratio postern/postfix: %.2f' % ($r1 / $r2))"
echo "idle connection RSS: smtp-receive ${m1} KiB, postfix smtpd ${m2} KiB"
python3 -c "print('memory ratio postern/postfix: %.2f' % ($m1 / $m2))"
