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
t_cleanup() { local h; for h in "${t_cleanup_hooks[@]}"; do eval "$h"; done; rm -rf "$T"; }
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
