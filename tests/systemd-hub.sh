# tests/systemd-hub.sh - a hub under a real systemd: a Debian 12 root with
# `make install` + `make install-hub` in it (tools/install DESTDIR=...),
# booted as PID 1 in its own namespaces.  Shows: units verify clean inside;
# sysusers.d and tmpfiles.d make the users and the spool at boot with
# DESIGN.md's owners and modes; port 25 spawns smtp-receive as
# postern-smtpd: one smtp-listen (CAP_SETGID alone) forks the session with
# no capability and no spool group, and injector workers with the
# group; the message reaches a Maildir
# through the queue daemon (Type=notify) and local-deliver; the default
# configuration relays for nobody; ports 587 and 465 (enabled as
# install-hub says) require TLS and AUTH and deliver, with smtp-receive
# loading TLS under its hardening; an ordinary user can submit
# (/usr/sbin/sendmail, or the set-gid spool-inject while sendmail is not
# built) but cannot list or read the spool; mailq, newaliases and
# /usr/lib/sendmail work; `systemctl stop` during a delivery loses
# nothing, whether the delivery finishes or is killed; `systemd-analyze
# security` scores.  Root only; about 20 s.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.bash"
. "$TOP/tests/systemd-lib.bash"
sd_prereq "hub under systemd: boot" "port 25: smtp-listen and its session run as postern-smtpd" "delivery to a Maildir" \
  "ordinary user submits" "systemctl stop loses nothing"
[ -x "$B/queue-run" ] && [ -x "$B/local-deliver" ] || {
  skip "hub under systemd" "queue-run or local-deliver is not built"; exit 0; }
sd_root hub && R=$T/hub || { fail "unpack a Debian 12 root"; exit 1; }
HOST=mx.example.test

if sd_install "$R" install hub; then ok "install and install-hub into the root"
else fail "install and install-hub into the root" "$(cat "$T/install.log")"; exit 1; fi
sd_conf "$R" hostname=$HOST retry_min=1s log=auto \
  tls_cert_file=/etc/postern/tls/cert.pem tls_key_file=/etc/postern/tls/key.pem
# Submission (587, 465): a certificate whose key postern-smtpd may read
# (as postern.conf's comment says), and carol's password in the passwd map.
mkdir -p "$R/etc/postern/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$HOST" \
  -keyout "$R/etc/postern/tls/key.pem" -out "$R/etc/postern/tls/cert.pem" >"$T/openssl.log" 2>&1
chroot "$R" chgrp postern-smtpd /etc/postern/tls/key.pem; chmod 640 "$R/etc/postern/tls/key.pem"
echo "carol $(openssl passwd -6 'carol secret')" >"$R/etc/postern/passwd"
chroot "$R" chgrp postern-smtpd /etc/postern/passwd; chmod 640 "$R/etc/postern/passwd"
"$B/postern-maps" compile "$R/etc/postern/passwd" >/dev/null
# recipients: alice (Maildir), bob, and slowpoke whose .forward runs a slow
# program (allowed by program_dir), for the stop-during-delivery test
for u in alice bob slowpoke carol; do chroot "$R" useradd -m -s /bin/sh "$u"; done
cat >"$R/etc/postern/programs/slow" <<'EOF'
#!/bin/sh
# a delivery that takes $(cat ~/delay) seconds, then keeps the message
sleep "$(cat "$HOME/delay")"
cat >"$HOME/got.$$.tmp" && mv "$HOME/got.$$.tmp" "$HOME/got.$$"
EOF
chmod 755 "$R/etc/postern/programs/slow"
echo '|slow' >"$R/home/slowpoke/.forward"
chroot "$R" chown slowpoke: /home/slowpoke/.forward; chmod 644 "$R/home/slowpoke/.forward"

