# tests/queue-dsn.sh - bounces and notices (RFC 3464) end to end: the DSN
# queue-run injects is delivered like any mail (here to the fake remote
# deliverer) and Python's email package must parse it as multipart/report;
# NOTIFY=NEVER/SUCCESS, ORCPT, ENVID, RET=HDRS/FULL and bounce_size_limit,
# double bounces to postmaster, a failing double bounce discarded, the
# bounce rate limit (kept across --once runs, lifted the next hour).
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
command -v python3 >/dev/null || { skip "DSN tests" "python3 is not installed"; exit 0; }

cat >"$T/dsn.py" <<'PY'
# print the facts of one DSN message file, one "key: value" per line
import sys, email
from email import policy
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=policy.compat32)
print("type:", m.get_content_type())
print("report-type:", m.get_param("report-type"))
print("from:", m["From"])
print("subject:", m["Subject"])
print("auto-submitted:", m["Auto-Submitted"])
parts = m.get_payload()
print("parts:", len(parts), " ".join(p.get_content_type() for p in parts))
ds = [p for p in parts if p.get_content_type() == "message/delivery-status"][0]
blocks = ds.get_payload()
print("per-message:", blocks[0]["Reporting-MTA"], "|", blocks[0]["Original-Envelope-Id"])
for b in blocks[1:]:
    print("rcpt:", b["Final-Recipient"], "|", b["Original-Recipient"], "|", b["Action"], "|", b["Status"], "|", b["Diagnostic-Code"])
third = parts[2]
if third.get_content_type() == "message/rfc822":
    print("returned-subject:", third.get_payload()[0]["Subject"])
    print("returned-body:", third.get_payload()[0].get_payload().strip())
else:
    print("returned-headers:", "Subject: boom" in third.get_payload())
PY

# last_notice: the newest message the fake remote got, and its arguments
last_notice() { ls -t "$T/remote/"*.msg 2>/dev/null | head -1; }
notice_args() { local m; m=$(last_notice); cat "${m%.msg}.args" | tr '\n' ' '; }

printf 'From: s@x.test\nSubject: boom\n\nthe body\n' >"$T/msg"
qr_inject_env "$(printf 'V1\nFs@x.test\nEenv+2Did\nRHDRS\nTfail1@far.test\nOrfc822;Orig+2Bfail1@far.test\nTok@far.test\nTfail2@far.test')" <"$T/msg"
qr_run --once
n=$(last_notice)
[ -n "$n" ] && out=$(python3 "$T/dsn.py" "$n" 2>&1) || out="no notice"
case "$(notice_args)" in "smtp:x.test  s@x.test "*) ok "bounce: null sender, to the original sender" ;;
  *) fail "bounce: null sender, to the original sender" "$(notice_args)" ;; esac
case "$out" in *"type: multipart/report"*"report-type: delivery-status"*) ok "bounce: Python parses a multipart/report" ;;
  *) fail "bounce: Python parses a multipart/report" "$out" ;; esac
case "$out" in *"parts: 3 text/plain message/delivery-status text/rfc822-headers"*) ok "bounce: text, delivery-status, returned headers" ;;
  *) fail "bounce: three parts" "$out" ;; esac
case "$out" in *"rcpt: rfc822; fail1@far.test | rfc822; Orig+fail1@far.test | failed | 5.1.1 | smtp; 550 5.1.1 no such user here"*) ok "bounce: per-recipient fields with ORCPT decoded" ;;
  *) fail "bounce: per-recipient fields" "$out" ;; esac
case "$out" in *"rcpt: rfc822; fail2@far.test"*) ok "bounce: both failures in one report" ;; *) fail "bounce: both failures in one report" "$out" ;; esac
case "$out" in *"rcpt: rfc822; ok@far.test"*) fail "bounce: the delivered recipient is not in it" "$out" ;; *) ok "bounce: the delivered recipient is not in it" ;; esac
case "$out" in *"per-message: dns; mx.example.test | env-id"*) ok "bounce: Reporting-MTA and ENVID" ;; *) fail "bounce: Reporting-MTA and ENVID" "$out" ;; esac
case "$out" in *"from: Mail Delivery System <MAILER-DAEMON@mx.example.test>"*"auto-submitted: auto-replied"*"returned-headers: True"*) ok "bounce: From MAILER-DAEMON, Auto-Submitted, original headers (RET=HDRS)" ;;
  *) fail "bounce: From MAILER-DAEMON, Auto-Submitted, original headers" "$out" ;; esac
