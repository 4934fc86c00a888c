# tests/systemd-nullclient.sh - a null client under a real systemd: `make
# install` + `make install-nullclient` in a Debian 12 root, booted as PID 1.
# Shows: nothing listens and no queue daemon runs; postern-flush.path
# delivers mail within seconds of its submission by an ordinary user, with
# no daemon left running afterwards (locally, and to the smarthost named by
# relayhost: Postfix's smtp-sink in the root's network namespace); the
# timer runs the flush and so retries deferred mail; mail deferred before
# a power cut leaves at the next boot without anyone running sendmail -q
# (the timer is persistent); the timer fires every 15 minutes and once
# after boot.  Root only; about 15 s.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.bash"
. "$TOP/tests/systemd-lib.bash"
sd_prereq "null client under systemd: boot" "the path unit flushes new mail" "the timer runs the flush"
[ -x "$B/queue-run" ] && [ -x "$B/local-deliver" ] || {
  skip "null client under systemd" "queue-run or local-deliver is not built"; exit 0; }
sd_root null && R=$T/null || { fail "unpack a Debian 12 root"; exit 1; }
HOST=client.example.test
SINK_PORT=2525

if sd_install "$R" install nullclient; then ok "install and install-nullclient into the root"
else fail "install and install-nullclient into the root" "$(cat "$T/install.log")"; exit 1; fi
# local_delivery = yes: this null client keeps its own users' mail (as an
# administrator may choose), to show the path unit's local deliveries; the
# default (auto: nothing local on a null client) is shown with the sink
sd_conf "$R" hostname=$HOST "relayhost=[127.0.0.1]:$SINK_PORT" relayhost_tls_policy=none retry_min=1s local_delivery=yes
for u in alice carol; do chroot "$R" useradd -m -s /bin/sh "$u"; done
# Its own `ip netns` namespace, which outlives a reboot of the root, so
# the smarthost can be listening before the root boots again.
NS=pt$$-null
ip netns add "$NS" && at_exit "ip netns del $NS 2>/dev/null" && ip -n "$NS" link set lo up
if sd_boot "$R" "$NS"; then ok "null client under systemd: boot"; else fail "null client under systemd: boot" "$(tail -n 30 "$T/boot.log")"; exit 1; fi

is "the flush path and timer are active, no listener, no queue daemon" "active active inactive inactive inactive inactive" \
  "$(sd_run "$R" systemctl is-active postern-flush.path postern-flush.timer postern-smtpd.socket postern-submission.socket \
      postern-smtps.socket postern-queue.service | tr '\n' ' ' | sed 's/ $//')"
is "nothing listens on TCP" "" "$(sd_run "$R" ss -Hltn)"
if sd_net "$R" timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/25' 2>/dev/null; then fail "port 25 refuses connections"
else ok "port 25 refuses connections"; fi

# submit AS-USER RCPT SUBJECT: queue one message the way a local program
# does (sendmail when built, else the set-gid spool-inject); prints the id
submit() {
  if [ -x "$R/usr/libexec/postern/sendmail" ]; then
    sd_run "$R" runuser -u "$1" -- sh -c "printf 'Subject: $3\n\n$3\n' | /usr/sbin/sendmail '$2'" >>"$T/submit.log" 2>&1
  else
    sd_run "$R" runuser -u "$1" -- sh -c "printf 'V1\nF$1@$HOST\nT$2\n\n' >/tmp/env.\$\$; printf 'Subject: $3\n\n$3\n' | /usr/libexec/postern/spool-inject 1</tmp/env.\$\$" >>"$T/submit.log" 2>&1
  fi
}
no_daemon() { [ "$(sd_run "$R" systemctl is-active postern-flush.service)" = inactive ] && ! sd_run "$R" pgrep -x queue-run >/dev/null; }
has_mail() { [ -n "$(sd_sh "$R" "ls /home/$1/Maildir/new 2>/dev/null")" ]; }

