#!/usr/bin/env python3
"""dialogue.py - table-driven SMTP dialogues against smtp-receive.

Usage: dialogue.py BUILD_DIR TOP_DIR TABLE [NAME-FILTER]

Each dialogue runs smtp-receive as inetd would: a real loopback TCP
connection, the accepted socket on its fds 0 and 1, a fresh spool and maps
under a temporary directory, spool-inject of BUILD_DIR as the injector.

Table format (see dialogue.txt):
  === name                 a new dialogue
  @conf key=value          an extra postern.conf line
  @args -m submission      smtp-receive arguments
  @map NAME: line          a line of the text map NAME (compiled before)
  @skip-if-idle            skip when the load average is 0 (load tests)
  @tls                     a certificate and key (tls_cert_file, tls_key_file)
  @passwd user password    a passwd map entry (SHA-512 crypt)
  @passwd user password rounds=N   the same with N rounds (a slow hash)
  @file NAME: line         a line of the file NAME in the test directory
                           (made executable if it starts with #!); $DIR in
                           @conf values and @file lines is that directory
  @env NAME=value          environment of smtp-receive
  C: text                  send text + CRLF (\\r \\n \\t \\xHH \\\\ escapes)
  R: text                  send text as it is (escapes), no CRLF added
  B: N                     send N bytes of "x" (no CRLF)
  S: 250 [2.1.5]           expect the next reply to start with this
  S: close                 expect the server to close the connection
  W: seconds               sleep
  P: seconds               the next S: reply must take at least this long
                           after the last thing sent
  A: seconds               the next S: reply must come within (at most) this long
                           after the last thing sent
  T:                       start TLS on the client side (after a 220)
  X:                       the client closes; smtp-receive must exit
  D: N                     expect N uncommitted message files (tmp/, and mess/ of the older layout)
  Q: N                     expect N committed messages in spool/new
  E: text                  expect text in the (last) committed envelope
  M: text                  expect text in the (last) committed message
  U: text                  expect text NOT to be in that message
  L: text                  expect text in smtp-receive's log (its stderr)
  N: text                  expect text NOT to be in that log
Commands are sent as they come; each S: reads one (multi-line) reply, so
C C C S S S is a pipelined batch.
"""
import os, re, shutil, socket, ssl, subprocess, sys, tempfile, time, traceback

TIMEOUT = 10
CERT = {}          # the test certificate, made once per run


def unescape(s):
    out = bytearray()
    b = s.encode('utf-8')
    i = 0
    while i < len(b):
        c = b[i]
        if c == 0x5c and i + 1 < len(b):
            n = chr(b[i + 1])
            if n == 'r': out += b'\r'; i += 2; continue
            if n == 'n': out += b'\n'; i += 2; continue
            if n == 't': out += b'\t'; i += 2; continue
            if n == '\\': out += b'\\'; i += 2; continue
            if n == 'x': out.append(int(b[i + 2:i + 4], 16)); i += 4; continue
        out.append(c)
        i += 1
    return bytes(out)


def parse(path):
    tests, cur = [], None
    for raw in open(path, encoding='utf-8'):
        line = raw.rstrip('\n')
        if not line.strip() or line.startswith('#'):
            continue
        if line.startswith('=== '):
            cur = {'name': line[4:].strip(), 'conf': [], 'args': [], 'maps': {}, 'steps': [], 'idle': False,
                   'tls': False, 'passwd': [], 'files': {}, 'env': {}}
            tests.append(cur)
        elif line.startswith('@conf '):
            cur['conf'].append(line[6:])
        elif line == '@tls':
            cur['tls'] = True
        elif line.startswith('@passwd '):
            cur['passwd'].append(line[8:].split(' ', 1))
        elif line.startswith('@file '):
            name, _, rest = line[6:].partition(': ')
            cur['files'].setdefault(name.strip(), []).append(rest)
        elif line.startswith('@env '):
            k, _, v = line[5:].partition('=')
            cur['env'][k] = v
        elif line.startswith('@args '):
            cur['args'] += line[6:].split()
        elif line.startswith('@map '):
            name, _, rest = line[5:].partition(':')
            cur['maps'].setdefault(name.strip(), []).append(rest.strip())
        elif line.startswith('@skip-if-idle'):
            cur['idle'] = True
        else:
            kind, _, arg = line.partition(': ')
            if kind.endswith(':'):  # "S:" with an empty argument
                kind, arg = kind[:-1], ''
            cur['steps'].append((kind, arg))
    return tests


class Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b''

    def line(self):
        while b'\r\n' not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b'\r\n')
        return line.decode('utf-8', 'replace')

    def reply(self):
        lines = []
        while True:
            l = self.line()
            if l is None:
                return None if not lines else '\n'.join(lines)
            lines.append(l)
            if len(l) < 4 or l[3] != '-':
                return '\n'.join(lines)