is "bounce: queue empty afterwards" 0 "$(qr_queue_count)"

rm -f "$T/remote/"*
qr_inject_env "$(printf 'V1\nFs@x.test\nRFULL\nTfail3@far.test')" <"$T/msg"
qr_run --once
out=$(python3 "$T/dsn.py" "$(last_notice)" 2>&1)
case "$out" in *"returned-subject: boom"*"returned-body: the body"*) ok "bounce: RET=FULL returns the message as message/rfc822" ;;
  *) fail "bounce: RET=FULL" "$out" ;; esac
rm -f "$T/remote/"*
qr_inject s@x.test fail3b@far.test <"$T/msg"
qr_run --once
out=$(python3 "$T/dsn.py" "$(last_notice)" 2>&1)
case "$out" in *"parts: 3 text/plain message/delivery-status message/rfc822"*"returned-body: the body"*) ok "bounce: without RET the whole message under bounce_size_limit" ;;
  *) fail "bounce: default return under bounce_size_limit" "$out" ;; esac
grep -q '^X-Postern-Destination:' "$(last_notice)" && fail "bounce: no destination named to an outside sender (queue-notices.sh: to a local one)" "$(cat "$(last_notice)")" || ok "bounce: no destination named to an outside sender (queue-notices.sh: to a local one)"
b=$(sed -n 's/.*boundary="\(.*\)"/\1/p' "$(last_notice)")
case "$b" in *[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*.report) ok "bounce: MIME boundary has a random part" ;; *) fail "bounce: boundary" "$b" ;; esac
rm -f "$T/remote/"*
qr_conf bounce_size_limit=100
qr_inject_env "$(printf 'V1\nFs@x.test\nRFULL\nTfail3c@far.test')" <<M
From: s@x.test
Subject: boom

$(head -c 300 /dev/zero | tr '\0' 'y')
M
qr_run --once
out=$(python3 "$T/dsn.py" "$(last_notice)" 2>&1)
case "$out" in *"parts: 3 text/plain message/delivery-status text/rfc822-headers"*"returned-headers: True"*) ok "bounce: an original over bounce_size_limit returns its header only, even with RET=FULL" ;;
  *) fail "bounce: bounce_size_limit" "$out" ;; esac
grep -q yyyyyyyy "$(last_notice)" && fail "bounce: no body over bounce_size_limit" || ok "bounce: no body over bounce_size_limit"
qr_conf

rm -f "$T/remote/"*
qr_inject_env "$(printf 'V1\nFs@x.test\nTfail4@far.test\nNNEVER\nTsucc@far.test\nNSUCCESS')" <"$T/msg"
qr_run --once
is "NOTIFY: NEVER gives no bounce, SUCCESS one notice (2 runs: the mail, the notice)" 2 "$(ls "$T/remote/"*.msg | wc -l)"
out=$(python3 "$T/dsn.py" "$(last_notice)" 2>&1)
case "$out" in *"rcpt: rfc822; succ@far.test | None | relayed | 2.0.0"*) ok "NOTIFY=SUCCESS: Action relayed, Status 2.0.0" ;; *) fail "NOTIFY=SUCCESS" "$out" ;; esac
case "$out" in *fail4*) fail "NOTIFY=NEVER recipient not reported" "$out" ;; *) ok "NOTIFY=NEVER recipient not reported" ;; esac

# NOTIFY=SUCCESS for a local delivery: Action delivered
rm -f "$T/remote/"*
qr_map virtual <<M
okbox@example.test $T/mail/okbox/
M
qr_inject_env "$(printf 'V1\nFs@x.test\nTokbox@example.test\nNSUCCESS,FAILURE')" <"$T/msg"
qr_run --once
out=$(python3 "$T/dsn.py" "$(last_notice)" 2>&1)
case "$out" in *"subject: Successful Mail Delivery Report"*"rcpt: rfc822; okbox@example.test | None | delivered | 2.0.0"*) ok "NOTIFY=SUCCESS, local: Action delivered" ;; *) fail "NOTIFY=SUCCESS local" "$out" ;; esac