# --- the path unit: local mail --------------------------------------------
start=$SECONDS
if submit alice "carol@$HOST" "local via path"; then ok "alice submits"; else fail "alice submits" "$(cat "$T/submit.log")"; fi
if wait_until 10 has_mail carol; then ok "the path unit flushes new mail: delivered to carol in $((SECONDS - start)) s"
else fail "the path unit flushes new mail: delivered to carol" "$(sd_journal "$R" | tail -n 15)"; fi
if wait_until 10 no_daemon; then ok "no queue-run left running after the flush"
else fail "no queue-run left running after the flush" "$(sd_run "$R" ps -ef)"; fi
if sd_run "$R" journalctl --no-pager -q -u postern-flush.service | grep -q 'Finished postern-flush.service\|Deactivated successfully'; then
  ok "the flush ran as postern-flush.service"
else fail "the flush ran as postern-flush.service" "$(sd_run "$R" journalctl --no-pager -q -u postern-flush.service | tail -n 5)"; fi

# --- the path unit and the timer: mail to the smarthost ----------------------
if [ ! -x "$R/usr/libexec/postern/remote-send" ]; then
  skip "the path unit relays to the smarthost" "remote-send is not built yet"
  skip "the timer runs the flush and retries deferred mail" "remote-send is not built yet"
