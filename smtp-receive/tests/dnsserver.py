#!/usr/bin/env python3
"""dnsserver.py - a tiny authoritative DNS server for the tests (UDP only).

Usage: dnsserver.py ADDRESS PORT
Prints "ready", then "query id=ID port=PORT name=NAME" for each question.
Names (case-insensitive):
  1.0.0.127.bl.test      A 127.0.0.2          (127.0.0.1 is listed)
                         TXT "Listed: see https://bl.test/q?127.0.0.1"
  10.2.0.192.bl.test     A 127.0.0.4          (192.0.2.10 is listed)
  1.0...8.b.d.0.1.0.0.2.bl.test  A 127.0.0.2  (2001:db8::1 is listed)
  mx.good.test           A 192.0.2.1
  good.test              MX 10 mx.good.test
  aonly.test             A 192.0.2.2
  v6only.test            AAAA 2001:db8::2
  nullmx.test            MX 0 .               (RFC 7505)
  fail.test              truncated, and no TCP service: a quick temporary failure
                         (SERVFAIL would make the resolver retry for a minute)
  PTR records, each with the forward record that confirms it or not:
  192.0.2.10             mail.good.test       A 192.0.2.10 (confirmed)
  192.0.2.11             forged.good.test     A 192.0.2.99 (not confirmed)
  192.0.2.12             192.0.2.12           (a number, not a name)
  192.0.2.13             fail.test            (temporary failure)
  2001:db8::1            v6.good.test         AAAA 2001:db8::1 (confirmed)
  everything else        NXDOMAIN
"""
import ipaddress, socket, struct, sys

A = {'1.0.0.127.bl.test': '127.0.0.2', '10.2.0.192.bl.test': '127.0.0.4', 'mx.good.test': '192.0.2.1',
     'aonly.test': '192.0.2.2', 'mail.good.test': '192.0.2.10', 'forged.good.test': '192.0.2.99'}
V6_LISTED = '.'.join(reversed(ipaddress.ip_address('2001:db8::1').exploded.replace(':', ''))) + '.bl.test'
A[V6_LISTED] = '127.0.0.2'
AAAA = {'v6only.test': '2001:db8::2', 'v6.good.test': '2001:db8::1'}
MX = {'good.test': (10, 'mx.good.test'), 'nullmx.test': (0, '')}
PTR = {ipaddress.ip_address(a).reverse_pointer: n for a, n in
       [('192.0.2.10', 'mail.good.test'), ('192.0.2.11', 'forged.good.test'), ('192.0.2.12', '192.0.2.12'),
        ('192.0.2.13', 'fail.test'), ('2001:db8::1', 'v6.good.test')]}
TXT = {'1.0.0.127.bl.test': b'Listed: see https://bl.test/q?127.0.0.1'}
EXISTS = set(A) | set(AAAA) | set(MX) | set(PTR)


def name(labels):
    if not labels:
        return b'\0'
    return b''.join(bytes([len(l)]) + l.encode() for l in labels.split('.')) + b'\0'


def qname(pkt):
    i, labels = 12, []
    while pkt[i]:
        labels.append(pkt[i + 1:i + 1 + pkt[i]].decode('ascii', 'replace'))
        i += 1 + pkt[i]
    qtype, = struct.unpack('>H', pkt[i + 1:i + 3])
    return '.'.join(labels).lower(), qtype, i + 5


def rr(rtype, data):
    return struct.pack('>HHHIH', 0xc00c, rtype, 1, 60, len(data)) + data


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
        rrs.append(rr(1, socket.inet_aton(A[n])))
    elif qtype == 28 and n in AAAA:
        rrs.append(rr(28, socket.inet_pton(socket.AF_INET6, AAAA[n])))
    elif qtype == 15 and n in MX:
        pref, host = MX[n]
        rrs.append(rr(15, struct.pack('>H', pref) + name(host)))
    elif qtype == 16 and n in TXT:
        rrs.append(rr(16, bytes([len(TXT[n])]) + TXT[n]))
    elif qtype == 12 and n in PTR:
        rrs.append(rr(12, name(PTR[n])))
    flags = 0x8400 | tc | rcode          # response, authoritative
    return qid + struct.pack('>HHHHH', flags, 1, len(rrs), 0, 0) + question + b''.join(rrs)


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], int(sys.argv[2])))
    print('ready', flush=True)
    while True:
        pkt, peer = s.recvfrom(512)
        try:   # each question, for the test of random ids and ports
            print('query id=%d port=%d name=%s' % (struct.unpack('>H', pkt[:2])[0], peer[1], qname(pkt)[0]),
                  flush=True)
        except Exception:
            pass
        try:
            s.sendto(answer(pkt), peer)
        except Exception:
            pass


main()