def certificate():
    """a self-signed certificate for mx.example.test, made once"""
    if not CERT:
        d = tempfile.mkdtemp(prefix='postern-dlg-cert.')
        CERT['dir'] = d
        CERT['cert'], CERT['key'] = os.path.join(d, 'cert.pem'), os.path.join(d, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                        '-nodes', '-days', '2', '-subj', '/CN=mx.example.test', '-keyout', CERT['key'],
                        '-out', CERT['cert']], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(d, 0o755)
        os.chmod(CERT['key'], 0o644)
    return CERT['cert'], CERT['key']


def slow_hash(pw, rounds):
    """a SHA-512 crypt hash with that many rounds"""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        import crypt
    return crypt.crypt(pw, '$6$rounds=%d$dialoguesalt$' % rounds)


def setup(t, build, top, d):
    spool = os.path.join(d, 'spool')
    subprocess.run([os.path.join(top, 'tools/mkspool'), spool], check=True, stdout=subprocess.DEVNULL)
    maps = os.path.join(d, 'maps')
    os.mkdir(maps)
    for name, lines in t['files'].items():
        fn = os.path.join(d, name)
        with open(fn, 'w') as f:
            f.write('\n'.join(l.replace('$DIR', d) for l in lines) + '\n')
        if lines[0].startswith('#!'):
            os.chmod(fn, 0o755)
    if t['passwd']:
        entries = []
        for user, pw in t['passwd']:
            pw, _, rounds = pw.partition(' rounds=')
            if rounds:
                h = slow_hash(pw, int(rounds))
            else:
                h = subprocess.run(['openssl', 'passwd', '-6', '-salt', 'dialoguesalt', pw], check=True,
                                   capture_output=True, text=True).stdout.strip()
            entries.append('%s %s' % (user, h))
        t['maps'].setdefault('passwd', []).extend(entries)
    for name, lines in t['maps'].items():
        with open(os.path.join(maps, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        subprocess.run([os.path.join(build, 'postern-maps'), 'compile', os.path.join(maps, name)], check=True,
                       stdout=subprocess.DEVNULL)
    conf = os.path.join(d, 'postern.conf')
    keys = {'hostname': 'mx.example.test', 'spool': spool, 'map_dir': maps, 'libexec_dir': build,
            'log': 'stderr', 'smtpd_client_name_lookup': 'no'}
    if t['tls']:
        keys['tls_cert_file'], keys['tls_key_file'] = certificate()
    for kv in t['conf']:
        k, _, v = kv.partition('=')
        keys[k.strip()] = v.strip().replace('$DIR', d)
    with open(conf, 'w') as f:
        for k, v in keys.items():
            f.write('%s = %s\n' % (k, v))
    os.chmod(conf, 0o644)
    return conf, spool


def child_env(extra):
    """the environment of smtp-receive and its injector.  Leak detection
    is off: spool-inject (not ours) leaks a stralloc in queued(), and LSan
    then turns its exit code 0 into 23 after the commit."""
    env = dict(os.environ)
    env.update(extra)
    opts = env.get('ASAN_OPTIONS', '')
    env['ASAN_OPTIONS'] = (opts + ':' if opts else '') + 'detect_leaks=0'
    return env


def committed(spool, part):
    """the envelope ('env') or the body ('body') of the newest message in
    new/: a one-file message (lib/spool.h) or one of the older layout"""
    names = sorted(os.listdir(os.path.join(spool, 'new')))
    if not names:
        return None
    with open(os.path.join(spool, 'new', names[-1]), 'rb') as f:
        d = f.read()
    if d.startswith(b'postern-message 1 '):
        body, envlen = int(d[18:28]), int(d[29:39])
        d = d[40:40 + envlen] if part == 'env' else d[body:]
    elif part == 'body':
        with open(os.path.join(spool, 'mess', names[-1]), 'rb') as f:
            d = f.read()
    return d.decode('utf-8', 'replace')


class Conn:
    """the client side: socket, reader, timing"""
    def __init__(self, sock, proc):
        self.sock, self.rd, self.proc = sock, Reader(sock), proc
        self.sent, self.min_wait, self.max_wait = time.time(), 0.0, 0.0

    def send(self, data):
        self.sock.sendall(data)
        self.sent = time.time()

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname='mx.example.test')
        self.rd = Reader(self.sock)


def step(kind, arg, c, spool, logf):
    """one step; None if it passed, else the reason"""
    if kind == 'C':
        c.send(unescape(arg) + b'\r\n')
    elif kind == 'R':
        c.send(unescape(arg))
    elif kind == 'B':
        c.send(b'x' * int(arg))
    elif kind == 'W':
        time.sleep(float(arg))
    elif kind == 'P':
        c.min_wait = float(arg)
    elif kind == 'A':
        c.max_wait = float(arg)
    elif kind == 'T':
        try:
            c.starttls()
        except (ssl.SSLError, OSError) as e:
            return 'TLS handshake failed: %s' % e
    elif kind == 'X':
        c.sock.close()
        try:
            c.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            return 'smtp-receive did not exit after the client closed'
    elif kind == 'S':
        try:
            r = c.rd.reply()
        except (ConnectionResetError, socket.timeout, ssl.SSLError) as e:
            r = None if arg == 'close' else 'error: %s' % e
        took, c.min_wait, wanted = time.time() - c.sent, 0.0, c.min_wait
        within, c.max_wait = c.max_wait, 0.0
        if arg == 'close':
            return None if r is None else 'expected close, got %r' % r
        want = unescape(arg).decode('utf-8')
        if r is None or not r.startswith(want):
            return 'expected %r, got %r' % (arg, r)
        if took < wanted:
            return 'the reply came after %.2f s, expected at least %.2f s' % (took, wanted)
        if within and took > within:
            return 'the reply came after %.2f s, expected within %.2f s' % (took, within)
    elif kind == 'Q':
        n = len(os.listdir(os.path.join(spool, 'new')))
        if n != int(arg):
            return 'expected %s committed messages, found %d' % (arg, n)
    elif kind == 'D':
        n = len(os.listdir(os.path.join(spool, 'tmp'))) + len(os.listdir(os.path.join(spool, 'mess')))
        if n != int(arg):
            return 'expected %s uncommitted message files, found %d' % (arg, n)
    elif kind in ('E', 'M'):
        text = committed(spool, 'env' if kind == 'E' else 'body')
        if text is None or unescape(arg).decode('utf-8') not in text:
            return 'expected %r in %s, got %r' % (arg, 'envelope' if kind == 'E' else 'message', text)
    elif kind == 'U':
        text = committed(spool, 'body')
        if text is None or unescape(arg).decode('utf-8') in text:
            return 'did not expect %r in the message, got %r' % (arg, text)
    elif kind in ('L', 'N'):
        time.sleep(0.05)
        with open(logf, encoding='utf-8', errors='replace') as f:
            log = f.read()
        if kind == 'L' and arg not in log:
            return 'expected %r in the log:\n%s' % (arg, log)
        if kind == 'N' and arg in log:
            return 'did not expect %r in the log:\n%s' % (arg, log)
    return None


def run(t, build, top):
    d = tempfile.mkdtemp(prefix='postern-dlg.')
    try:
        conf, spool = setup(t, build, top, d)
        ls = socket.socket()
        ls.bind(('127.0.0.1', 0))
        ls.listen(1)
        sock = socket.create_connection(ls.getsockname())
        conn, _ = ls.accept()
        ls.close()
        logf = os.path.join(d, 'log')
        with open(logf, 'wb') as lf:
            p = subprocess.Popen([os.path.join(build, 'smtp-receive'), '-C', conf] + t['args'],
                                 stdin=conn, stdout=conn, stderr=lf, close_fds=True, env=child_env(t['env']))
        conn.close()
        sock.settimeout(TIMEOUT)
        c = Conn(sock, p)
        why = None
        for n, (kind, arg) in enumerate(t['steps']):
            # a Q/E/M check right after a reply: the injector has finished
            why = step(kind, arg, c, spool, logf)
            if why:
                why = 'step %d (%s: %s): %s' % (n + 1, kind, arg, why)
                break
        c.sock.close()
        try:
            p.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            why = why or 'smtp-receive did not exit after the client closed'
        if not why and p.returncode not in (0,):
            why = 'smtp-receive exited with %d' % p.returncode
        if why:
            with open(logf, encoding='utf-8', errors='replace') as f:
                why += '\nlog:\n' + f.read()
        return why
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    build, top, table = sys.argv[1:4]
    only = sys.argv[4] if len(sys.argv) > 4 else ''
    for t in parse(table):
        if only not in t['name']:
            continue
        name = 'dialogue: ' + t['name']
        if t['idle'] and os.getloadavg()[0] <= 0.0:
            print('skip - %s # the load average is 0' % name)
            continue
        try:
            why = run(t, build, top)
        except Exception:
            why = 'the test driver failed:\n' + traceback.format_exc()
        if why:
            print('not ok - ' + name)
            for l in why.splitlines():
                print('# ' + l)
        else:
            print('ok - ' + name)
        sys.stdout.flush()
    if CERT:
        shutil.rmtree(CERT['dir'], ignore_errors=True)


main()
