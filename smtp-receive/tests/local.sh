#!/bin/bash
# local.sh - smtp-receive -bs on pipes (sendmail -bs), and how it starts:
# usage errors, configuration errors.
. "$(dirname "$0")/../../tests/lib.bash"

export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
mkspool "$T/spool"
mkdir "$T/maps"
printf '127.0.0.1 REJECT\n' >"$T/maps/access"
"$B/postern-maps" compile "$T/maps/access" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=mx.example.test -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
mkconf "$T/postern.conf" tls_cert_file="$T/cert.pem" tls_key_file="$T/key.pem" smtpd_greet_pause=1

# codes - the reply codes of a session, "250-" for a continued line
codes() { tr -d '\r' | awk '{ printf "%s%s ", substr($0, 1, 3), substr($0, 4, 1) == "-" ? "-" : "" }'; }
count() { ls "$T/spool/new" | wc -l; }

# the whole session written at once, as a script would: no early-talker
# refusal, the local user may send anywhere, the access map is not asked
session='EHLO me.local\r\nMAIL FROM:<me@mx.example.test>\r\nRCPT TO:<x@far.test>\r\nDATA\r\nSubject: bs\r\n\r\n..dot\r\n.\r\nQUIT\r\n'
start=$(date +%s%N)
out=$(printf "$session" | "$B/smtp-receive" -C "$T/postern.conf" -bs 2>"$T/log"); rc=$?
took=$((($(date +%s%N) - start) / 1000000))
is "-bs: the session on pipes" "220 250- 250- 250- 250- 250- 250- 250- 250 250 250 354 250 221 " "$(printf '%s\n' "$out" | codes)"
is "-bs: exit 0" 0 "$rc"
# smtpd_greet_pause is 1 s: a session that waited for it took longer
[ "$took" -lt 900 ] && ok "-bs: no greeting pause" || fail "-bs: no greeting pause" "took $took ms"
is "-bs: queued" 1 "$(count)"
env=$(spool_envelope "$T/spool/new/"*)
case "$env" in *$'\nIlocal\n'*$'\nTx@far.test') ok "-bs: envelope names the local client";;
  *) fail "-bs: envelope names the local client" "$env";; esac
b=$(body_of "$(ls "$T/spool/new")")
grep -q '^Received: from me.local (local)' "$b" && grep -q '^\.dot$' "$b" &&
  ok "-bs: Received: says local; dot-unstuffed" || fail "-bs: Received: and unstuffing" "$(cat "$b")"
case "$out" in *STARTTLS*|*AUTH*) fail "-bs: neither STARTTLS nor AUTH offered" "$out";;
  *) ok "-bs: neither STARTTLS nor AUTH offered";; esac

# LF-only command lines are understood; STARTTLS and AUTH are refused
out=$(printf 'EHLO me\nSTARTTLS\nAUTH PLAIN AGEAYg==\nQUIT\n' | "$B/smtp-receive" -C "$T/postern.conf" -bs 2>>"$T/log")
is "-bs: LF-only commands, STARTTLS 502, AUTH 503" "220 250- 250- 250- 250- 250- 250- 250- 250 502 503 221 " \
  "$(printf '%s\n' "$out" | codes)"

# end of input in the middle of the data: nothing queued
n=$(count); bodies=$(ls "$T/spool/tmp" | wc -l)
printf 'HELO me\r\nMAIL FROM:<me@b.test>\r\nRCPT TO:<x@far.test>\r\nDATA\r\nSubject: cut\r\n\r\nhalf' |
  "$B/smtp-receive" -C "$T/postern.conf" -bs >/dev/null 2>>"$T/log"; rc=$?
is "-bs: input ends in the data: exit 0" 0 "$rc"
is "-bs: input ends in the data: nothing queued" "$n" "$(count)"
is "-bs: input ends in the data: no uncommitted file left" "$bodies" "$(ls "$T/spool/tmp" | wc -l)"

# a refused DATA with the message right behind it: the message is not
# read as commands
n=$(count)
out=$(printf 'HELO me\r\nMAIL FROM:<me@b.test>\r\nDATA\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@far.test>\r\nDATA\r\nhidden\r\n.\r\n' |
  "$B/smtp-receive" -C "$T/postern.conf" -bs 2>>"$T/log")
is "-bs: refused DATA with data behind it ends the session" "220 250 250 554 554 " "$(printf '%s\n' "$out" | codes)"
is "-bs: nothing hidden was queued" "$n" "$(count)"

