#!/bin/bash
# sink.sh - remote-send against Postfix's smtp-sink on loopback: plain and
# pipelined SMTP, HELO fallback, LMTP over TCP and a unix socket, and
# 4xx/5xx injected at chosen stages (greeting, MAIL, RCPT, DATA, the dot).
. "$(dirname "$0")/rs.bash"
command -v smtp-sink >/dev/null || { skip "smtp-sink tests" "smtp-sink (package postfix) not installed"; exit 0; }

P=$(free_port); sink "$P" -c || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test z@w.test
is "plain: exit 0" 0 "$RC"
expect "plain: first recipient sent" x@y.test ok "250 2.0.0 Ok*127.0.0.1:$P*"
expect "plain: second recipient sent" z@w.test ok "250 *"
grep -q "to=<x@y.test>.*status=sent" "$T/err" && ok "plain: logged per recipient" || fail "plain: logged" "$(cat "$T/err")"

P=$(free_port); sink "$P" -p || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "no PIPELINING: one command at a time" x@y.test ok "250 *"

P=$(free_port); sink "$P" -e || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "no ESMTP: HELO fallback" x@y.test ok "250 *"

P=$(free_port); sink "$P" -f RCPT || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test z@w.test
expect "5xx at RCPT: fails" x@y.test fail "5?? 5.*after RCPT TO*"
expect "5xx at RCPT: second fails too" z@w.test fail "5??*"

P=$(free_port); sink "$P" -r MAIL || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "4xx at MAIL: deferred" x@y.test defer "450 4.3.0*after MAIL FROM*"

P=$(free_port); sink "$P" -f DATA || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "5xx at DATA: fails" x@y.test fail "5?? 5.*after DATA*"

P=$(free_port); sink "$P" -r . || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "4xx after the dot: deferred" x@y.test defer "450 4.3.0*end of data*"

P=$(free_port); sink "$P" -f . || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "5xx after the dot: fails" x@y.test fail "5?? 5.*end of data*"

P=$(free_port); sink "$P" -q . || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "connection dropped at the dot: deferred, not sent" x@y.test defer "4.4.2 connection lost*"

P=$(free_port); sink "$P" -Q RCPT || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "421 at RCPT: deferred" x@y.test defer "421 *"

P=$(free_port); sink "$P" -f CONNECT || exit 0
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "5xx greeting: deferred (no other address)" x@y.test defer "5?? *after the greeting*"

P=$(free_port); sink "$P" -8 || exit 0
printf 'Subject: caf\xc3\xa9\n\n8-bit body \xc3\xa9\n' >"$T/msg8"
send "$T/msg8" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "8-bit message to a server without 8BITMIME: sent" x@y.test ok "250 *"
grep -q '8bitmime=missing' "$T/err" && ok "8-bit without 8BITMIME: logged" || fail "8bitmime logged" "$(cat "$T/err")"

P=$(free_port); sink "$P" -L || exit 0
send "$T/msg" "lmtp:127.0.0.1:$P" a@b.test x@y.test z@w.test
expect "LMTP over TCP: first" x@y.test ok "250 *"
expect "LMTP over TCP: second" z@w.test ok "250 *"

u=(); is_root && u=(-u nobody)
bg "$T/sink-unix.out" smtp-sink "${u[@]}" -L "unix:$T/lmtp.sock" 10
for i in $(seq 50); do [ -S "$T/lmtp.sock" ] && break; sleep 0.1; done
is_root && chmod 666 "$T/lmtp.sock" 2>/dev/null
send "$T/msg" "lmtp:unix:$T/lmtp.sock" a@b.test x@y.test
expect "LMTP over a unix socket" x@y.test ok "250 *"

# nothing listens: connection refused is a deferral
P=$(free_port)
send "$T/msg" "smtp:[127.0.0.1]:$P" a@b.test x@y.test
expect "connection refused: deferred" x@y.test defer "4.4.1 connection to 127.0.0.1:$P failed: Connection refused"
