#!/bin/bash
# log-nosyslog.sh - log = auto on a machine without a syslog daemon: the
# lines go to stderr instead of vanishing (lib/log.c), except where stderr
# is no log: spool-inject's fd 2 (its caller's reply channel) and the
# client's socket under inetd.  With a daemon on /dev/log they go there.
# Each case runs in a private mount namespace whose /dev is a directory of
# the test (null, zero, urandom bound from the real /dev), so /dev/log is
# absent, a stale socket nobody reads, or a socket this test reads.
. "$(dirname "$0")/lib.bash"
is_root || { skip "log fallback" "needs root for a mount namespace"; exit 0; }
command -v unshare >/dev/null || { skip "log fallback" "unshare (util-linux) is not installed"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
mkspool "$T/spool"
mkdir "$T/maps" "$T/dev"
mkconf "$T/postern.conf"
sed -i "s/^log = stderr\$/log = auto/" "$T/postern.conf"
for d in null zero urandom random; do touch "$T/dev/$d"; done

# syslogd.py - a datagram syslog socket at /dev/log; every line it gets
# into $T/syslog.out; ends by itself after 20 s
cat >"$T/syslogd.py" <<'EOF'
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
if sys.argv[2] == "stale":
    s.close(); sys.exit(0)   # the socket file stays, nobody reads it
s.settimeout(0.2)
open(sys.argv[1] + ".ready", "w").close()
end = time.time() + 20
with open(sys.argv[1], "ab", buffering=0) as out:
    while time.time() < end:
        try: out.write(s.recv(4096) + b"\n")
        except socket.timeout: pass
EOF

# in_ns MODE CMD: CMD (a bash string) with /dev replaced; MODE none (no
# /dev/log), stale (a socket file nobody listens on) or daemon (a reader)
in_ns() {
  rm -f "$T/syslog.out" "$T/syslog.out.ready"
  unshare -m --propagation private bash -c '
    T=$1 mode=$2 cmd=$3
    for d in null zero urandom random; do mount --bind /dev/$d "$T/dev/$d" || exit 99; done
    mount --bind "$T/dev" /dev || exit 99
    rm -f /dev/log
    pid=
    case $mode in
      stale) python3 "$T/syslogd.py" "$T/syslog.out" stale ;;
      daemon) python3 "$T/syslogd.py" "$T/syslog.out" daemon & pid=$!
              for i in $(seq 100); do [ -e "$T/syslog.out.ready" ] && break; sleep 0.05; done ;;
    esac
    eval "$cmd"; rc=$?
    sleep 0.2   # the reader takes the last datagram
    [ -n "$pid" ] && kill "$pid" && wait "$pid"
    rm -f /dev/log
    exit $rc' in_ns "$T" "$1" "$2"
}

# client.py STDERR PROGRAM...: PROGRAM on one end of a socket pair (fds 0
# and 1; fd 2 too when STDERR is "socket", as inetd does, else the file
# STDERR); one message sent in a real dialogue; prints what the client saw
cat >"$T/client.py" <<'EOF'
import socket, subprocess, sys
a, b = socket.socketpair()
err = b if sys.argv[1] == "socket" else open(sys.argv[1], "wb")
p = subprocess.Popen(sys.argv[2:], stdin=b, stdout=b, stderr=err)
b.close()
a.settimeout(20)
f = a.makefile("rb")
seen = []
def reply():
    while True:
        l = f.readline()
        seen.append(l.decode("latin-1"))
        if not l or l[3:4] != b"-": return
reply()
for c in [b"HELO x", b"MAIL FROM:<a@b.test>", b"RCPT TO:<root@mx.example.test>", b"DATA",
          b"hi\r\n.", b"QUIT"]:
    a.sendall(c + b"\r\n")
    reply()
p.wait(timeout=20)
sys.stdout.write("".join(seen))
EOF
receive="python3 '$T/client.py' '$T/err' '$B/smtp-receive' -C '$T/postern.conf' -m mx >'$T/out'"

# smtp-receive with its stderr in a file (a supervisor's log pipe)
for mode in none stale; do
  in_ns "$mode" "$receive"
  grep -q '^smtp-receive: id=[^ ]* status=queued ' "$T/err" &&
    ok "log = auto, /dev/log $mode: smtp-receive's line is on stderr" ||
    fail "log = auto, /dev/log $mode: smtp-receive's line is on stderr" "stderr: $(cat "$T/err")" "client saw: $(cat "$T/out")"
done

# the same with a syslog daemon: the line goes there, not to stderr
in_ns daemon "$receive"
grep -q 'smtp-receive: id=[^ ]* status=queued ' "$T/syslog.out" 2>/dev/null && ! grep -q status= "$T/err" &&
  ok "log = auto with a syslog daemon: the line goes to /dev/log" ||
  fail "log = auto with a syslog daemon: the line goes to /dev/log" "syslog: $(cat "$T/syslog.out" 2>&1)" "stderr: $(cat "$T/err")"

# spool-inject: fd 2 is its caller's reply channel; without syslog it
# holds the reply line only (the caller logs the outcome)
printf 'V1\nFa@b.test\nTroot@mx.example.test\n\n' >"$T/env"
in_ns none "printf 'Subject: x\n\nhi\n' | '$B/spool-inject' -C '$T/postern.conf' 1<'$T/env' 2>'$T/err'"
is "log = auto, no /dev/log: spool-inject's fd 2 holds only its reply" \
  "1 250" "$(wc -l <"$T/err" | tr -d ' ') $(cut -c1-3 "$T/err")"

# inetd: fds 0, 1 and 2 are the client's socket; no log line may reach it
in_ns none "python3 '$T/client.py' socket '$B/smtp-receive' -C '$T/postern.conf' -m mx >'$T/out' 2>'$T/err'"
if grep -q '^221 ' "$T/out" && grep -q '^250 2.0.0 Ok: queued' "$T/out" && ! grep -q 'status=' "$T/out"; then
  ok "log = auto, no /dev/log, inetd layout: no log line reaches the client"
else
  fail "log = auto, no /dev/log, inetd layout: no log line reaches the client" "client saw: $(cat "$T/out")" "$(cat "$T/err")"
fi
