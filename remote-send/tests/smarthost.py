#!/usr/bin/python3
"""smarthost.py - a submission smarthost for remote-send's tests, built on
aiosmtpd (Debian python3-aiosmtpd): STARTTLS required before anything
else, AUTH (PLAIN, LOGIN) required and only over TLS, SMTPUTF8 and
8BITMIME offered.

Usage: smarthost.py --cert PEM --key PEM --auth USER:PASS --out DIR PORT
Each message goes to DIR/N: lines "peer HOST:PORT", "tls VERSION",
"auth USER", "mail ADDR PARAMS", "rcpt ADDR PARAMS", an empty line, then
the data as received (CRLF).  DIR/log gets one line per connection,
RSET and message.  Prints "ready" when listening; runs until killed.
"""
import argparse, asyncio, os, ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

A = None
lock = threading.Lock()
count = [0]


def note(line):
    with lock, open(os.path.join(A.out, 'log'), 'a') as f:
        f.write(line + '\n')


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        note('ehlo %s:%s tls=%s' % (session.peer[0], session.peer[1], bool(session.ssl)))
        return responses

    async def handle_RSET(self, server, session, envelope):
        note('rset %s:%s' % (session.peer[0], session.peer[1]))
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        with lock:
            count[0] += 1
            n = count[0]
        tls = session.ssl.get('cipher', ['?', '?'])[1] if session.ssl else 'none'
        user = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else '-'
        head = ['peer %s:%s' % (session.peer[0], session.peer[1]), 'tls %s' % tls, 'auth %s' % user,
                'mail %s %s' % (envelope.mail_from, ' '.join(envelope.mail_options))]
        head += ['rcpt %s' % r for r in envelope.rcpt_tos]
        head += ['rcpt-options %s' % ' '.join(envelope.rcpt_options)]
        with open(os.path.join(A.out, str(n)), 'wb') as f:
            f.write(('\n'.join(head) + '\n\n').encode())
            f.write(envelope.original_content or b'')
        note('message %d %s:%s' % (n, session.peer[0], session.peer[1]))
        return '250 2.0.0 Ok: queued as smarthost-%d' % n


def authenticator(server, session, envelope, mechanism, auth_data):
    user, _, password = A.auth.partition(':')
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
          and auth_data.password == password.encode())
    note('auth %s %s' % (mechanism, 'ok' if ok else 'bad'))
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument('--cert', required=True)
    p.add_argument('--key', required=True)
    p.add_argument('--auth', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('port', type=int)
    A = p.parse_args()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(A.cert, A.key)
    c = Controller(Handler(), hostname='127.0.0.1', port=A.port, server_hostname='smarthost.test',
                   tls_context=ctx, require_starttls=True, auth_required=True, auth_require_tls=True,
                   authenticator=authenticator, enable_SMTPUTF8=True, decode_data=False)
    c.start()
    print('ready', flush=True)
    threading.Event().wait()


if __name__ == '__main__':
    main()
