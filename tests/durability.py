#!/usr/bin/env python3
"""tests/durability.py - check an strace log for postern's durability order.

    durability.py LOG ROOT...

LOG comes from `strace -f -y -qq -e trace=<see durability.sh> -o LOG CMD`;
only files under one of the ROOT directories are judged.  The rules, per
process (DESIGN.md invariants 1 and 2, STYLE.md "durability order"):

  commit   a file the process wrote (write, pwrite, fallocate, ftruncate)
           and then renames (or links, where RENAME_NOREPLACE is refused)
           into place was fsync'ed (fsync or fdatasync) after its last
           write, before the rename;
  in place a file the process wrote where it stays (not in a tmp/
           directory, not named *.tmp) was fsync'ed after its last write,
           and its directory fsync'ed after the file was created, before
           any commit rename and before the process reports (a write to
           fd 1, or exit 0);
  publish  after a commit rename, the destination directory is fsync'ed
           before the process reports (a write to fd 1 or 2, or exit 0).

Prints one line per violation and exits 1 if there is any, else prints a
summary of what it checked and exits 0.
"""
import os, re, sys

LINE = re.compile(r'^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+|\?)(.*)$')
FDPATH = re.compile(r'^(-?\d+)<(.*)>$')


def split_args(s):
    """split an strace argument list at top-level commas"""
    out, depth, cur, q = [], 0, '', False
    i = 0
    while i < len(s):
        c = s[i]
        if q:
            cur += c
            if c == '\\' and i + 1 < len(s):
                cur += s[i + 1]; i += 1
            elif c == '"':
                q = False
        elif c == '"':
            q = True; cur += c
        elif c in '<[{(':
            depth += 1; cur += c
        elif c in '>]})':
            depth -= 1; cur += c
        elif c == ',' and depth == 0:
            out.append(cur.strip()); cur = ''
        else:
            cur += c
        i += 1
    if cur.strip():
        out.append(cur.strip())
    return out


def unquote(a):
    if a.startswith('"'):
        end = a.rfind('"')
        return bytes(a[1:end], 'utf-8').decode('unicode_escape')
    return a


def fd_path(a):
    m = FDPATH.match(a)
    return (int(m.group(1)), m.group(2)) if m else (None, None)


class Proc:
    def __init__(self, cwd):
        self.cwd = cwd
        self.written = {}    # path -> event number of its last write
        self.synced = {}     # path -> event number of its last fsync
        self.created = {}    # path -> event number of its creation
        self.commits = []    # (event, destination path)


