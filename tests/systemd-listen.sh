# tests/systemd-listen.sh - smtp-listen under the shipped units in a booted
# Debian 12 root (tools/systemd-root): the spool is out of the session's
# reach (tried with the credentials of a live session), the limits answer
# 421 4.7.0 and name themselves in the log, 100 idle connections from one
# address do not keep another address from being served, SIGHUP
# (systemctl reload) keeps open sessions and applies new limits, a bad
# configuration is kept out, and `systemctl stop` lets a session finish
# its message.  Root only; about 40 s.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.bash"
. "$TOP/tests/systemd-lib.bash"
sd_prereq "listener: boot" "the session cannot open a queued message" "listener: limits" "listener: reload" "listener: stop"
[ -x "$B/smtp-listen" ] || { skip "listener under systemd" "smtp-listen is not built"; exit 0; }
sd_root listen && R=$T/listen || { fail "unpack a Debian 12 root"; exit 1; }
HOST=mx.example.test
PY="python3 $TOP/tests/systemd-listen.py"
sd_install "$R" install hub || { fail "install and install-hub into the root" "$(cat "$T/install.log")"; exit 1; }
# No exemption for loopback, so that 127.0.0.1 and 127.0.0.2 are two
# ordinary sources; a short stop timeout.
CONF="hostname=$HOST log=auto smtpd_limit_exempt= smtpd_shutdown_timeout=10s"
sd_conf "$R" $CONF
chroot "$R" useradd -m -s /bin/sh alice
if sd_boot "$R"; then ok "listener: boot"; else fail "listener: boot" "$(tail -n 30 "$T/boot.log")"; exit 1; fi
FL=$T/flags; mkdir -p "$FL"   # the clients run on the host, in the root's network
journal_has() { sd_journal "$R" | grep -q -- "$1"; }

# --- the spool boundary ----------------------------------------------------------
# A message waits in the spool (the queue daemon is stopped), and a
# session is held open; then the session's own uid, gid and groups, read
# from /proc, try the spool.
sd_run "$R" systemctl stop postern-queue.service
out=$(smtp_send "$R" 127.0.0.1 someone@example.org "alice@$HOST" "waits in the spool")
id=$(echo "$out" | sed -n 's/.*250 2.0.0 Ok: queued as \([^ ]*\).*/\1/p' | tr -d '\r')
if [ -n "$id" ] && [ -f "$R/var/spool/postern/new/$id" ]; then ok "mail through port 25: queued through an injector worker ($id)"
else fail "mail through port 25: queued through an injector worker" "$(echo "$out" | tail -n 6)"; fi
"$SR" net "$R" timeout 20 $PY idle 127.0.0.1 >"$T/held" 2>&1 &
held=$!; at_exit "kill $held 2>/dev/null"
wait_until 10 grep -q '^250' "$T/held"
lpid=$(sd_run "$R" systemctl show -p MainPID --value postern-smtpd.service)
spid=$(sd_run "$R" pgrep -P "$lpid" -x smtp-listen | head -n 1)
wpid=$(sd_run "$R" pgrep -P "$lpid" -x spool-inject | head -n 1)
uid=$(status_of "$R" "$spid" Uid | cut -d' ' -f1); gid=$(status_of "$R" "$spid" Gid | cut -d' ' -f1)
groups=$(status_of "$R" "$spid" Groups | tr ' ' ,)
as_session() {   # the live session's credentials, no capability
  local g=--clear-groups; [ -n "$groups" ] && g=--groups=$groups
  sd_run "$R" setpriv --reuid="$uid" --regid="$gid" $g --inh-caps=-all --bounding-set=-all -- sh -c "$1" >/dev/null 2>&1
}
is "the session's credentials: postern-smtpd, no supplementary group" "$(sd_run "$R" id -u postern-smtpd) " "$uid $groups"
if [ -n "$id" ] && ! as_session "cat /var/spool/postern/new/$id"; then ok "the session cannot open a queued message (new/$id)"
else fail "the session cannot open a queued message (new/$id)"; fi
if ! as_session "ls /var/spool/postern/new"; then ok "the session cannot list new/"; else fail "the session cannot list new/"; fi
if ! as_session "ls /var/spool/postern/mess"; then ok "the session cannot list mess/"; else fail "the session cannot list mess/"; fi
for d in new tmp mess; do
  if ! as_session "echo forged >/var/spool/postern/$d/forged"; then ok "the session cannot write $d/"
  else fail "the session cannot write $d/"; fi
