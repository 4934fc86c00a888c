# tests/queue-smtp.sh - the whole chain over SMTP: a client (Python's
# smtplib) -> smtp-receive (systemd-socket-activate --inetd on a loopback
# port) -> spool-inject -> queue-run --daemon -> local-deliver into a
# Maildir, an mbox, a program and a /file, each checked byte for byte
# against what the client sent (CRLF, dot-stuffing, "From " lines,
# 8-bit data, a long line); the daemon delivers at once (inotify), and the
# listing shows the queue empty afterwards.
. "$POSTERN_TOP/tests/lib.bash"
. "$TOP/queue-run/tests/qr.bash"
command -v systemd-socket-activate >/dev/null || { skip "SMTP end to end" "systemd-socket-activate not installed"; exit 0; }
command -v python3 >/dev/null || { skip "SMTP end to end" "python3 not installed"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
qr_setup
qr_conf retry_min=1h retry_max=1h
printf '#!/bin/sh\ncat >"%s/prog.out"\n' "$T/mail" >"$T/progs/rec"
chmod 755 "$T/progs/rec"
qr_map virtual <<M
box@example.test $T/mail/box/
mb@example.test $T/mail/mbox
M
qr_map aliases <<M
proguser: "|rec"
fileuser: $T/mail/file
M

P=$(free_port)
systemd-socket-activate --inetd -a -E ASAN_OPTIONS -E POSTERN_CONF -l "127.0.0.1:$P" "$B/smtp-receive" -C "$T/conf" 2>>"$T/smtpd.log" &
spid=$!
at_exit "kill $spid 2>/dev/null; wait $spid 2>/dev/null"
"$B/queue-run" -C "$T/conf" --daemon 2>>"$T/log" &
qpid=$!
at_exit "kill $qpid 2>/dev/null; wait $qpid 2>/dev/null"
for i in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$P)).close()" 2>/dev/null && grep -q 'status=started' "$T/log" && break
  sleep 0.1
done

# the client sends, then waits (bounded) for all four deliveries and
# reports how long the last one took after the server's 250
python3 - "$P" "$T" <<'EOF' >"$T/py.out" 2>&1
import os, smtplib, sys, time
port, t = int(sys.argv[1]), sys.argv[2]
body = (b'From: Sender <s@x.test>\nTo: box@example.test\nSubject: over SMTP\n\n'
        b'From the start of a line\n>From quoted once\n.\n..two dots\n.x\n'
        b'8-bit: gr\xc3\xbc\xc3\x9fe\n' + b'y' * 998 + b'\nlast line\n')
open(os.path.join(t, 'sent.eml'), 'wb').write(body)
with smtplib.SMTP('127.0.0.1', port) as s:
    s.ehlo('client.test')
    s.sendmail('s@x.test', ['box@example.test', 'mb@example.test', 'proguser@example.test', 'fileuser@example.test'],
               body.replace(b'\n', b'\r\n'), mail_options=['BODY=8BITMIME'])
sent = time.time()
paths = [os.path.join(t, 'mail', p) for p in ('box/new', 'mbox', 'prog.out', 'file')]
def done():
    return all(os.path.exists(p) and (not os.path.isdir(p) or os.listdir(p)) for p in paths)
while not done() and time.time() < sent + 10:
    time.sleep(0.005)
print('delivered' if done() else 'not delivered', int((time.time() - sent) * 1000))
EOF
read -r state ms <"$T/py.out"
is "SMTP: the message reaches all four destinations" delivered "$state"
[ "$state" = delivered ] && [ "$ms" -lt 1000 ] && ok "SMTP: the daemon delivers at once (${ms} ms after the 250)" || fail "SMTP: delivered at once" "$(cat "$T/py.out")" "$(tail -5 "$T/log")"

# check FILE KIND RCPT: our two headers, smtp-receive's Received:, then the
# message as sent (mbox: with its From line, mboxrd quoting and blank line)
python3 - "$T" <<'EOF' >"$T/check.out" 2>&1
import os, re, sys
t = sys.argv[1]
sent = open(os.path.join(t, 'sent.eml'), 'rb').read()
def strip(data, rcpt):
    want = b'Return-Path: <s@x.test>\nDelivered-To: ' + rcpt + b'\n'
    if not data.startswith(want): return None, 'our headers missing'
    data = data[len(want):]
    if not data.startswith(b'Received: from client.test'): return None, 'Received: not next'
    i = data.index(b'\n')
    while data[i + 1:i + 2] in (b' ', b'\t'): i = data.index(b'\n', i + 1)
    return data[i + 1:], None
def mboxrd(b):
    return re.sub(rb'(?m)^(>*From )', rb'>\1', b)
def check(name, path, rcpt, mbox):
    data = open(path, 'rb').read()
    if mbox:
        if not re.match(rb'From s@x\.test \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n', data): print(name, 'bad From line'); return
        data = data[data.index(b'\n') + 1:]
    rest, why = strip(data, rcpt)
    if why: print(name, why); return
    want = mboxrd(sent) + b'\n' if mbox else sent
    print(name, 'exact' if rest == want else 'differs: %r' % rest[:200])
box = os.path.join(t, 'mail/box/new')
check('maildir', os.path.join(box, os.listdir(box)[0]), b'box@example.test', False)
check('mbox', os.path.join(t, 'mail/mbox'), b'mb@example.test', True)
check('program', os.path.join(t, 'mail/prog.out'), b'proguser@example.test', False)
check('file', os.path.join(t, 'mail/file'), b'fileuser@example.test', True)
EOF
for k in maildir mbox program file; do
  grep -qx "$k exact" "$T/check.out" && ok "SMTP -> $k: byte for byte (CRLF, dot-stuffing, 8-bit, mboxrd quoting)" || fail "SMTP -> $k byte exact" "$(cat "$T/check.out")"
done
is "SMTP: one mail in the Maildir" 1 "$(qr_maildir_count "$T/mail/box")"
id=$(grep -o 'id=[0-9.]* status=done' "$T/log" | head -1 | cut -d' ' -f1 | cut -d= -f2)
[ -n "$id" ] && grep -q "id=$id to=<box@example.test> orig_to=<box@example.test> route=mailbox" "$T/log" \
  && grep -q "id=$id to=<proguser@example.test> orig_to=<proguser@example.test> route=program dest=|rec " "$T/log" \
  && ok "SMTP: each routing decision logged under the queue id" || fail "SMTP: routing log" "$(cat "$T/log")"
is "SMTP: the queue is empty afterwards" "Mail queue is empty" "$(qr_run --list)"
