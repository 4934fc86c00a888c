#!/usr/bin/env python3
# bench/deployed-report.py - the figures bench/deployed.sh collected in
# $T/res.SCENARIO.SIDE (one line per round), as medians over the rounds,
# one Markdown table row per scenario with both sides and the ratios.
import os, statistics, sys

T = os.environ['T']
E = os.environ


def rows(sc, side):
    try:
        with open(os.path.join(T, 'res.%s.%s' % (sc, side))) as f:
            return [[float(x) for x in l.split()] for l in f if l.strip()]
    except (OSError, ValueError):
        return []


def med(sc, side, k):
    v = [r[k] for r in rows(sc, side) if len(r) > k]
    return statistics.median(v) if v else None


def fmt(x, d=1):
    return '-' if x is None else '%.*f' % (d, x)


def ratio(a, b, d=2):
    return '-' if a is None or b is None or b == 0 else '%.*f' % (d, a / b)


def n_rounds(sc, other='postfix'):
    return min(len(rows(sc, 'postern')), len(rows(sc, other)))


print('postern as deployed (make install + install-hub in a booted Debian 12 root, systemd PID 1, shipped units)')
print('next to a whole Postfix %s (private instance, shipped master.cf, virtual -> Maildir, smtp -> relay)'
      % os.popen('postconf -d -h mail_version 2>/dev/null').read().strip())
print('same machine, same run, interleaved, medians of %s rounds; %s CPUs; load average at the end: %s'
      % (E['ROUNDS'], os.cpu_count(), open('/proc/loadavg').read().split()[0]))
print('queues and mailboxes of both on %s' % (
    'a fresh ext4 image with mkfs.ext4\'s defaults (journal)' if E.get('BENCH_FS') == 'ext4' else
    'the host\'s file system (%s)' % os.popen("findmnt -n -o FSTYPE,OPTIONS -T " + E['T']).read().strip()))
print('CPU ms: the MTA\'s cgroup (postern: the whole booted root, systemd and journald included; Postfix: every'
      ' process of the instance), in parentheses the whole machine from /proc/stat (clients included;'
      ' meaningful only on an otherwise idle machine)')
print()
print('| scenario | Postfix | postern | postern/Postfix |')
print('|---|---|---|---|')

N, S = E['N'], E['S']
for sc, what in (('maildir', 'SMTP → Maildir, one message per connection (%s sessions, %s × 4 KiB, until the last file lands)' % (S, N)),
                 ('accept', 'accept only, one message per connection (queue daemons stopped on both sides; Postfix in_flow_delay=0)'),
                 ('kept', 'accept only, connections kept (smtp-source -d; queue daemons stopped on both sides)'),
                 ('relay', 'SMTP in → relayed to smtp-sink (until the sink has every message)')):
    if not n_rounds(sc):
        continue
    r1, r2 = med(sc, 'postfix', 0), med(sc, 'postern', 0)
    c1, c2 = med(sc, 'postfix', 1), med(sc, 'postern', 1)
    m1, m2 = med(sc, 'postfix', 2), med(sc, 'postern', 2)
    print('| %s | %s msgs/s, %s ms CPU/msg (%s) | %s msgs/s, %s ms CPU/msg (%s) | rate %s×, CPU %s× |'
          % (what, fmt(r1, 0), fmt(c1, 2), fmt(m1, 2), fmt(r2, 0), fmt(c2, 2), fmt(m2, 2), ratio(r2, r1), ratio(c2, c1)))

if n_rounds('latency'):
    # p50 p99 delivered failed rate cg machine
    p1, p2 = med('latency', 'postfix', 0), med('latency', 'postern', 0)
    q1, q2 = med('latency', 'postfix', 1), med('latency', 'postern', 1)
    c1, c2 = med('latency', 'postfix', 5), med('latency', 'postern', 5)
    d1, d2 = med('latency', 'postfix', 2), med('latency', 'postern', 2)
    print('| latency connect → file in the Maildir, p50 / p99, at %s msgs/s offered to both (%s messages, one per connection) '
          '| %s / %s ms, %s ms CPU/msg (%s delivered) | %s / %s ms, %s ms CPU/msg (%s delivered) | p50 %s×, p99 %s× |'
          % (E['LAT_RATE'], E['LAT_N'], fmt(p1), fmt(q1), fmt(c1, 2), fmt(d1, 0), fmt(p2), fmt(q2), fmt(c2, 2), fmt(d2, 0),
             ratio(p2, p1), ratio(q2, q1)))