done
as_session "rm -f /var/spool/postern/new/$id"
if [ -n "$id" ] && [ -f "$R/var/spool/postern/new/$id" ]; then ok "the session cannot remove a queued message"
else fail "the session cannot remove a queued message"; fi
# The injector workers hold the spool group; the session holds only the
# sessions' end of their request socket, so it cannot read another
# session's request (its pipes) off the workers' end.
wsock=$(sd_run "$R" readlink "/proc/$wpid/fd/3")
case "$wsock" in socket:*)
  if sd_run "$R" ls -l "/proc/$spid/fd" | grep -qF "$wsock"; then fail "the session does not hold the workers' end of their socket" "$wsock"
  else ok "the session does not hold the workers' end of their socket ($wsock)"; fi ;;
  *) fail "an injector worker reads its requests on fd 3" "worker $wpid: $wsock" ;; esac
case " $(status_of "$R" "$wpid" Groups) " in *" $(sd_run "$R" getent group postern-inject | cut -d: -f3) "*)
  ok "an injector worker has postern-inject" ;; *) fail "an injector worker has postern-inject" "$(status_of "$R" "$wpid" Groups)" ;; esac
# The same attempts with the spool group, as the old per-connection units
# gave it: they succeed, so the checks above can fail.
inj=$(sd_run "$R" getent group postern-inject | cut -d: -f3)
if sd_run "$R" setpriv --reuid="$uid" --regid="$gid" --groups="$inj" -- ls /var/spool/postern/new >/dev/null 2>&1; then
  ok "with postern-inject (the old units' session) new/ could be listed: the checks can tell"
else fail "with postern-inject (the old units' session) new/ could be listed"; fi
kill "$held" 2>/dev/null; wait "$held" 2>/dev/null
sd_run "$R" systemctl start postern-queue.service

# --- limits -------------------------------------------------------------------
# 100 idle connections from 127.0.0.1: smtpd_max_source_sessions (20)
# lets 20 in and answers the rest 421 4.7.0; 127.0.0.2 is served meanwhile.
"$SR" net "$R" timeout 60 $PY flood 100 127.0.0.1 25 >"$T/flood" 2>&1 &
flood=$!; at_exit "kill $flood 2>/dev/null"
wait_until 30 grep -q . "$T/flood"
read -r n first <"$T/flood"
is "100 idle connections from 127.0.0.1: 20 sessions (smtpd_max_source_sessions)" "20" "$n"
case "$first" in "421 4.7.0 "*) ok "listener: limits: the 21st gets 421 4.7.0 ($first)" ;;
  *) fail "listener: limits: the 21st gets 421 4.7.0" "$(cat "$T/flood")" ;; esac
if journal_has 'status=reject client=127.0.0.1 .*limit=smtpd_max_source_sessions'; then ok "the refusal is logged with the limit's name"
else fail "the refusal is logged with the limit's name" "$(sd_journal "$R" | tail -n 5)"; fi
out=$(timeout 30 "$SR" net "$R" swaks --server 127.0.0.1 --local-interface 127.0.0.2 --from someone@example.org \
  --to "alice@$HOST" --h-Subject "from 127.0.0.2" --timeout 20 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "meanwhile 127.0.0.2 is served: its message is queued" ;;
  *) fail "meanwhile 127.0.0.2 is served" "$(echo "$out" | tail -n 6)" ;; esac
kill "$flood" 2>/dev/null; wait "$flood" 2>/dev/null

# --- reload ---------------------------------------------------------------------
# An open session outlives a reload; the reload's new rate limit holds for
# new connections; a broken file is refused and the old one stays.
rm -f "$FL/reloaded"
"$SR" net "$R" timeout 40 $PY hup 127.0.0.4 "$FL/reloaded" >"$T/hup" 2>&1 &
hup=$!; at_exit "kill $hup 2>/dev/null"
wait_until 10 grep -q '^250' "$T/hup"
sd_conf "$R" $CONF smtpd_source_rate_limit=3
sd_run "$R" systemctl reload postern-smtpd.service
wait_until 10 journal_has 'status=reloaded'
touch "$FL/reloaded"
wait "$hup"
if grep -q '^250 2.0.0 Ok: queued as' "$T/hup" && journal_has 'smtp-listen: status=reloaded'; then
  ok "listener: reload (systemctl reload): the open session goes on and queues its message"
else fail "listener: reload (systemctl reload): the open session goes on" "$(cat "$T/hup")" "$(sd_journal "$R" | tail -n 5)"; fi
out=$("$SR" net "$R" timeout 30 $PY rate 5 127.0.0.3 2>&1)
is "after the reload, smtpd_source_rate_limit=3: the 4th connection in a minute gets 421 4.7.0" \
  "220 220 220 421 421" "$(echo "$out" | cut -c1-3 | tr '\n' ' ' | sed 's/ $//')"
if journal_has 'client=127.0.0.3 .*limit=smtpd_source_rate_limit'; then ok "the rate refusal names smtpd_source_rate_limit"
else fail "the rate refusal names smtpd_source_rate_limit" "$(sd_journal "$R" | tail -n 5)"; fi
echo "no_such_key = 1" >>"$R/etc/postern/postern.conf"
sd_run "$R" systemctl reload postern-smtpd.service
wait_until 10 journal_has 'status=reload-failed'
out=$(timeout 30 "$SR" net "$R" swaks --server 127.0.0.1 --local-interface 127.0.0.7 --from someone@example.org \
  --to "alice@$HOST" --h-Subject "after a bad reload" --timeout 20 2>&1)
