#!/bin/bash
# milter.sh - smtpd_milters and non_smtpd_milters with scripted milters
# (tests/scripted-milter.py, python3-milter, i.e. the real libmilter):
# macros, reject at RCPT, tempfail, a custom multi-line reply, discard,
# quarantine (held, listed, released, deleted), header add / insert /
# change / delete checked byte for byte in the queue, an action postern
# refuses (change sender), a slow milter (timeout, both default actions),
# a milter that drops the connection after asking for a change (nothing
# half-changed is queued), two milters in a chain, and sendmail's path.
. "$(dirname "$0")/lib.bash"
. "$TOP/queue-run/tests/qr.bash"

PY=/usr/bin/python3
$PY -c 'import Milter' 2>/dev/null || { skip "milters" "python3-milter not installed"; exit 0; }
command -v systemd-socket-activate >/dev/null || { skip "milters" "systemd-socket-activate not installed"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

qr_setup
echo "127.0.0.1 RELAY" | qr_map access

wait_port() {
  local i; for i in $(seq 100); do
    $PY -c "import socket; socket.create_connection(('127.0.0.1',$1)).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# milter MODE [ARG]: a scripted milter on a fresh port; its port in $MP
milter() {
  MP=$(free_port)
  MILTER_LOG=$T/mlog $PY "$TOP/tests/scripted-milter.py" "inet:$MP@127.0.0.1" "$@" 2>>"$T/milter.err" &
  local pid=$!
  at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  wait_port "$MP" || fail "scripted milter $1 starts"
}

# conf KEY=VALUE...: the test config with these settings
conf() { qr_conf smtpd_verify_recipients=no "$@"; }

P25=$(free_port)
conf
systemd-socket-activate --inetd -a -E ASAN_OPTIONS -E POSTERN_CONF -l "127.0.0.1:$P25" "$B/smtp-receive" -C "$T/conf" 2>>"$T/log" &
lpid=$!
at_exit "kill $lpid 2>/dev/null; wait $lpid 2>/dev/null"
wait_port "$P25" || { fail "smtp-receive listens"; exit 0; }

# send MSGFILE RCPT...: one SMTP transaction; prints each reply, one a line
send() {
  $PY - "$P25" "$@" <<'PY'
import smtplib, sys
port, msgfile, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = smtplib.SMTP("127.0.0.1", port, timeout=60)
s.ehlo("client.test")
code, text = s.mail("sender@client.test")
print(code, text.decode())
ok = 0
for r in rcpts:
    code, text = s.rcpt(r)
    print(code, text.decode())
    ok += code == 250
if ok:
    code, text = s.data(open(msgfile, "rb").read().replace(b"\n", b"\r\n"))
    print(code, text.decode().replace("\n", "|"))
s.quit()
PY
}
count() { ls "$T/spool/new" "$T/spool/queue" 2>/dev/null | grep -c '^[0-9]'; }
newest() { ls "$T/spool/new" | sort | tail -n 1; }

printf 'Subject: plain\nFrom: sender@client.test\n\nhello\n' >"$T/plain"

# macros and the stages: what the milter saw
milter accept
conf smtpd_milters="inet:127.0.0.1:$MP"
n0=$(count)
out=$(send "$T/plain" a@far.test)
is "accept: queued" "$((n0 + 1))" "$(count)"
id=$(newest)
grep -q "connect .* j=mx.example.test daemon_name=mx client_addr=127.0.0.1" "$T/mlog" && ok "macros j, {daemon_name}=mx, {client_addr} at CONNECT" || fail "connect macros" "$(cat "$T/mlog")"
grep -q "^data i=$id\$" "$T/mlog" && grep -q "^eom i=$id\$" "$T/mlog" && ok "queue id i at DATA and at the end of the message, the id that was queued" ||
  fail "i macro" "id $id" "$(cat "$T/mlog")"
grep -q "^rcpt <a@far.test> rcpt_addr=a@far.test" "$T/mlog" && grep -q "^mail <sender@client.test> mail_addr=sender@client.test" "$T/mlog" &&
  ok "{mail_addr} and {rcpt_addr}" || fail "mail/rcpt macros" "$(cat "$T/mlog")"
grep -q "^header Received: 'from client.test (localhost \[127.0.0.1\])" "$T/mlog" && ok "our Received: header is the first header the milter sees" || fail "Received: to the milter" "$(cat "$T/mlog")"

# reject at RCPT: the milter's text, per recipient
: >"$T/mlog"
milter rejectrcpt
conf smtpd_milters="inet:127.0.0.1:$MP"
n0=$(count)
out=$(send "$T/plain" bad@far.test good@far.test)
case "$out" in *"550 5.7.1 milter says no to <bad@far.test>"*"250 2.1.5 Ok"*"250 2.0.0 Ok: queued"*) ok "reject at RCPT: the milter's reply for that recipient, the other accepted" ;;
  *) fail "reject at RCPT" "$out" ;; esac
