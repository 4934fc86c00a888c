#!/usr/bin/env python3
# tests/systemd-listen.py - the clients of tests/systemd-listen.sh, run in
# the booted root's network (and of smtp-receive/tests/listen.sh, on
# $LISTEN_PORT): every wait is bounded, every socket closed.
#   flood N SRC HOLD      N connections from SRC to port 25; print how many
#                         got 220 and the first 421 line; hold them HOLD s
#   rate N SRC            N connections one after the other (QUIT each);
#                         print the first line of each
#   hup SRC FLAG          EHLO, then wait for FLAG to exist (the reload),
#                         then MAIL, RCPT, DATA on the same session
#   stop SRC FLAG         a message up to half its body, create FLAG, wait
#                         1 s, then the rest: print the reply to the dot and
#                         the next line
#   idle SRC              EHLO, then print whatever comes next (within 20 s)
import os, socket, sys, time

def conn(src):
    s = socket.socket()
    s.settimeout(20)
    s.bind((src, 0))
    s.connect(("127.0.0.1", int(os.environ.get("LISTEN_PORT", "25"))))
    return s

def line(f):
    return f.readline().decode(errors="replace").rstrip("\r\n")

def reply(f):
    while True:
        l = line(f)
        if len(l) < 4 or l[3] != "-":
            return l

def cmd(s, f, c):
    s.sendall(c.encode() + b"\r\n")
    return reply(f)

def wait_for(flag, seconds=20):
    end = time.time() + seconds
    while not os.path.exists(flag) and time.time() < end:
        time.sleep(0.05)

def main():
    mode = sys.argv[1]
    if mode == "flood":
        n, src, hold = int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
        socks, ok, first = [], 0, ""
        for _ in range(n):
            s = conn(src)
            socks.append(s)
            l = line(s.makefile("rb"))
            if l.startswith("220 "):
                ok += 1
            elif not first:
                first = l
        print(ok, first, flush=True)
        time.sleep(hold)
    elif mode == "rate":
        n, src = int(sys.argv[2]), sys.argv[3]
        for _ in range(n):
            s = conn(src)
            f = s.makefile("rb")
            l = line(f)
            print(l, flush=True)
            if l.startswith("220"):
                cmd(s, f, "QUIT")
            s.close()
    elif mode in ("hup", "stop", "idle"):
        src = sys.argv[2]
        s = conn(src)
        f = s.makefile("rb")
        reply(f)
        print(cmd(s, f, "EHLO client.example"), flush=True)
        if mode == "idle":
            print(line(f) or "(closed)", flush=True)
            return
        if mode == "hup":
            wait_for(sys.argv[3])
        print(cmd(s, f, "MAIL FROM:<someone@example.org>"), flush=True)
        print(cmd(s, f, "RCPT TO:<%s>" % os.environ.get("LISTEN_RCPT", "alice@mx.example.test")), flush=True)
        print(cmd(s, f, "DATA"), flush=True)
        s.sendall(b"Subject: " + mode.encode() + b"\r\n\r\nfirst half\r\n")
        if mode == "stop":
            open(sys.argv[3], "w").close()
            time.sleep(1.5)
        s.sendall(b"second half\r\n.\r\n")
        print(reply(f), flush=True)
        if mode == "stop":
            print(line(f) or "(closed)", flush=True)
        else:
            print(cmd(s, f, "QUIT"), flush=True)

main()