# Boot with neither the users nor the spool: sysusers.d and tmpfiles.d must
# make both, with the ids the installed files were given.
ids_before=$(grep '^postern' "$R/etc/passwd" | cut -d: -f1,3,4 | sort; grep '^postern' "$R/etc/group" | cut -d: -f1,3 | sort)
for f in passwd group shadow gshadow; do sed -i '/^postern-/d' "$R/etc/$f"; done
rm -rf "$R/var/spool/postern"

if sd_boot "$R"; then ok "hub under systemd: boot"; else fail "hub under systemd: boot" "$(tail -n 30 "$T/boot.log")"; exit 1; fi
P1=$("$SR" pid "$R")

# --- units, users, spool -------------------------------------------------
out=$(sd_sh "$R" 'systemd-analyze verify --man=no /lib/systemd/system/postern-*' 2>&1)
if [ -z "$out" ]; then ok "systemd-analyze verify clean for every unit inside the root"
else fail "systemd-analyze verify clean for every unit inside the root" "$out"; fi
ids_after=$(grep '^postern' "$R/etc/passwd" | cut -d: -f1,3,4 | sort; grep '^postern' "$R/etc/group" | cut -d: -f1,3 | sort)
is "sysusers.d made the users again at boot, same ids" "$ids_before" "$ids_after"
want="755 root root .
1770 postern-queue postern-inject tmp
1770 postern-queue postern-inject mess
1770 postern-queue postern-inject new
700 postern-queue postern-queue queue
700 postern-queue postern-queue state
700 postern-queue postern-queue corrupt
620 postern-queue postern-inject trigger"
is "tmpfiles.d made the spool at boot: owners and modes as DESIGN.md" "$want" \
  "$(sd_sh "$R" 'cd /var/spool/postern && for d in . tmp mess new queue state corrupt trigger; do stat -c "%a %U %G $d" $d; done')"
is "spool-inject installed 2755 root:postern-inject" "2755 root postern-inject" \
  "$(sd_run "$R" stat -c '%a %U %G' /usr/libexec/postern/spool-inject)"
is "port 25 and the queue daemon are active, the flush units are not" "active active inactive inactive" \
  "$(sd_run "$R" systemctl is-active postern-smtpd.socket postern-queue.service postern-flush.path postern-flush.timer | tr '\n' ' ' | sed 's/ $//')"

# --- the queue daemon's processes -----------------------------------------
qpid=$(sd_run "$R" systemctl show -p MainPID --value postern-queue.service)
qr_uid=$(status_of "$R" "$qpid" Uid); quid=$(sd_run "$R" id -u postern-queue)
is "queue-run runs as postern-queue with no capabilities" "$quid $quid $quid $quid 0000000000000000" \
  "$qr_uid $(status_of "$R" "$qpid" CapEff)"
rs=$(sd_run "$R" pgrep -x remote-spawn); ls=$(sd_run "$R" pgrep -x local-spawn)
suid=$(sd_run "$R" id -u postern-send)
is "remote-spawn runs as postern-send with no capabilities and no_new_privs" "$suid 0000000000000000 0000000000000000 1" \
  "$(status_of "$R" "$rs" Uid | cut -d' ' -f1) $(status_of "$R" "$rs" CapEff) $(status_of "$R" "$rs" CapPrm) $(status_of "$R" "$rs" NoNewPrivs)"
is "local-spawn keeps only CAP_SETUID CAP_SETGID CAP_DAC_READ_SEARCH CAP_KILL" "00000000000000e4 00000000000000e4" \
  "$(status_of "$R" "$ls" CapEff) $(status_of "$R" "$ls" CapBnd)"

