#!/bin/bash
# milter-packages.sh - the milters of Debian 12 with postern, each started
# and stopped by this test on loopback (never as a system service):
#   OpenDKIM   signs mail submitted on 587 (AUTH) and with sendmail, the
#              signature checked by dkimpy (python3-dkim), a second
#              implementation; verifies mail arriving on 25, and its
#              Authentication-Results: header reaches the Maildir, where
#              the signature still verifies (Received: prepended, nothing
#              re-folded)
#   rspamd     proxy worker in milter mode with self-scan, no network:
#              GTUBE refused at the end of the data with rspamd's text, a
#              clean message gets rspamd's headers
#   clamav     clamd with a test signature of our own, clamav-milter:
#              the pattern refused, a clean message passes with its header
#   OpenDMARC  against dnsmasq on a loopback address with p=reject for a
#              domain: mail forging that domain in From: is refused
. "$(dirname "$0")/lib.bash"
. "$TOP/queue-run/tests/qr.bash"

PY=/usr/bin/python3
command -v systemd-socket-activate >/dev/null || { skip "milter packages" "systemd-socket-activate not installed"; exit 0; }
is_root || { skip "milter packages" "needs root (local delivery to a test user, a mount namespace for OpenDMARC)"; exit 0; }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

qr_setup
echo "127.0.0.1 RELAY" | qr_map access
printf 'alice %s\n' "$(openssl passwd -6 -salt saltsalt 'pw')" >"$T/maps/passwd"
"$B/postern-maps" compile "$T/maps/passwd" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=mx.example.test -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null

