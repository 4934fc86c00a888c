#!/bin/bash
# bench/smtp-receive.sh - acceptance rate and idle memory of smtp-receive
# (+ spool-inject, under systemd-socket-activate --inetd) next to Postfix's
# smtpd (+ cleanup), both on loopback in the same run, driven by Postfix's
# smtp-source: 10 sessions, 4 KiB messages, one message per connection.
# A benchmark, not a test: it prints figures.  Needs root (Postfix) and the
# postfix package; the Postfix instance lives in a temporary directory, its
# queue manager is not started (both sides only accept and queue durably),
# and it is stopped at the end.  Both servers must queue every message, or
# the figures are flagged as not comparable.
#   bench/smtp-receive.sh [MESSAGES]     (default 3000)
. "$(dirname "$0")/lib.bash"
N=${1:-3000}

# postern
"$top/tools/mkspool" "$T/spool" >/dev/null
mkdir "$T/maps"
printf 'hostname = bench.test\nspool = %s\nmap_dir = %s\nlibexec_dir = %s\nlog = syslog\n' \
  "$T/spool" "$T/maps" "$B" >"$T/postern.conf"
chmod 644 "$T/postern.conf"
P1=$(free_port)
systemd-socket-activate --inetd -a -l "127.0.0.1:$P1" "$B/smtp-receive" -C "$T/postern.conf" 2>/dev/null &
pids+=($!)
root1=$!

# Postfix: its own config and queue, smtpd on a loopback port, no qmgr
P2=$(free_port)
pf_main
cat >>"$T/pf/etc/main.cf" <<EOC
mydestination = bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# no aliases database in the private instance: without these, every RCPT
# gets "451 Temporary lookup failure" and nothing is queued
alias_maps =
alias_database =
# cleanup takes a flow-control token per message, which only qmgr hands
# out; without one it pauses in_flow_delay (1 s) before each message
in_flow_delay = 0s
maillog_file = $T/pf/maillog
maillog_file_prefixes = $T

smtpd_banner = \$myhostname ESMTP
default_process_limit = 100
EOC
{ echo "127.0.0.1:$P2 inet n - n - - smtpd"; pf_services; } >"$T/pf/etc/master.cf"
postfix -c "$T/pf/etc" check >/dev/null 2>&1
postfix -c "$T/pf/etc" start >/dev/null 2>&1 || { echo "bench: postfix did not start (see $T/pf/maillog)" >&2; cat "$T/pf/maillog" >&2; exit 1; }
# No qmgr runs, but cleanup wakes it through public/qmgr after every
# message and waits a second when the FIFO is missing: give it a FIFO with
# a reader that never reads (a few bytes per message fit in its buffer).
mkfifo -m 622 "$T/pf/queue/public/qmgr" && chown postfix:postdrop "$T/pf/queue/public/qmgr"
sleep 3600 <>"$T/pf/queue/public/qmgr" &
pids+=($!)
for i in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$P1)).close(); socket.create_connection(('127.0.0.1',$P2)).close()" 2>/dev/null && break
  sleep 0.1
done

# tree_cpu PID - CPU jiffies used so far by the process tree under PID:
# each live process's own time plus that of the children it has reaped
# (smtp-receive and spool-inject under systemd-socket-activate; smtpd,
# cleanup, trivial-rewrite under Postfix's master), so other load on the
# machine does not count
tree_cpu() {
  python3 - "$1" <<'EOP'
import os, sys
kids, cpu = {}, {}
for p in filter(str.isdigit, os.listdir('/proc')):
    try:
        f = open('/proc/%s/stat' % p).read().rsplit(')', 1)[1].split()
    except OSError:
        continue
    kids.setdefault(f[1], []).append(p)
    cpu[p] = sum(int(x) for x in f[11:15])
todo, total = [sys.argv[1]], 0
while todo:
    p = todo.pop()
    total += cpu.get(p, 0)
    todo += kids.get(p, [])
print(total)
EOP
}
# rate PORT ROOT [FLAG] - messages per second through smtp-source, and CPU
# ms per message of the server's process tree under ROOT; FLAG -d keeps
# each session's connection for all its messages
rate() {
  local start end b0 b1
  smtp-source -s 10 -l 4096 -m 200 -f a@b.test -t root@bench.test "127.0.0.1:$1" >/dev/null 2>&1  # warm-up
  b0=$(tree_cpu "$2"); start=$(date +%s.%N)
  smtp-source ${3:-} -s 10 -l 4096 -m "$N" -f a@b.test -t root@bench.test "127.0.0.1:$1" >/dev/null 2>&1
  end=$(date +%s.%N); sleep 0.2; b1=$(tree_cpu "$2")
  python3 -c "import os; print('%.0f %.2f' % ($N / ($end - $start), ($b1 - $b0) * 1000 / os.sysconf('SC_CLK_TCK') / $N))"
}
# idle_rss PORT - RSS (KiB) of the process serving one idle connection
# (after its EHLO), found by the socket it holds, not by name
idle_rss() {
  python3 - "$1" <<'EOP'
import os, socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(('127.0.0.1', port))
s.recv(512)
s.sendall(b'EHLO idle.test\r\n'); time.sleep(0.3); s.recv(4096)
mine = s.getsockname()[1]
inode = None
for fn in ('/proc/net/tcp', '/proc/net/tcp6'):
    for l in open(fn).readlines()[1:]:
        f = l.split()
        if int(f[1].split(':')[1], 16) == port and int(f[2].split(':')[1], 16) == mine:
            inode = f[9]
rss = 0
for p in filter(str.isdigit, os.listdir('/proc')):
    try:
        if any(os.readlink('/proc/%s/fd/%s' % (p, fd)) == 'socket:[%s]' % inode for fd in os.listdir('/proc/%s/fd' % p)):
            rss = max(rss, int([l.split()[1] for l in open('/proc/%s/status' % p) if l.startswith('VmRSS:')][0]))
    except (OSError, IndexError):
        pass
print(rss)
s.close()
EOP
}
# session_cpu - CPU ms of one smtp-receive session on a socket pair:
# EHLO+QUIT, then EHLO+STARTTLS+EHLO+QUIT (OpenSSL is loaded only then)
session_cpu() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench.test \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
  cp "$T/postern.conf" "$T/tls.conf"
  printf 'tls_cert_file = %s\ntls_key_file = %s\n' "$T/cert.pem" "$T/key.pem" >>"$T/tls.conf"
  chmod 644 "$T/tls.conf"
  python3 - "$B/smtp-receive" "$T/tls.conf" <<'EOP'