# --- port 25 ----------------------------------------------------------------
# Hold one session open and look at the processes: the listener systemd
# started once (postern-smtpd.service), the session it forked for this
# connection, and an injector worker the listener keeps (the session's
# messages go to one of them).
"$SR" net "$R" timeout 20 python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", 25), timeout=10)
sys.stdout.write(s.recv(200).decode()); sys.stdout.flush(); time.sleep(8)' >"$T/banner" 2>&1 &
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_until 10 grep -q '^220 ' "$T/banner"
lpid=$(sd_run "$R" systemctl show -p MainPID --value postern-smtpd.service)
spid=$(sd_run "$R" pgrep -P "$lpid" -x smtp-listen | head -n 1)
hpid=$(sd_run "$R" pgrep -P "$lpid" -x spool-inject | head -n 1)
caps() { for k in CapEff CapPrm CapBnd CapAmb NoNewPrivs; do status_of "$R" "$1" $k; done | tr '\n' ' ' | sed 's/ $//'; }
if [ -n "$spid" ] && [ -n "$hpid" ] && [ "$lpid" != 0 ]; then
  smtpd_uid=$(sd_run "$R" id -u postern-smtpd); inj=$(sd_run "$R" getent group postern-inject | cut -d: -f3)
  is "port 25: smtp-listen and its session run as postern-smtpd" "$smtpd_uid $smtpd_uid $smtpd_uid $smtpd_uid|$smtpd_uid $smtpd_uid $smtpd_uid $smtpd_uid" \
    "$(status_of "$R" "$lpid" Uid)|$(status_of "$R" "$spid" Uid)"
  is "smtp-listen keeps CAP_SETGID alone (effective, permitted, bounding, ambient); NoNewPrivs" \
    "0000000000000040 0000000000000040 0000000000000040 0000000000000040 1" "$(caps "$lpid")"
  is "the session: no capability left (bounding set CAP_SETGID, unusable); NoNewPrivs" \
    "0000000000000000 0000000000000000 0000000000000040 0000000000000000 1" "$(caps "$spid")"
  is "an injector worker: no capability either" \
    "0000000000000000 0000000000000000 0000000000000040 0000000000000000 1" "$(caps "$hpid")"
  case " $(status_of "$R" "$lpid" Groups) " in *" $inj "*) ok "smtp-listen has postern-inject (to pass on)" ;;
    *) fail "smtp-listen has postern-inject (to pass on)" "$(status_of "$R" "$lpid" Groups)" ;; esac
  is "the session has no supplementary group: no spool group" "" "$(status_of "$R" "$spid" Groups)"
  case " $(status_of "$R" "$hpid" Groups) " in *" $inj "*) ok "an injector worker keeps postern-inject" ;;
    *) fail "an injector worker keeps postern-inject" "$(status_of "$R" "$hpid" Groups)" ;; esac
  case "$(sd_run "$R" cat /proc/"$spid"/cgroup)" in */postern-smtpd.service) ok "the session runs in the one postern-smtpd.service" ;;
    *) fail "the session runs in the one postern-smtpd.service" "$(sd_run "$R" cat /proc/"$spid"/cgroup)" ;; esac
  is "the session is in a seccomp filter" "2" "$(status_of "$R" "$spid" Seccomp)"
else
  fail "port 25 spawns smtp-receive as postern-smtpd" "banner: $(cat "$T/banner")" "listener $lpid session $spid worker $hpid" \
    "$(sd_run "$R" journalctl --no-pager -n 20)"
fi
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

maildir_count() { sd_sh "$R" "ls /home/$1/Maildir/new 2>/dev/null | wc -l"; }
has_mail() { [ "$(maildir_count "$1")" -ge 1 ]; }
out=$(smtp_send "$R" 127.0.0.1 someone@example.org "alice@$HOST" "over port 25")
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "port 25 accepts mail for a local user" ;;
  *) fail "port 25 accepts mail for a local user" "$(echo "$out" | tail -n 8)" ;; esac
