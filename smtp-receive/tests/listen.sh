#!/bin/bash
# listen.sh - smtp-listen without a service manager: it refuses to start
# without a socket (and, as root, without -u), binds -l itself, drops to
# -u/-g before the first connection (as root), keeps injector workers
# apart from the sessions (the session keeps no group and not the
# workers' end of their socket; the pool grows with concurrent messages
# and stays small for serial ones; a killed worker costs one message a
# 451 at most; a crashed one re-executes the listener), queues mail, sees
# an access map made, replaced or removed while it runs, keeps
# the per-source limit (100 idle connections from 127.0.0.1 do not keep
# 127.0.0.2 out), rereads its configuration on SIGHUP (a broken one is
# kept out) and stops on SIGTERM with 421 to an idle session.  Also under
# systemd-socket-activate (LISTEN_FDS).
. "$(dirname "$0")/../../tests/lib.bash"
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:handle_segv=0   # a SIGSEGV we send must end the worker by that signal
PY="python3 $TOP/tests/systemd-listen.py"
mkspool "$T/spool"
mkdir "$T/maps"
CONF="smtpd_verify_recipients=no smtpd_client_name_lookup=no smtpd_limit_exempt= smtpd_shutdown_timeout=5s"
mkconf "$T/postern.conf" $CONF
creds=()
if is_root; then   # the sessions run as nobody; the spool's group is mail, as postern-inject would be
  chmod 755 "$T"
  chgrp mail "$T/spool/tmp" "$T/spool/mess" "$T/spool/new" && chmod 1770 "$T/spool/tmp" "$T/spool/mess" "$T/spool/new"
  creds=(-u nobody -g mail)
fi

# --- start-up errors --------------------------------------------------------------
out=$("$B/smtp-listen" -C "$T/postern.conf" 2>&1); rc=$?
case "$rc $out" in "78 "*"no socket to listen on: give -l"*) ok "no -l and no LISTEN_FDS: refused, exit 78, says why" ;;
  *) fail "no -l and no LISTEN_FDS: refused, exit 78, says why" "exit $rc" "$out" ;; esac
out=$("$B/smtp-listen" -C "$T/postern.conf" -l 127.0.0.1:nope 2>&1); rc=$?
case "$rc $out" in "78 "*"-l wants"*) ok "a bad -l: refused" ;; *) fail "a bad -l: refused" "exit $rc" "$out" ;; esac
if is_root; then
  out=$("$B/smtp-listen" -C "$T/postern.conf" -l "127.0.0.1:$(free_port)" 2>&1); rc=$?
  case "$rc $out" in "78 "*"-u USER is needed"*) ok "as root without -u: refused" ;; *) fail "as root without -u: refused" "exit $rc" "$out" ;; esac
  out=$("$B/smtp-listen" -C "$T/postern.conf" -l "127.0.0.1:$(free_port)" -u root 2>&1); rc=$?
  case "$rc $out" in "78 "*"never run as root"*) ok "-u root: refused" ;; *) fail "-u root: refused" "exit $rc" "$out" ;; esac
else
  skip "as root without -u: refused" "not root"
fi

# --- a listener on -l ----------------------------------------------------------------
PORT=$(free_port); export LISTEN_PORT=$PORT LISTEN_RCPT=x@mx.example.test
"$B/smtp-listen" -C "$T/postern.conf" -l "127.0.0.1:$PORT" "${creds[@]}" 2>"$T/log" &
L=$!; at_exit "kill $L 2>/dev/null"
wait_port() { local n=50; while [ $n -gt 0 ]; do python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1).close()" 2>/dev/null && return 0; sleep 0.1; n=$((n - 1)); done; return 1; }
wait_port "$PORT" || fail "smtp-listen -l listens" "$(cat "$T/log")"
out=$(timeout 20 swaks --server 127.0.0.1 --port "$PORT" --from a@example.org --to x@mx.example.test --timeout 10 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "-l: a message is queued" ;; *) fail "-l: a message is queued" "$(echo "$out" | tail -n 5)" "$(cat "$T/log")" ;; esac
is "-l: it is in new/" 1 "$(ls "$T/spool/new" | wc -l)"

