#!/usr/bin/env python3
"""server.py - a scriptable SMTP/LMTP server for remote-send's tests.

Usage: server.py [options] ADDRESS PORT | unix:/path
  --lmtp             speak LMTP (LHLO; one reply per recipient after DATA)
  --caps LIST        comma-separated EHLO keywords (default
                     PIPELINING,8BITMIME,DSN,SMTPUTF8,SIZE 10000000)
  --no-ehlo          answer EHLO with 500 (HELO works)
  --name NAME        host name in the greeting and EHLO reply
  --greeting LINE    the greeting line (default "220 NAME ESMTP")
  --stall STAGE      never answer at STAGE (greeting, ehlo, mail, rcpt, data, dot)
  --drop-data N      close the connection after N bytes of message data
  --auth USER:PASS   offer AUTH and check these credentials
  --mechs LIST       the AUTH mechanisms offered (default "PLAIN LOGIN")
  --starttls LINE    offer STARTTLS and answer it with LINE; after a 220
                     the connection is closed (a handshake that fails)
  --auth-code LINE   answer AUTH with LINE whatever the credentials
  --tls CERT,KEY     TLS from the first byte (smtps)
  --tls-old          with --tls: offer only TLS 1.0 and 1.1
  --rset LINE        answer RSET with LINE (and close the connection if
                     it is a 421)
  --mail-after-rset LINE
                     answer a MAIL that follows an RSET with LINE (and
                     close the connection if it is a 421)
  --data-reply LINE  answer DATA with LINE instead of 354 (no data read)
  --hold SECONDS     keep the listen queue full for SECONDS after "ready":
                     connection attempts get no answer (their SYNs are
                     dropped and retried by the client's kernel), then serve
  --log FILE         append every line received (CRLF shown as \\r\\n)
  --out DIR          each message to DIR/N: "MAIL ..." and "RCPT ..." lines,
                     an empty line, then the data exactly as received
Recipients whose local part starts with temp get 450 4.2.1 at RCPT, fail
550 5.1.1; with --lmtp, late-temp and late-fail are accepted at RCPT and get
451 4.2.0 / 552 5.2.2 after the data.  Prints "ready" when listening.
"""
import argparse, base64, os, socket, socketserver, ssl, sys, threading, time

A = None
count = [0]
lock = threading.Lock()


def log(line):
    if A.log:
        with lock, open(A.log, 'ab') as f:
            f.write(line.replace(b'\r\n', b'\\r\\n') + b'\n')


