#!/bin/bash
# smtp-clients.sh - smtp-receive under systemd-socket-activate --inetd on
# loopback ports, driven by real clients: swaks and Python's smtplib, for
# plain SMTP, PIPELINING, STARTTLS, AUTH PLAIN/LOGIN on submission, implicit
# TLS, BDAT, 8BITMIME/SMTPUTF8 and a 10 MB message, each checked byte for
# byte in the spool; a client vanishing in the data; STARTTLS command
# injection and TLS 1.1; a certificate chain renewed without a restart.
. "$(dirname "$0")/lib.bash"

command -v systemd-socket-activate >/dev/null || { skip "smtp clients" "systemd-socket-activate not installed"; exit 0; }
command -v swaks >/dev/null || { skip "smtp clients" "swaks not installed"; exit 0; }

# spool-inject (not ours) leaks a stralloc in queued(); under ASan, LSan
# would turn its exit 0 into 23 after the commit
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
mkspool "$T/spool"
mkdir "$T/maps"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=mx.example.test -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
printf 'alice %s\n' "$(openssl passwd -6 -salt saltsalt 's3cret pass')" >"$T/maps/passwd"
"$B/postern-maps" compile "$T/maps/passwd" >/dev/null
mkconf "$T/postern.conf" tls_cert_file="$T/cert.pem" tls_key_file="$T/key.pem"


# listen PORT ARGS...: smtp-receive on PORT, one process per connection
listen() {
  local port=$1; shift
  systemd-socket-activate --inetd -a -E ASAN_OPTIONS -l "127.0.0.1:$port" "$B/smtp-receive" -C "$T/postern.conf" "$@" \
    2>>"$T/log" &
  local pid=$!
  at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  local i; for i in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$port)).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
# (listen's probe connection is a silent client that smtp-receive sees leave)

P25=$(free_port); listen "$P25" || { fail "listener on port $P25"; exit 0; }
P587=$(free_port); listen "$P587" -m submission || { fail "listener on port $P587"; exit 0; }
P465=$(free_port); listen "$P465" -m smtps || { fail "listener on port $P465"; exit 0; }

count() { ls "$T/spool/new" | wc -l; }
newest() { ls "$T/spool/new" | sort | tail -n 1; }
# swaks, plain and pipelined
n0=$(count)
out=$(swaks -s 127.0.0.1 -p "$P25" -f a@b.test -t root@mx.example.test --body 'plain swaks' 2>&1)
is "swaks: plain session queued" "$((n0 + 1))" "$(count)"
case "$out" in *"250 2.0.0 Ok: queued as"*) ok "swaks: 250 with the queue id";; *) fail "swaks: 250 with the queue id" "$out";; esac
out=$(swaks -s 127.0.0.1 -p "$P25" --pipeline -f a@b.test -t root@mx.example.test --body 'pipelined' 2>&1)
is "swaks: pipelined session queued" "$((n0 + 2))" "$(count)"
case "$out" in *"PIPELINING"*) ok "swaks: pipelining offered and used";; *) fail "swaks: pipelining" "$out";; esac
out=$(swaks -s 127.0.0.1 -p "$P25" -f a@b.test -t x@other.test 2>&1)
case "$out" in *"554 5.7.1 Relay access denied"*) ok "swaks: relay refused";; *) fail "swaks: relay refused" "$out";; esac

# swaks with STARTTLS on port 25, then the Received: line names TLS
out=$(swaks -s 127.0.0.1 -p "$P25" --tls -f a@b.test -t root@mx.example.test --body 'over tls' 2>&1)
is "swaks: STARTTLS session queued" "$((n0 + 3))" "$(count)"
grep -q 'with ESMTPS id' "$(body_of "$(newest)")" && grep -q '(using TLSv1' "$(body_of "$(newest)")" &&
  ok "swaks: Received: shows ESMTPS and the TLS version" || fail "swaks: Received: shows TLS" "$(head -5 "$(body_of "$(newest)")")" "$out"

# submission: AUTH PLAIN and LOGIN after STARTTLS
for mech in PLAIN LOGIN; do
  out=$(swaks -s 127.0.0.1 -p "$P587" --tls -a "$mech" -au alice -ap 's3cret pass' \
        -f alice@mx.example.test -t someone@far.test --body "auth $mech" 2>&1)
  case "$out" in *"235 2.7.0"*"250 2.0.0 Ok: queued"*) ok "swaks: submission AUTH $mech relays";;
    *) fail "swaks: submission AUTH $mech relays" "$out";; esac
done
grep -q '^Aalice$' "$T/spool/new/$(newest)" && ok "submission: the envelope names the user" ||
  fail "submission: the envelope names the user" "$(cat "$T/spool/new/$(newest)")"