wait_port() {   # wait_port PORT [TRIES]: until something listens on loopback PORT
  local i; for i in $(seq "${2:-100}"); do
    $PY -c "import socket; socket.create_connection(('127.0.0.1',$1)).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
# daemon NAME CMD...: start CMD in the background, stopped at exit by pid
daemon() {
  local name=$1; shift
  "$@" >>"$T/$name.out" 2>&1 &
  local pid=$!
  at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  eval "PID_$name=$pid"
}
# conf KEY=VALUE...: the test config with these settings
conf() { qr_conf smtpd_verify_recipients=no tls_cert_file="$T/cert.pem" tls_key_file="$T/key.pem" "$@"; }
conf
listen() {   # listen PORT ARGS...: smtp-receive, a process per connection
  local port=$1; shift
  systemd-socket-activate --inetd -a -E ASAN_OPTIONS -E POSTERN_CONF -l "127.0.0.1:$port" "$B/smtp-receive" -C "$T/conf" "$@" 2>>"$T/log" &
  local pid=$!
  at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  wait_port "$port"
}
P25=$(free_port); listen "$P25" || { fail "smtp-receive on 25"; exit 0; }
P587=$(free_port); listen "$P587" -m submission || { fail "smtp-receive on 587"; exit 0; }

# send PORT MSGFILE RCPT [user]: one transaction (STARTTLS and AUTH with
# a user); each reply on a line
send() {
  $PY - "$@" <<'PY'
import smtplib, ssl, sys
port, msgfile, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
user = sys.argv[4] if len(sys.argv) > 4 else None
s = smtplib.SMTP("127.0.0.1", port, timeout=120)
s.ehlo("client.test")
if user:
    c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
    s.starttls(context=c); s.ehlo("client.test"); s.login(user, "pw")
frm = "alice@example.test" if user else "sender@client.test"
print(*s.mail(frm))
code, text = s.rcpt(rcpt)
print(code, text.decode())
if code == 250:
    code, text = s.data(open(msgfile, "rb").read().replace(b"\n", b"\r\n"))
    print(code, text.decode().replace("\n", "|"))
s.quit()
PY
}
count() { ls "$T/spool/new" "$T/spool/queue" 2>/dev/null | grep -c '^[0-9]'; }
newest() { ls "$T/spool/new" | sort | tail -n 1; }

# dkim_check FILE: dkimpy verifies FILE's signature with the test key
dkim_check() {
  $PY - "$1" "$T/dkim/keys.txt" <<'PY'
import sys, dkim
msg = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
keys = {}
for line in open(sys.argv[2]):
    name, txt = line.split(None, 1)
    keys[name.rstrip(".").encode() + b"."] = txt.strip().encode()
def dns(name, timeout=5):
    return keys.get(name if name.endswith(b".") else name + b".")
sys.exit(0 if dkim.verify(msg, dnsfunc=dns) else 1)
PY
}

# ------------------------------------------------------------ OpenDKIM
opendkim_test() {
  mkdir -p "$T/dkim"
  opendkim-genkey -D "$T/dkim" -d example.test -s sel -b 2048 || { fail "opendkim-genkey makes a key"; return; }
  # TestPublicKeys and dkimpy both read "name TXT-data" lines
  txt=$(tr -d '\n' <"$T/dkim/sel.txt" | sed 's/^[^(]*( *//; s/ *) *;.*$//; s/" *"//g; s/"//g; s/\t/ /g')
  echo "sel._domainkey.example.test $txt" >"$T/dkim/keys.txt"
  echo "192.0.2.1" >"$T/dkim/internal"       # not loopback: mail on 25 from 127.0.0.1 is verified
  DKP=$(free_port)
  cat >"$T/dkim/opendkim.conf" <<EOF
Syslog no
LogWhy yes
Mode sv
Domain example.test
Selector sel
KeyFile $T/dkim/sel.private
RequireSafeKeys false
Canonicalization simple/simple
MTA submission,smtps,local
InternalHosts $T/dkim/internal
TestPublicKeys $T/dkim/keys.txt
AuthservID mx.example.test
AlwaysAddARHeader yes
Socket inet:$DKP@127.0.0.1
PidFile $T/dkim/pid
UserID root
EOF
  daemon opendkim opendkim -f -x "$T/dkim/opendkim.conf"
  wait_port "$DKP" || { fail "opendkim starts" "$(cat "$T/opendkim.out")"; return; }
  conf smtpd_milters="inet:127.0.0.1:$DKP" non_smtpd_milters="inet:127.0.0.1:$DKP"
  printf 'From: Alice <alice@example.test>\nTo: bob@far.test\nSubject: signed\n  and folded\nDate: Sun, 6 Dec 2026 10:00:00 +0000\nMessage-ID: <dkim1@example.test>\n\nsigned body\n\n  with spaces  \n' >"$T/dkim/msg"
  out=$(send "$P587" "$T/dkim/msg" bob@far.test alice)
  case "$out" in *"250 2.0.0 Ok: queued"*) ok "opendkim: submission on 587 queued" ;; *) fail "opendkim: submission" "$out" "$(tail -5 "$T/opendkim.out")"; return ;; esac
  f=$(body_of "$(newest)")
  grep -q '^DKIM-Signature:.*d=example.test' "$f" && ok "opendkim: submission leaves signed" || fail "opendkim: submission signed" "$(cat "$f")" "$(tail -5 "$T/opendkim.out")"
  dkim_check "$f" && ok "opendkim: the submission's signature verifies with dkimpy" || fail "dkimpy verifies the submission" "$(cat "$f")"
  cp "$f" "$T/dkim/signed"
  # sendmail: signed too ({daemon_name}=local)
  printf 'From: alice@example.test\nTo: bob@far.test\nSubject: from sendmail\n\nlocal body\n' |
    "$B/sendmail" -C "$T/conf" -f alice@example.test bob@far.test 2>>"$T/log"
  f=$(body_of "$(newest)")
  grep -q '^DKIM-Signature:.*d=example.test' "$f" && dkim_check "$f" && ok "opendkim: mail from sendmail leaves signed, dkimpy verifies" ||
    fail "opendkim: sendmail signed" "$(cat "$f")" "$(tail -5 "$T/opendkim.out")"
  # port 25: the signed message arrives (its earlier Received: and all),
  # is verified, and reaches the Maildir with Authentication-Results:
  cp "$T/dkim/signed" "$T/dkim/inbound"
  out=$(send "$P25" "$T/dkim/inbound" "$U@example.test")
  case "$out" in *"250 2.0.0 Ok: queued"*) ok "opendkim: signed mail on 25 queued" ;; *) fail "opendkim: inbound" "$out"; return ;; esac
  qr_run --once
  m=$(ls -t "$T/home/Maildir/new/" 2>/dev/null | head -n 1)
  if [ -n "$m" ]; then
    m=$T/home/Maildir/new/$m
 grep -q '^Authentication-Results: mx.example.test;' "$m" && grep -q 'dkim=pass' "$m" && ok "opendkim: Authentication-Results: dkim=pass reaches the Maildir" ||
      fail "opendkim: A-R in the Maildir" "$(head -20 "$m")"
    dkim_check "$m" && ok "opendkim: the signature still verifies in the Maildir (Received: prepended, nothing re-folded)" || fail "signature in the Maildir" "$(cat "$m")"
  else fail "opendkim: delivered to the Maildir" "$(tail -5 "$T/log")"
  fi
  # a changed body is caught on 25
  sed 's/signed body/tampered body/' "$T/dkim/inbound" >"$T/dkim/tampered"
  out=$(send "$P25" "$T/dkim/tampered" "$U@example.test")
  grep -q 'dkim=fail' "$(body_of "$(newest)")" && ok "opendkim: a tampered message gets dkim=fail" || fail "tampered" "$(head -12 "$(body_of "$(newest)")")"
}
command -v opendkim >/dev/null && $PY -c 'import dkim' 2>/dev/null && opendkim_test || skip "opendkim" "opendkim, opendkim-tools or python3-dkim not installed"

