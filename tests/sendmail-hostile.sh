# tests/sendmail-hostile.sh - sendmail(8) against hostile input and broken
# surroundings: header injection through -f, -F, recipients and every
# option value (refused with 64, nothing queued), over-long arguments,
# failures of spool-inject and of a filter giving the right exit status,
# the -oe modes (print, quiet, mail back, dead.letter, exit 0), and
# submission while queue-run is stopped or not running at all.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/spool-inject/sendmail/tests/sendmail.bash"
sm_setup
mkdir -p "$T/roothome"
export HOME=$T/roothome

files_in_spool() { ls "$T/spool/new" "$T/spool/mess" "$T/spool/tmp" | grep -c '^[0-9]'; }

# --- header injection through arguments, with exact bytes from Python
cat >"$T/inject.py" <<'PY'
import os, subprocess, sys
sm, spool = sys.argv[1], sys.argv[2]
def count():
    return sum(len([f for f in os.listdir(os.path.join(spool, d)) if f[0].isdigit()]) for d in ("new", "mess", "tmp"))
vectors = [
    ("newline in -f", ["-f", "a@b.test\nBcc: evil@x.test", "bob@example.test"]),
    ("CRLF in glued -f", ["-fa@b.test\r\nBcc: evil@x.test", "bob@example.test"]),
    ("newline in -r", ["-r", "a@b.test\nX: y", "bob@example.test"]),
    ("newline in -F", ["-F", "Name\nBcc: evil@x.test", "bob@example.test"]),
    ("CR in glued -F", ["-FName\rBcc: evil@x.test", "bob@example.test"]),
    ("newline in a recipient", ["bob@example.test\nevil@x.test"]),
    ("CR in a recipient", ["bob@example.test\r"]),
    ("newline in a recipient after --", ["--", "bob@example.test\nTevil@x.test"]),
    ("TAB in a recipient", ["bob@example.test\tx"]),
    ("DEL in a recipient", ["bob@example.test\x7f"]),
    ("newline in -N", ["-N", "never\nTevil@x.test", "bob@example.test"]),
    ("newline in -R", ["-R", "full\nTevil@x.test", "bob@example.test"]),
    ("newline in -V", ["-V", "id\nTevil@x.test", "bob@example.test"]),
    ("newline in -B", ["-B", "8BITMIME\nTevil@x.test", "bob@example.test"]),
    ("newline in -o", ["-o", "i\nx", "bob@example.test"]),
    ("newline in -O", ["-O", "ErrorMode=m\nx", "bob@example.test"]),
    ("newline in -L", ["-L", "label\nx", "bob@example.test"]),
    ("newline in -C", ["-C", "/etc/postern\n/x", "bob@example.test"]),
    ("newline in -h", ["-h", "1\n2", "bob@example.test"]),
    ("newline in -q", ["-qR\nx"]),
    ("newline in -t's -f", ["-t", "-f", "x@y.test\n"]),
]
for name, args in vectors:
    before = count()
    r = subprocess.run([sm] + args, input=b"Subject: x\n\nbody\n", capture_output=True)
    err = r.stderr.decode(errors="replace")
    if r.returncode == 64 and "control character" in err and count() == before:
        print("ok - injection refused (64, nothing queued): " + name)
    else:
        print("not ok - injection refused (64, nothing queued): " + name)
        print("# exit %d, spool %d -> %d: %s" % (r.returncode, before, count(), err))
PY
python3 "$T/inject.py" "$SM" "$T/spool"

# --- over-long and malformed arguments
n0=$(files_in_spool)
long=$(head -c 5000 /dev/zero | tr '\0' a)
echo x | sm "$long@example.test"; is "a 5000-byte argument: 64" 64 "$?"
echo x | sm "$(head -c 70 /dev/zero | tr '\0' a)@example.test"; is "a 70-byte local part: 64" 64 "$?"
grep -q 'local part too long' "$T/sm.err" && ok "a 70-byte local part: says why" || fail "local part message" "$(cat "$T/sm.err")"
echo x | sm -F "$(head -c 300 /dev/zero | tr '\0' n)" bob; is "a 300-byte -F: 64" 64 "$?"
echo x | sm -f "$(head -c 300 /dev/zero | tr '\0' s)@example.test" bob; is "a 300-byte -f: 64" 64 "$?"
echo x | sm -V "$(head -c 101 /dev/zero | tr '\0' v)" bob; is "a 101-byte -V: 64" 64 "$?"
echo x | sm -f 'a@b.test, c@d.test' bob; is "two senders in -f: 64" 64 "$?"
echo x | sm 'bob@example.test <'; is "a broken recipient list: 64" 64 "$?"
echo x | sm '<>'; is "the null address as recipient: 64" 64 "$?"
echo x | sm; is "no recipients without -t: 64" 64 "$?"
grep -q 'no recipients' "$T/sm.err" && ok "no recipients: says so" || fail "no recipients message" "$(cat "$T/sm.err")"
echo x | sm -y bob; is "unknown flag: 64" 64 "$?"
grep -q 'unknown flag -y' "$T/sm.err" && ok "unknown flag: named" || fail "unknown flag named" "$(cat "$T/sm.err")"
echo x | sm -bz; is "unknown -b mode: 64" 64 "$?"
echo x | sm -f; is "a flag without its value: 64" 64 "$?"
is "nothing queued by any of them" "$n0" "$(files_in_spool)"

