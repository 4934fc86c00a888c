#!/usr/bin/python3
# scripted-milter.py - a scripted milter (python3-milter, i.e. libmilter) for
# tests/milter.sh.  Usage: scripted-milter.py SOCKET MODE [SECONDS]
#   SOCKET  inet:PORT@127.0.0.1 or unix:/path
#   MODE    what it does:
#     accept      nothing (records what it saw in $MILTER_LOG, if set)
#     rejectrcpt  550 for recipients starting with "bad", others go on
#     tempfail    temporary failure at the end of the message
#     reply       a custom multi-line 554 at the end of the message
#     discard     discard at the end of the message
#     quarantine  quarantine with a reason
#     headers     add, insert at index 1, change Subject, delete X-Drop
#     chgfrom     needs "change sender" (libmilter refuses the negotiation)
#     rawchgfrom  not libmilter: declares every action, as rspamd does,
#                 then asks to change the sender at the end of the message
#     slow        sleeps SECONDS at the end of the message, then adds a header
#     close       adds a header, then drops the connection
#     tag         adds X-Tag: SECONDS (a name, for chains)
# It stops by itself after 120 s.
import os, sys, time, threading
import Milter

sock, mode = sys.argv[1], sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else ""
logf = os.environ.get("MILTER_LOG")


def log(line):
    if logf:
        with open(logf, "a") as f:
            f.write(line + "\n")


class M(Milter.Base):
    def negotiate(self, opts):
        r = Milter.Base.negotiate(self, opts)
        if mode == "chgfrom":      # insist on an action postern refuses
            opts[0] |= Milter.CHGFROM
        return r

    def connect(self, hostname, family, hostaddr):
        log("connect %s %s j=%s daemon_name=%s client_addr=%s" % (
            hostname, hostaddr, self.getsymval("j"), self.getsymval("{daemon_name}"),
            self.getsymval("{client_addr}")))
        return Milter.CONTINUE

    def hello(self, name):
        log("helo %s tls_version=%s" % (name, self.getsymval("{tls_version}")))
        return Milter.CONTINUE

    def envfrom(self, f, *params):
        log("mail %s mail_addr=%s auth_authen=%s auth_type=%s" % (
            f, self.getsymval("{mail_addr}"), self.getsymval("{auth_authen}"), self.getsymval("{auth_type}")))
        return Milter.CONTINUE

    def envrcpt(self, to, *params):
        log("rcpt %s rcpt_addr=%s" % (to, self.getsymval("{rcpt_addr}")))
        if mode == "rejectrcpt" and to.strip("<").startswith("bad"):
            self.setreply("550", "5.7.1", "milter says no to %s" % to)
            return Milter.REJECT
        return Milter.CONTINUE

    def data(self):
        log("data i=%s" % self.getsymval("i"))
        return Milter.CONTINUE

    def header(self, name, value):
        log("header %s: %r" % (name, value))
        return Milter.CONTINUE

    def body(self, chunk):
        log("body %d" % len(chunk))
        return Milter.CONTINUE

    def eom(self):
        log("eom i=%s" % self.getsymval("i"))
        if mode == "tempfail":
            return Milter.TEMPFAIL
        if mode == "reply":
            self.setreply("554", "5.7.1", "first line", "second line")
            return Milter.REJECT
        if mode == "discard":
            return Milter.DISCARD
        if mode == "quarantine":
            self.quarantine("held by the test milter")
        if mode == "headers":
            self.addheader("X-Added", "added value")
            self.addheader("X-Inserted", "inserted at 1", 1)
            self.chgheader("Subject", 1, "changed subject")
            self.chgheader("X-Drop", 1, "")
        if mode == "chgfrom":
            self.chgfrom("<other@example.test>")
        if mode == "slow":
            time.sleep(float(arg))
            self.addheader("X-Slow", "late")
        if mode == "close":
            self.addheader("X-Half", "should never be committed")
            os._exit(0)
        if mode == "tag":
            self.addheader("X-Tag", arg)
        return Milter.CONTINUE


def raw_milter(port):
    # the protocol by hand: enough to answer every stage and misbehave
    import socket, struct
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(5)
    def pkt(c, cmd, data=b""):
        c.sendall(struct.pack(">I", len(data) + 1) + cmd + data)
    def serve(c):
        f = c.makefile("rb")
        while True:
            h = f.read(4)
            if len(h) < 4:
                return
            d = f.read(struct.unpack(">I", h)[0])
            cmd = d[:1]
            if cmd == b"O":
                pkt(c, b"O", struct.pack(">III", 6, 0x1ff, 0))
            elif cmd in (b"D", b"A"):
                pass
            elif cmd == b"Q":
                return
            elif cmd == b"E":
                pkt(c, b"e", b"<other@example.test>\0")
                pkt(c, b"c")
            else:
                pkt(c, b"c")
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def stop():
    time.sleep(120)
    os._exit(0)


threading.Thread(target=stop, daemon=True).start()
if mode == "rawchgfrom":
    raw_milter(int(sock.split(":")[1].split("@")[0]))
flags = Milter.ADDHDRS | Milter.CHGHDRS | Milter.QUARANTINE
if mode == "chgfrom":
    flags |= Milter.CHGFROM
Milter.factory = M
Milter.set_flags(flags)
Milter.runmilter("test", sock, 60)
