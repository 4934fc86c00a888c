#!/usr/bin/env python3
"""crash.py - driver of spool-inject/tests/crash.sh.

  crash.py kill9 BIN CONF SPOOL ITERATIONS SEED
      Many injections, each killed with SIGKILL at a random moment while the
      message and then the envelope are written in pieces.  Afterwards every
      envelope in new/ must be complete and valid, belong to an iteration that
      finished writing its end line, and have its body byte-exact in mess/;
      every run that exited 0 must be in new/.
  crash.py signals BIN CONF SPOOL
      SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGALRM in the middle of the
      message, and SIGTERM while the envelope is read: exit 75, the 451 reply,
      and nothing at all left in tmp/, mess/ or new/.

Prints the ok / not ok / skip lines of tests/lib.bash."""
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

ID_RE = re.compile(r"^[0-9]{10}\.[0-9]{6}\.[0-9]+$")


def ok(name):
    print("ok - " + name, flush=True)


def fail(name, *context):
    print("not ok - " + name)
    for c in context:
        for line in str(c).splitlines() or [""]:
            print("# " + line)
    sys.stdout.flush()


def note(text):
    print("# " + text, flush=True)


def check(name, cond, *context):
    if cond:
        ok(name)
    else:
        fail(name, *context)


class Run:
    """one spool-inject process with pipes on fds 0 and 1"""

    def __init__(self, binary, conf):
        msg_r, self.msg_w = os.pipe()
        env_r, self.env_w = os.pipe()
        self.err = tempfile.TemporaryFile()
        env = dict(os.environ, POSTERN_CONF=conf)
        self.p = subprocess.Popen([binary], stdin=msg_r, stdout=env_r,
                                  stderr=self.err, env=env, close_fds=True)
        os.close(msg_r)   # only the child may hold the read ends, so that
        os.close(env_r)   # a write after its death fails with EPIPE

    def write(self, fd, data):
        """write all of data; False if the reader is gone"""
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except BrokenPipeError:
                return False
            view = view[n:]
        return True

    def close(self):
        for fd in (self.msg_w, self.env_w):
            if fd is not None:
                os.close(fd)
        self.msg_w = self.env_w = None

    def wait(self, timeout=20):
        """exit code (negative: signal); kills a run that hangs"""
        self.close()
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
            return "hung"
        return rc

    def reply(self):
        self.err.seek(0)
        lines = self.err.read().decode("utf-8", "replace").splitlines()
        return lines[-1] if lines else ""

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode("utf-8", "replace")


def listdir(spool, sub):
    return sorted(os.listdir(os.path.join(spool, sub)))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def envelope_for(i):
    return [b"V1\n", b"Fs@example.org\n", b"Tr%d@example.org\n" % i]


def one_injection(binary, conf, rnd, i, body, kill_after, end_line=True):
    """inject body as iteration i, SIGKILL after kill_after seconds (or never
    if None); without end_line the envelope stops short of its end line (EOF);
    returns (exit code, end line written, reply)"""
    run = Run(binary, conf)
    killer = None
    if kill_after is not None:
        # the child is not reaped before killer has run (wait comes after
        # join), so its pid cannot have been reused when the kill is sent
        killer = threading.Timer(kill_after, os.kill, (run.p.pid, signal.SIGKILL))
        killer.start()
    end_written = False
    pos = 0
    alive = True
    while pos < len(body) and alive:
        n = rnd.randint(1, 65536)
        alive = run.write(run.msg_w, body[pos:pos + n])
        pos += n
        time.sleep(rnd.choice((0, 0, 0.0001, 0.0005)))
    os.close(run.msg_w)
    run.msg_w = None
    if alive:
        for line in envelope_for(i):
            if not run.write(run.env_w, line):
                alive = False
                break
            time.sleep(rnd.choice((0, 0.0001, 0.0005)))
    if alive and end_line:
        time.sleep(rnd.choice((0, 0.0002, 0.001)))
        # the end line alone in one write: either it reached the pipe
        # before the kill, or spool-inject never saw it
        end_written = run.write(run.env_w, b"\n")
    run.close()      # EOF now, not after the kill
    if killer is not None:
        killer.join()
    rc = run.wait()
    return rc, end_written, run.reply()


def calibrate(binary, conf, spool, rnd):
    """median time of a whole uninterrupted injection of a mid-size body"""
    times = []
    for k in range(5):
        body = rnd.randbytes(150000)
        t = time.monotonic()
        rc, _, reply = one_injection(binary, conf, rnd, 900000 + k, body, None)
        times.append(time.monotonic() - t)
        if rc != 0:
            return None, "calibration run failed: exit %s: %s" % (rc, reply)
    for sub in ("mess", "new"):
        for f in listdir(spool, sub):
            os.unlink(os.path.join(spool, sub, f))
    times.sort()
    return times[2], None


