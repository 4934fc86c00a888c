#!/bin/bash
# smtp-tcpserver.sh - ports 25, 587 and 465 without systemd, by the shipped
# recipe itself: units/tcpserver run as root (as a supervisor runs it), with
# only ucspi-tcp installed, in the production setup (tests/nosystemd-lib.bash:
# its own users, the 1770 spool, a set-gid spool-inject).  The session runs
# as the smtpd user with no other group, so it cannot list the spool and
# queues through the set-gid spool-inject; a message is queued with the
# client's address and the session's uid; relaying is refused; submission
# offers AUTH after STARTTLS; smtps talks TLS at once.
# the set-gid spool-inject reads only /etc/postern/postern.conf: ours is
# bound there in a mount namespace of this test's own
if [ "$(id -u)" = 0 ] && [ -z "${POSTERN_T_MNTNS:-}" ] && command -v unshare >/dev/null; then
  exec unshare -m --propagation private env POSTERN_T_MNTNS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.bash"
. "$TOP/tests/nosystemd-lib.bash"
command -v tcpserver >/dev/null || { skip "tcpserver" "ucspi-tcp is not installed"; exit 0; }
command -v swaks >/dev/null || { skip "tcpserver" "swaks is not installed"; exit 0; }
is_root || { skip "tcpserver" "the recipe runs as root (tcpserver -u/-g)"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
ns_setup || { fail "production setup (users, spool, set-gid spool-inject)"; exit 0; }
# no daemontools on the path, whatever the machine has: the recipe needs ucspi-tcp alone
mkdir "$T/bin"
for p in tcpserver id sh hostname; do ln -s "$(command -v $p)" "$T/bin/$p"; done

# recipe MODE PORT: units/tcpserver MODE on 127.0.0.1:PORT, as installed
recipe() {
  env -i PATH="$T/bin" POSTERN_CONF="$POSTERN_CONF" ASAN_OPTIONS="$ASAN_OPTIONS" \
    POSTERN_SMTPD_USER="$NS_SMTPD" POSTERN_LISTEN=127.0.0.1 POSTERN_PORT="$2" POSTERN_LIBEXEC="$T/libexec" \
    sh "$TOP/units/tcpserver" "$1" 2>>"$T/log" &
  local pid=$!
  at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  eval "pid_$1=$pid"
  wait_for 10 listening "$2"
}
P25=$(free_port) P587=$(free_port) P465=$(free_port)
for m in mx:$P25 submission:$P587 smtps:$P465; do
  recipe "${m%%:*}" "${m#*:}" && ok "units/tcpserver ${m%%:*} listens" ||
    { fail "units/tcpserver ${m%%:*} listens" "$(cat "$T/log")"; exit 0; }
done
is "units/tcpserver rejects an unknown mode" 64 "$(sh "$TOP/units/tcpserver" bogus 2>/dev/null; echo $?)"

# the session's credentials: the smtpd user, its own group, nothing else
creds=$(session_creds "$P25" "$pid_mx")
uid=$(id -u "$NS_SMTPD") gid=$(id -g "$NS_SMTPD")
is "tcpserver: the session runs as the smtpd user with its own group only" "$uid $gid $gid" "$creds"
out=$(setpriv --reuid="$uid" --regid="$gid" --clear-groups ls "$T/spool/new" 2>&1)
[ $? -ne 0 ] && ok "tcpserver: the session's credentials cannot list new/" ||
  fail "tcpserver: the session's credentials cannot list new/" "$out"

out=$(swaks -s 127.0.0.1 -p "$P25" -f a@b.test -t "$NS_MAIL@mx.example.test" --body 'through tcpserver' 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "tcpserver: a message is queued through the set-gid spool-inject" ;;
  *) fail "tcpserver: a message is queued through the set-gid spool-inject" "$out" "$(tail -5 "$T/log")" ;; esac
id=$(ls "$T/spool/new" | head -1)
grep -q '^I\[127.0.0.1\]' "$T/spool/new/$id" 2>/dev/null && ok "tcpserver: the client address is in the envelope" ||
  fail "tcpserver: the client address is in the envelope" "$(cat "$T/spool/new/$id" 2>/dev/null)"
grep -q "^P$uid\$" "$T/spool/new/$id" 2>/dev/null && ok "tcpserver: the message was submitted by uid $uid" ||
  fail "tcpserver: the message was submitted by uid $uid" "$(cat "$T/spool/new/$id" 2>/dev/null)"
is "tcpserver: the queued file is spool-inject's (group $NS_INJECT)" "$NS_INJECT" "$(stat -c %G "$T/spool/new/$id" 2>&1)"
out=$(swaks -s 127.0.0.1 -p "$P25" -f a@b.test -t victim@elsewhere.test 2>&1)
case "$out" in *"554 5.7.1 Relay access denied"*) ok "tcpserver: relaying refused" ;; *) fail "tcpserver: relaying refused" "$out" ;; esac
is "tcpserver: exactly one message queued" 1 "$(ls "$T/spool/new" | wc -l)"

# 587: STARTTLS, then AUTH, then a message from alice to anywhere
out=$(swaks -s 127.0.0.1 -p "$P587" --tls -a PLAIN -au alice -ap 's3cret pass' -f alice@mx.example.test \
  -t someone@elsewhere.test --body 'submitted' 2>&1)
case "$out" in *"235 "*"250 2.0.0 Ok: queued as"*) ok "tcpserver submission: STARTTLS, AUTH, relayed for alice" ;;
  *) fail "tcpserver submission: STARTTLS, AUTH, relayed for alice" "$out" ;; esac
# 465: TLS from the first byte
out=$(swaks -s 127.0.0.1 -p "$P465" --tlsc -a PLAIN -au alice -ap 's3cret pass' -f alice@mx.example.test \
  -t someone@elsewhere.test --body 'smtps' 2>&1)
case "$out" in *"235 "*"250 2.0.0 Ok: queued as"*) ok "tcpserver smtps: implicit TLS, AUTH, relayed for alice" ;;
  *) fail "tcpserver smtps: implicit TLS, AUTH, relayed for alice" "$out" ;; esac
is "tcpserver: three messages queued in all" 3 "$(ls "$T/spool/new" | wc -l)"
grep -E 'Sanitizer|runtime error:' "$T/log" >/dev/null && fail "no sanitizer reports" "$(grep -A20 -E 'Sanitizer|runtime error:' "$T/log" | head -40)"
true