# the processes of a held session
timeout 20 $PY idle 127.0.0.1 >"$T/held" 2>&1 &
held=$!
n=50; while [ $n -gt 0 ] && ! grep -q '^250' "$T/held"; do sleep 0.1; n=$((n - 1)); done
s=$(pgrep -P "$L" -x smtp-listen | head -n 1); h=$(pgrep -P "$L" -x spool-inject | head -n 1)
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' ' ' | sed 's/ $//'; }
if is_root; then
  mail=$(getent group mail | cut -d: -f3); nob=$(id -u nobody)
  is "as root: the listener became nobody with CAP_SETGID alone, no_new_privs" "$nob 0000000000000040 0000000000000040 1" \
    "$(field "$L" Uid | cut -d' ' -f1) $(field "$L" CapEff) $(field "$L" CapBnd) $(field "$L" NoNewPrivs)"
  is "the session: no supplementary group, no capability" "|0000000000000000 0000000000000000" \
    "$(field "$s" Groups)|$(field "$s" CapEff) $(field "$s" CapPrm)"
  is "an injector worker: the spool group, no capability" "$mail|0000000000000000" "$(field "$h" Groups)|$(field "$h" CapEff)"
  if setpriv --reuid="$nob" --regid="$(field "$s" Gid | cut -d' ' -f1)" --clear-groups -- ls "$T/spool/new" >/dev/null 2>&1; then
    fail "with the session's credentials new/ cannot be listed"
  else ok "with the session's credentials new/ cannot be listed"; fi
else
  skip "the session: no supplementary group" "not root: nothing to drop"
fi
[ -n "$h" ] && [ -z "$(pgrep -P "$s")" ] && ok "the listener keeps an injector worker ready; the session forks nothing" ||
  fail "the listener keeps an injector worker ready; the session forks nothing" "session $s worker $h: $(pgrep -P "$s")"
wsock=$(readlink "/proc/$h/fd/3")
case "$wsock" in socket:*)
  if ls -l "/proc/$s/fd" | grep -qF "$wsock"; then fail "the session does not hold the workers' end of their socket" "$wsock"
  else ok "the session does not hold the workers' end of their socket ($wsock)"; fi ;;
  *) fail "the worker reads requests on its fd 3" "$wsock" ;; esac
wait "$held"
case "$(sed -n 2p "$T/held")" in "(closed)"|"") ok "the held session ends when its client does" ;; *) fail "held session" "$(cat "$T/held")" ;; esac

# --- the injector workers -------------------------------------------------------------
workers() { pgrep -P "$L" -x spool-inject | wc -l; }
for i in 1 2 3 4 5 6 7 8; do
  timeout 20 swaks --server 127.0.0.1 --port "$PORT" --from a@example.org --to x@mx.example.test --timeout 10 >/dev/null 2>&1
done
n=$(workers)
[ "$n" -ge 1 ] && [ "$n" -le 2 ] && ok "8 messages one after another: the workers stay at one or two ($n)" ||
  fail "8 messages one after another: the workers stay at one or two" "$n"
# five sessions in DATA at once, each sending its body slowly: each gets a worker
before=$(ls "$T/spool/new" | wc -l); slow=
for i in 1 2 3 4 5; do
  timeout 30 python3 -c "
import smtplib, time
s = smtplib.SMTP('127.0.0.1', $PORT, timeout=20)
s.ehlo('c$i'); s.mail('a@example.org'); s.rcpt('x@mx.example.test')
s.putcmd('data'); c, m = s.getreply(); assert c == 354, (c, m)
for k in range(10):
    s.send(b'line %d of a slow body\r\n' % k); time.sleep(0.2)