class Handler(socketserver.StreamRequestHandler):
    def send(self, text):
        self.wfile.write(text.encode() + b'\r\n')
        self.wfile.flush()

    def stall(self, stage):
        if A.stall == stage:
            time.sleep(3600)

    def handle(self):
        self.stall('greeting')
        self.send(A.greeting or '220 %s ESMTP test' % A.name)
        mail, rcpts, accepted = None, [], []
        last_verb = None
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            log(line)
            cmd = line.decode('utf-8', 'replace').rstrip('\r\n')
            verb = cmd.split(' ', 1)[0].upper()
            after_rset, last_verb = last_verb == 'RSET', verb
            if verb in ('EHLO', 'LHLO'):
                self.stall('ehlo')
                if A.no_ehlo or (verb == 'LHLO') != A.lmtp:
                    self.send('500 5.5.1 command unrecognized')
                    continue
                caps = [c for c in A.caps.split(',') if c]
                if A.starttls:
                    caps.append('STARTTLS')
                if A.auth:
                    caps.append('AUTH ' + A.mechs)
                lines = [A.name] + caps
                for i, c in enumerate(lines):
                    self.send('250%s%s' % ('-' if i < len(lines) - 1 else ' ', c))
            elif verb == 'HELO':
                self.send('250 %s' % A.name)
            elif verb == 'STARTTLS' and A.starttls:
                self.send(A.starttls)
                if A.starttls.startswith('220'):
                    return
            elif verb == 'AUTH' and A.auth_code:
                self.send(A.auth_code)
            elif verb == 'AUTH':
                self.auth(cmd)
            elif verb == 'MAIL':
                self.stall('mail')
                mail, rcpts, accepted = cmd, [], []
                if A.mail_after_rset and after_rset:
                    self.send(A.mail_after_rset)
                    if A.mail_after_rset.startswith('421'):
                        return
                    continue
                self.send('250 2.1.0 Ok')
            elif verb == 'RCPT':
                self.stall('rcpt')
                addr = cmd.split('<', 1)[1].split('>', 1)[0]
                rcpts.append(cmd)
                local = addr.split('@')[0]
                if local.startswith('temp'):
                    self.send('450 4.2.1 <%s>: mailbox busy' % addr)
                elif local.startswith('fail'):
                    self.send('550 5.1.1 <%s>: user unknown' % addr)
                else:
                    accepted.append(addr)
                    self.send('250 2.1.5 Ok')
            elif verb == 'DATA':
                self.stall('data')
                if not accepted:
                    self.send('554 5.5.1 no valid recipients')
                    continue
                if A.data_reply:
                    self.send(A.data_reply)
                    continue
                self.send('354 go ahead')
                if not self.data(mail, rcpts, accepted):
                    return
            elif verb == 'RSET':
                mail, rcpts, accepted = None, [], []
                self.send(A.rset or '250 2.0.0 Ok')
                if A.rset and A.rset.startswith('421'):
                    return
            elif verb == 'QUIT':
                self.send('221 2.0.0 bye')
                return
            else:
                self.send('502 5.5.2 not implemented')

    def auth(self, cmd):
        parts = cmd.split()
        if len(parts) >= 2 and parts[1].upper() == 'PLAIN':
            resp = parts[2] if len(parts) > 2 else None
            if resp is None:
                self.send('334 ')
                resp = self.rfile.readline().decode().strip()
            _, user, pw = base64.b64decode(resp).split(b'\0')
        else:
            self.send('334 VXNlcm5hbWU6')
            user = base64.b64decode(self.rfile.readline().strip())
            self.send('334 UGFzc3dvcmQ6')
            pw = base64.b64decode(self.rfile.readline().strip())
        ok = A.auth == (user + b':' + pw).decode()
        log(b'AUTH-RESULT ' + (b'ok' if ok else b'bad') + b' user=' + user)
        self.send('235 2.7.0 Authentication successful' if ok else '535 5.7.8 Authentication failed')

    def data(self, mail, rcpts, accepted):
        body = b''
        while True:
            line = self.rfile.readline(100000)
            if not line:
                return False
            if line == b'.\r\n':
                break
            body += line
            if A.drop_data is not None and len(body) >= A.drop_data:
                self.connection.shutdown(socket.SHUT_RDWR)
                return False
        self.stall('dot')
        if A.out:
            with lock:
                count[0] += 1
                n = count[0]
            with open(os.path.join(A.out, str(n)), 'wb') as f:
                f.write(('\n'.join([mail] + rcpts) + '\n\n').encode())
                f.write(body)
        if not A.lmtp:
            self.send('250 2.0.0 Ok: queued')
            return True
        for addr in accepted:
            local = addr.split('@')[0]
            if local.startswith('late-temp'):
                self.send('451 4.2.0 <%s>: try later' % addr)
            elif local.startswith('late-fail'):
                self.send('552 5.2.2 <%s>: mailbox full' % addr)
            else:
                self.send('250 2.0.0 <%s> delivered' % addr)
        return True


class TCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def get_request(self):
        sock, peer = super().get_request()
        if A.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*A.tls.split(','))
            if A.tls_old:   # a server stuck at TLS 1.0/1.1
                ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            try:
                sock = ctx.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                sock.close()
                raise
        return sock, peer


class TCP6(TCP):
    address_family = socket.AF_INET6


class Unix(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument('--lmtp', action='store_true')
    p.add_argument('--caps', default='PIPELINING,8BITMIME,DSN,SMTPUTF8,SIZE 10000000')
    p.add_argument('--no-ehlo', action='store_true')
    p.add_argument('--name', default='server.test')
    p.add_argument('--greeting')
    p.add_argument('--stall')
    p.add_argument('--drop-data', type=int)
    p.add_argument('--auth')
    p.add_argument('--mechs', default='PLAIN LOGIN')
    p.add_argument('--rset')
    p.add_argument('--mail-after-rset')
    p.add_argument('--data-reply')
    p.add_argument('--tls')
    p.add_argument('--starttls')
    p.add_argument('--tls-old', action='store_true')
    p.add_argument('--auth-code')
    p.add_argument('--hold', type=float)
    p.add_argument('--log')
    p.add_argument('--out')
    p.add_argument('address')
    p.add_argument('port', nargs='?')
    A = p.parse_args()
    if A.address.startswith('unix:'):
        srv = Unix(A.address[5:], Handler)
    elif ':' in A.address:
        srv = TCP6((A.address, int(A.port)), Handler)
    else:
        srv = TCP((A.address, int(A.port)), Handler)
    if A.hold:
        hold(srv)
    else:
        print('ready', flush=True)
    srv.serve_forever()


def hold(srv):
    """A backlog of 0 holding one unaccepted connection: the kernel drops
    every further SYN until the queue has room again."""
    srv.socket.listen(0)
    filler = socket.socket(srv.address_family, socket.SOCK_STREAM)
    filler.connect(srv.server_address)
    print('ready', flush=True)
    time.sleep(A.hold)
    srv.socket.accept()[0].close()
    filler.close()
    srv.socket.listen(srv.request_queue_size)


if __name__ == '__main__':
    main()