id=$(newest)
grep -q '^Tgood@far.test$' "$T/spool/new/$id" && ! grep -q 'bad@' "$T/spool/new/$id" && ok "reject at RCPT: only the accepted recipient is queued" ||
  fail "reject at RCPT envelope" "$(cat "$T/spool/new/$id")"

# tempfail, custom reply, discard: nothing queued
for mode in tempfail reply discard; do
  milter $mode
  conf smtpd_milters="inet:127.0.0.1:$MP"
  n0=$(count)
  out=$(send "$T/plain" a@far.test)
  case $mode:$out in
    tempfail:*"451 4.7.1 Service unavailable"*) ok "tempfail at the end of the data: 451" ;;
    reply:*"554 5.7.1 first line|5.7.1 second line"*) ok "custom multi-line reply passed on (554-5.7.1 first line / 554 5.7.1 second line)" ;;
    discard:*"250 2.0.0 Ok: discarded"*) ok "discard: 250" ;;
    *) fail "$mode reply" "$out" ;;
  esac
  is "$mode: nothing queued" "$n0" "$(count)"
done
grep -q 'status=discarded' "$T/log" && grep -q 'milter=inet:127.0.0.1:[0-9]* status=discard' "$T/log" && ok "discard is logged" || fail "discard log" "$(tail -5 "$T/log")"

# quarantine: queued with the Q tag, held, listed, released, delivered
milter quarantine
conf smtpd_milters="inet:127.0.0.1:$MP"
printf 'Subject: q\n\nquarantined body\n' >"$T/qmsg"
n0=$(count)
out=$(send "$T/qmsg" q@far.test)
is "quarantine: queued" "$((n0 + 1))" "$(count)"
qid=$(newest)
grep -q '^Qheld by the test milter$' "$T/spool/new/$qid" && ok "quarantine: the envelope has Q with the reason" || fail "quarantine tag" "$(cat "$T/spool/new/$qid")"
rm -f "$T/remote/"*
qr_run --once
grep -lq 'quarantined body' "$T/remote/"*.msg 2>/dev/null && fail "quarantine: nothing is delivered" "$(ls "$T/remote")" || ok "quarantine: held, nothing delivered"
out=$(qr_run --list)
case "$out" in *"$qid"*"quarantined: held by the test milter"*) ok "quarantine: mailq shows it as quarantined" ;; *) fail "mailq quarantine" "$out" ;; esac
qr_run --release "$qid"
grep -q "id=$qid status=released" "$T/log" && ! grep -q '^Q' "$T/spool/queue/$qid" 2>/dev/null && ok "queue-run --release ID: released, the tag gone" ||
  fail "release" "$(tail -3 "$T/log")" "$(cat "$T/spool/queue/$qid" 2>&1)"
grep -lq 'quarantined body' "$T/remote/"*.msg 2>/dev/null && ok "quarantine: delivered after the release" || { qr_run --once; grep -lq 'quarantined body' "$T/remote/"*.msg 2>/dev/null && ok "quarantine: delivered after the release" || fail "delivery after release" "$(ls "$T/remote")" "$(tail -5 "$T/log")"; }
out=$(send "$T/plain" q2@far.test)
qid2=$(newest)
qr_run --once
qr_run --delete "$qid2"
[ ! -e "$T/spool/queue/$qid2" ] && [ ! -e "$T/spool/mess/$qid2" ] && ok "queue-run --delete ID removes a quarantined message" || fail "delete quarantined" "$(ls "$T/spool/queue")"