if wait_until 15 has_mail alice; then ok "delivery to a Maildir: the message arrived in ~alice/Maildir/new"
else fail "delivery to a Maildir: the message arrived in ~alice/Maildir/new" "$(sd_journal "$R" | tail -n 15)"; fi
f=$(sd_sh "$R" 'ls /home/alice/Maildir/new | head -n 1')
is "the Maildir file belongs to alice" "alice" "$(sd_run "$R" stat -c %U "/home/alice/Maildir/new/$f")"
out=$(smtp_send "$R" 127.0.0.1 someone@example.org "victim@elsewhere.example" "relay attempt")
case "$out" in *"554 5.7.1"*) ok "the default configuration is no open relay (554 5.7.1)" ;;
  *) fail "the default configuration is no open relay" "$(echo "$out" | grep -E '^<' | tail -n 5)" ;; esac

# --- submission: ports 587 and 465 ---------------------------------------------
# Enabled the way install-hub tells the administrator to.
sd_run "$R" systemctl enable --now postern-submission.socket postern-smtps.socket >/dev/null 2>&1
is "postern-submission.socket and postern-smtps.socket listen" "active active" \
  "$(sd_run "$R" systemctl is-active postern-submission.socket postern-smtps.socket | tr '\n' ' ' | sed 's/ $//')"
sub() {   # sub PORT SUBJECT SWAKS-ARGS...: carol submits to bob
  local port=$1 subj=$2; shift 2
  timeout 30 "$SR" net "$R" swaks --server 127.0.0.1 --port "$port" --from "carol@$HOST" --to "bob@$HOST" \
    --h-Subject "$subj" --body "$subj" --timeout 20 "$@" 2>&1
}
out=$(sub 587 "no auth")
case "$out" in *"<** 530 5.7.0"*|*"<** 530 "*) ok "587 without AUTH: MAIL refused (530)" ;;
  *) fail "587 without AUTH: MAIL refused (530)" "$(echo "$out" | grep -E '^(<|\*\*\*)' | tail -n 4)" ;; esac
out=$(sub 587 "auth before tls" --auth PLAIN --auth-user carol --auth-password 'carol secret')
case "$out" in *"250 2.0.0 Ok: queued"*) fail "587: no AUTH before STARTTLS" "$(echo "$out" | tail -n 8)" ;;
  *) ok "587: no AUTH before STARTTLS" ;; esac
out=$(sub 587 "via 587" --tls --auth PLAIN --auth-user carol --auth-password 'carol secret')
case "$out" in *"<~  250 2.0.0 Ok: queued as"*) ok "587: STARTTLS, AUTH PLAIN, message queued" ;;
  *) fail "587: STARTTLS, AUTH PLAIN, message queued" "$(echo "$out" | grep -E '^(<|\*\*\*)' | tail -n 6)" ;; esac
out=$(sub 465 "via 465" --tlsc --auth LOGIN --auth-user carol --auth-password 'carol secret')
case "$out" in *"<~  250 2.0.0 Ok: queued as"*) ok "465: implicit TLS, AUTH LOGIN, message queued" ;;
  *) fail "465: implicit TLS, AUTH LOGIN, message queued" "$(echo "$out" | grep -E '^(<|\*\*\*)' | tail -n 6)" ;; esac
out=$(sub 465 "bad password" --tlsc --auth PLAIN --auth-user carol --auth-password wrong)
case "$out" in *"<~* 535 5.7.8"*) ok "465: a wrong password is refused (535 5.7.8)" ;;
  *) fail "465: a wrong password is refused (535 5.7.8)" "$(echo "$out" | grep -E '^(<|\*\*\*)' | tail -n 4)" ;; esac
subm() { sd_sh "$R" "grep -l '^Subject: via $1' /home/bob/Maildir/new/* 2>/dev/null" | head -n 1; }
if wait_until 15 subm 587 && wait_until 5 subm 465; then
  rcv=$(sd_sh "$R" "sed -n '/^Received:/{N;N;p;q}' $(subm 465)" | tr -s ' \t\n' ' ')
  case "$rcv" in *"with ESMTPSA"*"using TLS"*) ok "both submissions delivered; Received: says ESMTPSA using TLS" ;;
    *) fail "both submissions delivered; Received: says ESMTPSA using TLS" "$rcv" ;; esac
