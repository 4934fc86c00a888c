#!/usr/bin/env python3
"""tlsdrip.py - the command deadline holds inside a TLS record.

Usage: tlsdrip.py BUILD_DIR

smtp-receive -m smtps with smtpd_timeout = 3 gets a NOOP whose one TLS
record is sent a byte every 0.6 s (poll sees the first byte, then the TLS
read waits inside the record for the rest).  The server must give up by
the deadline: the connection ends within 3 s of the start of the command
plus a margin, long before the record could be complete.  Python's ssl
with memory BIOs makes the record, so the test controls every byte.
"""
import os, shutil, socket, ssl, subprocess, sys, tempfile, time

build = sys.argv[1]
d = tempfile.mkdtemp(prefix='postern-tlsdrip.')
proc = None
try:
    cert, key = os.path.join(d, 'cert.pem'), os.path.join(d, 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                    '-nodes', '-days', '2', '-subj', '/CN=mx.example.test', '-keyout', key, '-out', cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o644)
    os.mkdir(os.path.join(d, 'maps'))
    subprocess.run([os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../tools/mkspool'),
                    os.path.join(d, 'spool')], check=True, stdout=subprocess.DEVNULL)
    conf = os.path.join(d, 'postern.conf')
    with open(conf, 'w') as f:
        f.write('hostname = mx.example.test\nspool = %s/spool\nmap_dir = %s/maps\nlibexec_dir = %s\n'
                'log = stderr\nsmtpd_client_name_lookup = no\nsmtpd_timeout = 3\n'
                'tls_cert_file = %s\ntls_key_file = %s\n' % (d, d, build, cert, key))
    os.chmod(conf, 0o644)
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(1)
    sock = socket.create_connection(ls.getsockname())
    conn, _ = ls.accept()
    ls.close()
    env = dict(os.environ)
    env['ASAN_OPTIONS'] = (env.get('ASAN_OPTIONS', '') + ':detect_leaks=0').lstrip(':')
    log = open(os.path.join(d, 'log'), 'wb')
    proc = subprocess.Popen([os.path.join(build, 'smtp-receive'), '-C', conf, '-m', 'smtps'],
                            stdin=conn, stdout=conn, stderr=log, env=env, close_fds=True)
    conn.close()
    sock.settimeout(10)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname='mx.example.test')

    def pump_out():
        data = out.read()
        if data:
            sock.sendall(data)

    def read_line():
        buf = b''
        while not buf.endswith(b'\r\n'):
            try:
                buf += tls.read(4096)
                continue
            except ssl.SSLWantReadError:
                pass
            pump_out()
            data = sock.recv(65536)
            if not data:
                return None
            inc.write(data)
        return buf

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump_out()
            data = sock.recv(65536)
            if not data:
                raise SystemExit('not ok - TLS drip: the handshake failed')
            inc.write(data)
    pump_out()
    greeting = read_line()
    if not greeting or not greeting.startswith(b'220'):
        print('not ok - TLS drip: no greeting\n# %r' % greeting)
        raise SystemExit(0)
    time.sleep(0.3)                 # the session ticket records, if any, are read by now
    tls.write(b'NOOP\r\n')
    record = out.read()
    start = time.time()
    closed = None
    sock.settimeout(0.6)
    for i, b in enumerate(record):
        try:
            sock.send(bytes([b]))
        except OSError:
            closed = time.time() - start
            break
        try:
            data = sock.recv(65536)
            if data == b'' or data:   # the end, or the 421 on its way out
                closed = time.time() - start
                break
        except socket.timeout:
            pass
        except OSError:
            closed = time.time() - start
            break
        if time.time() - start > 9:
            break
    name = 'TLS drip: a command dripped inside one TLS record ends at smtpd_timeout'
    if closed is not None and closed < 5.5:
        print('ok - %s (%.1f s, %d of %d record bytes sent)' % (name, closed, i + 1, len(record)))
    else:
        log.flush()
        print('not ok - %s' % name)
        print('# the server still read after %.1f s (%d of %d record bytes sent)' % (time.time() - start, i + 1, len(record)))
        print('# log: %s' % open(os.path.join(d, 'log'), 'rb').read().decode('utf-8', 'replace').replace('\n', '\n# '))
finally:
    if proc:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    shutil.rmtree(d, ignore_errors=True)