for sc, what in (('quit', 'connection closed after the greeting (connect, 220, QUIT)'),
                 ('reject', 'client refused by the access map (127.0.0.2 REJECT; refused at RCPT on both, delayed as shipped)')):
    if not n_rounds(sc):
        continue
    # rate cg machine failed seconds
    c1, c2 = med(sc, 'postfix', 1), med(sc, 'postern', 1)
    m1, m2 = med(sc, 'postfix', 2), med(sc, 'postern', 2)
    # connections per second as the client saw them (its own clock)
    sec1, sec2 = med(sc, 'postfix', 4), med(sc, 'postern', 4)
    r1 = float(E['REF_N']) / sec1 if sec1 else None
    r2 = float(E['REF_N']) / sec2 if sec2 else None
    f1, f2 = med(sc, 'postfix', 3), med(sc, 'postern', 3)
    print('| %s, %s connections, 5 at a time | %s ms CPU/conn (%s), %s conn/s, %s failed | %s ms CPU/conn (%s), %s conn/s, %s failed | CPU %s× |'
          % (what, E['REF_N'], fmt(c1, 2), fmt(m1, 2), fmt(r1, 0), fmt(f1, 0), fmt(c2, 2), fmt(m2, 2), fmt(r2, 0), fmt(f2, 0), ratio(c2, c1)))

if n_rounds('sendmail'):
    # p50 mean p99 cpu bad
    w1, w2 = med('sendmail', 'postfix', 0), med('sendmail', 'postern', 0)
    c1, c2 = med('sendmail', 'postfix', 3), med('sendmail', 'postern', 3)
    print('| one sendmail call as root, %s calls, 2 KiB (wall p50; CPU of the call and its children) | %s ms wall, %s ms CPU | %s ms wall, %s ms CPU | wall %s×, CPU %s× |'
          % (E['SM_N'], fmt(w1, 2), fmt(c1, 2), fmt(w2, 2), fmt(c2, 2), ratio(w2, w1), ratio(c2, c1)))
if n_rounds('nosm-maildir', 'nosm') or n_rounds('nosm-quit', 'nosm'):
    desc = open(os.path.join(T, 'nosm.desc')).read().strip() if os.path.exists(os.path.join(T, 'nosm.desc')) else '?'
    q1, q2 = med('nosm-quit', 'nosm', 1), med('nosm-quit', 'postern', 1)
    r1, r2 = med('nosm-maildir', 'nosm', 0), med('nosm-maildir', 'postern', 0)
    c1, c2 = med('nosm-maildir', 'nosm', 1), med('nosm-maildir', 'postern', 1)
    print('| systemd\'s per-connection work: the same installed programs with no service manager in between '
          '(systemd-socket-activate in the root, one transient unit, no sandbox: %s), interleaved with the deployed units; '
          'the first column here is that, not Postfix | greeting+QUIT %s ms CPU/conn; Maildir %s msgs/s, %s ms CPU/msg '
          '| greeting+QUIT %s ms CPU/conn; Maildir %s msgs/s, %s ms CPU/msg | systemd adds %s ms CPU per connection |'
          % (desc, fmt(q1, 2), fmt(r1, 0), fmt(c1, 2), fmt(q2, 2), fmt(r2, 0), fmt(c2, 2),
             '-' if q1 is None or q2 is None else '%.2f' % (q2 - q1)))
print()
print('rounds (raw, per side: rate, cgroup CPU ms, machine CPU ms, ...):')
for f in sorted(os.listdir(T)):
    if f.startswith('res.'):
        print('  %s: %s' % (f[4:], ' | '.join(l.strip() for l in open(os.path.join(T, f)))))
