#!/usr/bin/env python3
"""crash.py - driver of spool-inject/tests/crash.sh.

  crash.py kill9 BIN CONF SPOOL ITERATIONS SEED
      Many injections, each killed with SIGKILL at a random moment while the
      message and then the envelope are written in pieces; one in four with
      an envelope of several 4 KiB units, whose body is moved up before the
      commit.  Afterwards every message in new/ (one file, lib/spool.h) must
      have a well-formed head, a complete and valid envelope, belong to an
      iteration that finished writing its end line, and have its body
      byte-exact; every run that exited 0 must be in new/; nothing is in
      mess/ and a killed run leaves at most its file in tmp/.
  crash.py move BIN CONF SPOOL ITERATIONS SEED
      A 4 MiB body behind an envelope of 600 recipients, killed with SIGKILL
      at a random moment after the envelope's end line, while the body is
      moved up (by a copy on tmpfs): the same checks, and some kills must
      have fallen in the move.
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


def envelope_for(i, extra=0):
    return [b"V1\n", b"Fs@example.org\n", b"Tr%d@example.org\n" % i] + \
        [b"Tx%d-%d@example.org\n" % (i, k) for k in range(extra)]


def message(data):
    """(envelope, body) of a one-file message (lib/spool.h), or (None, why)"""
    m = re.fullmatch(rb"postern-message 1 ([0-9]{10}) ([0-9]{10})\n", data[:40])
    if not m:
        return None, "no head line: %r" % data[:60]
    h, n = int(m.group(1)), int(m.group(2))
    if h != (40 + n + 4095) // 4096 * 4096 or len(data) < h or data[40 + n:h].strip(b"\0"):
        return None, "bad head %r for a file of %d bytes" % (data[:40], len(data))
    return data[40:40 + n], data[h:]


def one_injection(binary, conf, rnd, i, body, kill_after, end_line=True, extra=0):
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
        for line in envelope_for(i, extra):
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
    clean(spool)
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
    bodies, end_written, rcs, replies, truncated, extras = {}, {}, {}, {}, set(), {}
    started = time.monotonic()
    for i in range(iterations):
        size = rnd.choice((0, 40, 700, 5000, 40000, 150000, 400000))
        bodies[i] = b"Subject: crash %d\n\n" % i + rnd.randbytes(size)
        end_line = rnd.random() >= 0.1    # one in ten: EOF before the end line
        if not end_line:
            truncated.add(i)
        extras[i] = 300 if rnd.random() < 0.25 else 0   # 300 more: 5 units
        rcs[i], end_written[i], replies[i] = one_injection(
            binary, conf, rnd, i, bodies[i], rnd.uniform(0, window), end_line, extras[i])
    elapsed = time.monotonic() - started
    t_end = int(time.time())
    judge("kill -9", spool, uid, t_start, t_end, iterations, bodies, end_written, rcs, replies, truncated, extras)
    note("%d iterations in %.1f s (%d of them without end line, %d with 5 units of envelope)"
         % (iterations, elapsed, len(truncated), sum(1 for e in extras.values() if e)))


def judge(label, spool, uid, t_start, t_end, iterations, bodies, end_written, rcs, replies, truncated, extras):
    """the checks after a series of killed injections"""
    odd = {i: rc for i, rc in rcs.items()
           if rc not in ((75, -signal.SIGKILL) if i in truncated else (0, -signal.SIGKILL))}
    check(label + ": every run exited 0 (75 without end line) or died by SIGKILL", not odd,
          *["iteration %d: exit %s, %s" % (i, rc, replies[i]) for i, rc in sorted(odd.items())[:20]])

    new = listdir(spool, "new")
    mess = listdir(spool, "mess")
    tmp = set(listdir(spool, "tmp"))
    seen = {}
    bad_name, bad_env, bad_body, unfinished, twice, also_tmp = [], [], [], [], [], []
    for qid in new:
        if not ID_RE.match(qid):
            bad_name.append(qid)
            continue
        env, body = message(read(os.path.join(spool, "new", qid)))
        if env is None:
            bad_env.append("%s: %s" % (qid, body))
            continue
        m = re.fullmatch(rb"V1\nFs@example\.org\nP%d\nD([0-9]+)\nTr([0-9]+)@example\.org\n((?:Tx[0-9-]+@example\.org\n)*)\n"
                         % uid, env)
        if not m or not t_start <= int(m.group(1)) <= t_end or int(m.group(2)) not in bodies \
                or m.group(3) != b"".join(envelope_for(int(m.group(2)), extras[int(m.group(2))])[3:]):
            bad_env.append("%s: %r" % (qid, env[:200]))
            continue
        i = int(m.group(2))
        if i in seen:
            twice.append("iteration %d: %s and %s" % (i, seen[i], qid))
        seen[i] = qid
        if not end_written[i]:
            unfinished.append("iteration %d: %s, exit %s" % (i, qid, rcs[i]))
        if body != bodies[i]:
            bad_body.append("%s (iteration %d): body differs (%d bytes, want %d)" % (qid, i, len(body), len(bodies[i])))
        if qid in tmp:
            also_tmp.append(qid)
    check(label + ": every name in new/ is a well-formed id", not bad_name, *bad_name[:20])
    check(label + ": every message in new/ has its head line and a complete, valid envelope (V1 F P D T, end line)",
          not bad_env, *bad_env[:20])
    check(label + ": every committed body is byte-exact", not bad_body, *bad_body[:20])
    check(label + ": nothing in new/ for a run that did not finish writing its end line",
          not unfinished, *unfinished[:20])
    check(label + ": no iteration committed twice", not twice, *twice[:20])
    check(label + ": a committed message has no copy left in tmp/", not also_tmp, *also_tmp[:20])
    check(label + ": nothing in mess/ (one file per message)", not mess, *mess[:20])
    odd_tmp = [f for f in tmp if not ID_RE.match(f)]
    check(label + ": tmp/ holds at most one uncommitted file per killed run",
          not odd_tmp and len(tmp) <= sum(1 for rc in rcs.values() if rc != 0), *sorted(tmp)[:20])

    lost = []
    for i in range(iterations):
        if rcs[i] == 0:
            qid = replies[i][len("250 2.0.0 Ok: queued as "):] \
                if replies[i].startswith("250 2.0.0 Ok: queued as ") else None
            if seen.get(i) is None or seen.get(i) != qid:
                lost.append("iteration %d: exit 0, reply %r, in new/: %s" % (i, replies[i], seen.get(i)))
    check(label + ": every run that exited 0 is in new/ under the id of its reply", not lost, *lost[:20])

    committed = len(seen)
    finished = sum(1 for i in range(iterations) if end_written[i])
    exited0 = sum(1 for rc in rcs.values() if rc == 0)
    killed_committed = sum(1 for i in seen if rcs[i] != 0)
    note("%d wrote their end line, %d exited 0, %d committed "
         "(%d of them killed after the commit), %d never committed; left for queue-run: "
         "%d files in tmp/" % (finished, exited0, committed, killed_committed,
                               iterations - committed, len(tmp)))
    check(label + ": both outcomes occurred (some committed, some killed before the commit)",
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
        started = wait_for_file(spool, "tmp")
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
    check("SIGTERM while reading the envelope: the body was written before the signal, nothing committed",
          len(stuff) == 1 and stuff[0].startswith("tmp/") and
          read(os.path.join(spool, stuff[0]))[4096:] == body, stuff)
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
    wait_for_file(spool, "tmp")          # past the setup of its handlers
    run.p.send_signal(signal.SIGPIPE)
    run.write(run.msg_w, body[10000:])
    os.close(run.msg_w)
    run.msg_w = None
    run.write(run.env_w, b"".join(envelope_for(3)) + b"\n")
    rc = run.wait()
    check("SIGPIPE is ignored: the message is queued", rc == 0 and len(listdir(spool, "new")) == 1,
          "exit %s" % rc, run.stderr())
    clean(spool)


def after_end(binary, conf, i, body, kill_after):
    """inject body behind an envelope of 600 more recipients, SIGKILL
    kill_after seconds after the envelope's end line (never if None);
    (exit code, seconds from the end line to the exit, reply)"""
    run = Run(binary, conf)
    run.write(run.msg_w, body)
    os.close(run.msg_w)
    run.msg_w = None
    run.write(run.env_w, b"".join(envelope_for(i, 600)) + b"\n")
    run.close()
    t = time.monotonic()
    if kill_after is not None:
        time.sleep(kill_after)
        os.kill(run.p.pid, signal.SIGKILL)   # not reaped yet: the pid is its own
    rc = run.wait()
    return rc, time.monotonic() - t, run.reply()


def move(binary, conf, spool, iterations, seed):
    """kill -9 while the body of a large envelope is moved up"""
    rnd = random.Random(seed)
    uid = os.getuid()
    big = rnd.randbytes(4 << 20)
    times = []
    for k in range(3):
        rc, took, reply = after_end(binary, conf, 900000 + k, b"x\n" + big, None)
        times.append(took)
        if rc != 0:
            fail("kill -9 in the body move: calibration", "exit %s: %s" % (rc, reply))
            return
    clean(spool)
    window = sorted(times)[1]
    note("seed %d, %d iterations, from the end line of 600 recipients to the exit with a 4 MiB body: %.1f ms"
         % (seed, iterations, window * 1000))
    t_start = int(time.time())
    bodies, end_written, rcs, replies, extras = {}, {}, {}, {}, {}
    in_move, bad_tmp, i = 0, [], 0
    # more runs (5 times as many at most) while no kill has hit the move
    while i < iterations or (in_move == 0 and i < 5 * iterations):
        bodies[i] = b"Subject: move %d\n\n" % i + big
        extras[i], end_written[i] = 600, True
        rcs[i], _, replies[i] = after_end(binary, conf, i, bodies[i], rnd.uniform(0, window * 1.2))
        tmp = listdir(spool, "tmp")
        if len(tmp) > (0 if rcs[i] == 0 else 1):
            bad_tmp.append("iteration %d, exit %s: %s" % (i, rcs[i], tmp))
        for f in tmp:   # looked at and removed, as queue-run would
            data = read(os.path.join(spool, "tmp", f))
            if len(data) > 4096 + len(bodies[i]) and not data[:40].strip(b"\0"):
                in_move += 1    # moved (partly) up, head not yet written
            os.unlink(os.path.join(spool, "tmp", f))
        i += 1
    t_end = int(time.time())
    judge("kill -9 in the body move", spool, uid, t_start, t_end, i, bodies, end_written, rcs, replies, set(), extras)
    check("kill -9 in the body move: a killed run leaves at most its own file in tmp/, a committed one none",
          not bad_tmp, *bad_tmp[:20])
    check("kill -9 in the body move: some kills fell while the body was moved up", in_move > 0,
          "none of %d: the kill window misses the move" % i)
    note("%d of %d runs killed while the body was moved up" % (in_move, i))


def main(argv):
    if len(argv) == 7 and argv[1] == "kill9":
        kill9(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]))
    elif len(argv) == 7 and argv[1] == "move":
        move(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]))
    elif len(argv) == 5 and argv[1] == "signals":
        signals(argv[2], argv[3], argv[4])
    else:
        sys.stderr.write(__doc__)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