else
  mkdir -p "$T/sink"; chmod 777 "$T/sink"
  sink_on() {
    ip netns exec "$NS" timeout 120 smtp-sink -u nobody -d "$T/sink/%s." "127.0.0.1:$SINK_PORT" 10 >>"$T/sink.log" 2>&1 &
    sink=$!; at_exit "kill $sink 2>/dev/null"
    wait_until 5 ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$SINK_PORT"
  }
  sink_off() { kill "$sink" 2>/dev/null; wait "$sink" 2>/dev/null; }
  sink_has() { grep -lq "Subject: $1" "$T"/sink/* 2>/dev/null; }
  sink_on
  # the default, local_delivery = auto: a null client delivers nothing
  # itself; its host's own name goes to the smarthost like anything else
  sd_conf "$R" hostname=$HOST "relayhost=[127.0.0.1]:$SINK_PORT" relayhost_tls_policy=none retry_min=1s
  submit alice "carol@$HOST" "own name to the smarthost"
  if wait_until 15 sink_has "own name to the smarthost"; then ok "local_delivery auto: mail to the host's own name goes to the smarthost"
  else fail "local_delivery auto: mail to the host's own name goes to the smarthost" "$(sd_journal "$R" | tail -n 10)"; fi
  wait_until 10 no_daemon
  start=$SECONDS
  submit alice bob@example.org "remote via path"
  if wait_until 15 sink_has "remote via path"; then ok "the path unit relays to the smarthost in $((SECONDS - start)) s"
  else fail "the path unit relays to the smarthost" "$(sd_journal "$R" | tail -n 15)"; fi
  wait_until 10 no_daemon
  # Smarthost down: the path unit's flush defers the message.
  sink_off
  submit alice dave@example.org "deferred then timer"
  deferred() { sd_journal "$R" | grep -q 'to=<dave@example.org>.*status=deferred'; }
  if wait_until 15 deferred; then ok "with the smarthost down the mail is deferred"
  else fail "with the smarthost down the mail is deferred" "$(sd_journal "$R" | tail -n 10)"; fi
  wait_until 10 no_daemon
  sink_on
  # The timer, made to fire 2 s after it is restarted instead of at the
  # next quarter hour, runs the flush, which retries the deferred mail.
  mkdir -p "$R/etc/systemd/system/postern-flush.timer.d"
  printf '[Timer]\nOnCalendar=\nOnBootSec=\nRandomizedDelaySec=0\nAccuracySec=1s\nOnActiveSec=2s\n' >"$R/etc/systemd/system/postern-flush.timer.d/test.conf"
  sd_run "$R" systemctl daemon-reload
  sd_run "$R" systemctl restart postern-flush.timer
  if wait_until 20 sink_has "deferred then timer"; then ok "the timer runs the flush and retries deferred mail"
  else fail "the timer runs the flush and retries deferred mail" "$(sd_journal "$R" | tail -n 10)" \
    "$(sd_run "$R" systemctl status --no-pager postern-flush.timer 2>&1 | tail -n 5)"; fi
  last=$(sd_run "$R" systemctl show -p LastTriggerUSec --value postern-flush.timer)
  case "$last" in ""|n/a|0) fail "the timer recorded its trigger" "$last" ;; *) ok "the timer recorded its trigger ($last)" ;; esac
  rm -r "$R/etc/systemd/system/postern-flush.timer.d"; sd_run "$R" systemctl daemon-reload

  # Mail deferred before a power cut leaves at the next boot by itself:
  # the machine was off through a scheduled flush, so the persistent timer
  # runs it at once.  Only the random delay (up to a minute, to spread
  # many clients) is taken out for the test.
  sink_off
  submit alice erin@example.org "deferred before the reboot"
  deferred2() { sd_journal "$R" | grep -q 'to=<erin@example.org>.*status=deferred'; }
  if wait_until 15 deferred2 && wait_until 10 no_daemon; then ok "with the smarthost down, mail is deferred before the reboot"
  else fail "with the smarthost down, mail is deferred before the reboot" "$(sd_journal "$R" | tail -n 5)"; fi
  sd_stop "$R"   # power cut: PID 1 killed, nothing shut down cleanly
  if [ -n "$(find "$R/var/spool/postern/queue" -mindepth 1)" ]; then ok "the deferred mail is still in queue/ after the power cut"
  else fail "the deferred mail is still in queue/ after the power cut" "$(find "$R/var/spool/postern")"; fi
  mkdir -p "$R/var/lib/systemd/timers" "$R/etc/systemd/system/postern-flush.timer.d"
  touch -d '-1 hour' "$R/var/lib/systemd/timers/stamp-postern-flush.timer"
  printf '[Timer]\nRandomizedDelaySec=0\n' >"$R/etc/systemd/system/postern-flush.timer.d/test.conf"
  sink_on
  start=$SECONDS
  if sd_boot "$R" "$NS"; then ok "the null client boots again"
  else fail "the null client boots again" "$(tail -n 20 "$T/boot.log")"; fi
  if wait_until 20 sink_has "deferred before the reboot"; then
    ok "mail deferred before a reboot leaves at boot (persistent timer), $((SECONDS - start)) s after boot began"
  else fail "mail deferred before a reboot leaves at boot (persistent timer)" "$(sd_journal "$R" | tail -n 10)" \
    "$(sd_run "$R" systemctl status --no-pager postern-flush.timer 2>&1 | tail -n 5)"; fi
  age=$(( $(date +%s) - $(stat -c %Y "$R/var/lib/systemd/timers/stamp-postern-flush.timer") ))
  if [ "$age" -lt 60 ]; then ok "the timer fired at boot (its stamp is $age s old, was an hour)"
  else fail "the timer fired at boot" "stamp age $age s"; fi
  sink_off
fi

# --- the timer as installed: every 15 min, once after boot --------------------
tm=$(sd_run "$R" systemctl show -p TimersMonotonic -p TimersCalendar -p Persistent postern-flush.timer)
case "$tm" in *"OnBootUSec"*"1min"*) ok "the timer fires once after boot" ;; *) fail "the timer fires once after boot" "$tm" ;; esac
case "$tm" in *"OnCalendar"*"*-*-* *:00/15:00"*) ok "the timer fires every 15 minutes" ;; *) fail "the timer fires every 15 minutes" "$tm" ;; esac
case "$tm" in *"Persistent=yes"*) ok "the timer is persistent" ;; *) fail "the timer is persistent" "$tm" ;; esac
sd_stop "$R"