s.send(b'.\r\n'); c, m = s.getreply(); print(c, m.decode()); s.quit()" >"$T/slow$i" 2>&1 &
  slow="$slow $!"
done
sleep 1
n=$(workers)
wait $slow
ok_all=1; for i in 1 2 3 4 5; do grep -q '^250 ' "$T/slow$i" || ok_all=0; done
[ "$ok_all" = 1 ] && ok "five messages in DATA at once are all queued" || fail "five messages in DATA at once are all queued" "$(cat "$T"/slow*)"
[ "$n" -ge 6 ] && ok "the pool grew to a worker per session and one spare ($n)" || fail "the pool grew to a worker per session and one spare" "$n"
is "five more in new/" $((before + 5)) "$(ls "$T/spool/new" | wc -l)"
# a worker killed: the next message goes to another one
w=$(pgrep -P "$L" -x spool-inject | head -n 1)
kill -KILL "$w"; sleep 0.2
out=$(timeout 20 swaks --server 127.0.0.1 --port "$PORT" --from a@example.org --to x@mx.example.test --timeout 10 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "a worker killed: the next message is queued by another" ;;
  *) fail "a worker killed: the next message is queued by another" "$(echo "$out" | tail -n 5)" ;; esac
if grep -q 'status=crash' "$T/log"; then fail "a worker killed by SIGKILL is no crash" "$(grep crash "$T/log")"; else ok "a worker killed by SIGKILL is no crash"; fi
# an idle worker sent SIGTERM (a stop signal to the whole group) ends
# quietly: no "451 ... not queued" line for a message that never was
w=$(pgrep -P "$L" -x spool-inject | head -n 1)
lines=$(wc -l <"$T/log")
kill -TERM "$w"; for i in $(seq 50); do [ -e "/proc/$w/comm" ] || break; sleep 0.1; done
out=$(timeout 20 swaks --server 127.0.0.1 --port "$PORT" --from a@example.org --to x@mx.example.test --timeout 10 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "an idle worker stopped by SIGTERM: the next message is queued by another" ;;
  *) fail "an idle worker stopped by SIGTERM: the next message is queued by another" "$(echo "$out" | tail -n 5)" ;; esac
tail -n +$((lines + 1)) "$T/log" | grep -E '451|Interrupted|status=crash' >"$T/term.out"
[ ! -e "/proc/$w/comm" ] && [ ! -s "$T/term.out" ] && ok "an idle worker stopped by SIGTERM ends quietly (no 451 line, no crash)" ||
  fail "an idle worker stopped by SIGTERM ends quietly (no 451 line, no crash)" "$(cat "$T/term.out")"
# a worker that crashes (SIGSEGV): the listener re-executes itself, and mail still flows
w=$(pgrep -P "$L" -x spool-inject | head -n 1)
kill -SEGV "$w"; sleep 0.5
out=$(timeout 20 swaks --server 127.0.0.1 --port "$PORT" --from a@example.org --to x@mx.example.test --timeout 10 2>&1)
grep -q 'status=crash detail="an injector worker was killed by a signal' "$T/log" && grep -q 'status=reexecuted' "$T/log" &&
  ok "a crashed worker: logged, and the listener re-executes itself" ||
  fail "a crashed worker: logged, and the listener re-executes itself" "$(tail -n 5 "$T/log")"
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "after the re-exec a message is queued" ;;
  *) fail "after the re-exec a message is queued" "$(echo "$out" | tail -n 5)" ;; esac
is "the re-executed listener is the same process" "smtp-listen" "$(kill -0 "$L" && cat "/proc/$L/comm")"