# usage and configuration errors
"$B/smtp-receive" -x >/dev/null 2>"$T/err"; rc=$?
is "bad option: exit 64" 64 "$rc"
grep -q 'usage: smtp-receive' "$T/err" && ok "bad option: usage line" || fail "bad option: usage line" "$(cat "$T/err")"
"$B/smtp-receive" -m bogus </dev/null >/dev/null 2>&1; is "bad mode: exit 64" 64 "$?"
"$B/smtp-receive" -C </dev/null >/dev/null 2>&1; is "-C without a file: exit 64" 64 "$?"
out=$("$B/smtp-receive" -C "$T/missing.conf" -bs </dev/null 2>/dev/null); rc=$?
is "missing config: exit 78" 78 "$rc"
case "$out" in "421 4.3.5 "*) ok "missing config: 421 to the client";; *) fail "missing config: 421 to the client" "$out";; esac
for kv in smtpd_delay_checks=maybe smtpd_verify_recipients=1 smtpd_sender_dns_check=on \
          smtpd_client_name_lookup=sometimes smtpd_max_load=high \
          smtpd_proxy_trusted=10.0.0.0/33 smtpd_proxy_trusted=192.0.2.1,balancer; do
  mkconf "$T/bad.conf" "$kv"
  out=$("$B/smtp-receive" -C "$T/bad.conf" -bs </dev/null 2>/dev/null); rc=$?
  case "$rc $out" in "78 421 4.3.5 "*) ok "bad value $kv: 421 and exit 78";;
    *) fail "bad value $kv: 421 and exit 78" "exit $rc" "$out";; esac
done
mkconf "$T/bad.conf" "smtpd_auth_program=/bin/true $(seq -s ' ' 40)"
out=$("$B/smtp-receive" -C "$T/bad.conf" -bs </dev/null 2>/dev/null); rc=$?
case "$rc $out" in "78 421 4.3.5 "*) ok "an auth program of too many words: 421 and exit 78";;
  *) fail "an auth program of too many words: 421 and exit 78" "exit $rc" "$out";; esac

# STARTTLS when postern-tls.so is there but cannot be loaded: 454 and the
# session goes on in plain text (RFC 3207), not cut after a 220
mkdir "$T/libexec"
ln -s "$B/spool-inject" "$T/libexec/spool-inject"
printf 'not an ELF object\n' >"$T/libexec/postern-tls.so"
mkconf "$T/notls.conf" tls_cert_file="$T/cert.pem" tls_key_file="$T/key.pem"
sed -i "s|^libexec_dir = .*|libexec_dir = $T/libexec|" "$T/notls.conf"
out=$(python3 - "$B/smtp-receive" "$T/notls.conf" <<'EOP'
import socket, subprocess, sys
a, b = socket.socketpair()
p = subprocess.Popen([sys.argv[1], '-C', sys.argv[2]], stdin=b, stdout=b, stderr=subprocess.DEVNULL)
b.close(); f = a.makefile('rb')
def reply():
    while True:
        l = f.readline()
        if l[3:4] != b'-': return l.decode().strip()
reply()
a.sendall(b'EHLO x.test\r\n'); reply()
a.sendall(b'STARTTLS\r\n'); print(reply())
a.sendall(b'NOOP\r\n'); print(reply())
a.sendall(b'QUIT\r\n'); reply(); p.wait()
EOP
)
case "$out" in "454 4.7.0 "*"250 "*) ok "STARTTLS without a loadable postern-tls.so: 454, the session goes on";;
  *) fail "STARTTLS without a loadable postern-tls.so: 454, the session goes on" "$out";; esac

chmod 666 "$T/postern.conf"
out=$("$B/smtp-receive" -C "$T/postern.conf" -bs </dev/null 2>/dev/null); rc=$?
is "world-writable config refused" "78" "$rc"

# a filter that stops reading the message: each write into its pipe waits
# at most smtpd_data_timeout, the filter gets 10 s to go and is killed,
# the message is refused (451) and the session goes on, instead of hanging
# on a full pipe
cat >"$T/stuck-filter" <<'SH'
#!/bin/sh
exec sleep 100
SH
chmod 755 "$T/stuck-filter"
mkconf "$T/stuck.conf" injector="$T/stuck-filter" smtpd_data_timeout=1
big=$(head -c 400000 /dev/zero | tr '\0' x | fold -w 70 | sed 's/$/\r/')
start=$SECONDS
out=$({ printf 'EHLO me\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@remote.test>\r\nDATA\r\nSubject: big\r\n\r\n'
        printf '%s\n' "$big"; printf '.\r\nNOOP\r\nQUIT\r\n'; } | timeout 60 "$B/smtp-receive" -C "$T/stuck.conf" -bs 2>/dev/null)
took=$((SECONDS - start))
case "$out" in *"354 "*"451 4.3.0 "*"250 2.0.0 Ok"*"221 "*) ok "a filter that stops reading: 451 and the session goes on (${took}s)" ;;
  *) fail "a filter that stops reading: 451 and the session goes on" "took ${took}s" "$(printf '%s' "$out" | tr -d '\r' | tail -5)" ;; esac
[ "$took" -lt 30 ] && ok "a stuck filter does not pin the session" || fail "a stuck filter does not pin the session" "took ${took}s"
