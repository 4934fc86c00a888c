#!/usr/bin/env python3
"""queue-forged.py - play a compromised queue-run against local-spawn.

    queue-forged.py LOCAL-SPAWN CONF UID GID MESSAGE < requests

Started as root, it starts LOCAL-SPAWN (as root, POSTERN_CONF=CONF) on one
end of a SOCK_SEQPACKET socketpair, as queue-run does, then drops to UID and
GID (the queue user, no supplementary groups) and sends each request line of
stdin (TAB-separated words: user, id, sender, recipient, destination) with
MESSAGE as the deliverer's fd 0 and a pipe as its fd 1, exactly as
queue-run's spawn.c would.  For each it prints "job TAB exit-code TAB line"
(the deliverer's result line, or local-spawn's refusal).  A line "#wait
PATH" sends nothing: the next request waits until PATH exists (at most 30
seconds), so that a test can change things between two requests to the
same local-spawn.  Bounded: every wait has a deadline."""
import array, os, select, socket, sys, time

def main():
    spawn, conf, uid, gid, message = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        os.dup2(theirs.fileno(), 0)
        os.execve(spawn, [spawn], {"PATH": "/usr/bin:/bin", "POSTERN_CONF": conf})
    theirs.close()
    msg = os.open(message, os.O_RDONLY)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    job = 0
    for line in sys.stdin:
        if line.startswith("#wait "):
            end = time.time() + 30
            while not os.path.exists(line[6:].rstrip("\n")) and time.time() < end:
                time.sleep(0.05)
            continue
        job += 1
        words = line.rstrip("\n").split("\t")
        r, w = os.pipe()
        data = ("R%d" % job).encode() + b"\0" + b"".join(x.encode() + b"\0" for x in words)
        ours.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [msg, w]))])
        os.close(w)
        code = "none"
        if select.select([ours], [], [], 30)[0]:
            answer = ours.recv(100).decode().rstrip("\0").split()
            code = answer[1] if len(answer) == 2 else "bad"
        out = b""
        while select.select([r], [], [], 2)[0]:
            chunk = os.read(r, 4096)
            if not chunk:
                break
            out += chunk
        os.close(r)
        print("%d\t%s\t%s" % (job, code, out.decode(errors="replace").strip()), flush=True)
    ours.close()
    os.waitpid(pid, 0)

main()
