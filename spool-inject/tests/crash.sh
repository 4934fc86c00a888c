# spool-inject/tests/crash.sh - crashes never commit half a message
# (DESIGN.md invariant 1): many injections killed with SIGKILL at random
# moments, then every envelope in new/ must be complete, valid and have its
# byte-exact body, and none may belong to a run that never wrote its end
# line; SIGTERM and friends before the commit leave nothing at all; kill -9
# while the body of a large envelope is moved up commits nothing half.
# The driver is crash.py; ITERATIONS and SEED may be set in the environment.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.bash"

here=$TOP/spool-inject/tests
iterations=${ITERATIONS:-200}
seed=${SEED:-$(( $(date +%s) % 100000 ))}
if ! command -v python3 >/dev/null; then
  skip "kill -9 during injections" "python3 is not installed"
  exit 0
fi

mkspool "$T/spool"
mkconf "$T/conf" spool_reserve=0
timeout -k 5 200 python3 "$here/crash.py" kill9 "$B/spool-inject" "$T/conf" "$T/spool" "$iterations" "$seed"
rc=$?
is "kill -9 driver finished" 0 "$rc"

mkspool "$T/spool2"
sed "s|^spool = .*|spool = $T/spool2|" "$T/conf" >"$T/conf2"
chmod 644 "$T/conf2"
timeout -k 5 100 python3 "$here/crash.py" signals "$B/spool-inject" "$T/conf2" "$T/spool2"
rc=$?
is "signal driver finished" 0 "$rc"

# kill -9 while the body of a large envelope is moved up: on tmpfs, which
# refuses FALLOC_FL_INSERT_RANGE, the move is a copy and takes a while
SHM=$(mktemp -d /dev/shm/postern-t.XXXXXX 2>/dev/null) && at_exit "rm -rf '$SHM'"
if [ -n "$SHM" ] && [ "$(stat -f -c %T "$SHM")" = tmpfs ]; then
  mkspool "$SHM/spool"
  sed "s|^spool = .*|spool = $SHM/spool|" "$T/conf" >"$T/conf3"
  chmod 644 "$T/conf3"
  timeout -k 5 200 python3 "$here/crash.py" move "$B/spool-inject" "$T/conf3" "$SHM/spool" "${MOVE_ITERATIONS:-40}" "$seed"
  is "kill -9 in the body move: driver finished" 0 "$?"
else
  skip "kill -9 in the body move" "no tmpfs at /dev/shm"
fi
