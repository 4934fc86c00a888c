#!/usr/bin/env python3
"""dnsserver.py - a tiny authoritative DNS server for the tests (UDP only).

Usage: dnsserver.py ADDRESS PORT
Names (case-insensitive):
  1.0.0.127.bl.test      A 127.0.0.2          (127.0.0.1 is listed)
  mx.good.test           A 192.0.2.1
  good.test              MX 10 mx.good.test
  aonly.test             A 192.0.2.2
  fail.test              truncated, and no TCP service: a quick temporary failure
                         (SERVFAIL would make the resolver retry for a minute)
  everything else        NXDOMAIN
"""
import socket, struct, sys

A = {'1.0.0.127.bl.test': '127.0.0.2', 'mx.good.test': '192.0.2.1', 'aonly.test': '192.0.2.2'}
MX = {'good.test': (10, 'mx.good.test')}
EXISTS = set(A) | set(MX)


def name(labels):
    return b''.join(bytes([len(l)]) + l.encode() for l in labels.split('.')) + b'\0'


def qname(pkt):
    i, labels = 12, []
    while pkt[i]:
        labels.append(pkt[i + 1:i + 1 + pkt[i]].decode('ascii', 'replace'))
        i += 1 + pkt[i]
    qtype, = struct.unpack('>H', pkt[i + 1:i + 3])
    return '.'.join(labels).lower(), qtype, i + 5


def answer(pkt):
    qid = pkt[:2]
    n, qtype, end = qname(pkt)
    question = pkt[12:end]
    rcode, rrs = 0, []
    tc = 0
    if n == 'fail.test':
        tc = 0x0200
    elif n not in EXISTS:
        rcode = 3
    elif qtype == 1 and n in A:
        rrs.append(struct.pack('>HHHIH', 0xc00c, 1, 1, 60, 4) + socket.inet_aton(A[n]))
    elif qtype == 15 and n in MX:
        pref, host = MX[n]
        rd = struct.pack('>H', pref) + name(host)
        rrs.append(struct.pack('>HHHIH', 0xc00c, 15, 1, 60, len(rd)) + rd)
    flags = 0x8400 | tc | rcode          # response, authoritative
    return qid + struct.pack('>HHHHH', flags, 1, len(rrs), 0, 0) + question + b''.join(rrs)


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], int(sys.argv[2])))
    print('ready', flush=True)
    while True:
        pkt, peer = s.recvfrom(512)
        try:
            s.sendto(answer(pkt), peer)
        except Exception:
            pass


main()
