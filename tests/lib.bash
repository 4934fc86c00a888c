# tests/lib.bash - shared helpers for the shell tests (sourced, bash).
# Output protocol (read by tests/run):
#   ok - NAME | not ok - NAME, then "# " context lines | skip - NAME # reason
set -u
umask 022    # files the tests make are the administrator's: maps others may write are refused
: "${POSTERN_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${POSTERN_BUILD:=$POSTERN_TOP/build}"
B=$POSTERN_BUILD
TOP=$POSTERN_TOP
T=$(mktemp -d /tmp/postern-t.XXXXXX)
chmod 755 "$T"
t_cleanup_hooks=()
# the hooks run last first: what was set up later (a daemon running as a
# test user) goes before what it stands on (the user, a mount)
t_cleanup() { local i; for ((i = ${#t_cleanup_hooks[@]} - 1; i >= 0; i--)); do eval "${t_cleanup_hooks[i]}"; done; rm -rf "$T"; }
trap t_cleanup EXIT
at_exit() { t_cleanup_hooks+=("$1"); }

ok()   { echo "ok - $1"; }
skip() { echo "skip - $1 # $2"; }
fail() {   # fail NAME [context line...]
  echo "not ok - $1"; shift
  local l; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
}
# check NAME CMD...: CMD must exit 0
check() {
  local name=$1; shift
  local out; out=$("$@" 2>&1); local rc=$?
  if [ $rc -eq 0 ]; then ok "$name"; else fail "$name" "command: $*" "exit: $rc" "$out"; fi
}
# is NAME EXPECTED ACTUAL
is() {
  if [ "$2" == "$3" ]; then ok "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}
# same_file NAME EXPECTED_FILE ACTUAL_FILE: byte-exact comparison
same_file() {
  if cmp -s "$2" "$3"; then ok "$1"; else fail "$1" "files differ: $2 $3" "$(cmp "$2" "$3" 2>&1)"; fi
}
is_root() { [ "$(id -u)" = 0 ]; }
# free_port: a loopback port nobody listens on now and that this test has
# not been given before (the kernel may hand the same free port out twice,
# and two servers of one test must never share one)
free_port() {
  python3 - "$T/.ports" <<'PY'
import socket, sys
path = sys.argv[1]
try: given = set(open(path).read().split())
except FileNotFoundError: given = set()
for _ in range(100):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = str(s.getsockname()[1]); s.close()
    if p not in given: break
open(path, "a").write(p + "\n"); print(p)
PY
}

# spool_body FILE / spool_envelope FILE: the body / the envelope of a queued
# message file (new/ID or queue/ID) on stdout, byte-exact: a one-file message
# (lib/spool.h: the head line, the envelope, the body from the offset the head
# names) or, for a file of the older layout, the file itself (a body in mess/,
# an envelope in new/ or queue/)
spool_part() {
  python3 - "$1" "$2" <<'PY'
import sys
part, path = sys.argv[1], sys.argv[2]
d = open(path, 'rb').read()
if d.startswith(b'postern-message 1 ') and len(d) >= 40:
    body, envlen = int(d[18:28]), int(d[29:39])
    out = d[body:] if part == 'body' else d[40:40 + envlen]
else:
    out = d
sys.stdout.buffer.write(out)
PY
}
spool_body() { spool_part body "$1"; }
spool_envelope() { spool_part envelope "$1"; }
# spool_head_check FILE: nothing on stdout when FILE is a one-file message
# exactly as lib/spool.h says (the head line "postern-message 1 H L" in 40
# bytes, H the head line and the L envelope bytes rounded up to 4096, zeros
# from the envelope's end to H, the file at least H long), else what is wrong
spool_head_check() {
  python3 - "$1" <<'PY'
import re, sys
d = open(sys.argv[1], 'rb').read()
m = re.fullmatch(rb'postern-message 1 ([0-9]{10}) ([0-9]{10})\n', d[:40])
if not m: sys.exit(print('head line malformed: %r' % d[:40]))
h, l = int(m[1]), int(m[2])
if h != (40 + l + 4095) // 4096 * 4096: print('H=%d is not 40+L=%d rounded up to 4096' % (h, 40 + l))
if len(d) < h: print('file of %d bytes ends before H=%d' % (len(d), h))
if d[40 + l:h].strip(b'\0'): print('bytes other than zero between the envelope and H')
if not d[40:40 + l].endswith(b'\n\n'): print('envelope without its end line: %r' % d[40:40 + l][-40:])
PY
}
# body_of ID [SPOOL]: a file with the body of message ID (in new/ or queue/
# of SPOOL, $T/spool by default); its path on stdout
body_of() {
  local s=${2:-$T/spool} f="$T/.body.$1"
  if [ -e "$s/new/$1" ]; then spool_body "$s/new/$1" >"$f"; else spool_body "$s/queue/$1" >"$f"; fi
  echo "$f"
}

# mkspool DIR: the spool tree of DESIGN.md, owned by the caller
mkspool() { "$TOP/tools/mkspool" "$1" >/dev/null; }

# mkconf FILE [key=value...]: a config for a sandbox spool under $T
mkconf() {
  local f=$1; shift
  {
    echo "hostname = mx.example.test"
    echo "spool = $T/spool"
    echo "map_dir = $T/maps"
    echo "libexec_dir = $B"
    echo "log = stderr"
    local kv; for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
  } >"$f"
  chmod 644 "$f"
}

# spool_put_message DIR ID ENVELOPE_FILE BODY_FILE: a one-file message
# (lib/spool.h: the head line, the stored envelope, a hole up to the next
# multiple of 4096, the body) written by hand and committed as spool-inject
# does: DIR/tmp/ID, then renamed to DIR/new/ID
spool_put_message() {
  local f=$1/tmp/$2 len off
  len=$(stat -c %s "$3") && off=$(( (40 + len + 4095) / 4096 * 4096 )) || return 1
  { printf 'postern-message 1 %010d %010d\n' "$off" "$len"; cat "$3"; } >"$f" &&
    truncate -s "$off" "$f" && cat "$4" >>"$f" && chmod 644 "$f" && mv "$f" "$1/new/$2"
}