out=$(swaks -s 127.0.0.1 -p "$P587" --tls -a PLAIN -au alice -ap wrong -f alice@mx.example.test -t x@far.test 2>&1)
case "$out" in *"535 5.7.8"*) ok "swaks: wrong password refused";; *) fail "swaks: wrong password refused" "$out";; esac
grep -q 'status=auth-failed.*user=alice' "$T/log" && ! grep -q 'wrong' "$T/log" &&
  ok "auth failure logged with the user, without the password" || fail "auth failure log" "$(grep auth "$T/log")"
out=$(swaks -s 127.0.0.1 -p "$P587" -f alice@mx.example.test -t x@far.test 2>&1)
case "$out" in *"530 5.7.0"*) ok "swaks: submission without TLS and AUTH refused";; *) fail "swaks: submission without AUTH" "$out";; esac

# implicit TLS (465)
out=$(swaks -s 127.0.0.1 -p "$P465" --tls-on-connect -a PLAIN -au alice -ap 's3cret pass' \
      -f alice@mx.example.test -t x@far.test --body 'implicit tls' 2>&1)
case "$out" in *"250 2.0.0 Ok: queued"*) ok "swaks: implicit TLS with AUTH";; *) fail "swaks: implicit TLS with AUTH" "$out";; esac

# Python smtplib: 8BITMIME + SMTPUTF8, STARTTLS + AUTH, BDAT, 10 MB, byte-exact
python3 - "$P25" "$P587" "$T" <<'EOF' >"$T/py.out" 2>&1
import smtplib, socket, ssl, sys, os
p25, p587, t = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def save(name, data):
    open(os.path.join(t, name), 'wb').write(data)
# 8-bit body with every byte but CR and LF, dot lines, a 998-byte line
raw = bytes(b for b in range(256) if b not in (10, 13))
body = (b'Subject: bytes\n\n' + raw + b'\n.\n..\n.x\n' + b'y' * 998 + b'\nend\n')
save('exact.eml', body)
with smtplib.SMTP('127.0.0.1', p25) as s:
    s.ehlo('py.test')
    s.sendmail('a@b.test', ['root@mx.example.test'], body.replace(b'\n', b'\r\n'), mail_options=['BODY=8BITMIME'])
