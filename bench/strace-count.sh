#!/bin/bash
# bench/strace-count.sh - system calls per message on postern's SMTP ->
# Maildir path as deployed: `make install` + `make install-hub` in a booted
# Debian 12 root (as bench/deployed.sh), every process of the root traced
# (strace -f: systemd PID 1 and its per-unit set-up, journald, postern's
# programs), N messages of 4 KiB from smtp-source, one per connection,
# until the last one is in the Maildir.  Each process's calls are counted
# under the program it runs (from its last execve on, the execve included;
# a child that has not exec'd yet counts under its parent's program:
# systemd's fork before exec'ing a unit's program is systemd's set-up).  Prints per message:
# execve, clone, fsync, rename, mkdir, openat, mmap, rt_sigaction, socket,
# connect (failures in parentheses) and the total, per program, for
# postern's programs together, for systemd, and for everything.
#   bench/strace-count.sh [MESSAGES]     (default 200)
. "$(dirname "$0")/lib.bash"
trap 'exit 143' TERM INT HUP
N=${1:-200}
[ -x "$B/smtp-receive" ] || { echo "bench: build postern first (make)" >&2; exit 1; }
postern_root || exit 1
port25_up || exit 1
MD=$R/home/box/Maildir/new
count() { md_count; }
wait_count() { md_wait "$@"; }
send() { md_send "$@"; }

# warm-up (first-run costs: maps, page cache), then an empty Maildir
send 20; wait_count 20 120; find "$MD" -maxdepth 1 -type f -delete

# every process of the root: the same PID namespace as its PID 1
ns=$(readlink "/proc/$PID1/ns/pid")
attach=()
for p in /proc/[0-9]*; do
  [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] && attach+=(-p "${p#/proc/}")
done
mkdir "$T/st"
strace -f -ff -qq --decode-pids=pidns -o "$T/st/t" "${attach[@]}" 2>"$T/strace.err" &
spid=$!
pids+=($spid)
sleep 2    # strace attaches to every process before the load starts
for p in "${attach[@]}"; do [ "$p" = -p ] || echo "$p $(cat /proc/$p/comm 2>/dev/null)"; done >"$T/st/attached"
send "$N"
wait_count "$N" $((300 + 5 * N)) || echo "WARNING: only $(count) of $N messages delivered under strace"
sleep 2    # the deliveries' and the units' ends
kill -INT "$spid"; wait "$spid" 2>/dev/null
got=$(count)
[ -s "$T/source.err" ] && { echo "smtp-source complained:"; sort "$T/source.err" | uniq -c | head -n 3; }

python3 - "$T/st" "$N" "$got" "$(ls "$R/usr/libexec/postern" | tr '\n' ' ')" <<'EOP'
import collections, os, re, sys
d, n, got = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ours = set(sys.argv[4].split())      # the installed programs (comm is at most 15 bytes)
ours |= {x[:15] for x in ours}
attached = dict(l.split(None, 1) for l in open(os.path.join(d, 'attached')).read().splitlines() if ' ' in l)
call = re.compile(r'^(\w+)\((.*)\)\s+= (-?\d+|\?)(?: /\* (\d+) in strace\'s PID NS \*/)?(?: (E[A-Z0-9]+))?')
files = {int(f[2:]): os.path.join(d, f) for f in os.listdir(d) if f.startswith('t.')}
events = {}          # pid -> [(syscall, failed)], with owner changes
born = {}            # child pid -> (parent pid, index into the parent's events)
for pid, path in files.items():
    ev = []
    for line in open(path, errors='replace'):
        m = call.match(line)
        if not m:
            continue
        name, args, ret, hostpid, err = m.groups()
        failed = ret.startswith('-') or err is not None
        if name in ('clone', 'clone3', 'fork', 'vfork') and not failed and ret != '?':
            born[int(hostpid or ret)] = (pid, len(ev))
        if name == 'execve' and not failed:
            prog = os.path.basename(args.split('"')[1]) if '"' in args else '?'
            ev.append((name, failed, prog))
        else:
            ev.append((name, failed, None))
    events[pid] = ev

def start_owner(pid, depth=0):
    if pid in born and depth < 50:
        parent, k = born[pid]
        return owner_at(parent, k, depth + 1)
    return attached.get(str(pid), '?').strip()

def owner_at(pid, k, depth=0):
    o = start_owner(pid, depth)
    for name, failed, prog in events.get(pid, [])[:k]:
        if prog:
            o = prog
    return o

counts = collections.defaultdict(collections.Counter)
fails = collections.defaultdict(collections.Counter)
for pid, ev in events.items():
    o = start_owner(pid)
    for name, failed, prog in ev:
        if prog:
            o = prog   # an execve counts under the program it loads
        counts[o][name] += 1
        fails[o][name] += failed

cols = [('execve', ('execve',)), ('clone', ('clone', 'clone3', 'fork', 'vfork')), ('fsync', ('fsync', 'fdatasync')),
        ('rename', ('rename', 'renameat', 'renameat2')), ('mkdir', ('mkdir', 'mkdirat')), ('openat', ('open', 'openat')),
        ('mmap', ('mmap',)), ('rt_sigaction', ('rt_sigaction',)), ('socket', ('socket',)), ('connect', ('connect',))]
def row(label, c, f):
    cells = []
    for col, names in cols:
        v = sum(c[x] for x in names) / n
        e = sum(f[x] for x in names) / n
        cells.append('%.1f' % v + (' (%.1f)' % e if e >= 0.05 else ''))
    cells.append('%.0f' % (sum(c.values()) / n))
    print('| %s | %s |' % (label, ' | '.join(cells)))

print('system calls per message, SMTP -> Maildir as deployed (booted root, shipped units), %d messages of 4 KiB, '
      'one per connection, %d delivered; (failed calls)' % (n, got))
print('| program | ' + ' | '.join(c for c, _ in cols) + ' | total |')
print('|---' * (len(cols) + 2) + '|')
def group(pred):
    c, f = collections.Counter(), collections.Counter()
    for o in counts:
        if pred(o):
            c.update(counts[o]); f.update(fails[o])
    return c, f
sysd = lambda o: o.startswith('systemd') or o in ('(sd-pam)', 'init')
for o in sorted(counts, key=lambda o: -sum(counts[o].values())):
    if sum(counts[o].values()) >= n * 0.5:
        row(o, counts[o], fails[o])
row('**postern programs**', *group(lambda o: o in ours))
row('**systemd (PID 1, unit set-up, journald)**', *group(sysd))
if any(not sysd(o) and o not in ours for o in counts):
    row('other (not attributed)', *group(lambda o: not sysd(o) and o not in ours))
row('**everything in the root**', *group(lambda o: True))
print()
print('the most frequent calls per message of each of postern\'s programs (failed in parentheses):')
for o in sorted((o for o in counts if o in ours), key=lambda o: -sum(counts[o].values())):
    if sum(counts[o].values()) >= n * 0.5:
        top = counts[o].most_common(16)
        print('  %s: %s' % (o, ', '.join('%s %.1f%s' % (k, v / n, ' (%.1f)' % (fails[o][k] / n) if fails[o][k] else '')
                                           for k, v in top)))
EOP