def kill9(binary, conf, spool, iterations, seed):
    rnd = random.Random(seed)
    uid = os.getuid()
    median, why = calibrate(binary, conf, spool, rnd)
    if median is None:
        fail("kill -9: calibration", why)
        return
    # kill somewhere in [0, window]: twice a typical injection (6 ms here,
    # more for slow builds), so that the kills fall on every step from exec
    # to exit and both outcomes (committed, not committed) occur
    window = min(max(2 * median, 0.005), 0.5)
    note("seed %d, %d iterations, one injection takes %.1f ms, kill window %.1f ms"
         % (seed, iterations, median * 1000, window * 1000))
    t_start = int(time.time())
    bodies, end_written, rcs, replies, truncated = {}, {}, {}, {}, set()
    started = time.monotonic()
    for i in range(iterations):
        size = rnd.choice((0, 40, 700, 5000, 40000, 150000, 400000))
        bodies[i] = b"Subject: crash %d\n\n" % i + rnd.randbytes(size)
        end_line = rnd.random() >= 0.1    # one in ten: EOF before the end line
        if not end_line:
            truncated.add(i)
        rcs[i], end_written[i], replies[i] = one_injection(
            binary, conf, rnd, i, bodies[i], rnd.uniform(0, window), end_line)
    elapsed = time.monotonic() - started
    t_end = int(time.time())

    odd = {i: rc for i, rc in rcs.items()
           if rc not in ((75, -signal.SIGKILL) if i in truncated else (0, -signal.SIGKILL))}
    check("kill -9: every run exited 0 (75 without end line) or died by SIGKILL", not odd,
          *["iteration %d: exit %s, %s" % (i, rc, replies[i]) for i, rc in sorted(odd.items())[:20]])

    new = listdir(spool, "new")
    mess = set(listdir(spool, "mess"))
    tmp = set(listdir(spool, "tmp"))
    seen = {}
    bad_name, bad_env, bad_body, unfinished, twice, also_tmp = [], [], [], [], [], []
    for qid in new:
        if not ID_RE.match(qid):
            bad_name.append(qid)
            continue
        data = read(os.path.join(spool, "new", qid))
        m = re.fullmatch(rb"V1\nFs@example\.org\nP%d\nD([0-9]+)\nTr([0-9]+)@example\.org\n\n" % uid, data)
        if not m or not t_start <= int(m.group(1)) <= t_end or int(m.group(2)) not in bodies:
            bad_env.append("%s: %r" % (qid, data[:200]))
            continue
        i = int(m.group(2))
        if i in seen:
            twice.append("iteration %d: %s and %s" % (i, seen[i], qid))
        seen[i] = qid
        if not end_written[i]:
            unfinished.append("iteration %d: %s, exit %s" % (i, qid, rcs[i]))
        if qid not in mess:
            bad_body.append("%s (iteration %d): no mess/ file" % (qid, i))
        elif read(os.path.join(spool, "mess", qid)) != bodies[i]:
            bad_body.append("%s (iteration %d): body differs" % (qid, i))
        if qid in tmp:
            also_tmp.append(qid)
    check("kill -9: every name in new/ is a well-formed id", not bad_name, *bad_name[:20])
    check("kill -9: every envelope in new/ is complete and valid (V1 F P D T, end line)",
          not bad_env, *bad_env[:20])
    check("kill -9: every committed body exists and is byte-exact", not bad_body, *bad_body[:20])
    check("kill -9: nothing in new/ for a run that did not finish writing its end line",
          not unfinished, *unfinished[:20])
    check("kill -9: no iteration committed twice", not twice, *twice[:20])
    check("kill -9: a committed envelope has no copy left in tmp/", not also_tmp, *also_tmp[:20])

    lost = []
    for i in range(iterations):
        if rcs[i] == 0:
            qid = replies[i][len("250 2.0.0 Ok: queued as "):] \
                if replies[i].startswith("250 2.0.0 Ok: queued as ") else None
            if seen.get(i) is None or seen.get(i) != qid:
                lost.append("iteration %d: exit 0, reply %r, in new/: %s" % (i, replies[i], seen.get(i)))
    check("kill -9: every run that exited 0 is in new/ under the id of its reply", not lost, *lost[:20])

    committed = len(seen)
    finished = sum(1 for i in range(iterations) if end_written[i])
    exited0 = sum(1 for rc in rcs.values() if rc == 0)
    killed_committed = sum(1 for i in seen if rcs[i] != 0)
    orphans = len(mess - set(new))
    note("%d iterations in %.1f s (%d of them without end line): %d wrote their end line, "
         "%d exited 0, %d committed "
         "(%d of them killed after the commit), %d never committed; left for queue-run: "
         "%d bodies without envelope in mess/, %d files in tmp/"
         % (iterations, elapsed, len(truncated), finished, exited0, committed, killed_committed,
            iterations - committed, orphans, len(tmp)))
    check("kill -9: both outcomes occurred (some committed, some killed before the commit)",
          0 < committed < iterations,
          "committed %d of %d: the kill window does not cover the injection" % (committed, iterations))


