#!/usr/bin/env python3
# bench/smtp-client.py - the two SMTP clients bench/deployed.sh needs that
# smtp-source is not: a paced sender that times each message from connect
# to its file in the Maildir, and a client that makes connections a server
# refuses at once.  Run inside the network namespace of the servers
# (nsenter -n); each mode is bounded by its count and its deadlines.
#
#   smtp-client.py paced PORT RATE COUNT MAILDIR RCPT TAG
#       COUNT messages of about 4 KiB to RCPT, one per connection, a new
#       connection every 1/RATE s whatever the server does (open loop, so
#       both servers see the same offered load); MAILDIR/new is watched
#       with inotify.  Prints: p50 p99 delivered failed   (latencies in ms)
#   smtp-client.py refuse PORT COUNT CONC quit|reject [SOURCE]
#       COUNT connections, CONC at a time.  quit: read the greeting, QUIT.
#       reject: from SOURCE (an address the access map REJECTs), EHLO,
#       MAIL, RCPT until a 5xx, QUIT.
#       Prints: done failed seconds
import asyncio, ctypes, os, socket, statistics, struct, sys, threading, time

DEADLINE = 30        # seconds one session may take


async def reply(r):
    """one SMTP reply (its last line), or '' on EOF"""
    while True:
        l = await r.readline()
        if not l or l[3:4] != b'-':
            return l.decode('latin-1')


async def session(port, cmds, src=None):
    """connect, read the greeting, send each command in turn while the
    replies are positive (2xx, 3xx); returns the replies"""
    r, w = await asyncio.open_connection('127.0.0.1', port, local_addr=(src, 0) if src else None)
    out = [await reply(r)]
    try:
        for c in cmds:
            if out[-1][:1] not in ('2', '3'):
                break
            w.write(c)
            await w.drain()
            out.append(await reply(r))
    finally:
        w.close()
    return out


def message(tag, i):
    head = b'From: <a@b.test>\r\nTo: <box@bench.test>\r\nSubject: %s-%d\r\n\r\n' % (tag.encode(), i)
    line = b'x' * 78 + b'\r\n'
    return head + line * (4096 // len(line))


class Watch(threading.Thread):
    """arrival time of every file created in or moved into DIR (inotify)"""
    def __init__(self, d):
        super().__init__(daemon=True)
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_CLOEXEC)
        if self.fd < 0 or self.libc.inotify_add_watch(self.fd, d.encode(), 0x100 | 0x80) < 0:  # IN_CREATE|IN_MOVED_TO
            raise OSError(ctypes.get_errno(), 'inotify on ' + d)
        self.seen = {}
        self.stop = False

    def run(self):
        while not self.stop:
            buf = os.read(self.fd, 65536)
            now = time.time()
            k = 0
            while k < len(buf):
                _, _, _, n = struct.unpack_from('iIII', buf, k)
                name = buf[k + 16:k + 16 + n].rstrip(b'\0').decode('latin-1')
                self.seen.setdefault(name, now)
                k += 16 + n


async def paced(port, rate, count, maildir, rcpt, tag):
    new = os.path.join(maildir, 'new')
    watch = Watch(new)
    watch.start()
    start, failed = {}, 0
    t0 = time.time()

    async def one(i):
        nonlocal failed
        await asyncio.sleep(max(0, t0 + i / rate - time.time()))
        start[i] = time.time()
        cmds = [b'EHLO client.test\r\n', b'MAIL FROM:<a@b.test>\r\n', b'RCPT TO:<%s>\r\n' % rcpt.encode(),
                b'DATA\r\n', message(tag, i) + b'.\r\n', b'QUIT\r\n']
        try:
            out = await asyncio.wait_for(session(port, cmds), DEADLINE)
            if len(out) < 6 or out[5][:1] != '2':
                failed += 1
                if failed <= 3:
                    print('paced-client: failed session: ' + ' / '.join(o.strip() for o in out), file=sys.stderr)
        except (OSError, asyncio.TimeoutError) as e:
            failed += 1
            if failed <= 3:
                print('paced-client: failed session: ' + repr(e), file=sys.stderr)

    await asyncio.gather(*(one(i) for i in range(count)))
    # every accepted message in the Maildir, or give up after 60 s
    end = time.time() + 60
    while len(watch.seen) < count - failed and time.time() < end:
        await asyncio.sleep(0.05)
    watch.stop = True
    lat = []
    for name, t in list(watch.seen.items()):
        try:
            with open(os.path.join(new, name), 'rb') as f:
                head = f.read(8192)
        except OSError:
            continue
        k = head.find(b'Subject: %s-' % tag.encode())
        if k < 0:
            continue
        i = int(head[k + 10 + len(tag):head.index(b'\n', k)].strip())
        if i in start:
            lat.append((t - start[i]) * 1000)
    lat.sort()
    if not lat:
        print('0 0 0 %d' % failed)
        return
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print('%.1f %.1f %d %d' % (statistics.median(lat), p99, len(lat), failed))


async def refuse(port, count, conc, mode, src):
    if mode == 'quit':
        cmds = [b'QUIT\r\n']
    else:
        cmds = [b'EHLO client.test\r\n', b'MAIL FROM:<a@b.test>\r\n', b'RCPT TO:<box@bench.test>\r\n', b'QUIT\r\n']
    sem = asyncio.Semaphore(conc)
    failed, why = 0, []

    async def one():
        nonlocal failed
        async with sem:
            try:
                out = await asyncio.wait_for(session(port, cmds, src), DEADLINE)
                if mode == 'quit':
                    ok = len(out) == 2 and out[1][:3] == '221'
                else:
                    ok = out[-1][:1] == '5'       # refused, at the greeting or later
                if not ok:
                    failed += 1
                    why.append(' / '.join(o.strip() for o in out))
            except (OSError, asyncio.TimeoutError) as e:
                failed += 1
                why.append(repr(e))

    t0 = time.time()
    await asyncio.gather(*(one() for _ in range(count)))
    print('%d %d %.3f' % (count - failed, failed, time.time() - t0))
    for w in why[:3]:
        print('refused-client: failed session: ' + w, file=sys.stderr)


def main(a):
    if len(a) >= 7 and a[1] == 'paced':
        asyncio.run(paced(int(a[2]), float(a[3]), int(a[4]), a[5], a[6], a[7] if len(a) > 7 else 'lat'))
    elif len(a) >= 6 and a[1] == 'refuse':
        asyncio.run(refuse(int(a[2]), int(a[3]), int(a[4]), a[5], a[6] if len(a) > 6 else None))
    else:
        sys.exit('usage: smtp-client.py paced PORT RATE COUNT MAILDIR RCPT TAG | refuse PORT COUNT CONC quit|reject [SOURCE]')


if __name__ == '__main__':
    main(sys.argv)