# --- failures of the injector: exit status and reply passed on
cat >"$T/progs/filter" <<SH
#!/bin/sh
# a filter: refuses "EICAR", fails temporarily on "TEMPFAIL", dies on "KILLME", else queues
tmp=\$(mktemp); cat >"\$tmp"
if grep -q EICAR "\$tmp"; then rm -f "\$tmp"; echo "554 5.7.1 virus found" >&2; exit 65; fi
if grep -q TEMPFAIL "\$tmp"; then rm -f "\$tmp"; echo "451 4.7.1 scanner busy" >&2; exit 75; fi
if grep -q KILLME "\$tmp"; then rm -f "\$tmp"; kill -9 \$\$; fi
exec "$B/spool-inject" <"\$tmp"
SH
chmod 755 "$T/progs/filter"
qr_conf "injector=$T/progs/filter"
printf 'Subject: clean\n\nhello\n' | sm bob
is "filter: a clean message is queued (0)" 0 "$?"
printf 'Subject: x\n\nEICAR\n' | sm bob
is "filter refuses: its exit code (65)" 65 "$?"
grep -q '^sendmail: 554 5.7.1 virus found$' "$T/sm.err" && ok "filter refuses: its reply on stderr" || fail "filter reply" "$(cat "$T/sm.err")"
printf 'Subject: x\n\nTEMPFAIL\n' | sm bob
is "filter fails temporarily: 75" 75 "$?"
printf 'Subject: x\n\nKILLME\n' | sm bob
is "filter killed by a signal: 75 (temporary)" 75 "$?"
qr_conf "injector=$T/nonexistent"
printf 'Subject: x\n\nx\n' | sm bob
is "injector missing: 71 (temporary)" 71 "$?"
grep -q 'Unable to run the injector' "$T/sm.err" && ok "injector missing: says so" || fail "injector missing message" "$(cat "$T/sm.err")"
qr_conf
mv "$T/spool" "$T/spool.away"
printf 'Subject: x\n\nx\n' | sm bob
is "spool-inject cannot enter the spool: 75" 75 "$?"
grep -q '^sendmail: 451 4.3.0 Unable to enter the spool' "$T/sm.err" && ok "spool-inject's reply passed on" || fail "spool reply" "$(cat "$T/sm.err")"
mv "$T/spool.away" "$T/spool"
cp "$T/conf" "$T/conf.good"
echo "no_such_key = 1" >>"$T/conf"
printf 'Subject: x\n\nx\n' | sm bob
is "a broken configuration: 78 (temporary)" 78 "$?"
cp "$T/conf.good" "$T/conf"
qr_conf

# --- the -oe modes
qr_conf "injector=$T/progs/filter"
printf 'Subject: x\n\nEICAR\n' | sm -oeq bob
rc=$?
is "-oeq: exit code kept" 65 "$rc"
grep -v 'status=failed' "$T/sm.err" | grep -q . && fail "-oeq: nothing on stderr but the log line" "$(cat "$T/sm.err")" || ok "-oeq: nothing on stderr but the log line"

rm -f "$HOME/dead.letter"
printf 'Subject: keep me\n\nTEMPFAIL line\n.\nFrom here\n' | sm -oem -i bob
is "-oem, temporary failure: 75" 75 "$?"
grep -q 'saved in .*dead.letter' "$T/sm.err" && ok "-oem, temporary failure: says where the message is" || fail "-oem dead.letter message" "$(cat "$T/sm.err")"
if grep -q '^Subject: keep me$' "$HOME/dead.letter" 2>/dev/null && grep -q '^>From here$' "$HOME/dead.letter" && head -1 "$HOME/dead.letter" | grep -q "^From $ME@example.test "; then
  ok "-oem, temporary failure: the message is in ~/dead.letter (mbox, >From quoted)"