else fail "both submissions delivered to bob" "$(sd_journal "$R" | tail -n 8)"; fi
sd_sh "$R" 'rm -f /home/bob/Maildir/new/*'   # bob's Maildir counts again below

# --- an ordinary user submits -----------------------------------------------
# With the queue daemon stopped, so that the message stays in the spool
# where alice must not see it.
sd_run "$R" systemctl stop postern-queue.service
if [ -x "$R/usr/libexec/postern/sendmail" ]; then
  how=sendmail
  sd_run "$R" runuser -u alice -- sh -c "printf 'Subject: from alice\n\nhi bob\n' | /usr/sbin/sendmail bob@$HOST" >"$T/sub.out" 2>&1; rc=$?
  id=$(sd_sh "$R" 'ls -t /var/spool/postern/new | head -n 1')
else
  how="spool-inject (sendmail is not built yet)"
  sd_run "$R" runuser -u alice -- sh -c "printf 'V1\nFalice@$HOST\nTbob@$HOST\n\n' >/tmp/env; printf 'Subject: from alice\n\nhi bob\n' | /usr/libexec/postern/spool-inject 1</tmp/env" >"$T/sub.out" 2>&1; rc=$?
  id=$(sed -n 's/^250 2.0.0 Ok: queued as //p' "$T/sub.out")
fi
if [ "$rc" = 0 ] && [ -n "$id" ] && [ -f "$R/var/spool/postern/new/$id" ]; then ok "ordinary user submits with $how"
else fail "ordinary user submits with $how" "exit $rc" "$(cat "$T/sub.out")"; fi
for d in new mess tmp queue state; do
  if sd_run "$R" runuser -u alice -- ls "/var/spool/postern/$d" >/dev/null 2>&1; then fail "alice cannot list the spool's $d/"
  else ok "alice cannot list the spool's $d/"; fi
done
if [ -n "$id" ] && ! sd_run "$R" runuser -u alice -- cat "/var/spool/postern/new/$id" >/dev/null 2>&1; then
  ok "alice cannot read her queued message"
else fail "alice cannot read her queued message"; fi
# The installed sendmail names, once postern's front end is built: mailq
# (root may list the queue), newaliases, and /usr/lib/sendmail.
if [ "$how" = sendmail ]; then
  out=$(sd_run "$R" mailq 2>&1)
  case "$out" in *"$id"*) ok "mailq (linked to postern's sendmail) lists the queued message" ;;
    *) fail "mailq (linked to postern's sendmail) lists the queued message" "$out" ;; esac
  echo "team: alice, bob" >>"$R/etc/postern/aliases"
  out=$(sd_run "$R" newaliases 2>&1); rc=$?
  is "newaliases compiles the edited aliases" "0 alice, bob" "$rc $("$B/postern-maps" query "$R/etc/postern/aliases" team 2>&1)"
  sd_run "$R" runuser -u bob -- sh -c "printf 'Subject: via /usr/lib/sendmail\n\nhi team\n' | /usr/lib/sendmail team@$HOST" >"$T/sub2.out" 2>&1
  is "/usr/lib/sendmail queues mail from an ordinary user" "0" "$?"
else
  skip "mailq, newaliases and /usr/lib/sendmail" "postern's sendmail is not built yet"
fi
sd_run "$R" systemctl start postern-queue.service
if wait_until 15 has_mail bob; then ok "her message is delivered once the daemon runs again"
else fail "her message is delivered once the daemon runs again" "$(sd_journal "$R" | tail -n 10)"; fi
if [ "$how" = sendmail ]; then
  team() { [ "$(sd_sh "$R" 'grep -l "^Subject: via /usr/lib/sendmail" /home/alice/Maildir/new/* /home/bob/Maildir/new/* 2>/dev/null | wc -l')" = 2 ]; }
  if wait_until 15 team; then ok "the alias made by newaliases delivers to alice and bob"
  else fail "the alias made by newaliases delivers to alice and bob" "$(cat "$T/sub2.out")" "$(sd_journal "$R" | tail -n 10)"; fi