print('sent exact')
# UTF-8 addresses
with smtplib.SMTP('127.0.0.1', p25) as s:
    s.ehlo('py.test')
    s.sendmail('jörg@b.test', ['root@mx.example.test'], 'Subject: ü\r\n\r\nGrüße\r\n'.encode(), mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
print('sent utf8')
# STARTTLS + AUTH on submission
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP('127.0.0.1', p587) as s:
    s.ehlo('py.test'); s.starttls(context=ctx); s.ehlo('py.test')
    s.login('alice', 's3cret pass')
    s.sendmail('alice@mx.example.test', ['bob@far.test'], b'Subject: sub\r\n\r\nvia smtplib\r\n')
print('sent auth')
# 10 MB, lines of 76 bytes, some starting with a dot
line = b'.' + b'0123456789' * 7 + b'abcde\n'
big = b'Subject: big\n\n' + line * (10 * 1024 * 1024 // len(line))
save('big.eml', big)
with smtplib.SMTP('127.0.0.1', p25) as s:
    s.ehlo('py.test')
    s.sendmail('a@b.test', ['root@mx.example.test'], big.replace(b'\n', b'\r\n'))
print('sent big')
# BDAT in three chunks (smtplib has no BDAT: raw commands after its EHLO)
s = smtplib.SMTP('127.0.0.1', p25); s.ehlo('py.test')
assert 'chunking' in s.esmtp_features
s.mail('a@b.test'); s.rcpt('root@mx.example.test')
chunks = [b'Subject: bdat\r\n\r\n', b'first\r', b'\nsecond\r\n']
for i, c in enumerate(chunks):
    last = ' LAST' if i == len(chunks) - 1 else ''
    s.send(b'BDAT %d%s\r\n' % (len(c), last.encode()) + c)
    code, msg = s.getreply()
    assert code == 250, (code, msg)
s.quit()
print('sent bdat')
EOF
grep -q 'sent bdat' "$T/py.out" && ok "smtplib: all sessions accepted" || fail "smtplib: all sessions accepted" "$(cat "$T/py.out")"
ls "$T/spool/new" | sort >"$T/ids"
id_at() { sed -n "$1p" "$T/ids"; }   # messages in arrival order
total=$(wc -l <"$T/ids")
# the smtplib messages are the last five: exact, utf8, auth, big, bdat
exact=$(id_at $((total - 4))); utf8=$(id_at $((total - 3))); big=$(id_at $((total - 1))); bdat=$(id_at "$total")
strip() { python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
i = 0
while True:
    j = d.index(b"\n", i) + 1
    if d[j:j+1] != b"\t": break
    i = j
sys.stdout.buffer.write(d[j:])' "$(body_of "$1")"; }
strip "$exact" >"$T/exact.got"; same_file "spool: 8-bit body, dot lines and a 998-byte line byte for byte" "$T/exact.eml" "$T/exact.got"
strip "$big" >"$T/big.got"; same_file "spool: 10 MB message byte for byte" "$T/big.eml" "$T/big.got"
printf 'Subject: bdat\n\nfirst\nsecond\n' >"$T/bdat.want"; strip "$bdat" >"$T/bdat.got"
same_file "spool: BDAT chunks joined, CRLF across chunks" "$T/bdat.want" "$T/bdat.got"
grep -q '^U$' "$T/spool/new/$utf8" && grep -q '^Fjörg@b.test$' "$T/spool/new/$utf8" && grep -q '^B8BITMIME$' "$T/spool/new/$utf8" &&
  ok "smtplib: SMTPUTF8 sender and BODY in the envelope" || fail "smtplib: SMTPUTF8 envelope" "$(cat "$T/spool/new/$utf8")"

# a client that vanishes in the middle of the data leaves nothing behind
before=$(count); tmp_before=$(ls "$T/spool/tmp" | wc -l)
python3 - "$P25" <<'EOF'
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
f = s.makefile('rb')
def cmd(c):
    if c: s.sendall(c + b'\r\n')
    while True:
        l = f.readline()
        if l[3:4] != b'-': return l
cmd(None); cmd(b'EHLO v.test'); cmd(b'MAIL FROM:<a@b.test>'); cmd(b'RCPT TO:<root@mx.example.test>')
assert cmd(b'DATA').startswith(b'354')
s.sendall(b'Subject: vanishing\r\n\r\n' + b'x' * 200000)
time.sleep(0.2)
s.close()
EOF
sleep 0.5
is "vanished client: nothing committed" "$before" "$(count)"
is "vanished client: no uncommitted file left in tmp/" "$tmp_before" "$(ls "$T/spool/tmp" | wc -l)"
grep -q 'status=lost' "$T/log" && ok "vanished client: logged" || fail "vanished client: logged" "$(tail -5 "$T/log")"

# STARTTLS command injection: what follows STARTTLS in the same packet is
# thrown away; TLS below 1.2 is refused
python3 - "$P25" <<'EOF2' >"$T/inj.out" 2>&1
import socket, ssl, sys
port = int(sys.argv[1])
def reply(f):
    lines = []
    while True:
        l = f.readline()
        if not l: return b''.join(lines)
        lines.append(l)
        if l[3:4] != b'-': return b''.join(lines)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = socket.create_connection(('127.0.0.1', port)); f = s.makefile('rb')
reply(f); s.sendall(b'EHLO i.test\r\n'); assert b'STARTTLS' in reply(f)
s.sendall(b'STARTTLS\r\nMAIL FROM:<evil@b.test>\r\n')
assert reply(f).startswith(b'220 2.0.0')
t = ctx.wrap_socket(s); g = t.makefile('rb')
t.sendall(b'EHLO i.test\r\n')
r = reply(g)
print('first reply under TLS:', r)
assert r.startswith(b'250-mx.example.test'), r
assert b'STARTTLS' not in r
print('tls version', t.version())
t.sendall(b'QUIT\r\n'); reply(g); t.close()
old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); old.check_hostname = False; old.verify_mode = ssl.CERT_NONE
old.minimum_version = ssl.TLSVersion.TLSv1; old.maximum_version = ssl.TLSVersion.TLSv1_1
try: old.set_ciphers('ALL:@SECLEVEL=0')
except ssl.SSLError: pass
s = socket.create_connection(('127.0.0.1', port)); f = s.makefile('rb')
reply(f); s.sendall(b'EHLO i.test\r\nSTARTTLS\r\n'); reply(f); reply(f)
try:
    old.wrap_socket(s); print('TLS 1.1 accepted')
except (ssl.SSLError, OSError) as e:
    print('TLS 1.1 refused')
EOF2
grep -q "first reply under TLS: b'250-mx" "$T/inj.out" && ok "STARTTLS: bytes sent before the handshake are discarded" ||
  fail "STARTTLS: bytes sent before the handshake are discarded" "$(cat "$T/inj.out")"
grep -q "TLS 1.1 refused" "$T/inj.out" && ok "STARTTLS: TLS 1.1 refused" || fail "STARTTLS: TLS 1.1 refused" "$(cat "$T/inj.out")"

# TLS files are read per connection: a renewed certificate (here with its
# intermediate in the same file) is served by the next connection, with no
# restart of anything
s_client() { printf 'QUIT\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$P25" -starttls smtp -showcerts "$@" 2>&1; }
out=$(s_client)
case "$out" in *"CN = mx.example.test"*) ok "TLS: the configured certificate";; *) fail "TLS: the configured certificate" "$out";; esac
mkdir "$T/pki"; (
  cd "$T/pki" || exit 1
  ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "$@" 2>/dev/null; }
  ec -x509 -days 2 -subj '/CN=Test Root' -addext basicConstraints=critical,CA:TRUE -keyout ca.key -out ca.pem
  ec -subj '/CN=Test Intermediate' -keyout int.key -out int.csr
  printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n' >ca.ext
  openssl x509 -req -days 2 -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -extfile ca.ext -out int.pem 2>/dev/null
  ec -subj /CN=renewed.example.test -keyout leaf.key -out leaf.csr
  printf 'subjectAltName=DNS:renewed.example.test\n' >leaf.ext
  openssl x509 -req -days 2 -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -extfile leaf.ext -out leaf.pem 2>/dev/null
  cat leaf.pem int.pem >chain.pem
)
# the key first, then the chain, each by rename, as a renewal tool does
cp "$T/pki/leaf.key" "$T/key.pem.new" && mv "$T/key.pem.new" "$T/key.pem"
cp "$T/pki/chain.pem" "$T/cert.pem.new" && mv "$T/cert.pem.new" "$T/cert.pem"
out=$(s_client -CAfile "$T/pki/ca.pem" -verify_return_error -verify_hostname renewed.example.test)
case "$out" in *"CN = renewed.example.test"*"Verify return code: 0 (ok)"*) ok "TLS: a renewed certificate is used without a restart";;
  *) fail "TLS: a renewed certificate is used without a restart" "$out";; esac
