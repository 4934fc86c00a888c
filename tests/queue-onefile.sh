# tests/queue-onefile.sh - one-file messages (lib/spool.h: a head line,
# the envelope, a hole, the body at the head's offset) written by hand
# with spool_put_message and delivered by queue-run --once: to a Maildir,
# an mbox and a |program (local-deliver) and over SMTP (remote-send to
# server.py, several messages over one connection, one envelope longer
# than a page), each body byte for byte with nothing of the head or the
# envelope before it; a spool holding both layouts at once; a malformed
# head moved to corrupt/ whole; --list sizes; a quarantined one-file
# message released (rewritten whole) and delivered; a bounce quoting the
# body whole.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
qr_setup
chmod 755 "$T"
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
wait_ready() { local i; for i in $(seq 50); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

PORT=$(free_port)
mkdir -p "$T/srv"; is_root && chown "$U" "$T/srv"
python3 "$TOP/remote-send/tests/server.py" --out "$T/srv" --log "$T/srv.log" 127.0.0.1 "$PORT" >"$T/srv.out" 2>&1 &
at_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
wait_ready "$T/srv.out" || { fail "server.py" "$(cat "$T/srv.out")"; exit 0; }

qr_conf remote_deliverer="$B/remote-send" destination_concurrency_limit=1 smtp_connection_reuse_time=5
echo "far.test smtp:[127.0.0.1]:$PORT" | qr_map routes
qr_map virtual <<M
box@example.test $T/mail/box/
mb@example.test $T/mail/mb
M
printf '#!/bin/sh\ncat > "%s/prog.out"\n' "$T/mail" >"$T/progs/rec"
chmod 755 "$T/progs/rec"
echo 'prog: "|rec"' | qr_map aliases

# put_old DIR ID ENVELOPE_FILE BODY_FILE: a message of the older layout
# (the body in mess/, the envelope committed through tmp/ into new/)
put_old() { cp "$4" "$1/mess/$2" && cp "$3" "$1/tmp/$2" && chmod 644 "$1/mess/$2" "$1/tmp/$2" && mv "$1/tmp/$2" "$1/new/$2"; }

# wire_check OUTDIR BODY...: each body reached the server as DATA (CRLF,
# dot-stuffed), exactly; "missing FILE" for each that did not
wire_check() {
  python3 - "$@" <<'PY'
import os, sys
out, bodies = sys.argv[1], sys.argv[2:]
got = []
for f in os.listdir(out):
    d = open(os.path.join(out, f), 'rb').read()
    got.append(d.split(b'\n\n', 1)[1] if b'\n\n' in d else b'')
for b in bodies:
    lines = open(b, 'rb').read().split(b'\n')[:-1]
    w = b''.join((b'.' + l if l.startswith(b'.') else l) + b'\r\n' for l in lines)
    if w not in got: print('missing', b)
PY
}

# the bodies: dots and "From " at line starts, 8-bit, one over two pages
printf 'From: s@far.test\nSubject: one file\n\nFrom the start\n.leading dot\n8-bit: gr\303\274\303\237e\nlast\n' >"$T/b1"
{ printf 'Subject: large\n\n'; for i in $(seq 200); do printf 'line %03d of a body longer than two pages of memory, %s\n' "$i" "......"; done; } >"$T/b2"
printf 'Subject: third\n\n.\n..\nend\n' >"$T/b3"
for i in 1 2 3; do cp "$T/b$i" "$T/o$i"; printf 'older layout %s\n' "$i" >>"$T/o$i"; done
env_of() { printf 'V1\nFs@far.test\n'; local r; for r in "$@"; do printf 'T%s\n' "$r"; done; printf '\n'; }

# --- one-file messages to every kind of delivery
env_of box@example.test >"$T/e1"; spool_put_message "$T/spool" 1700000001.000001.1 "$T/e1" "$T/b1"
env_of mb@example.test >"$T/e2"; spool_put_message "$T/spool" 1700000001.000002.1 "$T/e2" "$T/b1"
env_of prog@example.test >"$T/e3"; spool_put_message "$T/spool" 1700000001.000003.1 "$T/e3" "$T/b1"
env_of r1@far.test >"$T/e4"; spool_put_message "$T/spool" 1700000001.000004.1 "$T/e4" "$T/b1"
env_of r2@far.test >"$T/e5"; spool_put_message "$T/spool" 1700000001.000005.1 "$T/e5" "$T/b2"
# an envelope longer than a page: the body at 8192
long=(); for i in $(seq 60); do long+=("$(printf 'recipient-with-a-rather-long-local-part-to-fill-the-page-%02d@far.test' "$i")"); done
env_of "${long[@]}" >"$T/e6"; spool_put_message "$T/spool" 1700000001.000006.1 "$T/e6" "$T/b3"
is "a long envelope puts the body at 8192" "postern-message 1 0000008192" "$(head -c 28 "$T/spool/new/1700000001.000006.1")"
qr_run --once
is "one file: everything delivered, the queue empty" 0 "$(qr_queue_count)"
f=$(ls "$T/mail/box/new/"* 2>/dev/null | head -1)
{ printf 'Return-Path: <s@far.test>\nDelivered-To: box@example.test\n'; cat "$T/b1"; } >"$T/want"
[ -n "$f" ] && same_file "one file -> Maildir: the headers, then the body byte for byte" "$T/want" "$f" || fail "one file -> Maildir" "$(tail "$T/log")"
{ printf 'Return-Path: <s@far.test>\nDelivered-To: mb@example.test\n'; sed 's/^\(>*From \)/>\1/' "$T/b1"; printf '\n'; } >"$T/want"
tail -n +2 "$T/mail/mb" >"$T/got" 2>/dev/null
head -c 17 "$T/mail/mb" 2>/dev/null | grep -q '^From s@far.test ' && same_file "one file -> mbox: From line, headers, the body quoted, nothing before it" "$T/want" "$T/got" ||
  fail "one file -> mbox" "$(cat "$T/mail/mb" 2>&1 | head -5)" "$(tail -5 "$T/log")"
{ printf 'Return-Path: <s@far.test>\nDelivered-To: prog@example.test\n'; cat "$T/b1"; } >"$T/want"
same_file "one file -> |program: its stdin is the headers and the body" "$T/want" "$T/mail/prog.out"
miss=$(wire_check "$T/srv" "$T/b1" "$T/b2" "$T/b3")
is "one file -> SMTP: each body reached the server byte for byte (small, over two pages, after a long envelope)" "" "$miss"
is "one file -> SMTP: three messages over one connection" 1 "$(grep -c '^EHLO' "$T/srv.log")"
is "one file -> SMTP: the long envelope's 60 recipients in one transaction" 60 "$(grep -h -c '^RCPT TO:<recipient-with' "$T/srv/"* | sort -n | tail -1)"
grep -rlq 'postern-message\|^V1$' "$T/srv" "$T/mail" && fail "no head line or envelope reached a mailbox or the server" "$(grep -rl 'postern-message\|^V1$' "$T/srv" "$T/mail")" ||
  ok "no head line or envelope reached a mailbox or the server"
is "one file: nothing in mess/, nothing in corrupt/" "" "$(ls "$T/spool/mess"; ls "$T/spool/corrupt")"
grep -q 'id=1700000001.000006.1 status=done' "$T/log" && ok "one file: logged done" || fail "logged done" "$(tail "$T/log")"

# --- both layouts in one spool, to the Maildir and over SMTP, one connection
rm -rf "$T/srv"/* "$T/mail/box"; : >"$T/srv.log"
for i in 1 2 3; do
  env_of box@example.test "o$i@far.test" >"$T/m$i"
  spool_put_message "$T/spool" "1700000002.00000$i.1" "$T/m$i" "$T/b$i"
  put_old "$T/spool" "1700000002.00001$i.1" "$T/m$i" "$T/o$i"
done
qr_run --once
is "mixed: all six delivered, the queue empty" 0 "$(qr_queue_count)"
is "mixed: six in the Maildir" 6 "$(qr_maildir_count "$T/mail/box")"
bad=0
for i in 1 2 3; do
  for b in "$T/b$i" "$T/o$i"; do
    { printf 'Return-Path: <s@far.test>\nDelivered-To: box@example.test\n'; cat "$b"; } >"$T/want"
    found=0; for f in "$T/mail/box/new/"*; do cmp -s "$T/want" "$f" && found=1; done
    [ $found = 1 ] || bad=$((bad + 1))
  done
done
is "mixed: each Maildir copy is its message byte for byte" 0 "$bad"
is "mixed: each body reached the server byte for byte" "" "$(wire_check "$T/srv" "$T/b1" "$T/b2" "$T/b3" "$T/o1" "$T/o2" "$T/o3")"
is "mixed: both layouts over one connection" 1 "$(grep -c '^EHLO' "$T/srv.log")"
is "mixed: the older layout's bodies removed from mess/" "" "$(ls "$T/spool/mess")"

# --- a malformed head: the whole file to corrupt/, the rest delivered
printf 'postern-message 1 0000008192 0000000010\nV1\nFs@x\n\n' >"$T/spool/new/1700000003.000001.1"
env_of box@example.test >"$T/e1"; spool_put_message "$T/spool" 1700000003.000002.1 "$T/e1" "$T/b1"
qr_run --once
[ -f "$T/spool/corrupt/1700000003.000001.1.message" ] && grep -q 'id=1700000003.000001.1 status=corrupt reason="malformed message head"' "$T/log" &&
  ok "malformed head: moved to corrupt/ID.message, logged" || fail "malformed head" "$(ls "$T/spool/corrupt")" "$(grep 1700000003 "$T/log")"
is "malformed head: the other message delivered" 0 "$(qr_queue_count)"

# --- a FIFO and a symlink planted in new/ by a member of the injector
# group: never opened blocking or followed, set aside, the run ends
mkfifo -m 644 "$T/spool/new/1700000003.000003.1"
ln -s "$T/spool/queue" "$T/spool/new/1700000003.000004.1"
timeout 60 "$B/queue-run" -C "$T/conf" --once 2>>"$T/log"
is "planted FIFO and symlink: the run ends, neither is left queued" 0 "$(qr_queue_count)"
ls "$T/spool/corrupt" | grep -q '^1700000003.000003.1' && ls "$T/spool/corrupt" | grep -q '^1700000003.000004.1' &&
  ok "planted FIFO and symlink: moved to corrupt/" || fail "planted files to corrupt/" "$(ls -l "$T/spool/corrupt")"

# --- --list: the body's size of a one-file message, queued and new
env_of 'temp@far.test' >"$T/e1"; spool_put_message "$T/spool" 1700000004.000001.1 "$T/e1" "$T/b2"
qr_run --once
spool_put_message "$T/spool" 1700000004.000002.1 "$T/e1" "$T/b3"
out=$(qr_run --list)
case "$out" in *"1700000004.000001.1  $(stat -c %s "$T/b2") bytes"*"1700000004.000002.1  $(stat -c %s "$T/b3") bytes"*"(new)"*) ok "--list: the body sizes of one-file messages (queue/ and new/)" ;;
  *) fail "--list sizes" "$out" ;; esac
qr_run --once
qr_run --delete 1700000004.000001.1
qr_run --delete 1700000004.000002.1
is "--delete removes one-file messages" 0 "$(qr_queue_count)"

# --- a quarantined one-file message: held, released (rewritten whole), delivered
rm -rf "$T/mail/box"
printf 'V1\nFs@far.test\nQheld by the test\nTbox@example.test\n\n' >"$T/eq"
spool_put_message "$T/spool" 1700000005.000001.1 "$T/eq" "$T/b2"
qr_run --once
is "quarantine: held" 0 "$(qr_maildir_count "$T/mail/box")"
qr_run --release 1700000005.000001.1
grep -q "id=1700000005.000001.1 status=released" "$T/log" && ok "quarantine: released" || fail "release" "$(tail -3 "$T/log")"
[ "$(qr_maildir_count "$T/mail/box")" = 1 ] || qr_run --once
f=$(ls "$T/mail/box/new/"* 2>/dev/null | head -1)
{ printf 'Return-Path: <s@far.test>\nDelivered-To: box@example.test\n'; cat "$T/b2"; } >"$T/want"
[ -n "$f" ] && same_file "quarantine: delivered after the release, the body byte for byte" "$T/want" "$f" || fail "release delivery" "$(tail -5 "$T/log")"

# --- a bounce quotes a one-file message's body whole: bounce_size_limit
# counts the body alone, not the head and envelope before it
qr_conf remote_deliverer="$B/remote-send" bounce_size_limit=1000
rm -rf "$T/srv"/*
env_of fail@far.test >"$T/e1"; spool_put_message "$T/spool" 1700000006.000001.1 "$T/e1" "$T/b1"
qr_run --once
b=$(grep -l '^MAIL FROM:<>' "$T/srv/"* 2>/dev/null | head -1)
[ -n "$b" ] && grep -q '^Content-Type: message/rfc822' "$b" && grep -q '^\.\.leading dot' "$b" && grep -q '^last' "$b" &&
  ! grep -q 'postern-message\|^V1' "$b" && ok "bounce: the whole body returned as message/rfc822, nothing before it" ||
  fail "bounce of a one-file message" "$(cat "$b" 2>/dev/null | tail -20)" "$(tail -5 "$T/log")"
is "the queue is empty at the end" 0 "$(qr_queue_count)"