else fail "-oem dead.letter content" "$(cat "$HOME/dead.letter" 2>&1)"; fi
is "dead.letter is private (0600)" 600 "$(stat -c %a "$HOME/dead.letter")"

qr_conf "message_size_limit=3k"
printf 'Subject: too big for us\n\n%s\n' "$(head -c 4000 /dev/zero | tr '\0' b)" | sm -oem bob
is "-oem, permanent failure: exit code kept (65)" 65 "$?"
grep -q "returned to <$ME@example.test>" "$T/sm.err" && ok "-oem, permanent failure: says it was mailed back" || fail "-oem mail back message" "$(cat "$T/sm.err")"
qr_conf
sm_deliver
f=$(sm_last rootbox)
if [ -n "$f" ] && grep -q '^Subject: Undelivered Mail: your message was not queued$' "$f" && grep -q '552 5.3.4' "$f" \
   && grep -q '^Subject: too big for us$' "$f" && grep -q '^Return-Path: <>$' "$f"; then
  ok "-oem, permanent failure: the caller gets the reason and his message, from the null sender"
else fail "-oem mail back content" "$(cat "$f" 2>&1)"; fi

qr_conf "injector=$T/progs/filter"
rm -f "$HOME/dead.letter"
printf 'Subject: virus\n\nEICAR\n' | sm -oem bob
is "-oem, refused by a filter that refuses the notice too: 65" 65 "$?"
grep -q '^Subject: virus$' "$HOME/dead.letter" 2>/dev/null && ok "-oem: a notice that cannot be queued either: dead.letter" || fail "-oem fallback" "$(cat "$T/sm.err")"
printf 'Subject: x\n\nTEMPFAIL\n' | sm -oee bob
is "-oee: exit 0 once the message is kept" 0 "$?"
printf 'Subject: x\n\nTEMPFAIL\n' | sm -O ErrorMode=e bob
is "-O ErrorMode=e: the same" 0 "$?"
if is_root; then
  printf 'Subject: x\n\nTEMPFAIL\n' | setpriv --reuid="$U" --regid="$U" --clear-groups env HOME=/proc "$SM" -oee bob 2>"$T/sm.err"
else
  printf 'Subject: x\n\nTEMPFAIL\n' | HOME=/proc "$SM" -oee bob 2>"$T/sm.err"
fi
is "-oee: nowhere to keep it: the failure's code, not 0" 75 "$?"
grep -q 'unable to save the message' "$T/sm.err" && ok "-oee: nowhere to keep it: says so" || fail "-oee unable to save" "$(cat "$T/sm.err")"
qr_conf

# --- submission while queue-run is stopped, and while it is not running
n0=$(sm_queued)
for i in 1 2 3; do printf 'Subject: while stopped %d\n\nx\n' "$i" | sm alice; done
is "no queue-run at all: three messages queued" "$((n0 + 3))" "$(sm_queued)"
"$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
qpid=$!
at_exit "kill -CONT $qpid 2>/dev/null; kill $qpid 2>/dev/null; wait $qpid 2>/dev/null"
wait_for() { local i n=$1; shift; for i in $(seq $((n * 20))); do "$@" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
wait_for 10 sh -c "[ \$(ls '$T/mail/alice/new' 2>/dev/null | wc -l) -ge 3 ]" && ok "the daemon delivers what waited" || fail "daemon delivery" "$(tail "$T/log")"
kill -STOP $qpid
start=$(date +%s%N)
printf 'Subject: while the daemon is stopped\n\nx\n' | timeout 10 "$SM" alice 2>"$T/sm.err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "queue-run stopped (SIGSTOP): sendmail still queues (0)" 0 "$rc"
[ "$ms" -lt 3000 ] && ok "queue-run stopped: sendmail does not wait for it (${ms} ms)" || fail "sendmail waited for a stopped daemon" "${ms} ms"
kill -CONT $qpid
wait_for 10 sh -c "[ \$(ls '$T/mail/alice/new' | wc -l) -ge 4 ]" && ok "queue-run continued: delivered" || fail "delivery after SIGCONT" "$(tail "$T/log")"
kill $qpid; wait $qpid 2>/dev/null