is "TLS: the whole chain is sent" 2 "$(printf '%s\n' "$out" | grep -c 'BEGIN CERTIFICATE')"

# implicit TLS behind a PROXY balancer: the header and the ClientHello in
# one segment (as a balancer forwards them); the header is read to its end
# and the handshake gets every byte after it
cp "$T/postern.conf" "$T/proxy.conf"
printf 'smtpd_proxy_trusted = 127.0.0.1\n' >>"$T/proxy.conf"
PPX=$(free_port)
systemd-socket-activate --inetd -a -E ASAN_OPTIONS -l "127.0.0.1:$PPX" "$B/smtp-receive" -C "$T/proxy.conf" -m smtps \
  2>>"$T/log" &
ppid=$!; at_exit "kill $ppid 2>/dev/null; wait $ppid 2>/dev/null"
for i in $(seq 100); do grep -qi "^ *[0-9]*: 0100007F:$(printf '%04X' "$PPX") 00000000:0000 0A" /proc/net/tcp && break; sleep 0.05; done
out=$(timeout 20 python3 - "$PPX" <<'EOP' 2>&1
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out)
try: tls.do_handshake()
except ssl.SSLWantReadError: pass
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 10)
s.sendall(b'PROXY TCP4 192.0.2.77 192.0.2.1 40000 465\r\n' + out.read())   # one send
def pump():
    d = s.recv(65536)
    if not d: raise SystemExit('connection closed')
    inc.write(d)
while True:
    try: tls.do_handshake(); break
    except ssl.SSLWantReadError:
        if out.pending: s.sendall(out.read())
        pump()
s.sendall(out.read())
buf = b''
while b'\r\n' not in buf:
    try: buf += tls.read(4096)
    except ssl.SSLWantReadError:
        if out.pending: s.sendall(out.read())
        pump()
print('greeting:', buf.decode().strip())
import base64   # a refused AUTH is logged with the client's address
tls.write(b'EHLO proxied.test\r\nAUTH PLAIN ' + base64.b64encode(b'\0alice\0wrong') + b'\r\nQUIT\r\n')
s.sendall(out.read())
while True:
    try:
        if b'221 ' in tls.read(4096): break
    except ssl.SSLWantReadError: pump()
EOP
)
case "$out" in *"greeting: 220 "*) ok "smtps behind PROXY: header and ClientHello in one segment, TLS comes up" ;;
  *) fail "smtps behind PROXY: header and ClientHello in one segment" "$out" "$(tail -5 "$T/log")" ;; esac
grep -q 'client=192.0.2.77' "$T/log" && ok "smtps behind PROXY: the client is the header's address" ||
  fail "smtps behind PROXY: the client is the header's address" "$(tail -5 "$T/log")"