# --------------------------------------------------------------- rspamd
# A proxy worker in milter mode that scans itself (self_scan), with the
# Debian rules and no network: DNS goes to a closed loopback port.  Its
# hyperscan cache is kept in /var/cache/postern-test/rspamd (compiling it
# takes minutes on a busy machine; doc/architecture.md).
rspamd_test() {
  mkdir -p "$T/rspamd" /var/cache/postern-test/rspamd
  RSP=$(free_port)
  cat >"$T/rspamd/rspamd.conf" <<EOF2
.include "\$CONFDIR/common.conf"
options {
    pidfile = "\$RUNDIR/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    dns { nameserver = ["127.0.0.1:9"]; timeout = 0.3s; retransmits = 1; }
}
logging { type = "file"; filename = "\$LOGDIR/rspamd.log"; level = "notice"; }
worker "rspamd_proxy" {
    bind_socket = "127.0.0.1:$RSP";
    milter = yes;
    timeout = 120s;
    upstream "local" { default = yes; self_scan = yes; }
    count = 1;
    max_retries = 1;
    discard_on_reject = false;
    quarantine_on_reject = false;
    spam_header = "X-Spam";
    reject_message = "Spam message rejected";
}
EOF2
  mkdir -p "$T/rspamd/local.d"
  cat >"$T/rspamd/local.d/milter_headers.conf" <<EOF2
use = ["x-spamd-result", "x-spam-status", "authentication-results"];
skip_local = false;
skip_authenticated = false;
EOF2
  daemon rspamd rspamd -f -i -u root -g root -c "$T/rspamd/rspamd.conf" --var RUNDIR="$T/rspamd" \
    --var DBDIR=/var/cache/postern-test/rspamd --var LOGDIR="$T/rspamd" --var LOCAL_CONFDIR="$T/rspamd"
  wait_port "$RSP" 3000 || { fail "rspamd starts (proxy worker)" "$(tail -5 "$T/rspamd/rspamd.log")"; return; }
  conf smtpd_milters="inet:127.0.0.1:$RSP"
  printf 'From: sender@client.test\nTo: x@far.test\nSubject: gtube\nMessage-ID: <g1@client.test>\nDate: Sun, 6 Dec 2026 10:00:00 +0000\n\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n' >"$T/gtube"
  n0=$(count)
  out=$(send "$P25" "$T/gtube" x@far.test)
  case "$out" in *"250 2.1.5"*"554 5.7.1 Gtube pattern"*|*"250 2.1.5"*"5"[0-9][0-9]" "*"Spam message rejected"*) ok "rspamd: GTUBE refused at the end of the data with rspamd's text" ;;
    *) fail "rspamd: GTUBE" "$out" "$(tail -5 "$T/rspamd/rspamd.log")" ;; esac
  is "rspamd: GTUBE not queued" "$n0" "$(count)"
  printf 'From: sender@client.test\nTo: x@far.test\nSubject: hello\nMessage-ID: <c1@client.test>\nDate: Sun, 6 Dec 2026 10:00:00 +0000\n\nJust a normal message.\n' >"$T/clean"
  out=$(send "$P25" "$T/clean" x@far.test)
  case "$out" in *"250 2.0.0 Ok: queued"*) ok "rspamd: a clean message is queued" ;; *) fail "rspamd: clean" "$out" ;; esac
  grep -q '^X-Spamd-Bar:\|^X-Spam-Level:\|^X-Spamd-Result:\|^Authentication-Results:' "$(body_of "$(newest)")" && ok "rspamd: the clean message has rspamd's headers" ||
    fail "rspamd headers" "$(head -12 "$(body_of "$(newest)")")"
  kill "$PID_rspamd" 2>/dev/null
}
command -v rspamd >/dev/null && rspamd_test || skip "rspamd" "rspamd not installed"