fi

# --- systemctl stop during a delivery -----------------------------------------
got() { sd_sh "$R" 'ls /home/slowpoke | grep -c "^got\.[0-9]*$"'; }
running() { sd_run "$R" pgrep -u slowpoke -x sleep; }
got_at_least() { [ "$(got)" -ge "$1" ]; }
queue_empty() { [ -z "$(sd_sh "$R" 'find /var/spool/postern/queue /var/spool/postern/new -mindepth 1')" ]; }
# (a) the delivery finishes within the stop timeout: delivered once
echo 3 >"$R/home/slowpoke/delay"
smtp_send "$R" 127.0.0.1 someone@example.org "slowpoke@$HOST" "slow one" >/dev/null
if wait_until 10 running; then
  sd_run "$R" systemctl stop postern-queue.service
  is "stop waits for a running delivery: delivered during the stop" "1" "$(got)"
  sd_run "$R" systemctl start postern-queue.service
  sleep 2
  is "and it is not delivered again after the restart" "1" "$(got)"
  if queue_empty; then ok "the queue is empty"; else fail "the queue is empty" "$(sd_sh "$R" 'find /var/spool/postern/queue /var/spool/postern/new -mindepth 1')"; fi
else fail "systemctl stop loses nothing: the slow delivery started" "$(sd_journal "$R" | tail -n 10)"; fi
# (b) the delivery is killed at the stop timeout: still queued, delivered
# after the restart
mkdir -p "$R/etc/systemd/system/postern-queue.service.d"
printf '[Service]\nTimeoutStopSec=2s\n' >"$R/etc/systemd/system/postern-queue.service.d/test.conf"
sd_run "$R" systemctl daemon-reload
echo 5 >"$R/home/slowpoke/delay"
smtp_send "$R" 127.0.0.1 someone@example.org "slowpoke@$HOST" "slow two" >/dev/null
if wait_until 10 running; then
  sd_run "$R" systemctl stop postern-queue.service
  is "a delivery killed by the stop timeout did not complete" "1" "$(got)"
  if ! queue_empty; then ok "the message is still queued after the stop"; else fail "the message is still queued after the stop"; fi
  sd_run "$R" systemctl start postern-queue.service
  if wait_until 20 got_at_least 2; then ok "systemctl stop loses nothing: delivered after the restart"
  else fail "systemctl stop loses nothing: delivered after the restart" "$(sd_journal "$R" | tail -n 15)"; fi
  wait_until 5 queue_empty
  if queue_empty; then ok "the queue is empty again"; else fail "the queue is empty again"; fi
else fail "systemctl stop loses nothing: the second slow delivery started" "$(sd_journal "$R" | tail -n 10)"; fi

# --- security scores (online, inside the root) ---------------------------------
for u in postern-smtpd.service postern-submission.service postern-smtps.service postern-queue.service postern-flush.service; do
  s=$(sd_run "$R" systemd-analyze security --no-pager "$u" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  case "$u" in postern-queue*|postern-flush*) l=2.8 ;; *) l=1.7 ;; esac
  if [ -n "$s" ] && awk -v s="$s" -v l="$l" 'BEGIN { exit !(s <= l) }'; then ok "systemd-analyze security $u: $s (limit $l)"
  else fail "systemd-analyze security $u at most $l" "score: ${s:-none}"; fi
done

# --- shut down ------------------------------------------------------------------
sd_stop "$R"
if kill -0 "$P1" 2>/dev/null; then fail "the booted root's PID 1 is gone"; else ok "the booted root's PID 1 is gone"; fi
