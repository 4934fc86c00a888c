# tests/nosystemd-lib.bash - the production setup without systemd, for the
# tests of the shipped non-systemd recipes (units/tcpserver, units/runit/);
# sourced after tests/lib.bash, root only (not a test itself).
#
# ns_setup makes, with names unique to this run (removed at exit):
#   $NS_SMTPD   the session user (postern-smtpd), its own group only
#   $NS_QUEUE   the queue user (postern-queue, send_user, virtual_user)
#   $NS_INJECT  the injector's group (postern-inject), no members
#   $NS_MAIL    a local user with a home $T/home, who gets mail in ~/Maildir
#   $T/spool    the spool, production owners and modes (tools/mkspool)
#   $T/libexec  the build's programs, spool-inject set-gid $NS_INJECT
#   $T/postern.conf  the config (root's, 0644): libexec_dir, spool, maps,
#               the users above, TLS with a self-signed certificate, log = stderr;
#               a link to $T/etc/postern.conf, which is bound over
#               /etc/postern in the test's own mount namespace (a set-gid
#               spool-inject reads only /etc/postern/postern.conf), and
#               POSTERN_CONF names /etc/postern/postern.conf
# A test using it re-runs itself first in a private mount namespace, as
# root (POSTERN_T_MNTNS=1 says it did), like spool-inject/tests/privilege.sh.
#   $T/maps     local-domains (mx.example.test), passwd (alice)

ns_cleanup() {
  local u n
  # userdel refuses a user that still runs a process: a session or an
  # injector worker may still be ending.  These uids were made by this test
  # alone, so what still runs under them is this test's own.
  for u in "$NS_SMTPD" "$NS_QUEUE" "$NS_MAIL"; do
    [ -n "$u" ] && id -u "$u" >/dev/null 2>&1 || continue
    for n in 1 2 3 4 5 6 7 8 9 10; do
      userdel "$u" >/dev/null 2>&1 && break
      pkill -KILL -U "$u" 2>/dev/null; sleep 0.2
    done
    groupdel "$u" >/dev/null 2>&1
  done
  groupdel "$NS_INJECT" >/dev/null 2>&1
  true
}

ns_setup() {
  local id=$$ p
  # a pid seen before may have left its names behind (a killed run): take
  # the first suffix whose four names are all free
  while [ -n "$(getent passwd "nss$id" "nsq$id" "nsm$id"; getent group "nss$id" "nsq$id" "nsm$id" "nsg$id")" ]; do
    id=${id}x
  done
  NS_SMTPD=nss$id NS_QUEUE=nsq$id NS_MAIL=nsm$id NS_INJECT=nsg$id
  at_exit ns_cleanup
  chmod 755 "$T"
  mkdir -p "$T/home/$NS_MAIL" "$T/maps" "$T/libexec"
  groupadd "$NS_INJECT" &&
    useradd -M -d /nonexistent -s /usr/sbin/nologin -U "$NS_SMTPD" &&
    useradd -M -d /nonexistent -s /usr/sbin/nologin -U "$NS_QUEUE" &&
    useradd -M -d "$T/home/$NS_MAIL" -s /usr/sbin/nologin -U "$NS_MAIL" || return 1
  chown "$NS_MAIL:$NS_MAIL" "$T/home/$NS_MAIL"
  chmod 755 "$T/home" "$T/home/$NS_MAIL" "$T/maps" "$T/libexec"
  "$TOP/tools/mkspool" "$T/spool" "$NS_QUEUE" "$NS_INJECT" >/dev/null || return 1
  for p in smtp-receive smtp-listen queue-run local-spawn remote-spawn remote-send local-deliver postern-maps postern-tls.so; do
    [ -e "$B/$p" ] && cp "$B/$p" "$T/libexec/$p"
  done
  cp "$B/spool-inject" "$T/libexec/spool-inject"
  chgrp "$NS_INJECT" "$T/libexec/spool-inject" && chmod 2755 "$T/libexec/spool-inject" || return 1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=mx.example.test -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || return 1
  chgrp "$NS_SMTPD" "$T/key.pem" && chmod 640 "$T/key.pem" && chmod 644 "$T/cert.pem"
  echo mx.example.test >"$T/maps/local-domains"
  printf 'alice %s\n' "$(openssl passwd -6 -salt saltsalt 's3cret pass')" >"$T/maps/passwd"
  "$B/postern-maps" compile "$T/maps/local-domains" >/dev/null &&
    "$B/postern-maps" compile "$T/maps/passwd" >/dev/null || return 1
  chmod 644 "$T/maps/"*
  mkdir -m 755 "$T/etc"
  mkconf "$T/etc/postern.conf" tls_cert_file="$T/cert.pem" tls_key_file="$T/key.pem" \
    queue_user="$NS_QUEUE" send_user="$NS_QUEUE" virtual_user="$NS_QUEUE"
  sed -i "s|^libexec_dir = .*|libexec_dir = $T/libexec|" "$T/etc/postern.conf"
  ln -s "$T/etc/postern.conf" "$T/postern.conf"
  [ "${POSTERN_T_MNTNS:-}" = 1 ] || return 1   # ns_mntns first: never bind over the host's /etc/postern
  local made=""
  [ -d /etc/postern ] || { mkdir -m 755 /etc/postern && made=1; }
  at_exit "umount /etc/postern 2>/dev/null; [ -n \"$made\" ] && rmdir /etc/postern 2>/dev/null; true"
  mount --bind "$T/etc" /etc/postern || return 1
  export POSTERN_CONF=/etc/postern/postern.conf
}


# listening PORT: something listens on 127.0.0.1:PORT
listening() { grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }

# wait_for SECONDS CMD...: poll CMD every 50 ms, at most SECONDS
wait_for() {
  local n=$(( $1 * 20 )); shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.05; n=$((n - 1)); done
  return 1
}

# status_of PID FIELD: a line of /proc/PID/status, tabs as blanks
status_of() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status" 2>/dev/null; }

# session_creds PORT PARENT: connect to PORT, wait for the greeting, and
# print "uid gid groups" of each child of PARENT that holds a client
# socket as its fd 0: the session (smtp-receive under tcpserver, a forked
# session under smtp-listen; the injector helper is its child)
session_creds() {
  python3 - "$1" "$2" <<'EOF'
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.recv(512)
def kids(p):
    try: return [int(k) for k in open("/proc/%d/task/%d/children" % (p, p)).read().split()]
    except OSError: return []
def status(p):
    f = dict(l.split(":", 1) for l in open("/proc/%d/status" % p) if ":" in l)
    return f["Uid"].split()[0], f["Gid"].split()[0], " ".join(f["Groups"].split())
seen = []
for p in kids(int(sys.argv[2])):
    try:
        if os.readlink("/proc/%d/fd/0" % p).startswith("socket:"): seen.append(status(p))
    except OSError: pass
print(" / ".join(" ".join(x) for x in seen))
s.close()
EOF
}