# header changes, byte for byte: add at the end, insert at index 1, change
# Subject, delete X-Drop; everything else (folding, spacing) unchanged
milter headers
conf smtpd_milters="inet:127.0.0.1:$MP"
printf 'DKIM-Signature: v=1; a=rsa-sha256; d=client.test;\n\t b=folded   value;\nSubject:  original  subject\nX-Drop: remove me\nFrom: "Sender" <sender@client.test>\nX-Odd:no-space\n\nbody line 1\n\nbody line 3   \n' >"$T/hdr"
out=$(send "$T/hdr" h@far.test)
hid=$(newest)
# the queued message: our Received: (3 lines), then the expected header
{
  printf 'X-Inserted: inserted at 1\n'
  printf 'DKIM-Signature: v=1; a=rsa-sha256; d=client.test;\n\t b=folded   value;\n'
  printf 'Subject: changed subject\n'
  printf 'From: "Sender" <sender@client.test>\nX-Odd:no-space\nX-Added: added value\n\nbody line 1\n\nbody line 3   \n'
} >"$T/hdr.want"
head -3 "$(body_of "$hid")" | grep -q '^Received: from client.test' && ok "headers: our Received: stays first" || fail "Received first" "$(head -5 "$(body_of "$hid")")"
tail -n +4 "$(body_of "$hid")" >"$T/hdr.got"
same_file "headers: add, insert at 1, change, delete applied; every other byte unchanged" "$T/hdr.want" "$T/hdr.got"

# the same through BDAT chunks (sendmail -bs style, on stdin)
n0=$(count)
out=$(printf 'EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<b@far.test>\r\nBDAT 20\r\nSubject: hi\r\nX-Drop:BDAT 12 LAST\r\n y\r\n\r\nbody\r\nQUIT\r\n' |
      "$B/smtp-receive" -C "$T/conf" -bs 2>>"$T/log")
case "$out" in *"250 2.0.0 Ok: queued"*) ok "BDAT: queued through the milter" ;; *) fail "BDAT" "$out" ;; esac
printf 'X-Inserted: inserted at 1\nSubject: changed subject\nX-Added: added value\n\nbody\n' >"$T/bdat.want"
tail -n +4 "$(body_of "$(newest)")" >"$T/bdat.got"
same_file "BDAT: header changes applied (a folded field deleted whole)" "$T/bdat.want" "$T/bdat.got"

# an action postern does not carry out: libmilter refuses the negotiation
# when postern does not offer it; a milter that declares it anyway (as
# rspamd does) and uses it gets a temporary failure and a log line
milter chgfrom
conf smtpd_milters="inet:127.0.0.1:$MP"
n0=$(count)
out=$(send "$T/plain" a@far.test)
case "$out" in 451\ 4.7.1*) ok "change sender (libmilter): negotiation fails, 451 at MAIL" ;; *) fail "chgfrom" "$out" ;; esac
is "change sender (libmilter): nothing queued" "$n0" "$(count)"
milter rawchgfrom
conf smtpd_milters="inet:127.0.0.1:$MP"
out=$(send "$T/plain" a@far.test)
case "$out" in *"250 2.1.5"*"451 4.7.1"*) ok "change sender used anyway: 451 at the end of the data" ;; *) fail "rawchgfrom" "$out" ;; esac
is "change sender used anyway: nothing queued" "$n0" "$(count)"
grep -q 'status=tempfail detail="the milter asked for an action postern does not support' "$T/log" && ok "change sender used anyway: logged" || fail "chgfrom log" "$(grep milter= "$T/log" | tail -3)"

# a slow milter: content timeout; tempfail by default, accept when asked
milter slow 4
conf smtpd_milters="inet:127.0.0.1:$MP,content=1"
n0=$(count)
out=$(send "$T/plain" a@far.test)
case "$out" in *"451 4.7.1"*) ok "slow milter: timeout gives 451 (default_action=tempfail)" ;; *) fail "slow tempfail" "$out" ;; esac
is "slow milter: nothing queued" "$n0" "$(count)"
grep -q 'status=tempfail detail="timeout waiting for the milter"' "$T/log" && ok "slow milter: timeout logged" || fail "timeout log" "$(grep milter= "$T/log" | tail -3)"
milter slow 4
conf smtpd_milters="inet:127.0.0.1:$MP,content=1,default_action=accept"
out=$(send "$T/plain" a@far.test)
case "$out" in *"250 2.0.0 Ok: queued"*) ok "slow milter with default_action=accept: queued" ;; *) fail "slow accept" "$out" ;; esac
grep -q 'X-Slow' "$(body_of "$(newest)")" && fail "slow milter: its late change is not applied" || ok "slow milter: its late change is not applied"
grep -q 'status=skipped detail="timeout waiting for the milter"' "$T/log" && ok "slow milter skipped: logged" || fail "skipped log" "$(grep milter= "$T/log" | tail -3)"