# ---------------------------------------------------------- clamav-milter
clamav_test() {
  mkdir -p "$T/clam/db"
  # Debian ships no signatures: one of our own, for a test pattern
  pat=POSTERN-MILTER-TEST-VIRUS-PATTERN-7a3c
  echo "Postern.Test.Pattern:0:*:$(printf '%s' "$pat" | od -An -tx1 | tr -d ' \n')" >"$T/clam/db/postern-test.ndb"
  cat >"$T/clam/clamd.conf" <<EOF2
LocalSocket $T/clam/clamd.sock
DatabaseDirectory $T/clam/db
Foreground yes
User root
PidFile $T/clam/clamd.pid
TemporaryDirectory $T/clam
EOF2
  CMP=$(free_port)
  cat >"$T/clam/clamav-milter.conf" <<EOF2
MilterSocket inet:$CMP@127.0.0.1
ClamdSocket unix:$T/clam/clamd.sock
Foreground yes
User root
PidFile $T/clam/milter.pid
OnInfected Reject
OnFail Defer
AddHeader Replace
EOF2
  daemon clamd clamd -c "$T/clam/clamd.conf"
  local i; for i in $(seq 300); do [ -S "$T/clam/clamd.sock" ] && break; sleep 0.2; done
  daemon clamavmilter clamav-milter -c "$T/clam/clamav-milter.conf"
  wait_port "$CMP" || { fail "clamav-milter starts" "$(cat "$T/clamd.out" "$T/clamavmilter.out")"; return; }
  conf smtpd_milters="inet:127.0.0.1:$CMP"
  printf 'From: sender@client.test\nSubject: infected\n\nhere it is: %s\n' "$pat" >"$T/virus"
  n0=$(count)
  out=$(send "$P25" "$T/virus" x@far.test)
  case "$out" in *"250 2.1.5"*"5"[0-9][0-9]" "*) ok "clamav: the test pattern is refused at the end of the data" ;; *) fail "clamav: infected" "$out" "$(tail -3 "$T/clamavmilter.out")" ;; esac
  is "clamav: the infected message is not queued" "$n0" "$(count)"
  out=$(send "$P25" "$T/plain" x@far.test)
  case "$out" in *"250 2.0.0 Ok: queued"*) ok "clamav: a clean message is queued" ;; *) fail "clamav: clean" "$out" ;; esac
  grep -q '^X-Virus-Status: Clean' "$(body_of "$(newest)")" && ok "clamav: the clean message has X-Virus-Status: Clean" || fail "clamav header" "$(head -8 "$(body_of "$(newest)")")"
}
printf 'Subject: plain\nFrom: sender@client.test\n\nhello\n' >"$T/plain"
command -v clamav-milter >/dev/null && command -v clamd >/dev/null && clamav_test || skip "clamav-milter" "clamav-milter or clamav-daemon not installed"

# -------------------------------------------------------------- OpenDMARC
# Its resolver reads /etc/resolv.conf: it runs in a mount namespace of its
# own where that file names dnsmasq on a loopback address of this test.
opendmarc_test() {
  mkdir -p "$T/dmarc"
  DNSIP=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).53
  daemon dnsmasq dnsmasq -k --no-resolv --no-hosts --bind-interfaces --listen-address="$DNSIP" --port=53 \
    --user=root --pid-file="$T/dmarc/dnsmasq.pid" --log-facility=- \
    --txt-record=_dmarc.forged.test,"v=DMARC1; p=reject" --address=/test/
  echo "nameserver $DNSIP" >"$T/dmarc/resolv.conf"
  echo "192.0.2.1" >"$T/dmarc/ignore"      # not 127.0.0.1, which is ignored by default
  DMP=$(free_port)
  cat >"$T/dmarc/opendmarc.conf" <<EOF2
Socket inet:$DMP@127.0.0.1
AuthservID mx.example.test
RejectFailures true
IgnoreHosts $T/dmarc/ignore
SPFSelfValidate false
Syslog false
Background false
PidFile $T/dmarc/pid
UserID root
EOF2
  daemon opendmarc unshare -m --propagation private sh -c \
    "mount --bind '$T/dmarc/resolv.conf' /etc/resolv.conf && exec opendmarc -f -c '$T/dmarc/opendmarc.conf'"
  wait_port "$DMP" || { fail "opendmarc starts" "$(cat "$T/opendmarc.out")"; return; }
  conf smtpd_milters="inet:127.0.0.1:$DMP"
  printf 'From: The Boss <ceo@forged.test>\nTo: x@far.test\nSubject: wire money\nDate: Sun, 6 Dec 2026 10:00:00 +0000\nMessage-ID: <f1@client.test>\n\npay now\n' >"$T/forged"
  n0=$(count)
  out=$(send "$P25" "$T/forged" x@far.test)
  case "$out" in *"250 2.1.5"*"550 5.7.1"*"forged.test"*) ok "opendmarc: a forged From: domain with p=reject is refused" ;;
    *) fail "opendmarc: forged" "$out" "$(tail -5 "$T/opendmarc.out")" ;; esac
  is "opendmarc: the forged message is not queued" "$n0" "$(count)"
  printf 'From: sender@client.test\nTo: x@far.test\nSubject: fine\nDate: Sun, 6 Dec 2026 10:00:00 +0000\nMessage-ID: <f2@client.test>\n\nhello\n' >"$T/honest"
  out=$(send "$P25" "$T/honest" x@far.test)
  case "$out" in *"250 2.0.0 Ok: queued"*) ok "opendmarc: a domain without a DMARC record passes" ;; *) fail "opendmarc: honest" "$out" ;; esac
}
command -v opendmarc >/dev/null && command -v dnsmasq >/dev/null && opendmarc_test || skip "opendmarc" "opendmarc or dnsmasq not installed"
