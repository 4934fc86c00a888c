# tests/demo.sh - the README's `make demo` job, run in a private sandbox:
# mail over SMTP reaches the Maildirs through the queue daemon, relaying and
# unknown users are refused, the null client's cron mail reaches alice
# through the hub with verified TLS and AUTH, and the message for the
# unreachable domain is the only one left, in the hub's queue listing.
. "$POSTERN_TOP/tests/lib.bash"
command -v systemd-socket-activate >/dev/null || { skip "demo" "systemd-socket-activate is not installed"; exit 0; }
sb=$T/sandbox
if is_root; then mkdir -p "$sb" && chown nobody "$sb"; fi
out=$(SANDBOX=$sb timeout -k 5 120 "$TOP/tools/demo" 2>&1)
rc=$?
is "demo exits 0" 0 "$rc"
[ "$rc" = 0 ] || { fail "demo output" "$out"; exit 0; }
case "$out" in *"554 5.7.1 Relay access denied"*) ok "demo shows relaying refused" ;;
  *) fail "demo shows relaying refused" "$out" ;; esac
case "$out" in *"550 5.1.1"*) ok "demo shows an unknown user refused at RCPT" ;;
  *) fail "demo shows an unknown user refused at RCPT" "$out" ;; esac
is "alice has the team message and the null client's" 2 "$(ls "$sb/mail/alice/Maildir/new" | wc -l)"
is "bob has the team message" 1 "$(ls "$sb/mail/bob/Maildir/new" | wc -l)"
grep -q '^Subject: disk check' "$sb"/mail/alice/Maildir/new/* && ok "the cron mail from the null client arrived" ||
  fail "the cron mail from the null client arrived" "$(cat "$sb"/mail/alice/Maildir/new/*)"
grep -q 'verified=yes' "$sb/client/log" && grep -q 'auth=PLAIN user=client status=ok' "$sb/client/log" &&
  ok "the null client verified the hub's certificate and authenticated" || fail "null client TLS and AUTH" "$(cat "$sb/client/log")"
is "the null client's queue is empty" 0 "$(ls "$sb/client/spool/queue" "$sb/client/spool/new" | grep -c '^[0-9]')"
is "the hub keeps one message (for unreachable.test)" 1 "$(ls "$sb/hub/spool/queue" | grep -c '^[0-9]')"
case "$out" in *"<dave@unreachable.test> pending, tries 1"*) ok "the queue listing shows the deferred recipient" ;;
  *) fail "the queue listing shows the deferred recipient" "$out" ;; esac
missing=""
for e in "$sb"/hub/spool/queue/*; do
  id=$(basename "$e")
  spool_body "$e" | grep -q . || missing="$missing $id"
done
is "every queued message has its body" "" "$missing"
for p in $(pgrep -f "$sb/" 2>/dev/null); do fail "demo left process $p running" "$(ps -o args= -p "$p")"; done
ok "demo left no process running"