# a milter that drops the connection after asking for a header
milter close
conf smtpd_milters="inet:127.0.0.1:$MP"
n0=$(count)
out=$(send "$T/plain" a@far.test)
case "$out" in *"451 4.7.1"*) ok "connection dropped mid-changes: 451" ;; *) fail "close tempfail" "$out" ;; esac
is "connection dropped mid-changes: nothing queued" "$n0" "$(count)"
milter close
conf smtpd_milters="inet:127.0.0.1:$MP" milter_default_action=accept
out=$(send "$T/plain" a@far.test)
case "$out" in *"250 2.0.0 Ok: queued"*) ! grep -q 'X-Half' "$(body_of "$(newest)")" && ok "connection dropped, default accept: queued without the half-made change" || fail "half change committed" "$(cat "$(body_of "$(newest)")")" ;;
  *) fail "close accept" "$out" ;; esac

# two milters in a chain: both changes, in order; the first refusal wins
milter tag one; m1=$MP
milter tag two; m2=$MP
milter tempfail; m3=$MP
conf smtpd_milters="inet:127.0.0.1:$m1 inet:127.0.0.1:$m2"
out=$(send "$T/plain" a@far.test)
got=$(grep '^X-Tag' "$(body_of "$(newest)")" | tr '\n' ' ')
is "chain: both milters' headers, in order" "X-Tag: one X-Tag: two " "$got"
conf smtpd_milters="inet:127.0.0.1:$m1 inet:127.0.0.1:$m3"
n0=$(count)
out=$(send "$T/plain" a@far.test)
case "$out" in *"451 4.7.1"*) ok "chain: the second milter's tempfail refuses the message" ;; *) fail "chain tempfail" "$out" ;; esac
is "chain: nothing queued when the second refuses" "$n0" "$(count)"

# a milter that is not there: tempfail (default), or skipped (accept)
dead=$(free_port)
conf smtpd_milters="inet:127.0.0.1:$dead"
out=$(send "$T/plain" a@far.test)
case "$out" in 451\ 4.7.1*) ok "milter down: 451 at MAIL" ;; *) fail "milter down" "$out" ;; esac
conf smtpd_milters="inet:127.0.0.1:$dead" milter_default_action=accept
out=$(send "$T/plain" a@far.test)
case "$out" in *"250 2.0.0 Ok: queued"*) ok "milter down, default accept: queued" ;; *) fail "milter down accept" "$out" ;; esac
conf smtpd_milters="inet:127.0.0.1:$dead,bogus=1"
out=$(send "$T/plain" a@far.test)
case "$out" in 451\ 4.3.5*) ok "bad smtpd_milters entry: 451 configuration error" ;; *) fail "bad entry" "$out" ;; esac

# sendmail: non_smtpd_milters, {daemon_name}=local
: >"$T/mlog"
milter headers
conf non_smtpd_milters="inet:127.0.0.1:$MP"
n0=$(count)
printf 'Subject: from sendmail\nX-Drop: x\n\nlocal body\n' | "$B/sendmail" -C "$T/conf" -f sender@example.test s@far.test 2>>"$T/log"
is "sendmail: queued" "$((n0 + 1))" "$(count)"
f=$(body_of "$(newest)")
grep -q '^Subject: changed subject$' "$f" && grep -q '^X-Added: added value$' "$f" && ! grep -q '^X-Drop' "$f" && ok "sendmail: the milter's header changes are queued" || fail "sendmail changes" "$(cat "$f")"
grep -q "daemon_name=local" "$T/mlog" && ok "sendmail: {daemon_name}=local" || fail "sendmail daemon_name" "$(head -3 "$T/mlog")"
milter reply
conf non_smtpd_milters="inet:127.0.0.1:$MP"
n0=$(count)
out=$(printf 'Subject: x\n\nbody\n' | "$B/sendmail" -C "$T/conf" -f sender@example.test s@far.test 2>&1); rc=$?
is "sendmail: a milter's refusal is not queued" "$n0" "$(count)"
case "$rc:$out" in 77:*"554"*"first line"*) ok "sendmail: refusal exits 77 with the milter's reply" ;; *) fail "sendmail refusal" "$rc $out" ;; esac
milter discard
conf non_smtpd_milters="inet:127.0.0.1:$MP"
n0=$(count)
printf 'Subject: x\n\nbody\n' | "$B/sendmail" -C "$T/conf" -f sender@example.test s@far.test 2>>"$T/log"; rc=$?
is "sendmail: discard exits 0, nothing queued" "0 $n0" "$rc $(count)"
