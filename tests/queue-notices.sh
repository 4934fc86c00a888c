# tests/queue-notices.sh - delivery notices and what they may say (issue
# 13): the bounce rate limit counts every address on its own and a notice
# it holds back is given up with its message after queue_lifetime (item
# 11); no "relayed" notice when the next hop took the DSN request, no
# internal route in a notice to the outside, dsn_success_notices = no
# (item 15); RFC 6533 notices for internationalized mail, and success
# notices that do not say where the mail went (item 19).
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
msg='From: s@x.test\nSubject: notice\n\nbody\n'
bounces_to() { grep -l "^Subject: Undelivered Mail" "$T/remote/"*.msg 2>/dev/null | xargs -r grep -l "^To: <$1>" | wc -l; }

# --- item 11: the rate limit, pinned to the middle of an hour (faketime)
if command -v faketime >/dev/null; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
  off=$(( 1800 - $(date +%s) % 3600 ))
  at() { local o=$1; shift; faketime -f "$( [ $((off + o)) -ge 0 ] && echo + )$((off + o))s" "$B/queue-run" -C "$T/conf" "$@" 2>>"$T/log"; }
  # two senders whose addresses fell into the same one of the old 256 slots
  read -r a b < <(python3 -c '
seen = {}
for i in range(1000):
    s = "s%d@x.test" % i
    h = 5381
    for c in s.encode(): h = (h * 33 + c) & 0xffffffffffffffff
    if h % 256 in seen: print(seen[h % 256], s); break
    seen[h % 256] = s')
  qr_conf bounce_rate_limit=1 queue_lifetime=2h retry_min=1m retry_max=1h
  rm -f "$T/remote/"*
  printf "$msg" | qr_inject "$a" fail-a1@far.test; at 0 --once
  printf "$msg" | qr_inject "$b" fail-b1@far.test; at 10 --once
  printf "$msg" | qr_inject "$a" fail-a2@far.test; at 20 --once
  is "rate limit: $a and $b (one slot before) are counted apart: one bounce each" "1 1" "$(bounces_to "$a") $(bounces_to "$b")"
  is "rate limit: the second bounce to $a is held back" 1 "$(qr_queue_count)"
  printf "$msg" | qr_inject "$a" fail-a3@far.test; at 30 --once
  is "rate limit: two notices to $a held back" 2 "$(qr_queue_count)"
  # past queue_lifetime (2 h): the next hour lets one through, the other
  # is given up with its message, logged
  at 9000 --once --all
  is "rate limit: past queue_lifetime one more bounce goes out" 2 "$(bounces_to "$a")"
  is "rate limit: the notice still held back is given up, the queue is empty" 0 "$(qr_queue_count)"
  grep -q "status=discarded to=$a reason=\"notice held back by bounce_rate_limit past queue_lifetime\"" "$T/log" \
    && ok "rate limit: the notice given up is logged" || fail "rate limit: given up and logged" "$(grep -i 'rate_limit' "$T/log" | tail -3)"
  qr_conf
else
  skip "bounce rate limit" "faketime is not installed"
fi

command -v python3 >/dev/null || { skip "notice contents" "python3 is not installed"; exit 0; }
cat >"$T/dsn.py" <<'PY'
# the facts of one notice: types of the parts, per-recipient fields
import sys, email
from email import policy
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=policy.compat32)
print("type:", m.get_content_type(), "report-type:", m.get_param("report-type"))
parts = m.get_payload()
print("parts:", " ".join(p.get_content_type() for p in parts))
print("human:", parts[0].get_payload(decode=True).decode("utf-8", "replace").replace("\n", " | "))
PY
notice_for() { grep -l "^To: <$1>" "$T/remote/"*.msg "$T/mail/"*/new/* 2>/dev/null | tail -1; }
qr_map virtual <<M
okbox@example.test $T/mail/okbox/
pm@example.test $T/mail/pm/
M
qr_map routes <<M
corp.test lmtp:unix:/run/secret/lmtp
M

# --- item 15: the next hop took the DSN request: no "relayed" notice
rm -f "$T/remote/"*
qr_inject_env "$(printf 'V1\nFs@x.test\nTsucc-passed@far.test\nNSUCCESS\nTsucc-plain@far.test\nNSUCCESS')" < <(printf "$msg")
qr_run --once
n=$(notice_for s@x.test)
is "NOTIFY=SUCCESS: one notice, for the recipient whose next hop lacks DSN" 1 "$(grep -l '^Subject: Successful' "$T/remote/"*.msg 2>/dev/null | wc -l)"
grep -q 'Final-Recipient: rfc822; succ-plain@far.test' "$n" 2>/dev/null && grep -q 'Action: relayed' "$n" \
  && ok "NOTIFY=SUCCESS: Action relayed for the hop without DSN" || fail "relayed for the hop without DSN" "$(cat "$n" 2>/dev/null)"
grep -q 'succ-passed@far.test' "$n" 2>/dev/null && fail "NOTIFY=SUCCESS: no notice for the recipient the next hop reports on" "$(cat "$n")" \
  || ok "NOTIFY=SUCCESS: no notice for the recipient the next hop reports on"
grep -q 'to=<succ-passed@far.test> .*status=sent' "$T/log" && ok "passed: the recipient is delivered" || fail "passed: delivered" "$(grep succ-passed "$T/log")"
is "passed: nothing left in the queue" 0 "$(qr_queue_count)"

# --- item 15: internal routes stay out of notices to the outside
rm -f "$T/remote/"*
printf "$msg" | qr_inject s@x.test fail-in@corp.test
qr_run --once
n=$(notice_for s@x.test)
grep -q 'lmtp:unix\|/run/secret' "$n" && fail "bounce to the outside: no internal route in it" "$(cat "$n")" || ok "bounce to the outside: no internal route in it"
grep -q '^Status: 5.1.1' "$n" && grep -q '^Final-Recipient: rfc822; fail-in@corp.test' "$n" && ! grep -q '^Diagnostic-Code:' "$n" \
  && ok "bounce to the outside: Status kept, the deliverer's text left out" || fail "bounce to the outside: Status, no Diagnostic-Code" "$(cat "$n")"
printf "$msg" | qr_inject pm@example.test fail-in2@corp.test
qr_run --once; qr_run --once
n=$(notice_for pm@example.test)
grep -q '^X-Postern-Destination: lmtp:unix:/run/secret/lmtp' "$n" 2>/dev/null && grep -q '^Diagnostic-Code: smtp; 550 5.1.1' "$n" \
  && ok "bounce to a local sender: the route and the text are given" || fail "bounce to a local sender: route named" "$(cat "$n" 2>/dev/null)"

# --- item 19: a success notice says delivered, not where
rm -f "$T/remote/"*
qr_inject_env "$(printf 'V1\nFs@x.test\nTokbox@example.test\nNSUCCESS')" < <(printf "$msg")
qr_run --once
n=$(notice_for s@x.test)
[ -n "$n" ] && ! grep -q "$T\|Maildir" "$n" && ok "success notice: no mailbox path in it" || fail "success notice: no mailbox path" "$(cat "$n" 2>/dev/null)"
case "$(python3 "$T/dsn.py" "$n" 2>&1)" in *"<okbox@example.test>: delivered |"*) ok "success notice: says delivered" ;; *) fail "success notice: says delivered" "$(python3 "$T/dsn.py" "$n" 2>&1)" ;; esac

# --- item 15: dsn_success_notices = no
rm -f "$T/remote/"*
qr_conf dsn_success_notices=no
qr_inject_env "$(printf 'V1\nFs@x.test\nTokbox@example.test\nNSUCCESS\nTsucc3@far.test\nNSUCCESS\nTsucc4@far.test\nNSUCCESS,FAILURE')" < <(printf "$msg")
qr_run --once
is "dsn_success_notices=no: no success notice" 0 "$(grep -l '^Subject: Successful' "$T/remote/"*.msg 2>/dev/null | wc -l)"
is "dsn_success_notices=no: the next hop gets no SUCCESS either" "1 1" \
  "$(cat "$T/remote/"*.args | grep -c "^succ3@far.test	NNEVER\$") $(cat "$T/remote/"*.args | grep -c "^succ4@far.test	NFAILURE\$")"
qr_conf dsn_success_notices=maybe
"$B/queue-run" -C "$T/conf" --once 2>"$T/err"; rc=$?
[ "$rc" = 78 ] && grep -q "bad value for 'dsn_success_notices'" "$T/err" && ok "dsn_success_notices: another value is a configuration error" || fail "dsn_success_notices: bad value" "exit $rc" "$(cat "$T/err")"
qr_conf

# --- item 19: RFC 6533 for internationalized mail
rm -f "$T/remote/"*
qr_inject_env "$(printf 'V1\nFs@x.test\nU\nTj\303\266rg-fail@far.test')" < <(printf 'From: s@x.test\nSubject: gr\303\274\303\237e\n\nbody\n')
qr_run --once
n=$(notice_for s@x.test)
out=$(python3 "$T/dsn.py" "$n" 2>&1)
case "$out" in *"report-type: global-delivery-status"*"parts: text/plain message/global-delivery-status message/global"*) ok "SMTPUTF8 bounce: global-delivery-status and message/global (RFC 6533)" ;;
  *) fail "SMTPUTF8 bounce: RFC 6533 types" "$out" ;; esac
grep -q "^Final-Recipient: utf-8; j$(printf '\303\266')rg-fail@far.test" "$n" && ok "SMTPUTF8 bounce: the utf-8 address type" || fail "SMTPUTF8 bounce: utf-8 address type" "$(grep Final "$n")"
grep -q '^X-Postern-Sender: rfc822; s@x.test' "$n" && ok "SMTPUTF8 bounce: an ASCII address keeps rfc822" || fail "ASCII address type" "$(grep Sender "$n")"
rm -f "$T/remote/"*
printf "$msg" | qr_inject s@x.test plain-fail@far.test
qr_run --once
out=$(python3 "$T/dsn.py" "$(notice_for s@x.test)" 2>&1)
case "$out" in *"report-type: delivery-status"*"parts: text/plain message/delivery-status message/rfc822"*) ok "ASCII bounce: RFC 3464 types as before" ;;
  *) fail "ASCII bounce: RFC 3464 types" "$out" ;; esac