import resource, socket, ssl, subprocess, sys
prog, conf, n = sys.argv[1], sys.argv[2], 200
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def reply(f):
    while True:
        l = f.readline()
        if l[3:4] != b'-': return l
def session(tls):
    a, b = socket.socketpair()
    p = subprocess.Popen([prog, '-C', conf], stdin=b, stdout=b, stderr=subprocess.DEVNULL)
    b.close(); f = a.makefile('rb'); reply(f)
    a.sendall(b'EHLO bench.test\r\n'); reply(f)
    if tls:
        a.sendall(b'STARTTLS\r\n'); reply(f)
        a = ctx.wrap_socket(a); f = a.makefile('rb')
        a.sendall(b'EHLO bench.test\r\n'); reply(f)
    a.sendall(b'QUIT\r\n'); reply(f); a.close(); p.wait()
out = []
for tls in (0, 1):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for i in range(n): session(tls)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.append('%.2f' % (((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1000 / n))
print(' '.join(out))
EOP
}
pfroot=$(tr -d ' ' <"$T/pf/queue/pid/master.pid")
read -r r1 c1 < <(rate "$P1" "$root1"); q1=$(ls "$T/spool/new" | wc -l)
read -r r2 c2 < <(rate "$P2" "$pfroot"); q2=$(find "$T/pf/queue/incoming" "$T/pf/queue/active" -type f 2>/dev/null | wc -l)
read -r d1 e1 < <(rate "$P1" "$root1" -d); k1=$(ls "$T/spool/new" | wc -l)
read -r d2 e2 < <(rate "$P2" "$pfroot" -d); k2=$(find "$T/pf/queue/incoming" "$T/pf/queue/active" -type f 2>/dev/null | wc -l)
m1=$(idle_rss "$P1")
m2=$(idle_rss "$P2")
read -r s_plain s_tls < <(session_cpu)
echo "NOT AS DEPLOYED (parts only): smtp-receive under systemd-socket-activate on the host, no queue daemon; Postfix smtpd+cleanup without qmgr"
echo "smtp-source: 10 sessions, 4 KiB messages, $N messages, one per connection"
echo "postern smtp-receive+spool-inject: $r1 msgs/s, $c1 ms CPU/msg ($q1 messages queued)"
echo "postfix smtpd+cleanup:             $r2 msgs/s, $c2 ms CPU/msg ($q2 messages queued)"
want=$((N + 200))
[ "$q1" = "$want" ] && [ "$q2" = "$want" ] || echo "WARNING: expected $want messages queued by each server: the figures are not comparable" 
python3 -c "print('ratio postern/postfix: %.2f' % ($r1 / $r2))"
echo "smtp-source -d: the same, each session's connection kept for all its messages"
echo "postern smtp-receive+spool-inject: $d1 msgs/s, $e1 ms CPU/msg"
echo "postfix smtpd+cleanup:             $d2 msgs/s, $e2 ms CPU/msg"
[ "$k1" = $((2 * want)) ] && [ "$k2" = $((2 * want)) ] || echo "WARNING: expected $((2 * want)) messages queued by each server: the figures are not comparable"
python3 -c "print('ratio postern/postfix (connections kept): %.2f' % ($d1 / $d2))"
echo "idle connection RSS: smtp-receive ${m1} KiB, postfix smtpd ${m2} KiB"
python3 -c "print('memory ratio postern/postfix: %.2f' % ($m1 / $m2))"
echo "smtp-receive CPU per session: ${s_plain} ms EHLO+QUIT, ${s_tls} ms with STARTTLS (OpenSSL loaded then)"