if journal_has 'status=reload-failed.*no_such_key' && [ "$(sd_run "$R" systemctl is-active postern-smtpd.service)" = active ] &&
   echo "$out" | grep -q '250 2.0.0 Ok: queued as'; then
  ok "a broken postern.conf on reload: logged, the old one stays, mail goes on"
else fail "a broken postern.conf on reload: logged, the old one stays" "$(sd_journal "$R" | grep reload)" "$(echo "$out" | tail -n 4)"; fi
sd_conf "$R" $CONF
sd_run "$R" systemctl reload postern-smtpd.service

# --- a crashed session ------------------------------------------------------------
# A session killed by SIGSEGV (what a failed guess at the stack canary or
# an address ends in) makes the listener re-exec itself: same pid, same
# socket, a new address layout for every later session; the open sessions
# are still counted.
"$SR" net "$R" timeout 20 $PY idle 127.0.0.8 >"$T/crash1" 2>&1 &
c1=$!; at_exit "kill $c1 2>/dev/null"
wait_until 10 grep -q '^250' "$T/crash1"
lpid=$(sd_run "$R" systemctl show -p MainPID --value postern-smtpd.service)
base1=$(sd_sh "$R" "head -n 1 /proc/$lpid/maps" | cut -d- -f1)
victim=$(sd_run "$R" pgrep -P "$lpid" -x smtp-listen | head -n 1)
sd_run "$R" kill -SEGV "$victim"
wait_until 10 journal_has 'status=reexecuted'
base2=$(sd_sh "$R" "head -n 1 /proc/$lpid/maps" | cut -d- -f1)
if journal_has 'status=crash .*signal=11' && journal_has 'status=reexecuted' && [ "$(sd_run "$R" systemctl show -p MainPID --value postern-smtpd.service)" = "$lpid" ] \
   && [ -n "$base1" ] && [ "$base1" != "$base2" ]; then
  ok "a crashed session: logged, the listener re-executes (same pid, new layout $base1 -> $base2)"
else fail "a crashed session: the listener re-executes" "layout $base1 -> $base2" "$(sd_journal "$R" | tail -n 6)"; fi
is "after the re-exec the listener still holds CAP_SETGID alone" "0000000000000040 0000000000000040" \
  "$(status_of "$R" "$lpid" CapEff) $(status_of "$R" "$lpid" CapAmb)"
out=$(timeout 30 "$SR" net "$R" swaks --server 127.0.0.1 --local-interface 127.0.0.9 --from someone@example.org \
  --to "alice@$HOST" --h-Subject "after the re-exec" --timeout 20 2>&1)
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "after the re-exec mail is accepted" ;;
  *) fail "after the re-exec mail is accepted" "$(echo "$out" | tail -n 5)" ;; esac
kill "$c1" 2>/dev/null; wait "$c1" 2>/dev/null

# --- stop -------------------------------------------------------------------------
# A session in the middle of its message when the stop comes finishes it
# (250) and then gets 421; an idle session gets 421 at once; the service
# is gone once they are.
rm -f "$FL/stopping"
"$SR" net "$R" timeout 40 $PY stop 127.0.0.5 "$FL/stopping" >"$T/stop" 2>&1 &
st=$!; at_exit "kill $st 2>/dev/null"
"$SR" net "$R" timeout 40 $PY idle 127.0.0.6 >"$T/idle" 2>&1 &
id2=$!; at_exit "kill $id2 2>/dev/null"
wait_until 10 test -e "$FL/stopping"
wait_until 10 grep -q '^250' "$T/idle"
sd_run "$R" systemctl stop postern-smtpd.service &
stopper=$!
wait "$st"; wait "$id2"; wait "$stopper"
is "listener: stop: the message being sent is queued, then 421" "250 2.0.0 Ok: queued|421 4.3.2" \
  "$(sed -n '5p' "$T/stop" | cut -c1-20)|$(sed -n '6p' "$T/stop" | cut -c1-9)"
is "an idle session gets 421 at once" "421 4.3.2 Service shutting down; closing the connection" "$(sed -n '2p' "$T/idle")"
is "the listener service is stopped, the socket still listens" "inactive active" \
  "$(sd_run "$R" systemctl is-active postern-smtpd.service postern-smtpd.socket | tr '\n' ' ' | sed 's/ $//')"
out=$(smtp_send "$R" 127.0.0.1 someone@example.org "alice@$HOST" "after the stop")
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "the next connection starts the listener again" ;;
  *) fail "the next connection starts the listener again" "$(echo "$out" | tail -n 5)" ;; esac

sd_stop "$R"