# an injector that refuses the bounce: the message keeps it owed and
# sends it at a later pass
rm -f "$T/remote/"*
qr_conf injector=/bin/false
printf 'Subject: owed\n\nx\n' | qr_inject s@x.test owed-fail@far.test
qr_run --once
grep -q 'status=error reason="the injector refused a notice"' "$T/log" && ok "injector refuses a bounce: logged" || fail "injector refusal log" "$(tail -3 "$T/log")"
case "$(qr_run --list)" in *"<owed-fail@far.test> failed"*) ok "injector refuses a bounce: the message stays, the recipient failed with the bounce owed" ;; *) fail "owed bounce listing" "$(qr_run --list)" ;; esac
qr_conf
qr_run --once --all
is "the owed bounce goes out once the injector works" "0 1" "$(qr_queue_count) $(cat "$T/remote/"*.msg 2>/dev/null | grep -c 'Final-Recipient: rfc822; owed-fail@far.test')"

# a failing bounce (null sender) goes to postmaster as a double bounce
qr_map virtual <<M
pm@example.test $T/mail/pm/
M
qr_map aliases <<M
postmaster: pm@example.test
M
printf 'Subject: bounce\n\nx\n' | qr_inject "" fail5@far.test
qr_run --once
f=$(ls "$T/mail/pm/new/"* 2>/dev/null | head -1)
[ -n "$f" ] && out=$(python3 "$T/dsn.py" "$f" 2>&1) || out="no double bounce"
case "$out" in *"rcpt: rfc822; fail5@far.test"*"failed"*) ok "double bounce: delivered to postmaster" ;; *) fail "double bounce to postmaster" "$out" ;; esac
grep -q '^Return-Path: <>' "$f" 2>/dev/null && ok "double bounce: null sender" || fail "double bounce: null sender"

qr_map aliases <<M
postmaster: pmfail@far.test
M
printf 'Subject: bounce\n\nx\n' | qr_inject "" fail6@far.test
qr_run --once
grep -q 'status=discarded reason="undeliverable double bounce"' "$T/log" && ok "double bounce: a failing double bounce is discarded, no loop" || fail "failing double bounce" "$(tail -8 "$T/log")"
is "double bounce: nothing left in the queue" 0 "$(qr_queue_count)"

# bounce_rate_limit: the second bounce to the same sender waits in the
# queue, also in the next --once run of the same hour (the count is kept in
# state/bounce-rate), and goes out in the next hour.  The clock is ours
# (faketime), in the middle of an hour.
if command -v faketime >/dev/null; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
  off=$(( 1800 - $(date +%s) % 3600 ))
  at() { local o=$1; shift; faketime -f "$( [ $((off + o)) -ge 0 ] && echo + )$((off + o))s" "$B/queue-run" -C "$T/conf" "$@" 2>>"$T/log"; }
  qr_conf bounce_rate_limit=1 retry_min=1m
  rm -f "$T/remote/"*
  printf 'Subject: one\n\nx\n' | qr_inject r@x.test fail7@far.test
  at 0 --once
  printf 'Subject: two\n\nx\n' | qr_inject r@x.test fail8@far.test
  at 60 --once
  is "rate limit: one bounce sent, the other message held" 1 "$(qr_queue_count)"
  grep -q 'reason="notice held back by bounce_rate_limit"' "$T/log" && ok "rate limit: logged" || fail "rate limit: logged" "$(tail -5 "$T/log")"
  at 600 --once --all
  is "rate limit: still held in a later --once run of the same hour" 1 "$(qr_queue_count)"
  is "rate limit: one bounce so far" 1 "$(cat "$T/remote/"*.msg | grep -c '^Action: failed')"
  next=$(qr_run --list --machine | awk -F'\t' '$1 == "R" { print $6 }')
  [ $(( (next) % 3600 )) = 0 ] && ok "rate limit: the held bounce waits for the next hour" || fail "rate limit: next try" "$next"
  at 1900 --once
  is "rate limit: the next hour the bounce goes out" 0 "$(qr_queue_count)"
  is "rate limit: two bounces in all" 2 "$(cat "$T/remote/"*.msg | grep -c '^Action: failed')"
else
  skip "bounce rate limit" "faketime is not installed"
fi