def wait_for_file(spool, sub, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if listdir(spool, sub):
            return True
        time.sleep(0.005)
    return False


def reading_fd1(pid, timeout=3.0):
    """wait until pid blocks in a system call on fd 1 (the envelope);
    False if /proc cannot tell us"""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open("/proc/%d/syscall" % pid) as f:
                fields = f.read().split()
        except OSError:
            return False
        if len(fields) > 1 and fields[0] not in ("running", "-1") and fields[1] == "0x1":
            return True
        time.sleep(0.005)
    return False


def left(spool):
    return ["%s/%s" % (sub, f) for sub in ("tmp", "mess", "new") for f in listdir(spool, sub)]


def clean(spool):
    for sub in ("tmp", "mess", "new"):
        for f in listdir(spool, sub):
            os.unlink(os.path.join(spool, sub, f))


def signals(binary, conf, spool):
    rnd = random.Random(1)
    cases = [("SIGTERM", signal.SIGTERM), ("SIGINT", signal.SIGINT), ("SIGHUP", signal.SIGHUP),
             ("SIGQUIT", signal.SIGQUIT), ("SIGALRM (the deadline)", signal.SIGALRM)]
    for name, sig in cases:
        clean(spool)
        run = Run(binary, conf)
        run.write(run.msg_w, b"Subject: signal\n\n" + rnd.randbytes(20000))
        started = wait_for_file(spool, "mess")
        check("%s mid-message: the body file existed before the signal" % name, started, left(spool))
        run.p.send_signal(sig)
        # the rest of the message and a whole envelope: must not help
        if run.write(run.msg_w, rnd.randbytes(20000)):
            os.close(run.msg_w)
            run.msg_w = None
            run.write(run.env_w, b"".join(envelope_for(1)) + b"\n")
        rc = run.wait()
        want = "451 4.4.2 Timeout" if sig == signal.SIGALRM else "451 4.3.0 Interrupted"
        check("%s mid-message: exit 75 and %s" % (name, want),
              rc == 75 and run.reply().startswith(want), "exit %s" % rc, run.stderr())
        stuff = left(spool)
        check("%s mid-message: nothing left in tmp/, mess/, new/" % name, not stuff, *stuff)

    clean(spool)
    run = Run(binary, conf)
    body = b"Subject: signal\n\n" + rnd.randbytes(50000)
    run.write(run.msg_w, body)
    os.close(run.msg_w)
    run.msg_w = None
    run.write(run.env_w, b"".join(envelope_for(2)))     # no end line yet
    if not reading_fd1(run.p.pid):
        time.sleep(0.5)
    stuff = left(spool)
    check("SIGTERM while reading the envelope: the body was written before the signal",
          stuff and all(s.startswith("mess/") for s in stuff) and
          read(os.path.join(spool, stuff[0])) == body, stuff)
    run.p.send_signal(signal.SIGTERM)
    run.write(run.env_w, b"\n")
    rc = run.wait()
    check("SIGTERM while reading the envelope: exit 75 and 451",
          rc == 75 and run.reply().startswith("451 "), "exit %s" % rc, run.stderr())
    stuff = left(spool)
    check("SIGTERM while reading the envelope: nothing left in tmp/, mess/, new/", not stuff, *stuff)

    # SIGPIPE is no reason to give up: spool-inject only reads
    clean(spool)
    run = Run(binary, conf)
    run.write(run.msg_w, body[:10000])
    wait_for_file(spool, "mess")         # past the setup of its handlers
    run.p.send_signal(signal.SIGPIPE)
    run.write(run.msg_w, body[10000:])
    os.close(run.msg_w)
    run.msg_w = None
    run.write(run.env_w, b"".join(envelope_for(3)) + b"\n")
    rc = run.wait()
    check("SIGPIPE is ignored: the message is queued", rc == 0 and len(listdir(spool, "new")) == 1,
          "exit %s" % rc, run.stderr())
    clean(spool)


def main(argv):
    if len(argv) == 7 and argv[1] == "kill9":
        kill9(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]))
    elif len(argv) == 5 and argv[1] == "signals":
        signals(argv[2], argv[3], argv[4])
    else:
        sys.stderr.write(__doc__)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