# --- the maps the listener keeps open for the sessions -----------------------------------
# A map made or replaced while the listener runs applies to the next session.
printf '127.0.0.7 REJECT\n' >"$T/maps/access"
"$B/postern-maps" compile "$T/maps/access" >/dev/null
[ "$(id -u)" = 0 ] && chmod 755 "$T/maps"
out=$(timeout 20 swaks --server 127.0.0.1 --port "$PORT" --local-interface 127.0.0.7 --from a@example.org --to x@mx.example.test --timeout 10 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) fail "an access map made while listening: the next session is refused" "$(echo "$out" | tail -n 4)" ;;
  *" 5"[0-9][0-9]" "*) ok "an access map made while listening: the next session is refused" ;;
  *) fail "an access map made while listening: the next session is refused" "$(echo "$out" | tail -n 4)" ;; esac
# the workers there are end: those forked from now on are forked while
# the listener holds the map open
for w in $(pgrep -P "$L" -x spool-inject); do kill -KILL "$w"; done
printf '127.0.0.8 REJECT\n' >"$T/maps/access"
"$B/postern-maps" compile "$T/maps/access" >/dev/null
out=$(timeout 20 swaks --server 127.0.0.1 --port "$PORT" --local-interface 127.0.0.7 --from a@example.org --to x@mx.example.test --timeout 10 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "the map replaced: the next session is accepted" ;;
  *) fail "the map replaced: the next session is accepted" "$(echo "$out" | tail -n 4)" ;; esac
# the injector workers read no map: none keeps one mapped (a replaced
# map file would stay allocated as long as a worker lives)
held=""
for w in $(pgrep -P "$L" -x spool-inject); do grep -q '\.cdb' "/proc/$w/maps" 2>/dev/null && held="$held $w"; done
[ -z "$held" ] && [ -n "$(pgrep -P "$L" -x spool-inject)" ] && ok "the injector workers map none of the listener's maps" ||
  fail "the injector workers map none of the listener's maps" "workers:$held: $(grep '\.cdb' /proc/${held# }/maps 2>/dev/null | head -3)"
rm -f "$T/maps/access.cdb"
out=$(timeout 20 swaks --server 127.0.0.1 --port "$PORT" --local-interface 127.0.0.8 --from a@example.org --to x@mx.example.test --timeout 10 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "the map removed: nobody is refused by it" ;;
  *) fail "the map removed: nobody is refused by it" "$(echo "$out" | tail -n 4)" ;; esac

# --- the per-source limit -------------------------------------------------------------
timeout 40 $PY flood 100 127.0.0.1 8 >"$T/flood" 2>&1 &
fl=$!
n=200; while [ $n -gt 0 ] && [ ! -s "$T/flood" ]; do sleep 0.1; n=$((n - 1)); done
read -r nok first <"$T/flood"
is "100 idle connections from 127.0.0.1: 20 sessions" 20 "$nok"
case "$first" in "421 4.7.0 "*) ok "the others get 421 4.7.0" ;; *) fail "the others get 421 4.7.0" "$(cat "$T/flood")" ;; esac
out=$(timeout 20 swaks --server 127.0.0.1 --port "$PORT" --local-interface 127.0.0.2 --from a@example.org --to x@mx.example.test --timeout 10 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "127.0.0.2 is served meanwhile" ;; *) fail "127.0.0.2 is served meanwhile" "$(echo "$out" | tail -n 5)" ;; esac
grep -q 'status=reject client=127.0.0.1 .*limit=smtpd_max_source_sessions' "$T/log" && ok "the refusals are logged with the limit" ||
  fail "the refusals are logged with the limit" "$(tail -n 3 "$T/log")"
kill "$fl" 2>/dev/null; wait "$fl" 2>/dev/null

# --- SIGHUP ---------------------------------------------------------------------------------
mkconf "$T/postern.conf" $CONF smtpd_max_sessions=0
kill -HUP "$L"; sleep 0.5
grep -q "status=reload-failed reason=.*bad value for 'smtpd_max_sessions'" "$T/log" && ok "SIGHUP: a bad value is refused, logged" ||
  fail "SIGHUP: a bad value is refused, logged" "$(tail -n 3 "$T/log")"
