#!/usr/bin/env python3
"""dns.py - a tiny authoritative DNS server (UDP) for remote-send's tests.

Usage: dns.py ADDRESS PORT ZONEFILE
Zone file lines (names without the final dot, case-insensitive):
  name MX pref host        (host "." is a null MX, RFC 7505)
  name A 192.0.2.1
  name AAAA 2001:db8::1
  name TEMP                a truncated answer and no TCP service: the
                           resolver's quick temporary failure
A name with records but none of the type asked gets an empty answer;
any other name gets NXDOMAIN.  Prints "ready" when listening.
"""
import socket, struct, sys

zone = {}


def load(path):
    for line in open(path):
        w = line.split()
        if len(w) >= 2:
            zone.setdefault(w[0].lower(), []).append((w[1].upper(), w[2:]))


def wire(name):
    if name in ('.', ''):
        return b'\0'
    return b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0'


def question(pkt):
    i, labels = 12, []
    while pkt[i]:
        labels.append(pkt[i + 1:i + 1 + pkt[i]].decode('ascii', 'replace'))
        i += 1 + pkt[i]
    qtype, = struct.unpack('>H', pkt[i + 1:i + 3])
    return '.'.join(labels).lower(), qtype, i + 5


def rr(qtype, data):
    return struct.pack('>HHHIH', 0xc00c, qtype, 1, 60, len(data)) + data


def answer(pkt):
    name, qtype, end = question(pkt)
    rcode, tc, rrs = 0, 0, []
    recs = zone.get(name)
    if recs is None:
        rcode = 3
    for typ, args in recs or []:
        if typ == 'TEMP':
            tc = 0x0200
        elif typ == 'MX' and qtype == 15:
            rrs.append(rr(15, struct.pack('>H', int(args[0])) + wire(args[1])))
        elif typ == 'A' and qtype == 1:
            rrs.append(rr(1, socket.inet_aton(args[0])))
        elif typ == 'AAAA' and qtype == 28:
            rrs.append(rr(28, socket.inet_pton(socket.AF_INET6, args[0])))
    if tc:
        rrs = []
    flags = 0x8400 | tc | rcode
    return pkt[:2] + struct.pack('>HHHHH', flags, 1, len(rrs), 0, 0) + pkt[12:end] + b''.join(rrs)


def main():
    load(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], int(sys.argv[2])))
    print('ready', flush=True)
    while True:
        pkt, peer = s.recvfrom(512)
        try:
            s.sendto(answer(pkt), peer)
        except (IndexError, struct.error, OSError, ValueError):
            pass


if __name__ == '__main__':
    main()