def main():
    log, roots = sys.argv[1], [os.path.realpath(r) for r in sys.argv[2:]]
    under = lambda p: p and any(p == r or p.startswith(r + '/') for r in roots)

    def tmpish(p):
        """a scratch file: *.tmp, or in a tmp/ directory below a root"""
        root = next(r for r in roots if p == r or p.startswith(r + '/'))
        return p.endswith('.tmp') or 'tmp' in p[len(root):].split('/')[:-1]
    procs, bad, n = {}, [], 0
    stats = {'commits': 0, 'in_place': 0, 'reports': 0}

    def proc(pid):
        if pid not in procs:
            procs[pid] = Proc(None)
        return procs[pid]

    def absolute(p, pr, dirfd_arg=None):
        if p.startswith('/'):
            return os.path.normpath(p)
        base = pr.cwd
        if dirfd_arg:
            _, dp = fd_path(dirfd_arg.replace('AT_FDCWD', '-100'))
            if dp:
                base = dp
        return os.path.normpath(os.path.join(base or '/', p))

    def check_in_place(pid, pr, when):
        for p, w in pr.written.items():
            if not under(p) or tmpish(p) or p in [c for _, c in pr.commits]:
                continue
            stats['in_place'] += 1
            if pr.synced.get(p, -1) < w:
                bad.append('pid %d: %s written in place but not fsynced before %s' % (pid, p, when))
            d = os.path.dirname(p)
            if p in pr.created and pr.synced.get(d, -1) < pr.created[p]:
                bad.append('pid %d: directory %s not fsynced after creating %s, before %s' % (pid, d, os.path.basename(p), when))
        pr.written = {p: w for p, w in pr.written.items() if not under(p) or tmpish(p)}

    def check_published(pid, pr, when):
        for ev, dst in pr.commits:
            stats['reports'] += 1
            d = os.path.dirname(dst)
            if pr.synced.get(d, -1) < ev:
                bad.append('pid %d: %s renamed into place but %s not fsynced before %s' % (pid, os.path.basename(dst), d, when))
        pr.commits = []

    def joined(f):
        """lines with strace's "<unfinished ...>" and "<... resumed>" halves
        (another process ran in between) put back together"""
        held = {}
        for raw in f:
            raw = raw.strip()
            mu = re.match(r'^(\d+)\s+(.*) <unfinished \.\.\.>$', raw)
            mr = re.match(r'^(\d+)\s+<\.\.\. \w+ resumed>(.*)$', raw)
            if mu:
                held[mu.group(1)] = mu.group(2)
            elif mr and mr.group(1) in held:
                yield mr.group(1) + '  ' + held.pop(mr.group(1)) + mr.group(2)
            else:
                yield raw

    with open(log, errors='replace') as f:
        for raw in joined(f):
            m = LINE.match(raw.strip())
            if not m:
                continue
            n += 1
            pid, call, args, ret = int(m.group(1)), m.group(2), split_args(m.group(3)), m.group(4)
            pr = proc(pid)
            if call in ('clone', 'clone3', 'fork', 'vfork') and ret not in ('?',) and int(ret) > 0:
                child = procs.setdefault(int(ret), Proc(pr.cwd))   # it may have run first
                if child.cwd is None:
                    child.cwd = pr.cwd
                continue
            if ret != '?' and ret.startswith('-'):
                continue
            if call == 'chdir':
                pr.cwd = absolute(unquote(args[0]), pr)
            elif call in ('openat', 'open', 'creat'):
                mm = re.match(r'^\s*<(.*)>', m.group(5))
                path = mm.group(1) if mm else None
                if path and under(path) and ('O_CREAT' in m.group(3) or call == 'creat'):
                    pr.created.setdefault(path, n)
                if pr.cwd is None and len(args) and args[0].startswith('AT_FDCWD<'):
                    pr.cwd = args[0][len('AT_FDCWD<'):-1]
            elif call in ('fallocate', 'ftruncate'):
                fd, path = fd_path(args[0])
                if path and under(path):
                    pr.written[path] = n
            elif call in ('write', 'writev', 'pwrite64', 'pwritev'):
                fd, path = fd_path(args[0])
                if fd in (1, 2):
                    if pr.commits:
                        check_published(pid, pr, 'reporting on fd %d' % fd)
                    if fd == 1:
                        check_in_place(pid, pr, 'reporting on fd 1')
                elif path and under(path):
                    pr.written[path] = n
            elif call in ('fsync', 'fdatasync'):
                fd, path = fd_path(args[0])
                if path:
                    pr.synced[path] = n
            elif call in ('rename', 'renameat', 'renameat2', 'link', 'linkat'):
                if call in ('rename', 'link'):
                    src, dst = absolute(unquote(args[0]), pr), absolute(unquote(args[1]), pr)
                else:
                    src, dst = absolute(unquote(args[1]), pr, args[0]), absolute(unquote(args[3]), pr, args[2])
                if not under(dst) or src not in pr.written:
                    continue
                stats['commits'] += 1
                if pr.synced.get(src, -1) < pr.written[src]:
                    bad.append('pid %d: %s renamed to %s without an fsync after its last write' % (pid, src, dst))
                del pr.written[src]
                if not tmpish(dst):
                    check_in_place(pid, pr, 'the commit rename to ' + os.path.basename(dst))
                pr.commits.append((n, dst))
            elif call == 'exit_group':
                if args and args[0] == '0':
                    check_published(pid, pr, 'exit 0')
                    check_in_place(pid, pr, 'exit 0')
    for b in bad:
        print(b)
    if not bad:
        print('checked %d events: %d commit renames, %d in-place files, %d publications'
              % (n, stats['commits'], stats['in_place'], stats['reports']))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