out=$(timeout 20 swaks --server 127.0.0.1 --port "$PORT" --local-interface 127.0.0.3 --from a@example.org --to x@mx.example.test --timeout 10 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "SIGHUP: the old configuration stays in force" ;; *) fail "SIGHUP: the old configuration stays" "$(echo "$out" | tail -n 5)" ;; esac
mkconf "$T/postern.conf" $CONF smtpd_banner=reloaded
old=$(pgrep -P "$L" -x spool-inject | sort | tr '\n' ' ')
kill -HUP "$L"; sleep 0.5
grep -q 'status=reloaded' "$T/log" && timeout 5 python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $PORT), 5); print(s.recv(200).decode())" | grep -q 'ESMTP reloaded' &&
  ok "SIGHUP: a good file applies to new connections" || fail "SIGHUP: a good file applies" "$(tail -n 3 "$T/log")"
new=$(pgrep -P "$L" -x spool-inject | sort | tr '\n' ' ')
left=; for w in $old; do case " $new " in *" $w "*) left="$left $w" ;; esac; done
[ -n "$old" ] && [ -n "$new" ] && [ -z "$left" ] && ok "SIGHUP: new injector workers; the old ones, with no session left, have ended" ||
  fail "SIGHUP: new injector workers; the old ones have ended" "old: $old" "now: $new"

# --- SIGTERM ----------------------------------------------------------------------------------
workers_before_stop=$(pgrep -P "$L" -x spool-inject | tr '\n' ' ')
timeout 20 $PY idle 127.0.0.5 >"$T/idle" 2>&1 &
idle=$!
n=50; while [ $n -gt 0 ] && ! grep -q '^250' "$T/idle"; do sleep 0.1; n=$((n - 1)); done
kill -TERM "$L"
wait "$idle"
wait "$L"; rc=$?
is "SIGTERM: the idle session gets 421" "421 4.3.2 Service shutting down; closing the connection" "$(sed -n 2p "$T/idle")"
is "SIGTERM: the listener exits 0" 0 "$rc"
grep -q 'status=stopped' "$T/log" && ok "SIGTERM: logged" || fail "SIGTERM: logged" "$(tail -n 3 "$T/log")"
alive() { for w in $workers_before_stop; do [ -e "/proc/$w" ] && [ "$(cat "/proc/$w/comm" 2>/dev/null)" = spool-inject ] && echo "$w"; done; }
n=30; while [ $n -gt 0 ] && [ -n "$(alive)" ]; do sleep 0.1; n=$((n - 1)); done
[ -n "$workers_before_stop" ] && [ -z "$(alive)" ] && ok "SIGTERM: the injector workers end with the listener" ||
  fail "SIGTERM: the injector workers end with the listener" "before: $workers_before_stop" "left: $(alive)"

# --- under systemd-socket-activate ---------------------------------------------------------------
if command -v systemd-socket-activate >/dev/null; then
  PORT=$(free_port)
  systemd-socket-activate -l "127.0.0.1:$PORT" "$B/smtp-listen" -C "$T/postern.conf" "${creds[@]}" 2>"$T/log2" &
  L=$!; at_exit "kill $L 2>/dev/null"
  sleep 0.3
  out=$(timeout 20 swaks --server 127.0.0.1 --port "$PORT" --from a@example.org --to x@mx.example.test --timeout 10 2>&1)
  case "$out" in *"250 2.0.0 Ok: queued as"*) ok "LISTEN_FDS (systemd-socket-activate): a message is queued" ;;
    *) fail "LISTEN_FDS (systemd-socket-activate): a message is queued" "$(echo "$out" | tail -n 5)" "$(cat "$T/log2")" ;; esac
  kill "$L"; wait "$L" 2>/dev/null
else skip "LISTEN_FDS (systemd-socket-activate)" "systemd-socket-activate is not installed"; fi
